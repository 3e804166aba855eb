"""Benchmarks of orch-doctor (run from a source checkout)."""
