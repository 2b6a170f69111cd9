"""The worker step after embedding: route messages without a sector, suggest answers.

A new message goes through `PipelineWorker.triage` in the embedding worker's transaction,
as soon as it has its vector (gateway.services.embedding). What that leaves (a row whose
triage failed, a vector stored by `atende reembed`) waits in this worker's own queue, the
table: rows with a vector and `pipeline_done_at` NULL, claimed with `FOR UPDATE SKIP
LOCKED`. Either way the result and the done mark are written in the claiming
transaction, so a crash leaves the row to be tried again; a row that keeps failing
is given up after MAX_ATTEMPTS. A human's answer is never replaced: only a row still
pending without an answer gets a suggestion, and the row lock makes an operator's
concurrent change wait for (and then override) this step.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.errors import ConfigurationError
from config.sectors import SectorCatalog
from config.settings import Settings
from gateway.embeddings import Embedder
from gateway.services.calibration import CALIBRATION_KEY, load_calibration
from gateway.services.llm import ChatModel
from gateway.services.polling import Wakeup, work_forever
from gateway.services.routing import SectorRouter
from gateway.services.suggestions import Suggestion, SuggestionMaker
from gateway.services.triage import build_triage, search_nearby, triage_message
from storage.models import ChatInteraction
from storage.repositories import MetaRepository
from storage.routing import RoutingRepository
from storage.step_writes import StepWrite, mark_answered, write_steps
from storage.vectors import QueryVector

if TYPE_CHECKING:
    from gateway.services.delivery import Outbox
    from gateway.telemetry.metrics import Metrics

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 5
CALIBRATION_TTL = 60.0  # seconds a calibration read from the database is used
# Rows of a batch routed and suggested at once: four rows' two searches fit the pool (10).
PARALLEL_ROWS = 4


class PipelineWorker:
    """Routes and suggests for embedded messages, in batches, until told to stop."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        repository: RoutingRepository,
        router: SectorRouter,
        suggestions: SuggestionMaker,
        *,
        batch_size: int = 32,
        idle_poll_seconds: float = 1.0,
        chat: ChatModel | None = None,
        catalog: SectorCatalog | None = None,
        outbox: Outbox | None = None,
        metrics: Metrics | None = None,
        meta: MetaRepository | None = None,
    ) -> None:
        self._metrics = metrics
        self._meta = meta
        self._calibration_read = -math.inf
        self._chat = chat
        self._catalog = catalog
        self._outbox = outbox
        self._sessions = sessions
        self._repository = repository
        self._router = router
        self.suggestions = suggestions
        self._batch_size = batch_size
        self._idle_poll = idle_poll_seconds
        self._wakeup = Wakeup()
        # Rows processed at once; each may hold two pooled connections for its searches.
        self._side_by_side = asyncio.Semaphore(PARALLEL_ROWS)

    async def _process_one(
        self, row: ChatInteraction, vector: QueryVector
    ) -> dict[str, Any] | Exception:
        async with self._side_by_side:
            try:
                return await self.process(row, vector)
            # Any failure, not only the expected ones: the row is tried again and given up
            # after MAX_ATTEMPTS, where an escaping error would fail the whole batch (and,
            # from the embedding worker, its vectors too) again and again.
            except Exception as exc:
                return exc

    async def process(self, row: ChatInteraction, vector: QueryVector) -> dict[str, Any]:
        """The columns to write for one claimed row, whose vector is `vector`."""
        needs_route = row.sector is None
        needs_suggestion = row.validated_by == "pending" and not (row.answer or "").strip()
        if not (needs_route or needs_suggestion):
            return {}
        nearby = await search_nearby(
            self._repository, self._router, self.suggestions, vector, exclude_id=row.id
        )
        triage = await triage_message(
            self._router,
            self.suggestions,
            row.message,
            vector,
            sector=row.sector,
            exclude_id=row.id,
            nearby=nearby,
        )
        values: dict[str, Any] = {}
        sector = row.sector
        if triage.decision is not None:
            decision = triage.decision
            sector = decision.sector
            values.update(
                sector=sector,
                route_confidence=decision.confidence,
                route_reason={"method": decision.method, **decision.reason},
            )
        if needs_suggestion:
            suggestion = await self.suggestions.suggest(
                triage.ranked, triage.assessment, sector, text=row.message
            )
            if suggestion is not None:
                values.update(
                    answer=suggestion.answer,
                    validated_by="ai",
                    suggestion={
                        **suggestion.as_json(),
                        "auto_send": self._auto_sends(sector, suggestion),
                    },
                )
        return values

    def _auto_sends(self, sector: str | None, suggestion: Suggestion) -> bool:
        """Only a sector that opted in, only a retrieved human-validated answer (never an
        LLM draft), and only above that sector's own stricter threshold."""
        definition = self._catalog.get(sector) if self._catalog and sector else None
        return (
            self._outbox is not None
            and definition is not None
            and definition.auto_send_threshold is not None
            and suggestion.method == "retrieval"
            and suggestion.similarity >= definition.auto_send_threshold
        )

    async def refresh_calibration(self, *, force: bool = False) -> None:
        """Read what `atende calibrate --apply` stored, at most once a minute (it runs in
        another process; a minute's delay is the price of not reading it per batch)."""
        now = time.monotonic()
        if self._meta is None or (not force and now - self._calibration_read < CALIBRATION_TTL):
            return
        self._calibration_read = now
        # A calibration with an answer model runs to megabytes: it is parsed again only
        # when `atende calibrate --apply` stamped a new one.
        stamp = await self._meta.field(CALIBRATION_KEY, "applied_at")
        if not force and stamp is not None and stamp == self.suggestions.calibration.applied_at:
            return
        self.suggestions.calibration = await load_calibration(self._meta, self.suggestions.model_id)

    async def run_once(self) -> int:
        """Process one batch; returns how many rows were claimed."""
        async with self._sessions.begin() as session:
            rows = await self._repository.claim_pending_pipeline(
                session, limit=self._batch_size, max_attempts=MAX_ATTEMPTS
            )
            # Formatted for PostgreSQL once, for every search of the row.
            queued = await self.triage(session, rows, [QueryVector(r.embedding) for r in rows])
        self.delivery_queued(queued)
        return len(rows)

    async def triage(
        self,
        session: AsyncSession,
        rows: Sequence[ChatInteraction],
        vectors: Sequence[QueryVector],
        *,
        new_vectors_of: str | None = None,
    ) -> int:
        """Route and suggest for rows locked in `session`'s transaction and write the
        results there; returns how many deliveries were queued (see delivery_queued).

        With `new_vectors_of` (a model id), `vectors` are new: each is written in the same
        UPDATE as its row's result, also for rows that need no triage or fail it.
        """
        await self.refresh_calibration()
        todo = [
            i
            for i, row in enumerate(rows)
            if row.pipeline_done_at is None and row.pipeline_attempts < MAX_ATTEMPTS
        ]
        # The rows' searches run side by side (each on its own connection), so one
        # row's round trips overlap another's CPU; the results are written together.
        results = dict(
            zip(
                todo,
                await asyncio.gather(*(self._process_one(rows[i], vectors[i]) for i in todo)),
                strict=True,
            )
        )
        writes: list[StepWrite] = []
        finished: list[tuple[ChatInteraction, dict[str, Any]]] = []
        for i, row in enumerate(rows):
            stored: dict[str, Any] = (
                {}
                if new_vectors_of is None
                else {
                    "embedding": vectors[i],
                    "embedding_model": new_vectors_of,
                    "embed_error": None,
                }
            )
            values = results.get(i)
            if values is None:  # triaged before (its vector was being rebuilt) or given up
                if stored:
                    writes.append(StepWrite(row.id, stored))
            elif isinstance(values, Exception):
                writes.append(StepWrite(row.id, stored, failed=True))
                log.warning("pipeline_failed", interaction_id=row.id, error=str(values))
            else:
                writes.append(StepWrite(row.id, {**values, **stored}, done=True))
                finished.append((row, values))
        # One statement for the whole batch.
        elapsed = await write_steps(session, writes)
        queued = 0
        for row, values in finished:
            elapsed_ms = elapsed[row.id]
            auto_send = values.get("suggestion", {}).get("auto_send", False)
            # An operator closed it before it was triaged: the customer is sent nothing.
            if auto_send and self._outbox is not None and row.closed_at is None:
                # Queued in the same transaction as the suggestion: both or neither.
                sent = await self._outbox.enqueue_answer(session, row, values["answer"])
                if sent:
                    await mark_answered(session, row.id)
                queued += sent
            if self._metrics is not None:
                self._metrics.triaged(elapsed_ms, suggested="suggestion" in values)
            log.info(
                "message_triaged",
                interaction_id=row.id,
                sector=values.get("sector", row.sector),
                routed="route_reason" in values,
                suggested="suggestion" in values,
                auto_send=auto_send,
                receipt_to_suggestion_ms=round(elapsed_ms, 1),
            )
        return queued

    def delivery_queued(self, queued: int) -> None:
        """Call once triage's transaction has committed: wakes the delivery worker."""
        if queued and self._outbox is not None:
            self._outbox.wake()

    async def run(self) -> None:
        await work_forever(self.run_once, self._wakeup, idle_poll=self._idle_poll, name="pipeline")

    async def aclose(self) -> None:
        """Close the chat model's HTTP client, if the LLM helpers are on."""
        if self._chat is not None:
            await self._chat.aclose()

    async def drain(self) -> int:
        total = 0
        while done := await self.run_once():
            total += done
        return total


def build_pipeline(
    settings: Settings,
    catalog: SectorCatalog,
    sessions: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    *,
    outbox: Outbox | None = None,
    metrics: Metrics | None = None,
) -> PipelineWorker:
    """The router, the suggestion maker and the worker, as the settings describe them."""
    threshold = settings.effective_suggestion_threshold
    for sector in catalog.sectors:
        if sector.auto_send_threshold is not None and sector.auto_send_threshold <= threshold:
            raise ConfigurationError(
                f"sector {sector.name!r}: auto_send_threshold {sector.auto_send_threshold} must "
                f"be stricter (higher) than the suggestion threshold {threshold}"
            )
    repository = RoutingRepository(sessions)
    chat = None
    if settings.llm_model and (settings.llm_routing or settings.llm_drafting):
        key = settings.openai_api_key
        chat = ChatModel(
            model=settings.llm_model,
            base_url=settings.openai_base_url,
            api_key=key.get_secret_value() if key is not None else None,
        )
    router, suggestions = build_triage(
        settings, catalog, repository, embedder, threshold=threshold, chat=chat
    )
    return PipelineWorker(
        sessions,
        repository,
        router,
        suggestions,
        batch_size=settings.embedding_batch_size,
        idle_poll_seconds=settings.worker_idle_poll_seconds,
        chat=chat,
        catalog=catalog,
        outbox=outbox,
        metrics=metrics,
        meta=MetaRepository(sessions),
    )
