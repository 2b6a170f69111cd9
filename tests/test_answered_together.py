"""Answering a burst in one call, over the REST API against the real database: the approve
that answers the customer's question closes their other lines it names in `together`, in the
answer's own transaction, so they leave the queue if and only if the answer is recorded.
Bad ids refuse the whole call and change nothing; a line someone else holds, answered, or is
changing at that moment is left as it is, and the response says why."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import query_sql
from tests.test_closing import STRANGER, close, operator, queue, say, url

ANSWER = "Oi! O Pix cai em até 30 min."


async def answer(
    client, message_id: int, together: list[int], status: int = 200, headers=None, **body
) -> dict:
    body = {"answer": ANSWER, "together": together, **body}
    response = await client.post(url(message_id, "approve"), json=body, headers=headers)
    assert response.status == status, await response.text()
    return await response.json()


async def test_an_answer_closes_the_lines_it_names_in_its_own_transaction(client, settings):
    db = settings.async_database_url or ""
    hello, morning, held, question = [
        await say(client, t) for t in ("oi", "bom dia", "alo?", "meu pix nao caiu")
    ]
    stranger = await say(client, "oi", STRANGER)
    bruno = await operator(settings, "key-bruno")
    response = await client.post(url(held, "take"), json={}, headers=bruno)
    assert response.status == 200, await response.text()

    # Ids that are not this customer's other messages refuse the answer: nothing changes.
    for together, where, why in (
        ([hello, stranger], "together[1]", f"message {stranger} is another customer's"),
        ([999_999], "together[0]", "no message with id 999999"),
        ([question], "together[0]", f"message {question} is the one being answered"),
        ([hello, hello], "together", f"repeated: {hello}"),
    ):
        refused = await answer(client, question, together, 422)
        assert where in refused["error"]["message"], refused
        assert why in refused["error"]["message"], refused
    assert [i["id"] for i in (await queue(client))["items"]] == [
        hello,
        morning,
        held,
        question,
        stranger,
    ]
    assert await query_sql(db, "SELECT id FROM suggestion_reviews") == []

    # An operator's key: an admin's may close a line someone else holds.
    ana = await operator(settings, "key-ana")
    answered = await answer(
        client, question, [morning, held, hello], headers=ana, operator_name="Ana"
    )
    assert (answered["validated_by"], answered["answer"]) == ("human", ANSWER)
    assert answered["together"] == [
        {"id": morning, "closed": True, "reason": None},
        {
            "id": held,
            "closed": False,
            "reason": f"message {held} is taken by key-bruno; only they (or an admin) may close it",
        },
        {"id": hello, "closed": True, "reason": None},
    ]
    rows = await query_sql(
        db,
        "SELECT id, close_reason, closed_by, closed_at IS NOT NULL AS closed, assigned_to "
        "FROM chat_interactions WHERE id IN (:a, :b, :c) ORDER BY id",
        a=hello,
        b=morning,
        c=held,
    )
    assert [(r["close_reason"], r["closed_by"], r["closed"], r["assigned_to"]) for r in rows] == [
        ("answered_together", "Ana", True, None),
        ("answered_together", "Ana", True, None),
        (None, None, False, "key-bruno"),
    ]
    assert [i["id"] for i in (await queue(client))["items"]] == [held, stranger]
    # Bruno may still close his line himself, as answered together: the answer went.
    closed = await close(client, held, headers=bruno, reason="answered_together")
    assert closed["close_reason"] == "answered_together"

    # Lines answered or closed since are left as they are, and said so.
    later = await say(client, "obrigado")
    again = await say(client, "e o boleto?")
    await answer(client, again, [], answer="Já segue o boleto.")
    response = await client.post(url(later, "approve"), json={"answer": "De nada!"})
    assert response.status == 200
    last = await say(client, "valeu")
    outcome = await answer(client, last, [hello, later], answer="Até mais!")
    assert [(o["id"], o["closed"]) for o in outcome["together"]] == [
        (hello, False),
        (later, False),
    ]
    assert outcome["together"][0]["reason"] == f"message {hello} was closed already by Ana"
    assert outcome["together"][1]["reason"].startswith(f"message {later} is already answered")


async def test_a_line_another_transaction_is_changing_is_skipped_not_waited_for(client, settings):
    db = settings.async_database_url or ""
    hello, morning, question = [await say(client, t) for t in ("oi", "bom dia", "meu pix?")]
    # Another operator's answer holds "bom dia" locked (it closes it, or answers it): the
    # answer to the question neither waits for it nor deadlocks with it.
    engine = create_async_engine(db)
    try:
        async with engine.connect() as other:
            await other.execute(text("BEGIN"))
            await other.execute(
                text("SELECT id FROM chat_interactions WHERE id = :id FOR UPDATE"), {"id": morning}
            )
            answered = await answer(client, question, [hello, morning])
            await other.execute(text("ROLLBACK"))
    finally:
        await engine.dispose()
    assert answered["together"][0] == {"id": hello, "closed": True, "reason": None}
    assert answered["together"][1]["closed"] is False
    assert "was being changed by someone else" in answered["together"][1]["reason"]
    assert [i["id"] for i in (await queue(client))["items"]] == [morning]


async def waiting_for_locks(engine, count: int) -> None:
    """Until `count` transactions wait for a row lock."""
    query = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    async with asyncio.timeout(30):
        while True:
            async with engine.connect() as conn:
                if await conn.scalar(query) >= count:
                    return
            await asyncio.sleep(0.05)


async def test_two_answers_ticking_each_others_line_both_go(client, settings):
    db = settings.async_database_url or ""
    first, second = [await say(client, t) for t in ("meu pix nao caiu", "e o boleto?")]
    engine = create_async_engine(db)
    try:
        # Both lines held while the two answers come in, then let go at once: each answer
        # has its own line and waits for the other's, which PostgreSQL calls a deadlock.
        async with engine.connect() as other:
            await other.execute(text("BEGIN"))
            await other.execute(text("SELECT id FROM chat_interactions FOR UPDATE"))
            answers = [
                asyncio.ensure_future(answer(client, mine, [theirs]))
                for mine, theirs in ((first, second), (second, first))
            ]
            await waiting_for_locks(engine, 2)
            await other.execute(text("COMMIT"))
        outcomes = await asyncio.gather(*answers)
    finally:
        await engine.dispose()
    # Both customers' answers are recorded; neither line was closed without its answer.
    assert [o["validated_by"] for o in outcomes] == ["human", "human"]
    reasons = [o["together"][0]["reason"] or "" for o in outcomes]
    assert sorted("already answered" in r for r in reasons) == [False, True], reasons
    assert any("being changed by someone else" in r for r in reasons), reasons
    rows = await query_sql(db, "SELECT validated_by, closed_at FROM chat_interactions")
    assert [(r["validated_by"], r["closed_at"]) for r in rows] == [("human", None)] * 2
