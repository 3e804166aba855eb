"""orch-doctor: pre-flight doctor and compatibility checker for spawning OpenCode agents."""

__version__ = "0.1.0"
