"""SuggestionMaker: the validated answer the nearest history agrees on, when sure enough.

Candidates are human-validated interactions with a non-empty answer, the POOL * NEIGHBOURS
nearest to the message in any sector (and in its own, when the sector came with the
message); once `atende calibrate` learnt a projection of the embedding space from the
validated history (gateway.services.projection), they are ranked by similarity under it.
The nearest NEIGHBOURS of them vote for their answers (gateway.services.confidence):
identical answers pool their votes, answers operators rejected for similar messages lose
weight, and the winning answer gets a confidence in [0, 1]. A message without a sector is
weighed before it is routed: the router reads the answers (`Assessment.sector_shares`).
The winner is suggested when its confidence reaches the threshold of the message's
(given or routed) sector (set by `atende calibrate`, else ATENDE_SUGGESTION_MIN_CONFIDENCE,
else the confidence model's own bar)
and its nearest supporter's cosine is at least ATENDE_SUGGESTION_THRESHOLD (a floor
against text unlike anything validated). Otherwise the message simply waits for a human.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import structlog

from gateway.services.assessment import Assessment, Candidate, Suggestion
from gateway.services.confidence import (
    DEFAULT_MODEL,
    MIN_CONFIDENCE,
    NEIGHBOURS,
    ConfidenceModel,
    Evidence,
    Vote,
    default_model,
    order_by_scores,
    weigh,
)
from gateway.services.lexicon import VOTERS, Lexicon
from gateway.services.llm import LLMDrafter, LLMError
from gateway.services.projection import Projection
from storage.neighbours import Nearby
from storage.routing import RoutingRepository

log = structlog.get_logger(__name__)

# The pool the voters come from, in voters. Searched without the routed sector (the router
# reads the voters' answers first), the thirty nearest under the projection among the
# sixty nearest by cosine gave the pt-BR tuning split the same coverage at the same
# precision and silence as among the thirty nearest and the routed sector's thirty
# (0.585 against 0.589, four splits); among only thirty: 0.567.
POOL = 2


@dataclass
class Calibration:
    """What `atende calibrate` stored: the confidence model, per-sector thresholds and
    the projection the votes are weighed under (None: plain cosine)."""

    model: ConfidenceModel = DEFAULT_MODEL
    sector_thresholds: dict[str, float] = field(default_factory=dict)
    applied_at: str | None = None
    projection: Projection | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model.as_json(),
            "sector_thresholds": dict(sorted(self.sector_thresholds.items())),
            "applied_at": self.applied_at,
            "projection": self.projection.as_json() if self.projection else None,
        }

    def draft(self) -> Calibration:
        """A copy to change before it is applied: the same model, projection and bars."""
        return Calibration(
            model=self.model,
            sector_thresholds=dict(self.sector_thresholds),
            projection=self.projection,
        )

    @classmethod
    def default_for(cls, model_id: str | None) -> Calibration:
        """Before any calibration: the built-in model where it was fitted for this
        embedding model, else the share of the vote (gateway.services.confidence)."""
        return cls(model=default_model(model_id))

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Calibration:
        thresholds = {str(k): float(v) for k, v in (value.get("sector_thresholds") or {}).items()}
        if any(not 0.0 <= v <= 1.0 for v in thresholds.values()):
            raise ValueError("a sector threshold is a confidence in [0, 1]")
        model = value.get("model")
        projection = value.get("projection")
        return cls(
            model=ConfidenceModel.from_json(model) if model else DEFAULT_MODEL,
            sector_thresholds=thresholds,
            applied_at=value.get("applied_at"),
            projection=Projection.from_json(projection) if projection else None,
        )


class SuggestionMaker:
    """Ranks validated answers for a message and picks the one to suggest, if any."""

    def __init__(
        self,
        repository: RoutingRepository,
        *,
        model_id: str,
        threshold: float,
        min_confidence: float | None = None,
        limit: int = NEIGHBOURS,
        temperature: float = 0.02,
        drafter: LLMDrafter | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self._drafter = drafter
        self._repository = repository
        self.temperature = temperature
        self.model_id = model_id
        self.threshold = threshold
        self.configured_min_confidence = min_confidence
        self.limit = limit
        self.calibration = calibration or Calibration.default_for(model_id)

    @property
    def pool(self) -> int:
        """How many of the nearest validated rows by cosine a message's voters are chosen
        from: under a projection, the nearest `limit` in its view are not all among the
        nearest `limit` by cosine."""
        return POOL * self.limit

    @property
    def vote_temperature(self) -> float:
        """The votes' temperature in the space they are weighed in."""
        projection = self.calibration.projection
        return projection.temperature if projection else self.temperature

    @property
    def min_confidence(self) -> float:
        """The bar where no sector has one: the configured one (None: not configured),
        else the one the confidence model was chosen with, else MIN_CONFIDENCE."""
        if self.configured_min_confidence is not None:
            return self.configured_min_confidence
        bar = self.calibration.model.bar
        return MIN_CONFIDENCE if bar is None else bar

    def min_confidence_for(self, sector: str | None) -> float:
        """The sector's calibrated threshold, else the configured one."""
        if sector is not None and sector in self.calibration.sector_thresholds:
            return self.calibration.sector_thresholds[sector]
        return self.min_confidence

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

        Under a projection they are ranked by their similarity under it. `nearby`
        (searched with the same `exclude_id`) saves the searches it can answer.
        """
        limit = limit or self.limit
        projection = self.calibration.projection
        search = {
            "nearby": nearby,
            "limit": limit,
            "model_id": self.model_id,
            "need_answer": True,
            "exclude_id": exclude_id,
            "vectors": projection is not None,
        }
        searches = [self._repository.validated_neighbours(vector, **search)]
        if sector is not None:  # its own sector too, at the same time
            searches.append(self._repository.validated_neighbours(vector, sector=sector, **search))
        found = list({n.id: n for batch in await asyncio.gather(*searches) for n in batch}.values())
        if projection is not None:
            found = projection.rescore(vector, found)
        ranked = [
            Candidate(n, sector is not None and n.sector == sector, n.cosine >= self.threshold)
            for n in found
        ]
        ranked.sort(
            key=lambda c: (c.above_threshold and c.same_sector, c.neighbour.similarity),
            reverse=True,
        )
        return ranked

    async def rejected_near(self, vector: Sequence[float]) -> list[Vote]:
        """Answers operators rejected for messages at least as similar as the floor."""
        found = await self._repository.rejected_near(
            vector, model_id=self.model_id, limit=2 * self.limit, min_similarity=self.threshold
        )
        projection = self.calibration.projection
        if projection is None or not found:
            return [Vote(r.similarity, r.suggested_answer) for r in found]
        similarities = projection.similarities(vector, [r.vector for r in found])
        return [
            Vote(float(s), r.suggested_answer) for r, s in zip(found, similarities, strict=True)
        ]

    async def weigh(
        self,
        vector: Sequence[float],
        sector: str | None = None,
        *,
        exclude_id: int | None = None,
        nearby: Nearby | None = None,
        text: str,
    ) -> tuple[list[Candidate], Assessment]:
        """The candidates for a message (its `text`, embedded as `vector`) and their
        assessment. `sector` is one that came with the message (see `assess`); a message
        the router has yet to place is weighed without one, and the router then reads the
        assessment too."""
        ranked, against = await asyncio.gather(
            self.candidates(vector, sector, exclude_id=exclude_id, nearby=nearby, limit=self.pool),
            self.rejected_near(vector),
        )
        given = sector is not None
        return ranked, self.assess(vector, ranked, against, sector_given=given, text=text)

    async def suggest(
        self,
        ranked: Sequence[Candidate],
        assessment: Assessment,
        sector: str | None,
        *,
        text: str | None = None,
    ) -> Suggestion | None:
        """The suggestion for a message `weigh`ed, in its (given or routed) `sector`, or
        None; `text` is needed only for drafting."""
        chosen = self.choose(assessment, sector)
        if chosen is None or self._drafter is None or text is None:
            return chosen
        # A draft is written only from answers that were near enough to suggest
        # themselves, its own sector's first.
        sources = sorted(
            (c.neighbour for c in ranked if c.above_threshold),
            key=lambda n: (sector is not None and n.sector == sector, n.similarity),
            reverse=True,
        )[:3]
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
            confidence=chosen.confidence,
            min_confidence=chosen.min_confidence,
            margin=chosen.margin,
        )

    def assess(
        self,
        query: Sequence[float],
        ranked: Sequence[Candidate],
        against: Sequence[Vote] = (),
        *,
        sector_given: bool = False,
        text: str = "",
    ) -> Assessment:
        """Weigh the answers of the nearest `limit` candidates to `query`, whatever their
        sector; under a projection with an answer model, that model orders them.

        A sector that came with the message (`sector_given`: an integrator's, not the
        router's guess) is evidence too: then only its own candidates vote, when one of
        them reaches the similarity floor. A routed sector is not used so: on the pt-BR
        tuning split, voting within the router's sector carried its mistakes into the
        answer (precision 0.91 against 0.98 at the same confidence bar).
        """
        own = [c for c in ranked if c.same_sector]
        if sector_given and any(c.above_threshold for c in own):
            ranked = own
        voters = sorted(ranked, key=lambda c: c.neighbour.similarity, reverse=True)[: self.limit]
        votes = [Vote(c.neighbour.similarity, c.neighbour.answer or "") for c in voters]
        evidence = weigh(votes, temperature=self.vote_temperature, against=against)
        projection = self.calibration.projection
        if evidence and projection is not None and projection.answers is not None:
            # The candidates were ranked under the projection, which kept their vectors in it.
            rows = np.asarray([c.neighbour.projected for c in voters])
            pool = {e.key: rows[list(e.members)] for e in evidence}
            scores = projection.answers.scores(
                projection.apply_query(query), pool, np.asarray(query)
            )
            evidence = order_by_scores(evidence, scores, projection.answers.typical_of)
            if projection.lexicon is not None:
                evidence[0] = self._read_lexicon(projection.lexicon, text, evidence, voters)
        confidence = self.calibration.model.confidence(evidence[0]) if evidence else None
        return Assessment(voters, evidence, confidence)

    @staticmethod
    def _read_lexicon(
        lexicon: Lexicon, text: str, evidence: Sequence[Evidence], voters: Sequence[Candidate]
    ) -> Evidence:
        """The winner (the first of `evidence`) with how much more of what `text` says it
        was never asked with than a new phrasing of a known question typically says
        (Lexicon.typical), and its share of the words' vote among the first answers; an
        answer validated since the lexicon was learnt is read from its voters' messages
        and its own text."""
        asked: dict[str, list[str]] = {}
        for e in evidence[:VOTERS]:
            if e.key not in lexicon.words:
                supporters = [voters[i].neighbour for i in e.members]
                asked[e.key] = [n.message for n in supporters] + [supporters[0].answer or ""]
        unmatched, vote = lexicon.read(text, [e.key for e in evidence[:VOTERS]], asked)
        return replace(evidence[0], unmatched=unmatched, word_vote=vote)

    def choose(
        self,
        assessment: Assessment,
        sector: str | None,
        *,
        min_confidence: float | None = None,
        threshold: float | None = None,
    ) -> Suggestion | None:
        """The winning answer when it clears both bars, else None. `min_confidence` and
        `threshold` replace the configured bars (the evaluation sweeps them)."""
        if assessment.confidence is None:
            return None
        floor = self.threshold if threshold is None else threshold
        needed = self.min_confidence_for(sector) if min_confidence is None else min_confidence
        winner = assessment.evidence[0]
        members = assessment.answers()[0]
        nearest = assessment.winner_cosine() or 0.0
        if nearest < floor or assessment.confidence < needed:
            return None
        return Suggestion(
            answer=members[0].neighbour.answer or "",
            source_ids=[c.neighbour.id for c in members],
            similarity=nearest,
            same_sector=sector is not None and members[0].neighbour.sector == sector,
            threshold=floor,
            agreement=winner.share,
            confidence=assessment.confidence,
            min_confidence=needed,
            margin=winner.margin,
        )
