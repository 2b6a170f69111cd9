"""Text embeddings: the Embedder interface and the factory that picks a provider.

Importing this package loads no model and opens no connection; the providers are
imported only when `create_embedder` asks for one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.embeddings.base import Embedder, EmbeddingError, unit_rows

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

    from gateway.embeddings.local import TEXT_OPTIONS, E5SmallEmbedder, UseMultilingualEmbedder

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
    text = {
        "normalise": settings.embedding_normalise,
        "abbreviations": settings.embedding_abbreviations,
        "accents": settings.embedding_accents,
        "keep_stored": [
            option
            for option in TEXT_OPTIONS
            if f"embedding_{option}" not in settings.model_fields_set
        ],
    }
    if local is E5SmallEmbedder:
        return E5SmallEmbedder(
            threads=settings.embedding_threads, engine=settings.e5_engine, **text
        )
    return local(threads=settings.embedding_threads, **text)
