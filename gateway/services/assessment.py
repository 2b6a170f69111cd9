"""What weighing a message found: the candidates that voted, every answer they speak for
with its evidence, and the winner's confidence (`Assessment`); and the suggestion made of
it (`Suggestion`). gateway.services.suggestions makes them."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from gateway.services.confidence import Evidence
from storage.neighbours import Neighbour


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
    confidence: float = 1.0
    min_confidence: float = 0.0
    margin: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "source_ids": self.source_ids,
            "similarity": round(self.similarity, 4),
            "same_sector": self.same_sector,
            "threshold": self.threshold,
            "agreement": round(self.agreement, 4),
            "confidence": round(self.confidence, 4),
            "min_confidence": self.min_confidence,
            "margin": round(self.margin, 4),
        }


@dataclass(frozen=True)
class Assessment:
    """Every answer the neighbours speak for, best first, and the winner's confidence."""

    candidates: list[Candidate]  # the voters, nearest first
    evidence: list[Evidence]
    confidence: float | None  # None: nothing to suggest at all

    def answers(self) -> list[list[Candidate]]:
        """The voters of each answer, the answers best first."""
        return [[self.candidates[i] for i in e.members] for e in self.evidence]

    def winner_cosine(self) -> float | None:
        """The cosine of the winning answer's nearest supporter: what the similarity floor
        reads, whether or not a projection ranked the voters."""
        if not self.evidence:
            return None
        return max(c.neighbour.cosine for c in self.answers()[0])

    def sector_shares(self, temperature: float) -> dict[str, float] | None:
        """How the answer model's scores share out among the answers' sectors (an answer's
        sector: its nearest supporter's), each answer weighing exp((score - best) /
        temperature); None when no answer model scored the answers. The router reads it
        (gateway.services.routing)."""
        scored = [
            (e.score, members[0].neighbour.sector)
            for e, members in zip(self.evidence, self.answers(), strict=True)
            if e.score is not None and members[0].neighbour.sector is not None
        ]
        if not scored:
            return None
        best = max(score for score, _ in scored)
        weights: dict[str, float] = defaultdict(float)
        for score, sector in scored:
            weights[sector] += math.exp((score - best) / temperature)
        total = sum(weights.values())
        return {sector: weight / total for sector, weight in weights.items()}
