"""Keeping every stored message's vector filled, by the configured model.

The queue is the table itself: rows whose embedding is NULL. Workers claim them with
`FOR UPDATE SKIP LOCKED`, so any number of workers (in `atende serve` or alone as
`atende worker`) share it without doing a row twice; a failure pushes the row's next
attempt back and the message itself is never touched. Given the pipeline (as `serve` and
`worker` give it), a batch is routed and suggested before its vectors are written, and
both go in one UPDATE for the batch (gateway.services.pipeline).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config.errors import ConfigurationError
from gateway.embeddings import Embedder, EmbeddingError
from gateway.services.polling import Wakeup, work_forever
from storage import sector_indexes
from storage.repositories import MessageRepository, MetaRepository
from storage.vectors import QueryVector

if TYPE_CHECKING:
    from gateway.services.pipeline import PipelineWorker

log = structlog.get_logger(__name__)

EMBEDDING_META_KEY = "embedding"
MAX_ATTEMPTS = 8


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff for a failed embedding: 2 s, 4 s, ... up to 10 minutes."""
    return timedelta(seconds=min(600, 2 ** max(1, attempt)))


async def check_embedding_model(meta: MetaRepository, embedder: Embedder) -> None:
    """Record the model on first start; refuse to start on vectors of another model."""
    stored = await meta.get(EMBEDDING_META_KEY)
    current = {"model_id": embedder.model_id, "dim": embedder.dim}
    if stored is None:
        await meta.set(EMBEDDING_META_KEY, current)
        return
    if stored.get("model_id") == embedder.model_id and stored.get("dim") == embedder.dim:
        return
    if stored.get("dim") == embedder.dim and embedder.adopt(str(stored.get("model_id"))):
        log.warning(
            "embedding_kept_as_stored",
            model_id=embedder.model_id,
            detail="the stored vectors were made before a newer default of the text's "
            "evening-out (ATENDE_EMBEDDING_ABBREVIATIONS, ATENDE_EMBEDDING_ACCENTS); new ones "
            "are made the same way. Run `atende reembed` to adopt it, or set it to false to "
            "keep to the stored kind.",
        )
        return
    raise ConfigurationError(
        f"the stored vectors were made by {stored.get('model_id')} ({stored.get('dim')} "
        f"dimensions) but the settings name {embedder.model_id} ({embedder.dim} dimensions). "
        "Run `atende reembed` to rebuild every vector with the configured model, or set "
        "ATENDE_EMBEDDING_PROVIDER (and ATENDE_EMBEDDING_MODEL, ATENDE_EMBEDDING_NORMALISE, "
        "ATENDE_EMBEDDING_ABBREVIATIONS, ATENDE_EMBEDDING_ACCENTS) back to what made the "
        "stored vectors."
    )


class EmbeddingWorker:
    """Fills missing vectors in batches until told to stop."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        repository: MessageRepository,
        embedder: Embedder,
        *,
        batch_size: int = 32,
        idle_poll_seconds: float = 1.0,
        pipeline: PipelineWorker | None = None,
    ) -> None:
        self._sessions = sessions
        self._repository = repository
        self._embedder = embedder
        # Routes and suggests for the new vectors before they are written (see run_once).
        self._pipeline = pipeline
        self._batch_size = batch_size
        self._idle_poll = idle_poll_seconds
        self._wakeup = Wakeup()

    def wake(self) -> None:
        """Tell the worker there is new work, so it need not wait for its next poll."""
        self._wakeup.set()

    async def run_once(self) -> int:
        """Embed one batch; returns how many rows got a vector."""
        pipeline = self._pipeline
        queued = 0
        async with self._sessions.begin() as session:
            rows = await self._repository.claim_unembedded(
                session, limit=self._batch_size, max_attempts=MAX_ATTEMPTS
            )
            if not rows:
                return 0
            ids = [row.id for row in rows]
            try:
                vectors = await self._embedder.embed([row.message for row in rows])
            except EmbeddingError as exc:
                attempt = max(row.embed_attempts for row in rows) + 1
                await self._repository.record_embed_failure(
                    session, ids, str(exc), retry_delay(attempt)
                )
                log.warning("embedding_failed", rows=len(ids), attempt=attempt, error=str(exc))
                return 0
            if pipeline is None:
                await self._repository.store_embeddings(
                    session, ids, vectors, self._embedder.model_id
                )
            else:
                # Each vector is written in the same UPDATE as the row's sector and
                # suggestion. Written apart, every message went into the HNSW indexes
                # twice (an UPDATE of the indexed sector is never HOT) and waited for
                # a second transaction.
                queued = await pipeline.triage(
                    session,
                    rows,
                    [QueryVector(v) for v in vectors],
                    new_vectors_of=self._embedder.model_id,
                )
        log.debug("embedded", rows=len(ids))
        if pipeline is not None:
            pipeline.delivery_queued(queued)
        return len(ids)

    async def run(self) -> None:
        """One claiming loop per batch the embedder can take at once, so that one loop's
        batch is embedded while another's is claimed or stored."""
        # A TaskGroup: a loop that fails stops its siblings too, rather than leaving them
        # running under a worker that has ended.
        async with asyncio.TaskGroup() as loops:
            for _ in range(self._embedder.parallel_batches):
                loops.create_task(
                    work_forever(
                        self.run_once, self._wakeup, idle_poll=self._idle_poll, name="embedding"
                    )
                )

    async def drain(self) -> int:
        """Embed until nothing is left that may be tried now; returns the rows done."""
        total = 0
        while done := await self.run_once():
            total += done
        return total


async def reembed_all(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    *,
    missing_only: bool,
    batch_size: int,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Rebuild vectors with the configured model (all of them, or only the missing ones).

    A full rebuild also resizes the vector column when the new model's size differs,
    and rebuilds the HNSW indexes (the shared one and each sector's) once at the end,
    which is far faster than keeping them up to date row by row.
    """
    repository = MessageRepository(sessions)
    meta = MetaRepository(sessions)
    if missing_only:
        # The missing vectors join the stored ones, so they are made the same way (or the
        # settings that cannot are refused) rather than with whatever is configured.
        await check_embedding_model(meta, embedder)
    else:
        async with engine.begin() as conn:
            await conn.execute(text("DROP INDEX IF EXISTS ix_chat_interactions_embedding"))
            await sector_indexes.drop_all(conn)
            await conn.execute(
                text(
                    "ALTER TABLE chat_interactions ALTER COLUMN embedding "
                    f"TYPE vector({int(embedder.dim)}) USING NULL"
                )
            )
            await conn.execute(
                text(
                    "UPDATE chat_interactions SET embedding_model = NULL, embed_attempts = 0, "
                    "embed_error = NULL, embed_after = now()"
                )
            )
        await meta.set(EMBEDDING_META_KEY, {"model_id": embedder.model_id, "dim": embedder.dim})
    total = await repository.reset_embed_failures()
    worker = EmbeddingWorker(sessions, repository, embedder, batch_size=batch_size)
    done = 0
    progress(done, total)
    while done < total:
        batch = await worker.run_once()
        if batch == 0:
            break
        done += batch
        progress(done, total)
    if not missing_only:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "CREATE INDEX IF NOT EXISTS ix_chat_interactions_embedding ON "
                    "chat_interactions USING hnsw (embedding vector_cosine_ops)"
                )
            )
            sectors = (await conn.execute(text("SELECT name FROM sectors"))).scalars().all()
            for sector in sectors:
                await conn.execute(text(sector_indexes.create_sql(sector, concurrently=False)))
    return done
