"""Queries over chat_interactions, sectors and meta. No HTTP, no business rules."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, false, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import defer

from storage.models import DERIVED, REOPENED, WITHOUT_DERIVED, ChatInteraction, Meta, Sector
from storage.reviews import Before, review_of
from storage.step_writes import StepWrite, write_steps

# The vector is large and no API response shows it; load it only when asked.
_WITHOUT_VECTOR = defer(ChatInteraction.embedding)


@dataclass(frozen=True)
class Page:
    items: list[ChatInteraction]
    total: int
    tallied: int = 0  # of the `total`, how many meet page_of's `tally`


@dataclass(frozen=True)
class ScoredInteraction:
    interaction: ChatInteraction
    similarity: float


async def page_of(
    sessions: async_sessionmaker[AsyncSession],
    conditions: Sequence[ColumnElement[bool]],
    order_by: Sequence[ColumnElement[Any]],
    *,
    page: int,
    per_page: int,
    tally: ColumnElement[bool] | None = None,
) -> Page:
    """One page of interactions matching `conditions`, with the total that match and,
    counted in the same statement, how many of those also meet `tally`."""
    async with sessions() as session:
        counted = await session.execute(
            select(func.count(), func.count().filter(tally if tally is not None else false()))
            .select_from(ChatInteraction)
            .where(*conditions)
        )
        total, tallied = counted.one()
        rows = await session.scalars(
            select(ChatInteraction)
            .options(_WITHOUT_VECTOR)
            .where(*conditions)
            .order_by(*order_by)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        return Page(items=list(rows), total=total or 0, tallied=tallied or 0)


# pgvector 0.8: keep scanning the HNSW graph until enough rows pass the filter (a
# sector, validated rows only), with a candidate list at least twice the rows wanted.
# One statement, one round trip; set_config(..., true) lasts to the transaction's end.
_TUNE_SEARCH = (
    "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),"
    " set_config('hnsw.ef_search', :ef_search, true)"
)
# A search within one sector is planned with its own values, never with a generic plan
# (asyncpg prepares statements, and PostgreSQL may switch a prepared statement to one
# after five runs): only a plan that sees the sector can use the sector's own index
# (storage/sector_indexes.py).
_TUNE_SECTOR_SEARCH = text(
    _TUNE_SEARCH + ", set_config('plan_cache_mode', 'force_custom_plan', true)"
)
_TUNE_ANY_SEARCH = text(_TUNE_SEARCH)


# The candidate list of a search that an integrator confines to one sector, whatever it
# is about. A sector's own index holds only its rows, and a query far from all of them
# (a sector with 5% of 1M rows, asked about another sector's topics) needs a long list
# to find its true nearest: recall@10 0.69 at 40, 0.89 at 200, 0.95 at 500 (p95 11 ms),
# measured by bench/search.py. The pipeline's own searches in a sector are about that
# sector (the message was routed there) and are accurate at 40.
ANY_TOPIC_SECTOR_EF = 500
DEFAULT_EF = 40


async def tune_vector_search(
    session: AsyncSession, limit: int, *, by_sector: bool, ef_search: int = DEFAULT_EF
) -> None:
    """Set the HNSW search settings for the rest of `session`'s transaction."""
    statement = _TUNE_SECTOR_SEARCH if by_sector else _TUNE_ANY_SEARCH
    await session.execute(statement, {"ef_search": str(max(ef_search, 2 * int(limit)))})


class MessageRepository:
    """chat_interactions rows: create, read, update, list, search, and the embedding queue."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, **values: Any) -> ChatInteraction:
        async with self._sessions.begin() as session:
            row = ChatInteraction(**values)
            session.add(row)
            await session.flush()
            await session.refresh(row)
            return row

    async def get(self, interaction_id: int) -> ChatInteraction | None:
        async with self._sessions() as session:
            return await session.get(ChatInteraction, interaction_id, options=[_WITHOUT_VECTOR])

    async def update(
        self,
        interaction_id: int,
        values: dict[str, Any],
        *,
        in_transaction: Callable[[AsyncSession, ChatInteraction], Awaitable[Any]] | None = None,
        precondition: Callable[[ChatInteraction], None] | None = None,
    ) -> ChatInteraction | None:
        """Change a row; `precondition` sees it locked, before the change, and may raise to
        refuse it (two operators approving at once: the second sees the first's approval);
        `in_transaction` runs after the change, in the same transaction (the outbox queues
        an approved answer's delivery there, so both commit or neither)."""
        async with self._sessions.begin() as session:
            row = await session.get(
                ChatInteraction, interaction_id, options=[_WITHOUT_VECTOR], with_for_update=True
            )
            if row is None:
                return None
            if precondition is not None:
                precondition(row)
            before = Before.of(row)
            for name, value in values.items():
                setattr(row, name, value)
            review = review_of(before, row)
            if review is not None:
                session.add(review)
            if row.validated_by == "pending" and not row.answer:
                # Sent back to wait for a human: a rejected suggestion lives on in its
                # review, not on the row.
                row.suggestion = None
            newly_human = before.validated_by != "human" and row.validated_by == "human"
            if newly_human and row.answered_at is None:
                # First answered now (the transaction's time, as created_at's). A row
                # stored already answered keeps none: nobody waited for it.
                row.answered_at = func.now()
            if newly_human and row.closed_at is not None:
                # Answered after all: no longer closed without an answer.
                for name, value in REOPENED.items():
                    setattr(row, name, value)
            await session.flush()
            if in_transaction is not None:
                await in_transaction(session, row)
            await session.refresh(row, attribute_names=["updated_at", "answered_at", *DERIVED])
            return row

    async def list_page(
        self,
        *,
        page: int,
        per_page: int,
        client_id: uuid.UUID | None = None,
        sector: str | None = None,
    ) -> Page:
        conditions = []
        if client_id is not None:
            conditions.append(ChatInteraction.client_id == client_id)
        if sector is not None:
            conditions.append(ChatInteraction.sector == sector)
        return await page_of(
            self._sessions,
            conditions,
            (ChatInteraction.created_at.desc(), ChatInteraction.id.desc()),
            page=page,
            per_page=per_page,
        )

    async def search(
        self,
        vector: Sequence[float],
        *,
        limit: int,
        min_similarity: float,
        sector: str | None = None,
        model_id: str | None = None,
    ) -> list[ScoredInteraction]:
        """Rows nearest to `vector` by cosine, best first, at least `min_similarity`."""
        distance = ChatInteraction.embedding.cosine_distance(list(vector))
        query = (
            select(ChatInteraction, (1 - distance).label("similarity"))
            .options(_WITHOUT_VECTOR)
            .where(ChatInteraction.embedding.is_not(None))
            .order_by(distance)
            .limit(limit)
        )
        if sector is not None:
            query = query.where(ChatInteraction.sector == sector)
        if model_id is not None:
            query = query.where(ChatInteraction.embedding_model == model_id)
        async with self._sessions.begin() as session:
            await tune_vector_search(
                session,
                limit,
                by_sector=sector is not None,
                ef_search=DEFAULT_EF if sector is None else ANY_TOPIC_SECTOR_EF,
            )
            result = await session.execute(query)
            scored = [ScoredInteraction(row, float(sim)) for row, sim in result.all()]
        # relaxed_order may return near-ties slightly out of order.
        scored.sort(key=lambda s: s.similarity, reverse=True)
        return [s for s in scored if s.similarity >= min_similarity]

    # --- the embedding queue -------------------------------------------------------------

    async def claim_unembedded(
        self, session: AsyncSession, *, limit: int, max_attempts: int
    ) -> list[ChatInteraction]:
        """Lock up to `limit` rows waiting for a vector; other workers skip them. Whole
        rows (but the vector and what is read with a message), as routing and suggestion
        need."""
        rows = await session.scalars(
            select(ChatInteraction)
            .options(_WITHOUT_VECTOR, *WITHOUT_DERIVED)
            .where(
                ChatInteraction.embedding.is_(None),
                ChatInteraction.embed_attempts < max_attempts,
                ChatInteraction.embed_after <= func.now(),
            )
            .order_by(ChatInteraction.embed_after, ChatInteraction.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    @staticmethod
    async def store_embeddings(
        session: AsyncSession,
        ids: Sequence[int],
        vectors: Sequence[Sequence[float]],
        model_id: str,
    ) -> None:
        # One statement for the whole batch: a round trip and an executed UPDATE per row
        # cost the worker more than the database's own work.
        await write_steps(
            session,
            [
                StepWrite(i, {"embedding": v, "embedding_model": model_id, "embed_error": None})
                for i, v in zip(ids, vectors, strict=True)
            ],
        )

    @staticmethod
    async def record_embed_failure(
        session: AsyncSession, ids: Sequence[int], error: str, retry_in: timedelta
    ) -> None:
        await session.execute(
            update(ChatInteraction)
            .where(ChatInteraction.id.in_(list(ids)))
            .values(
                embed_attempts=ChatInteraction.embed_attempts + 1,
                embed_error=error[:500],
                embed_after=func.now() + retry_in,
            )
        )

    async def reset_embed_failures(self) -> int:
        """Make every row without a vector eligible again; returns how many there are."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(ChatInteraction)
                .where(ChatInteraction.embedding.is_(None))
                .values(embed_attempts=0, embed_after=func.now())
            )
            return result.rowcount or 0


class SectorRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def sync(self, sectors: Sequence[tuple[str, str]]) -> None:
        """Insert or update the configured sectors; sectors no longer configured stay, as
        stored messages still name them."""
        if not sectors:
            return
        async with self._sessions.begin() as session:
            stmt = insert(Sector).values(
                [{"name": name, "description": description} for name, description in sectors]
            )
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[Sector.name], set_={"description": stmt.excluded.description}
                )
            )


class MetaRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, key: str) -> dict[str, Any] | None:
        async with self._sessions() as session:
            row = await session.get(Meta, key)
            return None if row is None else dict(row.value)

    async def field(self, key: str, name: str) -> str | None:
        """One top-level field of a value, as text, without reading the rest of it."""
        async with self._sessions() as session:
            stmt = select(Meta.value[name].astext).where(Meta.key == key)
            return (await session.execute(stmt)).scalar_one_or_none()

    async def set(self, key: str, value: dict[str, Any]) -> None:
        async with self._sessions.begin() as session:
            stmt = insert(Meta).values(key=key, value=value)
            await session.execute(
                stmt.on_conflict_do_update(index_elements=[Meta.key], set_={"value": value})
            )
