"""The pipeline's results written back to the rows it claimed, a batch in one statement.

A batch of messages (one to a few at 50 messages a second, more when the worker falls
behind) is written by one UPDATE from an array per column, in the transaction that
claimed it: each row's vector, its sector and its suggestion, and whether its step
finished or failed. Written a row at a time, each row was a round trip and a statement
SQLAlchemy built again (bench/step_writes.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.vectors import QueryVector


@dataclass(frozen=True)
class StepWrite:
    """What the pipeline writes to one claimed row: `values` (columns of
    WRITABLE_COLUMNS), and whether the step finished (`done`: stamp it and its
    receipt-to-done milliseconds) or failed (`failed`: count an attempt)."""

    interaction_id: int
    values: Mapping[str, Any]
    done: bool = False
    failed: bool = False


# The columns a step may write, with the type each is sent as: JSON as its text, a vector
# as pgvector's text form (QueryVector.literal), both cast in the statement.
WRITABLE_COLUMNS: dict[str, str] = {
    "sector": "text",
    "route_confidence": "float8",
    "route_reason": "jsonb",
    "answer": "text",
    "validated_by": "text",
    "suggestion": "jsonb",
    "embedding": "vector",
    "embedding_model": "text",
    "embed_error": "text",
}
_SENT_AS = {"jsonb": "text", "vector": "text"}


def _write_steps_sql() -> str:
    """One UPDATE for a whole batch, from one array per column: a bit of `mask` says
    whether a row sets that column (a row keeps every column it does not set)."""
    columns = list(WRITABLE_COLUMNS)
    sets = [
        f"{name} = CASE WHEN v.mask & {1 << bit} <> 0 THEN v.{name}"
        f"{'::' + kind if kind in _SENT_AS else ''} ELSE c.{name} END"
        for bit, (name, kind) in enumerate(WRITABLE_COLUMNS.items())
    ]
    arrays = [
        f"CAST(:{name} AS {_SENT_AS.get(kind, kind)}[])" for name, kind in WRITABLE_COLUMNS.items()
    ]
    return (
        "UPDATE chat_interactions AS c SET "
        + ", ".join(sets)
        + ", pipeline_done_at = CASE WHEN v.done THEN now() ELSE c.pipeline_done_at END"
        ", pipeline_ms = CASE WHEN v.done"
        " THEN extract(epoch FROM clock_timestamp() - c.created_at) * 1000"
        " ELSE c.pipeline_ms END"
        ", pipeline_attempts = c.pipeline_attempts + CASE WHEN v.failed THEN 1 ELSE 0 END"
        " FROM unnest(CAST(:ids AS bigint[]), CAST(:mask AS int[]), CAST(:done AS bool[]),"
        " CAST(:failed AS bool[]), "
        + ", ".join(arrays)
        + f") AS v(id, mask, done, failed, {', '.join(columns)})"
        " WHERE c.id = v.id RETURNING c.id, c.pipeline_ms"
    )


_WRITE_STEPS = text(_write_steps_sql())


def _sent(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "jsonb":
        return json.dumps(value)
    if kind == "vector":
        return QueryVector.of(value).literal
    return value


async def write_steps(session: AsyncSession, writes: Sequence[StepWrite]) -> dict[int, float]:
    """Write a batch's results in `session`'s transaction, in one statement; returns
    each finished row's receipt-to-done milliseconds, by id."""
    if not writes:
        return {}
    params: dict[str, list[Any]] = {
        "ids": [w.interaction_id for w in writes],
        "mask": [],
        "done": [w.done for w in writes],
        "failed": [w.failed for w in writes],
        **{name: [] for name in WRITABLE_COLUMNS},
    }
    for write in writes:
        unknown = set(write.values) - WRITABLE_COLUMNS.keys()
        if unknown:
            raise ValueError(f"not a column the pipeline writes: {sorted(unknown)}")
        mask = 0
        for bit, (name, kind) in enumerate(WRITABLE_COLUMNS.items()):
            if name in write.values:
                mask |= 1 << bit
            params[name].append(_sent(kind, write.values.get(name)))
        params["mask"].append(mask)
    result = await session.execute(_WRITE_STEPS, params)
    done = {w.interaction_id for w in writes if w.done}
    return {row.id: row.pipeline_ms for row in result if row.id in done}


async def mark_answered(session: AsyncSession, interaction_id: int) -> None:
    """Stamp a row as first answered now, in `session`'s transaction: a sector's auto-send
    queued its suggestion for the customer (a human's validation stamps it in
    `MessageRepository.update`)."""
    await session.execute(
        text(
            "UPDATE chat_interactions SET answered_at = now()"
            " WHERE id = :id AND answered_at IS NULL"
        ),
        {"id": interaction_id},
    )
