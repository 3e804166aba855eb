"""How many examples a property test tries: all of them in the full suite, a fifth in the fast
one (``-m "... not slow"``: see the hypothesis profiles in tests/conftest.py)."""

from __future__ import annotations

from hypothesis import settings

#: the examples hypothesis tries by default; a profile's own count scales every test's
DEFAULT_EXAMPLES = 100


def examples(full: int) -> int:
    """``full`` examples under the full profile, as many in proportion under the loaded one."""
    return max(10, full * settings.default.max_examples // DEFAULT_EXAMPLES)
