"""Text from outside made safe to show."""

from __future__ import annotations

#: shown instead of a secret anywhere a plan or report is printed
REDACTED = "***"
