"""The compatibility matrix: typed knowledge about OpenCode releases, loaded from compat_matrix/."""

from orch_doctor.errors import MatrixError
from orch_doctor.matrix.load import load_matrix
from orch_doctor.matrix.model import Matrix

__all__ = ["Matrix", "MatrixError", "load_matrix"]
