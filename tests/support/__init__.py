"""Shared test support: real OpenCode releases, isolated homes, real servers."""
