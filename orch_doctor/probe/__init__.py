"""Probe the installed OpenCode: find it, run it, parse its help (measured facts; no matrix)."""
