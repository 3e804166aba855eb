"""Probe OpenCode servers: find them, ask them, read their answers safely (measured facts)."""
