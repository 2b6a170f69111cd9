"""One message weighed and routed: the code the worker, `atende eval` and the latency
bench's baseline all run, so that what is measured is what runs."""

from __future__ import annotations

from dataclasses import dataclass

from config.sectors import SectorCatalog
from config.settings import Settings
from gateway.embeddings import Embedder
from gateway.services.llm import ChatModel, LLMClassifier, LLMDrafter
from gateway.services.routing import ANSWER_TEMPERATURE, RouteDecision, SectorRouter
from gateway.services.suggestions import Assessment, Candidate, SuggestionMaker
from storage.neighbours import Nearby
from storage.routing import RoutingRepository
from storage.vectors import QueryVector


async def search_nearby(
    repository: RoutingRepository,
    router: SectorRouter,
    suggestions: SuggestionMaker,
    vector: QueryVector,
    *,
    exclude_id: int | None = None,
) -> Nearby:
    """One search whose rows usually answer routing's and the suggestion's searches (the
    suggestion's whole pool, routing's twice over). Under a projection they carry their
    vectors, which both re-score: without them every search goes to the database again."""
    return await repository.nearby(
        vector,
        limit=max(2 * router.search_limit, suggestions.pool),
        model_id=suggestions.model_id,
        exclude_id=exclude_id,
        vectors=suggestions.calibration.projection is not None,
    )


@dataclass(frozen=True)
class Triage:
    """One message weighed and, if it came without a sector, routed."""

    decision: RouteDecision | None  # None: the sector came with the message
    ranked: list[Candidate]
    assessment: Assessment


async def triage_message(
    router: SectorRouter,
    suggestions: SuggestionMaker,
    text: str,
    vector: QueryVector,
    *,
    sector: str | None,
    exclude_id: int | None = None,
    nearby: Nearby | None = None,
) -> Triage:
    """Weigh the validated answers for a message, then route it when it came without a
    `sector`: the router reads what the answer model made of it. The worker, `atende
    eval` and the bench's baseline all triage through here, so what is measured is what
    runs."""
    ranked, assessment = await suggestions.weigh(
        vector, sector, exclude_id=exclude_id, nearby=nearby, text=text
    )
    decision = None
    if sector is None:
        decision = await router.route(
            text,
            vector,
            exclude_id=exclude_id,
            nearby=nearby,
            answers=assessment.sector_shares(ANSWER_TEMPERATURE),
        )
    return Triage(decision, ranked, assessment)


def build_triage(
    settings: Settings,
    catalog: SectorCatalog,
    repository: RoutingRepository,
    embedder: Embedder,
    *,
    threshold: float,
    chat: ChatModel | None = None,
) -> tuple[SectorRouter, SuggestionMaker]:
    """The router and the suggestion maker as the settings describe them; the worker and
    `atende eval` share this so that what is measured is what runs."""
    suggestions = SuggestionMaker(
        repository,
        model_id=embedder.model_id,
        threshold=threshold,
        min_confidence=settings.suggestion_min_confidence,
        temperature=settings.router_temperature,
        drafter=LLMDrafter(chat) if chat and settings.llm_drafting else None,
    )
    router = SectorRouter(
        catalog,
        embedder,
        repository,
        neighbours=settings.router_neighbours,
        temperature=settings.router_temperature,
        tie_margin=settings.router_tie_margin,
        classifier=LLMClassifier(chat, catalog) if chat and settings.llm_routing else None,
        # One calibration for both: the router reads the projection the suggestions hold.
        projection_of=lambda: suggestions.calibration.projection,
    )
    return router, suggestions
