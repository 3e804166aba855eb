"""Helpers every stage may use: child processes, the on-disk cache, run-once values, safe text."""
