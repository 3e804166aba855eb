"""A time limit given by a caller: a finite number of seconds above zero, or refused."""

from __future__ import annotations

import math


def check_timeout(value: object, name: str = "timeout_s") -> float:
    """``value`` as float seconds; ValueError for nan, ±inf, zero or below (and for a value that
    is not a number), so that no limit is silently unbounded or already over."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of seconds, not {type(value).__name__}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{name} must be a finite number of seconds above 0; got {value!r}")
    return seconds
