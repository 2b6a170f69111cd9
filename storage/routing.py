"""Queries for routing, suggestions, the operators' queue and the knowledge base.

No HTTP and no business rules: the services in `gateway.services` decide, these read
and write.
"""

from __future__ import annotations

import functools
import re
import uuid
import weakref
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import defer

from config.sectors import SECTOR_NAME_PATTERN
from storage.database import driver_connection
from storage.models import WITHOUT_DERIVED, ChatInteraction
from storage.neighbours import Nearby, Neighbour, Rejected
from storage.repositories import DEFAULT_EF, Page, page_of
from storage.vectors import QueryVector, vector_from_binary

_WITHOUT_VECTOR = defer(ChatInteraction.embedding)

KB_CHANNEL = "rest"
KB_ACCOUNT = "kb"
# Every imported pair belongs to one synthetic customer, so they are easy to find.
KB_CLIENT_ID = uuid.uuid5(uuid.NAMESPACE_URL, "atende:knowledge-base")


# A row has an answer when it is more than spaces; storage.neighbours.has_answer says the
# same in Python.
_HAS_ANSWER_SQL = "length(btrim(answer)) > 0"


@functools.cache
def _neighbours_query(
    sector: str | None, need_sector: bool, need_answer: bool, exclude: bool, vectors: bool
) -> str:
    """validated_neighbours' SQL for one combination of filters, written once: $1 the
    query vector, $2 the model, $3 the limit, $4 the row left out.

    Only the filters asked for are in the text, so the planner sees the query it always
    did. A sector is written in as a literal: a prepared statement may switch to a
    generic plan after five runs, and only a plan that sees the sector can use the
    sector's own index (storage/sector_indexes.py).
    """
    if sector is not None and not re.fullmatch(SECTOR_NAME_PATTERN, sector):
        # Never a quote or a backslash, so the literal below is safe.
        raise ValueError(f"not a sector name: {sector!r}")
    where = [
        "embedding IS NOT NULL",
        "validated_by = 'human'",
        "embedding_model = $2",
        *([f"sector = '{sector}'"] if sector is not None else []),
        *(["sector IS NOT NULL"] if need_sector else []),
        *([_HAS_ANSWER_SQL] if need_answer else []),
        *(["id <> $4"] if exclude else []),
    ]
    distance = "embedding <=> $1::vector"
    # In pgvector's binary form (vector_from_binary reads it): a projection re-scores
    # these rows, and a float4[] would cost a Python float per number.
    vector = ", vector_send(embedding) AS vector" if vectors else ""
    return (
        f"SELECT id, sector, answer, message, 1 - ({distance}) AS similarity{vector}"
        f" FROM chat_interactions WHERE {' AND '.join(where)}"
        f" ORDER BY {distance} LIMIT $3"
    )


# pgvector 0.8: keep scanning the HNSW graph until enough rows pass the filter (validated
# rows only, a sector), with a candidate list at least twice the rows wanted. Set for the
# connection's life, not a transaction's, so that a search is one statement: through a
# session, a message's two searches took a BEGIN, this, the search and a COMMIT, then a
# BEGIN, the rejections' query and a ROLLBACK, and 2.8-3.1 ms of Python against 1.2-1.5
# (bench/search_round_trips.py). Every other search sets its own for its transaction
# (tune_vector_search), which then ends with these in force again.
_SEARCH_SETTINGS = (
    "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', false),"
    " set_config('hnsw.ef_search', $1, false)"
)
# The ef_search each pooled connection was last given, by this process.
_EF_SEARCH_SET: weakref.WeakKeyDictionary[asyncpg.Connection, int] = weakref.WeakKeyDictionary()


async def _search(engine: AsyncEngine, ef_search: int | None, query: str, *args: Any) -> list[Any]:
    """The rows of `query`, one round trip once the connection is tuned for an HNSW
    search of `ef_search` (None: the query walks no HNSW index)."""
    async with driver_connection(engine) as conn:
        if ef_search is not None and _EF_SEARCH_SET.get(conn) != ef_search:
            await conn.execute(_SEARCH_SETTINGS, str(ef_search))
            _EF_SEARCH_SET[conn] = ef_search
        return await conn.fetch(query, *args)


# Rejections are few next to the history, so they are read by a scan of their own rows
# (the partial index of migration 0009, with the edits that replaced the suggested answer
# since 0017: storage.reviews) joined to their messages' vectors.
_REJECTED_NEAR = (
    "SELECT r.interaction_id, r.suggested_answer,"
    " 1 - (c.embedding <=> $1::vector) AS similarity,"
    " vector_send(c.embedding) AS vector"
    " FROM suggestion_reviews r JOIN chat_interactions c ON c.id = r.interaction_id"
    " WHERE (r.outcome = 'rejected' OR r.replaced) AND c.embedding IS NOT NULL"
    " AND c.embedding_model = $2"
    " AND 1 - (c.embedding <=> $1::vector) >= $3"
    " ORDER BY similarity DESC LIMIT $4"
)


class RoutingRepository:
    """Nearest validated history, the pipeline's queue, and the operators' queue."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        # The searches go to asyncpg directly, on a connection of the sessions' pool.
        self._engine: AsyncEngine = sessions.kw["bind"]

    async def validated_neighbours(
        self,
        vector: Sequence[float],
        *,
        limit: int,
        model_id: str,
        sector: str | None = None,
        need_sector: bool = False,
        need_answer: bool = False,
        exclude_id: int | None = None,
        nearby: Nearby | None = None,
        vectors: bool = False,
    ) -> list[Neighbour]:
        """The `limit` human-validated rows nearest to `vector` by cosine, best first,
        with their embeddings when `vectors`.

        Answered from `nearby` (fetched for the same vector and `exclude_id`) when its rows
        can tell, searched otherwise. Pass a QueryVector when the same vector is searched
        more than once.
        """
        if nearby is not None:
            known = nearby.first(
                limit,
                sector=sector,
                need_sector=need_sector,
                need_answer=need_answer,
                vectors=vectors,
            )
            if known is not None:
                return known
        query = _neighbours_query(sector, need_sector, need_answer, exclude_id is not None, vectors)
        args: list[Any] = [QueryVector.of(vector).literal, model_id, limit]
        if exclude_id is not None:
            args.append(exclude_id)
        rows = await _search(self._engine, max(DEFAULT_EF, 2 * limit), query, *args)
        found = [
            Neighbour(
                r["id"],
                r["sector"],
                r["answer"],
                r["message"],
                float(r["similarity"]),
                vector=vector_from_binary(r["vector"]) if vectors else None,
            )
            for r in rows
        ]
        # relaxed_order may return near-ties slightly out of order.
        found.sort(key=lambda n: n.similarity, reverse=True)
        return found

    async def nearby(
        self,
        vector: Sequence[float],
        *,
        limit: int,
        model_id: str,
        exclude_id: int | None = None,
        vectors: bool = False,
    ) -> Nearby:
        """The `limit` nearest validated rows whatever their sector or answer, for Nearby."""
        found = await self.validated_neighbours(
            vector, limit=limit, model_id=model_id, exclude_id=exclude_id, vectors=vectors
        )
        return Nearby(found, complete=len(found) < limit, vectors=vectors)

    async def rejected_near(
        self, vector: Sequence[float], *, model_id: str, limit: int, min_similarity: float
    ) -> list[Rejected]:
        """Suggestions operators rejected for messages at least `min_similarity` close to
        `vector`, nearest first: labels that speak against those answers here."""
        rows = await _search(
            self._engine,
            None,
            _REJECTED_NEAR,
            QueryVector.of(vector).literal,
            model_id,
            min_similarity,
            limit,
        )
        return [
            Rejected(
                r["interaction_id"],
                r["suggested_answer"],
                float(r["similarity"]),
                vector_from_binary(r["vector"]),
            )
            for r in rows
        ]

    async def vector_of(self, interaction_id: int) -> tuple[ChatInteraction, list[float] | None]:
        async with self._sessions() as session:
            row = await session.get(ChatInteraction, interaction_id)
            if row is None:
                raise LookupError(interaction_id)
            vector = None if row.embedding is None else [float(x) for x in row.embedding]
            return row, vector

    # --- the pipeline's queue ------------------------------------------------------------

    async def claim_pending_pipeline(
        self, session: AsyncSession, *, limit: int, max_attempts: int
    ) -> list[ChatInteraction]:
        """Lock up to `limit` embedded rows not yet routed and suggested."""
        rows = await session.scalars(
            select(ChatInteraction)
            .options(*WITHOUT_DERIVED)
            .where(
                ChatInteraction.pipeline_done_at.is_(None),
                ChatInteraction.embedding.is_not(None),
                ChatInteraction.pipeline_attempts < max_attempts,
            )
            .order_by(ChatInteraction.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    async def pipeline_latency(self, *, minutes: int) -> dict[str, float | int | None]:
        """Receipt-to-suggestion milliseconds of the messages received in the last `minutes`
        and processed: count, p50, p95, p99."""
        since = func.now() - timedelta(minutes=minutes)
        latency = ChatInteraction.pipeline_ms
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(
                        func.count(latency),
                        *(func.percentile_cont(q).within_group(latency) for q in (0.5, 0.95, 0.99)),
                    ).where(
                        latency.is_not(None),
                        ChatInteraction.created_at >= since,
                        # Implied by the line above (a row is updated no earlier than it is
                        # created); it lets the updated_at index find the window, where
                        # created_at has none and the table holds every message ever.
                        ChatInteraction.updated_at >= since,
                    )
                )
            ).one()
        return {"count": int(row[0]), "p50_ms": row[1], "p95_ms": row[2], "p99_ms": row[3]}

    # --- the operators' queue ------------------------------------------------------------

    async def open_queue(
        self,
        *,
        page: int,
        per_page: int,
        sector: str | None,
        late_before: datetime,
        held_by: str | None = None,
        free: bool = False,
        client_id: uuid.UUID | None = None,
    ) -> Page:
        """Rows waiting for a human (a suggestion or no answer), oldest first, those
        `held_by` one operator or, if `free`, nobody, and of one customer if `client_id`
        is given; `tallied`: how many of them in all
        were received before `late_before` and have had no answer yet (a sector's auto-send
        answers a message that stays in the queue)."""
        conditions = in_queue(sector)
        if held_by is not None:
            conditions.append(ChatInteraction.assigned_to == held_by)
        if free:
            conditions.append(ChatInteraction.assigned_to.is_(None))
        if client_id is not None:
            conditions.append(ChatInteraction.client_id == client_id)
        return await page_of(
            self._sessions,
            conditions,
            (ChatInteraction.created_at, ChatInteraction.id),
            page=page,
            per_page=per_page,
            tally=unanswered_before(late_before),
        )

    # --- the knowledge base --------------------------------------------------------------

    async def existing_kb_keys(self, keys: Sequence[str]) -> set[str]:
        async with self._sessions() as session:
            found = await session.scalars(
                select(ChatInteraction.external_id).where(
                    ChatInteraction.channel == KB_CHANNEL,
                    ChatInteraction.channel_account == KB_ACCOUNT,
                    ChatInteraction.external_id.in_(list(keys)),
                )
            )
            return set(found)

    async def insert_kb(self, rows: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
        """Insert validated pairs; a key already stored is skipped.

        Returns the (id, external_id) of each row added."""
        if not rows:
            return []
        values = [
            {
                "client_id": KB_CLIENT_ID,
                "channel": KB_CHANNEL,
                "channel_account": KB_ACCOUNT,
                "validated_by": "human",
                "operator_name": "kb-import",
                "pipeline_done_at": func.now(),
                **row,
            }
            for row in rows
        ]
        async with self._sessions.begin() as session:
            result = await session.execute(
                insert(ChatInteraction)
                .values(values)
                .on_conflict_do_nothing(constraint="chat_interactions_channel_message_key")
                .returning(ChatInteraction.id, ChatInteraction.external_id)
            )
            return [(row.id, row.external_id) for row in result.all()]


def in_queue(sector: str | None = None) -> list[ColumnElement[bool]]:
    """The open queue's rows (waiting for a human: not answered by one, nor closed without
    an answer), of one sector or all. Migration 0013's partial index has this predicate."""
    conditions = [ChatInteraction.validated_by != "human", ChatInteraction.closed_at.is_(None)]
    if sector is not None:
        conditions.append(ChatInteraction.sector == sector)
    return conditions


def unanswered_before(before: datetime) -> ColumnElement[bool]:
    """Received before `before` and not answered yet: late, for a cutoff of now less the
    response target. A sector's auto-send answers a message that stays in the queue."""
    return and_(ChatInteraction.created_at < before, ChatInteraction.answered_at.is_(None))
