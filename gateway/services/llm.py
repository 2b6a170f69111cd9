"""Optional LLM helpers (off by default), through any OpenAI-compatible chat completions API.

LLMClassifier names a sector for a message; LLMDrafter writes a reply grounded in the
validated answers retrieval found. Both are advisory: any failure leaves the
embedding-based decision in place, and a draft is still only a suggestion that a
human approves.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import openai

from config.sectors import SectorCatalog
from config.text import fold
from storage.neighbours import Neighbour


class LLMError(Exception):
    """The chat model could not answer (network, status or an empty reply)."""


class ChatModel:
    """One chat completions endpoint and model."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None,
        api_key: str | None,
        timeout: float = 30.0,
        max_retries: int = 1,
    ) -> None:
        self.model = model
        # Both explicit so the client never reads OPENAI_* from the environment behind
        # the settings' back.
        self._client = openai.AsyncOpenAI(
            base_url=base_url or "https://api.openai.com/v1",
            api_key=api_key or "not-needed",
            timeout=timeout,
            max_retries=max_retries,
        )

    async def complete(self, system: str, user: str, *, max_tokens: int = 400) -> str:
        try:
            response = await self._client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                temperature=0,
                max_tokens=max_tokens,
            )
        except openai.OpenAIError as exc:
            raise LLMError(f"{self.model}: chat completion failed: {exc}") from exc
        content = response.choices[0].message.content if response.choices else None
        if not content or not content.strip():
            raise LLMError(f"{self.model}: the reply was empty")
        return content.strip()

    async def aclose(self) -> None:
        await self._client.close()


class LLMClassifier:
    """Asks the model for one of the configured sector names."""

    def __init__(self, chat: ChatModel, catalog: SectorCatalog) -> None:
        self._chat = chat
        self._catalog = catalog

    async def classify(self, text: str) -> str | None:
        """A configured sector's name, or None when the reply names none."""
        sectors = "\n".join(
            f"- {s.name}: {s.description}"
            + (f" (ex.: {'; '.join(s.examples[:3])})" if s.examples else "")
            for s in self._catalog.sectors
        )
        system = (
            "You route customer-support messages to a sector. Reply with exactly one sector "
            f"name from this list and nothing else:\n{sectors}"
        )
        reply = fold(await self._chat.complete(system, text, max_tokens=10))
        words = re.findall(r"[a-z0-9_-]+", reply)
        named = [name for name in self._catalog.names if name in words]
        return named[0] if len(named) == 1 else None


class LLMDrafter:
    """Writes a reply from the validated answers retrieval found, and only from them."""

    def __init__(self, chat: ChatModel) -> None:
        self._chat = chat

    async def draft(self, text: str, sources: Sequence[Neighbour]) -> str:
        context = "\n\n".join(
            f"[{n.id}] Customer: {n.message}\nValidated answer: {n.answer}" for n in sources
        )
        system = (
            "You draft replies for a customer-support operator. Use only the facts in the "
            "validated answers below; do not invent policies, prices or deadlines. Reply in "
            "the customer's language, briefly.\n\n" + context
        )
        return await self._chat.complete(system, text)
