"""Development tools of orch-doctor (not shipped in the wheel)."""
