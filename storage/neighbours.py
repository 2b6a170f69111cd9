"""What a search of the nearest human-validated rows returns (storage.routing searches).

Plain values, so that the services that weigh them (routing, suggestions, the
projection) need no query to build one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


def has_answer(answer: str | None) -> bool:
    return bool(answer and answer.strip(" "))


@dataclass(frozen=True)
class Neighbour:
    """A human-validated interaction near a query vector.

    `similarity` is what ranks it: the cosine, or its similarity under a projection
    (gateway.services.projection), which then keeps the cosine in `raw` and the vector
    under it in `projected`. `vector` is its embedding when it was asked for.
    """

    id: int
    sector: str | None
    answer: str | None
    message: str
    similarity: float
    vector: Sequence[float] | None = field(default=None, compare=False, repr=False)
    raw: float | None = None
    projected: Sequence[float] | None = field(default=None, compare=False, repr=False)

    @property
    def cosine(self) -> float:
        """The plain cosine similarity, whatever ranks the neighbour."""
        return self.similarity if self.raw is None else self.raw


@dataclass(frozen=True)
class Nearby:
    """The nearest validated rows of one vector, fetched once; narrower searches of the
    same vector are answered from them when that gives what the query would.

    Routing wants the nearest with a sector, suggestions the nearest with an answer, in
    any sector and in the routed one: usually all of them are among the first few.
    """

    neighbours: list[Neighbour]  # best first
    complete: bool  # fewer came back than were asked for: there are no others
    vectors: bool = False  # the neighbours carry their embeddings

    def first(
        self,
        limit: int,
        *,
        sector: str | None = None,
        need_sector: bool = False,
        need_answer: bool = False,
        vectors: bool = False,
    ) -> list[Neighbour] | None:
        """What validated_neighbours would return for these filters, or None when these
        rows cannot tell (fewer match than `limit`, and more rows may exist, or the
        vectors are wanted and these rows lack them)."""
        if vectors and not self.vectors:
            return None
        found = [
            n
            for n in self.neighbours
            if (sector is None or n.sector == sector)
            and (not need_sector or n.sector is not None)
            and (not need_answer or has_answer(n.answer))
        ]
        if len(found) >= limit or self.complete:
            return found[:limit]
        return None


@dataclass(frozen=True)
class Rejected:
    """A suggestion an operator rejected, and how near its message is to a query."""

    interaction_id: int
    suggested_answer: str
    similarity: float
    vector: Sequence[float] = field(compare=False, repr=False)
