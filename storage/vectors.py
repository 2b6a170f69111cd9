"""Vectors as PostgreSQL receives and returns them, and matrices as JSON keeps them."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, overload

import numpy as np


def vector_text(values: np.ndarray) -> str:
    """pgvector's text form of a float32 array."""
    # Nine significant digits give back every float32 exactly (the column stores
    # float32), and format in half the time str() takes.
    return "[" + ",".join([f"{x:.9g}" for x in values.tolist()]) + "]"


class QueryVector(Sequence[float]):
    """A vector with pgvector's text form made once, for every search that uses it.

    A message's pipeline step may search more than once (when its nearest rows cannot
    answer routing or a suggestion), and formatting 384 floats cost more than the rest of
    building a query.
    """

    __slots__ = ("_mapped", "literal", "values")

    def __init__(self, vector: Sequence[float] | np.ndarray) -> None:
        self.values: np.ndarray = np.asarray(vector, dtype=np.float32)
        self.literal = vector_text(self.values)
        self._mapped: tuple[object, np.ndarray] | None = None

    def mapped(self, by: object, apply: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """`apply(values)`, computed once for the same `by` (a calibration's projection,
        which routing, suggesting and the answer model each apply to the message)."""
        if self._mapped is None or self._mapped[0] is not by:
            self._mapped = (by, apply(self.values))
        return self._mapped[1]

    @classmethod
    def of(cls, vector: Sequence[float] | np.ndarray) -> QueryVector:
        return vector if isinstance(vector, QueryVector) else cls(vector)

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, index: int) -> float: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[float]: ...

    def __getitem__(self, index: int | slice) -> float | Sequence[float]:
        if isinstance(index, slice):
            return self.values[index].tolist()
        return float(self.values[index])

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.values if dtype is None else self.values.astype(dtype, copy=False)


def vector_from_binary(data: bytes) -> np.ndarray:
    """A vector from pgvector's binary form (`vector_send`): two 16-bit words, the
    dimension and a reserved one, then the floats, big-endian float32."""
    dim = int.from_bytes(data[:2], "big")
    if len(data) != 4 + 4 * dim:
        raise ValueError(
            f"a binary vector of {dim} floats has {4 + 4 * dim} bytes, not {len(data)}"
        )
    return np.frombuffer(data, dtype=">f4", offset=4).astype(np.float32)


def matrix_text(matrix: np.ndarray) -> str:
    """A float matrix as JSON text keeps it: little-endian float32, base64."""
    return base64.b64encode(np.ascontiguousarray(matrix, dtype="<f4").tobytes()).decode("ascii")


def matrix_from_text(text: str, shape: tuple[int, int], what: str) -> np.ndarray:
    """The float32 matrix of `shape` that matrix_text wrote; ValueError naming `what`
    when the text is not that."""
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 4 * shape[0] * shape[1]:
        raise ValueError(f"{what} needs {shape[0]}x{shape[1]} floats")
    matrix = np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)
    if not np.isfinite(matrix).all():
        raise ValueError(f"{what} holds a number that is not finite")
    return matrix
