"""The embedder interface every provider implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike


class EmbeddingError(Exception):
    """A provider could not embed the texts it was given (the caller may retry later)."""


class Embedder(ABC):
    """Turns texts into unit-length vectors of a fixed size.

    `model_id` names the model that made a vector precisely enough that two different
    models never share it; it is stored beside every vector so that a change of model
    is noticed. CPU-bound providers run their work in a thread, never on the event loop.
    """

    model_id: str
    dim: int
    # How many batches the provider embeds at once; the embedding worker keeps that
    # many in flight.
    parallel_batches: int = 1

    @abstractmethod
    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector of `dim` floats per text, in order.

        Raises EmbeddingError when the provider fails.
        """

    async def embed_answers(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors of answers, for the answer model to learn each answer's own wording
        from (gateway.services.answer_model). A model trained for retrieval embeds them
        as the passages a question looks for; the others as any text."""
        return await self.embed(texts)

    def adopt(self, stored_model_id: str) -> bool:
        """Embed as the vectors already stored were made, where they differ from this
        embedder's only by a default the settings did not choose (a new default must not
        stop a database that was embedded before it); True when it switched."""
        return False

    async def aclose(self) -> None:  # noqa: B027 - optional for providers with no resources
        """Release what the provider holds (HTTP sessions, threads)."""


def unit_rows(matrix: ArrayLike, *, rows: int, dim: int, source: str) -> list[list[float]]:
    """`matrix` checked to be `rows` x `dim` finite floats, each row scaled to unit length.

    Raises EmbeddingError, naming `source`, when the shape is wrong or a row is not finite
    or is all zeros (no direction to keep).
    """
    try:
        array = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EmbeddingError(f"{source}: the vectors are not a matrix of numbers: {exc}") from exc
    if array.shape != (rows, dim):
        raise EmbeddingError(
            f"{source}: expected {rows} vectors of {dim} floats, got an array of shape "
            f"{array.shape}"
        )
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    bad = ~np.isfinite(norms[:, 0]) | (norms[:, 0] == 0.0)
    if bad.any():
        raise EmbeddingError(
            f"{source}: vector {int(np.argmax(bad))} is zero or not finite, so it has no direction"
        )
    return (array / norms).astype(np.float32).tolist()
