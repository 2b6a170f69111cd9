"""kill -9 of an `atende worker` process mid-processing and mid-delivery, then a restart:
every message is processed once and every approved answer sent at most once, exactly
once whenever the platform certainly never saw it.

The workers are real subprocesses on the test database; the Telegram Bot API and the
embeddings API are loopback fakes in this process, which can hold a request open so the
test knows where the worker is when it is killed (tests/worker_stack.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.routing_helpers import import_kb
from tests.worker_stack import (
    API,
    CUSTOMER_TEXTS,
    DIM,
    KB_ANSWER,
    KB_QUESTION,
    MODEL,
    PAUSE_LOCK,
    Stack,
    approved_delivery,
    delivery_rows,
    eventually,
    send_calls,
    sql,
    telegram_message,
)


async def test_a_worker_killed_mid_batch_leaves_every_message_processed_once(stack: Stack):
    await import_kb(
        stack.client, [{"question": KB_QUESTION, "sector": "financeiro", "answer": KB_ANSWER}]
    )
    ids = [
        await telegram_message(stack, n, message, user_id=8000 + n)
        for n, message in enumerate(CUSTOMER_TEXTS, start=1)
    ]
    # Batches of two: the first is embedded, routed, suggested and auto-sent while the
    # embeddings request of the second is held open.
    stack.openai.hold_text = CUSTOMER_TEXTS[2]
    first = stack.workers.start()

    async def first_batch_sent_and_second_held() -> bool:
        sent = [r for r in await delivery_rows(stack) if r["status"] == "sent"]
        return stack.openai.holding.is_set() and len(sent) == 2

    try:
        await eventually(first_batch_sent_and_second_held, "the first batch out, the second held")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.workers.logs()}") from None
    await stack.workers.kill(first)
    embedded = await sql(
        stack.client,
        "SELECT id FROM chat_interactions WHERE id = ANY(:ids) AND embedding IS NOT NULL",
        ids=ids,
    )
    assert sorted(r["id"] for r in embedded) == ids[:2]  # the held batch wrote nothing

    stack.openai.hold_text = None
    stack.openai.release.set()
    stack.workers.start()

    async def all_sent() -> bool:
        rows = await delivery_rows(stack)
        return len(rows) == 4 and all(r["status"] == "sent" for r in rows)

    try:
        await eventually(all_sent, "every auto-sent answer out after the restart")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.workers.logs()}") from None

    rows = await sql(
        stack.client,
        "SELECT id, embedding_model, embed_attempts, sector, validated_by, answer, suggestion, "
        "pipeline_done_at IS NOT NULL AS done, pipeline_attempts FROM chat_interactions "
        "WHERE id = ANY(:ids) ORDER BY id",
        ids=ids,
    )
    assert [r["id"] for r in rows] == ids  # no message stored twice
    for row in rows:
        assert row["embedding_model"] == f"openai:{MODEL}:{DIM}"
        assert (row["embed_attempts"], row["pipeline_attempts"], row["done"]) == (0, 0, True)
        assert (row["sector"], row["validated_by"], row["answer"]) == (
            "financeiro",
            "ai",
            KB_ANSWER,
        )
        assert row["suggestion"]["auto_send"] is True
    deliveries = await delivery_rows(stack)
    assert sorted(r["interaction_id"] for r in deliveries) == ids  # one answer per message
    assert {r["attempts"] for r in deliveries} == {1}
    # Each customer got the answer exactly once.
    assert sorted(m["chat_id"] for m in stack.telegram.sent) == [
        str(8000 + n) for n in (1, 2, 3, 4)
    ]
    assert {m["text"] for m in stack.telegram.sent} == {KB_ANSWER}
    assert len(send_calls(stack.telegram)) == 4
    # Embedding requests: the first batch once, the held one once more after the restart.
    asked = [text for r in stack.openai.requests for text in r["input"]]
    assert [asked.count(t) for t in CUSTOMER_TEXTS] == [1, 1, 2, 2]


async def test_a_worker_killed_mid_delivery_sends_what_never_left_and_repeats_nothing(
    stack: Stack,
):
    """One worker, killed with two sends in flight: one stopped between its committed claim
    and the platform call (a trigger makes its "send starting" update wait for a lock this
    test holds), one whose request the platform holds unanswered."""
    unsent = await approved_delivery(stack, 1, 4242, "Reenviamos o boleto.")
    held = await approved_delivery(stack, 2, 4343, "Sua fatura já foi paga.")
    [unsent_id] = [r["id"] for r in await delivery_rows(stack) if r["interaction_id"] == unsent]
    await sql(
        stack.client,
        "CREATE FUNCTION test_pause() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN PERFORM pg_advisory_xact_lock({PAUSE_LOCK}); RETURN NEW; END $$",
    )
    await sql(
        stack.client,
        "CREATE TRIGGER test_pause BEFORE UPDATE OF send_started_at ON deliveries FOR EACH ROW "
        f"WHEN (NEW.id = {unsent_id} AND OLD.send_started_at IS NULL "
        "AND NEW.send_started_at IS NOT NULL) EXECUTE FUNCTION test_pause()",
    )
    stack.telegram.gate = asyncio.Event()
    engine = create_async_engine(stack.settings.async_database_url or "")
    try:
        async with engine.connect() as holder:
            await holder.execute(text(f"SELECT pg_advisory_lock({PAUSE_LOCK})"))
            await holder.commit()
            first = stack.workers.start()

            async def both_in_flight() -> bool:
                [waiting] = await sql(
                    stack.client,
                    "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' "
                    "AND NOT granted AND classid = 0 AND objid = :key",
                    key=PAUSE_LOCK,
                )
                return waiting["n"] == 1 and stack.telegram.waiting.is_set()

            try:
                await eventually(both_in_flight, "one send paused before the call, one held")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{stack.workers.logs()}") from None
            before = {r["interaction_id"]: r for r in await delivery_rows(stack)}
            assert before[unsent]["status"] == before[held]["status"] == "sending"
            assert before[unsent]["send_started_at"] is None
            assert before[held]["send_started_at"] is not None
            await stack.workers.kill(first)
            await holder.execute(text(f"SELECT pg_advisory_unlock({PAUSE_LOCK})"))
            await holder.commit()
    finally:
        await engine.dispose()
    stack.telegram.gate.set()  # the held request is let go (its sender is gone)
    stack.workers.start()

    async def settled() -> dict[int, dict[str, Any]] | None:
        rows = {r["interaction_id"]: r for r in await delivery_rows(stack)}
        done = all(r["status"] not in ("pending", "sending") for r in rows.values())
        return rows if done else None

    try:
        after = await eventually(settled, "both deliveries settled after the restart")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.workers.logs()}") from None
    # The send that never left went out once, from the new worker, as its first attempt.
    assert (after[unsent]["status"], after[unsent]["attempts"]) == ("sent", 1)
    assert after[unsent]["claimed_by"] != before[unsent]["claimed_by"]
    # The one the platform had is not repeated, and says why.
    assert (after[held]["status"], after[held]["last_error_code"]) == ("failed", "interrupted")
    assert "not sent again" in after[held]["last_error_reason"]
    body = await (await stack.client.get(f"{API}/messages/{held}")).json()
    [part] = body["delivery"]["parts"]
    assert (body["delivery"]["status"], part["error_code"]) == ("failed", "interrupted")
    # What the platform received: each answer exactly once.
    assert sorted(call["chat_id"] for call in send_calls(stack.telegram)) == [4242, 4343]
    assert [m["text"] for m in stack.telegram.sent if m["chat_id"] == "4242"] == [
        "Reenviamos o boleto."
    ]
