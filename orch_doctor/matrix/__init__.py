"""The compatibility matrix: typed knowledge about OpenCode releases, loaded from compat_matrix/.

``load_matrix``, ``Matrix`` and ``MatrixError`` are importable from here; the modules load on
first use (the warm path imports only what it needs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orch_doctor.probe.types import RecordedProbe

__all__ = ["Matrix", "MatrixError", "identify_published", "load_matrix"]


def identify_published(path: str) -> RecordedProbe | None:
    """The recorded probe of the published release ``path`` is identical to, or None
    (see :func:`orch_doctor.matrix.recorded.identify_binary`)."""
    from orch_doctor.matrix.recorded import identify_binary

    return identify_binary(path)


def __getattr__(name: str) -> Any:
    if name == "load_matrix":
        from orch_doctor.matrix.load import load_matrix

        return load_matrix
    if name == "Matrix":
        from orch_doctor.matrix.types import Matrix

        return Matrix
    if name == "MatrixError":
        from orch_doctor.errors import MatrixError

        return MatrixError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
