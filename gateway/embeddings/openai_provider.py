"""Embeddings from OpenAI or any server that speaks its `/v1/embeddings` API."""

from __future__ import annotations

from collections.abc import Sequence

import openai
from openai.types import CreateEmbeddingResponse

from gateway.embeddings.base import Embedder, EmbeddingError, unit_rows

OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAIEmbedder(Embedder):
    """Embeds through an OpenAI-compatible embeddings endpoint.

    `dimensions` is sent only to the text-embedding-3 family, the models that can shorten
    their vectors; every answer is checked to have `dim` floats per vector whatever the
    server, so a model that makes another size is refused rather than stored.
    """

    def __init__(
        self,
        *,
        model: str,
        dim: int,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        self.model = model
        self.dim = dim
        self.model_id = f"openai:{model}:{dim}"
        self._send_dimensions = model.startswith("text-embedding-3")
        # Both given explicitly so the client never falls back to OPENAI_BASE_URL or
        # OPENAI_API_KEY from the environment behind the settings' back; self-hosted
        # servers often want no key, but the client refuses to start without one.
        self._client = openai.AsyncOpenAI(
            base_url=base_url or OPENAI_BASE_URL,
            api_key=api_key or "not-needed",
            timeout=timeout,
            max_retries=max_retries,
        )

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        batch = list(texts)
        if not batch:
            return []
        create = self._client.embeddings.create
        response: CreateEmbeddingResponse
        try:
            if self._send_dimensions:
                response = await create(model=self.model, input=batch, dimensions=self.dim)
            else:
                response = await create(model=self.model, input=batch)
        except openai.APIStatusError as exc:
            raise EmbeddingError(
                f"{self.model_id}: the embeddings API answered HTTP {exc.status_code}: "
                f"{_error_message(exc)}"
            ) from exc
        except openai.APIConnectionError as exc:
            cause = f" ({exc.__cause__!r})" if exc.__cause__ is not None else ""
            raise EmbeddingError(
                f"{self.model_id}: could not reach the embeddings API: {exc.message}{cause}"
            ) from exc
        except openai.OpenAIError as exc:
            raise EmbeddingError(f"{self.model_id}: embeddings request failed: {exc}") from exc
        except ValueError as exc:
            # The client decodes base64 vectors itself and raises ValueError on a bad answer.
            raise EmbeddingError(f"{self.model_id}: unreadable embeddings answer: {exc}") from exc

        data = sorted(response.data, key=lambda item: item.index)
        if [item.index for item in data] != list(range(len(batch))):
            raise EmbeddingError(
                f"{self.model_id}: sent {len(batch)} texts but got vectors for indexes "
                f"{[item.index for item in data]}"
            )
        for item in data:
            if len(item.embedding) != self.dim:
                raise EmbeddingError(
                    f"{self.model_id}: the API returned {len(item.embedding)}-dimensional "
                    f"vectors but ATENDE_EMBEDDING_DIM is {self.dim}"
                )
        return unit_rows(
            [item.embedding for item in data], rows=len(batch), dim=self.dim, source=self.model_id
        )

    async def aclose(self) -> None:
        await self._client.close()


def _error_message(exc: openai.APIStatusError) -> str:
    # The client keeps the body's "error" object; its message is the useful part.
    if isinstance(exc.body, dict) and isinstance(exc.body.get("message"), str):
        return exc.body["message"]
    return exc.message
