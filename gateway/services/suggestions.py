"""SuggestionMaker: the answer of the nearest human-validated interaction, when near enough.

Candidates are human-validated interactions with a non-empty answer. Those of the
message's own sector come first, then any sector; a candidate below the similarity
threshold is never suggested, so such a message simply waits for a human. Candidates
that gave the very same answer pool their votes (a kNN vote over answers), and all of
them are listed as the suggestion's sources.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from gateway.services.llm import LLMDrafter, LLMError
from storage.routing import Nearby, Neighbour, RoutingRepository

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Candidate:
    neighbour: Neighbour
    same_sector: bool
    above_threshold: bool


@dataclass(frozen=True)
class Suggestion:
    answer: str
    source_ids: list[int]
    similarity: float
    same_sector: bool
    threshold: float
    agreement: float = 1.0
    method: str = "retrieval"

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "source_ids": self.source_ids,
            "similarity": round(self.similarity, 4),
            "same_sector": self.same_sector,
            "threshold": self.threshold,
            "agreement": round(self.agreement, 4),
        }


class SuggestionMaker:
    """Ranks validated answers for a message and picks the one to suggest, if any."""

    def __init__(
        self,
        repository: RoutingRepository,
        *,
        model_id: str,
        threshold: float,
        limit: int = 5,
        temperature: float = 0.02,
        drafter: LLMDrafter | None = None,
    ) -> None:
        self._drafter = drafter
        self._repository = repository
        self._temperature = temperature
        self.model_id = model_id
        self.threshold = threshold
        self.limit = limit

    async def candidates(
        self,
        vector: Sequence[float],
        sector: str | None,
        *,
        exclude_id: int | None = None,
        limit: int | None = None,
        nearby: Nearby | None = None,
    ) -> list[Candidate]:
        """Same-sector candidates above the threshold first, then the rest, each by similarity.

        `nearby` (searched with the same `exclude_id`) saves the searches it can answer.
        """
        limit = limit or self.limit
        search = {
            "nearby": nearby,
            "limit": limit,
            "model_id": self.model_id,
            "need_answer": True,
            "exclude_id": exclude_id,
        }
        searches = [self._repository.validated_neighbours(vector, **search)]
        if sector is not None:  # its own sector too, at the same time
            searches.append(self._repository.validated_neighbours(vector, sector=sector, **search))
        found = {n.id: n for batch in await asyncio.gather(*searches) for n in batch}
        ranked = [
            Candidate(n, sector is not None and n.sector == sector, n.similarity >= self.threshold)
            for n in found.values()
        ]
        ranked.sort(
            key=lambda c: (c.above_threshold and c.same_sector, c.neighbour.similarity),
            reverse=True,
        )
        return ranked

    async def suggest(
        self,
        vector: Sequence[float],
        sector: str | None,
        *,
        exclude_id: int | None = None,
        text: str | None = None,
        nearby: Nearby | None = None,
    ) -> Suggestion | None:
        """The suggestion for a message, or None; `text` is needed only for drafting."""
        ranked = await self.candidates(vector, sector, exclude_id=exclude_id, nearby=nearby)
        chosen = self.choose(ranked)
        if chosen is None or self._drafter is None or text is None:
            return chosen
        # A draft is written only from answers that were near enough to suggest themselves.
        sources = [c.neighbour for c in ranked if c.above_threshold][:3]
        try:
            answer = await self._drafter.draft(text, sources)
        except LLMError as exc:
            log.warning("drafting_failed", error=str(exc)[:300])
            return chosen
        return Suggestion(
            answer=answer,
            source_ids=[n.id for n in sources],
            similarity=chosen.similarity,
            same_sector=chosen.same_sector,
            threshold=chosen.threshold,
            agreement=chosen.agreement,
            method="llm-draft",
        )

    def choose(
        self, ranked: Sequence[Candidate], threshold: float | None = None
    ) -> Suggestion | None:
        """The answer to suggest from ranked candidates, or None when none is near enough.

        Among the candidates at or above the threshold (those of the message's sector,
        if any are), identical answers pool their votes, each weighing
        exp((similarity - best) / temperature); the answer with the most weight wins.
        Where every answer is distinct this is simply the nearest one.
        """
        cut = self.threshold if threshold is None else threshold
        eligible = [c for c in ranked if c.neighbour.similarity >= cut]
        if any(c.same_sector for c in eligible):
            eligible = [c for c in eligible if c.same_sector]
        if not eligible:
            return None
        best = max(c.neighbour.similarity for c in eligible)
        groups: dict[str, list[Candidate]] = {}
        weight: dict[str, float] = {}
        for c in sorted(eligible, key=lambda c: c.neighbour.similarity, reverse=True):
            key = " ".join((c.neighbour.answer or "").split()).lower()
            groups.setdefault(key, []).append(c)
            weight[key] = weight.get(key, 0.0) + math.exp(
                (c.neighbour.similarity - best) / self._temperature
            )
        winner = max(weight, key=lambda k: (weight[k], groups[k][0].neighbour.similarity))
        members = groups[winner]
        return Suggestion(
            answer=members[0].neighbour.answer or "",
            source_ids=[c.neighbour.id for c in members],
            similarity=members[0].neighbour.similarity,
            same_sector=members[0].same_sector,
            threshold=cut,
            agreement=weight[winner] / sum(weight.values()),
        )
