"""What each operator did over an analytics range, counted by PostgreSQL in one query.

Read inside `AnalyticsRepository.read`'s transaction, so it describes the same snapshot as
the rest of the report, and with the same ranges: the answers and closes of the messages
received in the range (`chat_interactions (created_at)`), and the reviews made in it
(`suggestion_reviews (created_at)`). An operator is the name an action recorded: the
console's signed-in name, else the API key's. Closes by blocking a customer are left out:
one block closes whatever that customer sends after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.analytics_sql import CUSTOMER as _CUSTOMER
from storage.analytics_sql import IN_RANGE as _IN_RANGE


@dataclass(frozen=True)
class OperatorRow:
    name: str | None  # None: actions that recorded no name
    answered: int
    approved: int
    edited: int
    rejected: int
    closed: int
    p50_response_seconds: float | None


async def operator_activity(session: AsyncSession, window: dict[str, Any]) -> list[OperatorRow]:
    result = await session.execute(
        text(
            f"""
            WITH events AS (
                SELECT m.operator_name AS name, 'answered' AS kind,
                       greatest(0, extract(epoch FROM m.answered_at - m.created_at))::float8
                         AS wait
                FROM chat_interactions m
                WHERE {_IN_RANGE} AND m.validated_by = 'human' AND {_CUSTOMER}
                UNION ALL
                SELECT r.operator_name, r.outcome, NULL
                FROM suggestion_reviews r
                WHERE r.created_at >= :start AND r.created_at < :end
                UNION ALL
                SELECT m.closed_by, 'closed', NULL
                FROM chat_interactions m
                WHERE {_IN_RANGE} AND m.closed_at IS NOT NULL AND m.close_reason <> 'blocked'
                  AND {_CUSTOMER}
            )
            SELECT name,
                   count(*) FILTER (WHERE kind = 'answered') AS answered,
                   count(*) FILTER (WHERE kind = 'approved') AS approved,
                   count(*) FILTER (WHERE kind = 'edited') AS edited,
                   count(*) FILTER (WHERE kind = 'rejected') AS rejected,
                   count(*) FILTER (WHERE kind = 'closed') AS closed,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY wait) AS p50
            FROM events
            GROUP BY name
            ORDER BY answered DESC, name NULLS LAST
            """
        ),
        window,
    )
    return [
        OperatorRow(
            row.name,
            int(row.answered),
            int(row.approved),
            int(row.edited),
            int(row.rejected),
            int(row.closed),
            row.p50,
        )
        for row in result
    ]
