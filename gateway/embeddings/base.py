"""The embedder interface every provider implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence


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

    async def aclose(self) -> None:  # noqa: B027 - optional for providers with no resources
        """Release what the provider holds (HTTP sessions, threads)."""
