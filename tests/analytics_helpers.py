"""A known history for the analytics tests: messages in several sectors at set times,
suggestions, reviews of each outcome, failed deliveries and pipeline times, written
straight into the database; and the numbers expected from it, counted here in Python.

Every time is an offset back from one instant `t` taken when the history is written, and
the offsets keep well away from the queue's age bands' edges, so the expected band of a
message does not depend on how long the test takes.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from storage.routing import KB_ACCOUNT, KB_CHANNEL, KB_CLIENT_ID
from tests.conftest import run_sql

M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
TARGET = 15 * M  # the default response target


@dataclass(frozen=True)
class Msg:
    ago: timedelta
    sector: str | None
    validated_by: str
    suggested: bool  # still carries its suggestion
    pipeline_ms: float | None
    kb: bool = False
    answered_after: timedelta | None = None  # from receipt to its first answer
    closed: str | None = None  # closed without an answer, for this reason


@dataclass(frozen=True)
class Review:
    message: int  # index in MESSAGES
    ago: timedelta
    outcome: str
    sector: str | None
    replaced: bool = False  # an edit that wrote another answer (storage.reviews)


@dataclass(frozen=True)
class Failure:
    ago: timedelta
    code: str | None
    reason: str | None
    status: str = "failed"


MESSAGES = (
    Msg(1 * M, "vendas", "pending", False, None),  # just in, not triaged yet
    Msg(12 * M, "suporte", "ai", True, 850.0),
    Msg(50 * M, "vendas", "ai", True, 420.0, answered_after=timedelta(seconds=1)),  # auto-sent
    Msg(5 * H, "financeiro", "pending", False, 300.0),  # triaged, nothing to suggest
    Msg(30 * H, "vendas", "human", True, 510.0, answered_after=10 * M),  # approved as suggested
    Msg(31 * H, "vendas", "human", True, 640.0, answered_after=40 * M),  # approved edited
    Msg(50 * H, "suporte", "pending", False, 1200.0),  # its suggestion was rejected
    Msg(52 * H, None, "pending", False, None),  # never routed
    Msg(75 * H, "suporte", "human", False, 2000.0, answered_after=3 * M),  # answered by hand
    Msg(5 * D, "vendas", "pending", False, None),  # before the range, still waiting
    Msg(2 * H, "vendas", "human", False, None, kb=True),  # a knowledge-base pair
    Msg(3 * H, "geral", "pending", False, 150.0, closed="no_reply_needed"),  # "ok, obrigado"
    Msg(26 * H, "geral", "pending", False, 180.0, closed="spam"),
    Msg(40 * H, "suporte", "ai", True, 700.0, closed="duplicate"),  # asked again elsewhere
    Msg(8 * D, "geral", "pending", False, None, closed="spam"),  # before the range
)
REVIEWS = (
    Review(4, 29 * H, "approved", "vendas"),
    Review(5, 30 * H, "edited", "vendas"),
    Review(6, 49 * H, "rejected", "suporte"),
    Review(7, 51 * H, "rejected", None),
    Review(9, 3 * D + 2 * H, "approved", "vendas"),
    Review(9, 3 * D + 4 * H, "edited", "vendas", replaced=True),
    Review(9, 10 * D, "approved", "vendas"),
    Review(9, 12 * D, "rejected", "suporte"),
    Review(9, 20 * D, "edited", "financeiro"),
    Review(9, 40 * D, "approved", "vendas"),
)
FAILURES = (
    Failure(20 * H, "403", "Forbidden: bot was blocked by the user"),
    Failure(21 * H, "403", "Forbidden: bot was blocked by the user"),
    Failure(40 * H, "400", "Bad Request: chat not found"),
    Failure(45 * H, "=cmd", '=HYPERLINK("x") <script>alert(1)</script>'),
    Failure(6 * D, "400", "Bad Request: chat not found"),  # before the range
    Failure(10 * H, None, None, status="sent"),  # not a failure
)
BANDS = (("lt_5m", 5 * M), ("5m_30m", 30 * M), ("30m_2h", 2 * H), ("2h_24h", 24 * H),
         ("gt_24h", None))  # fmt: skip


@dataclass
class History:
    t: datetime
    start: datetime
    end: datetime
    ids: list[int] = field(default_factory=list)

    def created(self, ago: timedelta) -> datetime:
        return self.t - ago

    def in_range(self, ago: timedelta) -> bool:
        return self.start <= self.t - ago < self.end


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


async def seed(db: str) -> History:
    """Write the history; the range runs from midnight four days back to next midnight."""
    t = datetime.now(UTC).replace(microsecond=0)
    history = History(t=t, start=_midnight(t - 4 * D), end=_midnight(t) + D)
    for i, msg in enumerate(MESSAGES):
        interaction_id = 10_000 + i
        history.ids.append(interaction_id)
        await run_sql(
            db,
            """
            INSERT INTO chat_interactions (id, client_id, sector, message, answer,
                validated_by, channel, channel_account, suggestion, pipeline_ms,
                answered_at, closed_at, closed_by, close_reason, created_at, updated_at)
            OVERRIDING SYSTEM VALUE
            VALUES (:id, :client, :sector, :message, :answer, :validated, 'rest', :account,
                CAST(:suggestion AS jsonb), :ms, :answered, :closed_at, :closed_by, :reason,
                :created, :created)
            """,
            id=interaction_id,
            client=KB_CLIENT_ID if msg.kb else uuid.uuid4(),
            sector=msg.sector,
            message=f"mensagem {i}",
            answer="resposta" if msg.suggested or msg.validated_by == "human" else None,
            validated=msg.validated_by,
            account=KB_ACCOUNT if msg.kb else "",
            suggestion='{"method": "retrieval", "confidence": 0.9}' if msg.suggested else None,
            ms=msg.pipeline_ms,
            answered=history.created(msg.ago) + msg.answered_after if msg.answered_after else None,
            closed_at=history.created(msg.ago) + M if msg.closed else None,
            closed_by="Ana" if msg.closed else None,
            reason=msg.closed,
            created=history.created(msg.ago),
        )
    assert KB_CHANNEL == "rest"  # the statement above writes knowledge pairs as 'rest'
    for review in REVIEWS:
        await run_sql(
            db,
            """
            INSERT INTO suggestion_reviews (interaction_id, sector, outcome, replaced,
                suggested_answer, created_at)
            VALUES (:id, :sector, :outcome, :replaced, 'sugestão', :created)
            """,
            id=history.ids[review.message],
            sector=review.sector,
            outcome=review.outcome,
            replaced=review.replaced,
            created=history.created(review.ago),
        )
    for i, failure in enumerate(FAILURES):
        await run_sql(
            db,
            """
            INSERT INTO deliveries (interaction_id, answer_hash, part, parts, channel,
                recipient, body, status, last_error_code, last_error_reason, created_at,
                updated_at)
            VALUES (:id, :hash, 1, 1, 'telegram', '4242', 'resposta', :status, :code,
                :reason, :updated, :updated)
            """,
            id=history.ids[4],
            hash=f"h{i}",
            status=failure.status,
            code=failure.code,
            reason=failure.reason,
            updated=history.created(failure.ago),
        )
    return history


def percentile(values: list[float], q: float) -> float | None:
    """PostgreSQL's percentile_cont: linear between the two nearest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def expected(history: History, now: datetime) -> dict:
    """The numbers the history should give, counted here; queue ages as of `now`."""
    customers = [(i, m) for i, m in enumerate(MESSAGES) if not m.kb]
    in_range = [(i, m) for i, m in customers if history.in_range(m.ago)]
    per_bucket: dict[datetime, Counter] = defaultdict(Counter)
    for _, m in in_range:
        per_bucket[_midnight(history.created(m.ago))][m.sector] += 1
    reviewed_messages = {r.message for r in REVIEWS}
    suggested = sum(1 for i, m in in_range if m.suggested or i in reviewed_messages)
    reviews = Counter(r.outcome for r in REVIEWS if history.in_range(r.ago))
    replaced = sum(1 for r in REVIEWS if r.replaced and history.in_range(r.ago))
    latencies = [m.pipeline_ms for _, m in in_range if m.pipeline_ms is not None]
    failures = Counter(
        (f.code, f.reason) for f in FAILURES if f.status == "failed" and history.in_range(f.ago)
    )
    waiting = [m for _, m in customers if m.validated_by != "human" and m.closed is None]
    ages = [(now - history.created(m.ago)).total_seconds() for m in waiting]
    bands = Counter()
    for m in waiting:
        for name, upper in BANDS:
            if upper is None or m.ago < upper:
                bands[name] += 1
                break
    rates: dict[tuple[str | None, int], Counter] = defaultdict(Counter)
    rates_replaced: Counter = Counter()
    for r in REVIEWS:
        for days in (7, 30):
            if r.ago <= days * D:
                rates[(r.sector, days)][r.outcome] += 1
                rates_replaced[(r.sector, days)] += r.replaced
    reviewed = sum(reviews.values())
    waits: dict[str | None, list[float]] = defaultdict(list)
    for _, m in in_range:
        if m.answered_after is not None:
            waits[m.sector].append(m.answered_after.total_seconds())
    return {
        "per_bucket": per_bucket,
        "by_sector": Counter(m.sector for _, m in in_range),
        "total": len(in_range),
        "suggested": suggested,
        "suggestion_share": share(suggested, len(in_range)),
        "reviews": reviews,
        "reviewed": reviewed,
        "replaced": replaced,
        "review_shares": {
            **{o: share(reviews[o], reviewed) for o in ("approved", "edited", "rejected")},
            "replaced": share(replaced, reviewed),
        },
        "latency": (len(latencies), percentile(latencies, 0.5), percentile(latencies, 0.95)),
        "failures": failures,
        "waiting": len(ages),
        "oldest": max(ages),
        "p50_age": percentile(ages, 0.5),
        "bands": bands,
        "rates": rates,
        "rates_replaced": rates_replaced,
        "late": sum(1 for m in waiting if m.answered_after is None and m.ago > TARGET),
        "closed": Counter(m.closed for _, m in in_range if m.closed),
        "waits": waits,
    }
