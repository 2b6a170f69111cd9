"""Text embeddings: the Embedder interface and the factory that picks a provider.

Importing this package loads no model and opens no connection; the providers are
imported only when `create_embedder` asks for one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from gateway.embeddings.base import Embedder, EmbeddingError

if TYPE_CHECKING:
    from config.settings import Settings

__all__ = ["Embedder", "EmbeddingError", "create_embedder", "unit_rows"]


def create_embedder(settings: Settings) -> Embedder:
    """The embedder `settings.embedding_provider` names, not yet loaded or connected."""
    from config.settings import EmbeddingProvider

    provider = settings.embedding_provider
    if provider is EmbeddingProvider.OPENAI:
        from gateway.embeddings.openai_provider import OpenAIEmbedder

        if not settings.embedding_model or not settings.embedding_dim:
            raise ValueError(
                "the openai embedding provider needs ATENDE_EMBEDDING_MODEL and "
                "ATENDE_EMBEDDING_DIM"
            )
        key = settings.openai_api_key
        return OpenAIEmbedder(
            model=settings.embedding_model,
            dim=settings.embedding_dim,
            base_url=settings.openai_base_url,
            api_key=key.get_secret_value() if key is not None else None,
        )

    from gateway.embeddings.local import E5SmallEmbedder, UseMultilingualEmbedder

    local: type[E5SmallEmbedder | UseMultilingualEmbedder]
    if provider is EmbeddingProvider.E5_SMALL:
        local = E5SmallEmbedder
    elif provider is EmbeddingProvider.USE_MULTILINGUAL:
        local = UseMultilingualEmbedder
    else:
        raise ValueError(f"unknown embedding provider {provider!r}")
    # A dimension set for another provider would otherwise size vectors this model
    # cannot produce; say so at start rather than at the first insert.
    if settings.embedding_dim is not None and settings.embedding_dim != local.dim:
        raise ValueError(
            f"ATENDE_EMBEDDING_DIM is {settings.embedding_dim} but the {provider.value} "
            f"model makes {local.dim}-dimensional vectors; unset it or set it to {local.dim}"
        )
    if local is E5SmallEmbedder:
        return E5SmallEmbedder(
            threads=settings.embedding_threads,
            engine=settings.e5_engine,
            normalise=settings.embedding_normalise,
        )
    return local(threads=settings.embedding_threads, normalise=settings.embedding_normalise)


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
