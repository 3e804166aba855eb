"""Verify: execute a spawn plan for real against a throwaway OpenCode and confirm delivery."""
