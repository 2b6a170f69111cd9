"""Closing a message without an answer, over the REST API against the real database: it
leaves the queue, its late count, /metrics and the analytics' queue; nothing is sent; who
holds it decides who may close it; reopening, or answering it after all, opens it again."""

from __future__ import annotations

from gateway.services.activity import CLOSED, UPDATED
from tests.conftest import bearer, issue_key, query_sql, run_sql
from tests.routing_helpers import API, CLIENT, post
from tests.test_console import next_event, open_stream
from tests.test_operations import scrape, value

STRANGER = "0e0c1d52-8d0a-4b7e-9d6c-3f1b2a4c5d6e"  # another customer


def url(message_id: int, action: str) -> str:
    return f"{API}/operator/messages/{message_id}/{action}"


async def operator(settings, name: str) -> dict[str, str]:
    return bearer(await issue_key(settings.async_database_url or "", "operator", name=name))


async def queue(client, headers=None, **query) -> dict:
    response = await client.get(f"{API}/operator/queue", params=query, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def say(client, text: str, client_id: str = CLIENT) -> int:
    """A customer's message over REST, in financeiro; its id."""
    body = {"client_id": client_id, "message": text, "sector": "financeiro"}
    response = await client.post(f"{API}/messages/", json=body)
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def close(client, message_id: int, status: int = 200, headers=None, **body) -> dict:
    response = await client.post(url(message_id, "close"), json=body, headers=headers)
    assert response.status == status, await response.text()
    return await response.json()


async def test_a_closed_message_leaves_the_queue_until_reopened(client, settings):
    db = settings.async_database_url or ""
    ana = await operator(settings, "key-ana")
    thanks = await post(client, "ok, obrigado!", "geral")
    other = await post(client, "Meu boleto venceu, e agora?", "financeiro")
    # Both wait past the response target (15 minutes by default).
    await run_sql(db, "UPDATE chat_interactions SET created_at = now() - interval '20 minutes'")
    page = await queue(client, ana)
    assert ([i["id"] for i in page["items"]], page["late"]) == ([thanks["id"], other["id"]], 2)

    closed = await close(client, thanks["id"], headers=ana, reason="no_reply_needed")
    assert closed["closed_by"] == "key-ana"
    assert closed["close_reason"] == "no_reply_needed"
    assert closed["closed_at"] is not None
    assert closed["validated_by"] == "pending"
    assert closed["answered_at"] is None  # closed is not answered: no response time
    page = await queue(client, ana)
    assert ([i["id"] for i in page["items"]], page["total"], page["late"]) == ([other["id"]], 1, 1)
    assert (await queue(client, ana, sector="geral"))["total"] == 0
    samples = await scrape(client)
    assert value(samples, "atende_operator_queue_depth") == 1
    assert value(samples, "atende_operator_queue_late") == 1
    response = await client.get(f"{API}/analytics")
    assert (await response.json())["queue"]["waiting"] == 1
    # Nothing went to the customer.
    assert await query_sql(db, "SELECT id FROM deliveries") == []

    # Closing it again changes nothing: the first close and its reason stand.
    again = await close(client, thanks["id"], reason="spam", operator_name="Bia")
    assert (again["closed_by"], again["close_reason"], again["closed_at"]) == (
        "key-ana",
        "no_reply_needed",
        closed["closed_at"],
    )

    response = await client.post(url(thanks["id"], "reopen"), headers=ana)
    assert response.status == 200, await response.text()
    reopened = await response.json()
    assert (reopened["closed_at"], reopened["closed_by"], reopened["close_reason"]) == (None,) * 3
    page = await queue(client, ana)
    # Back in its place, by when it was received, and late again.
    assert ([i["id"] for i in page["items"]], page["late"]) == ([thanks["id"], other["id"]], 2)
    response = await client.post(url(thanks["id"], "reopen"), headers=ana)
    assert response.status == 200  # open already: unchanged


async def test_who_may_close_and_what_cannot_be_closed(client, settings):
    ana = await operator(settings, "key-ana")
    bia = await operator(settings, "key-bia")
    message = await post(client, "spam spam spam", "geral")
    mid = message["id"]
    response = await client.post(url(mid, "take"), json={"operator_name": "Ana"}, headers=ana)
    assert response.status == 200

    # Someone else's message: refused, and nothing changes.
    refused = await close(client, mid, 409, headers=bia, reason="spam", operator_name="Bia")
    assert "taken by Ana" in refused["error"]["message"]
    # Its holder closes it, and nobody holds it any more.
    closed = await close(client, mid, headers=ana, reason="spam", operator_name="Ana")
    assert (closed["closed_by"], closed["assigned_to"]) == ("Ana", None)
    # A closed message is not taken: it is reopened first.
    response = await client.post(url(mid, "take"), json={"operator_name": "Bia"}, headers=bia)
    assert response.status == 409
    assert "reopen it" in (await response.json())["error"]["message"]

    # An admin (the client's key) closes a message someone holds.
    held = await post(client, "de novo: qual o prazo?", "vendas")
    await client.post(url(held["id"], "take"), json={"operator_name": "Bia"}, headers=bia)
    assert (await close(client, held["id"], reason="duplicate"))["close_reason"] == "duplicate"

    # A message a human answered is not closed.
    answered = await post(client, "Qual o horário?", "geral")
    body = {"answer": "Das 8h às 18h.", "validated_by": "human", "operator_name": "Ana"}
    response = await client.put(f"{API}/messages/{answered['id']}", json=body)
    assert response.status == 200
    refused = await close(client, answered["id"], 409, reason="spam")
    assert "already answered by Ana" in refused["error"]["message"]

    for body, field in (({"reason": "cansei"}, "reason"), ({}, "reason")):
        problem = await close(client, mid, 422, **body)
        assert [d["field"] for d in problem["error"]["details"]] == [field]
    assert (await close(client, 999_999, 404, reason="spam"))["error"]["code"] == "not_found"


async def test_answering_a_closed_message_opens_it_and_the_feed_tells(client, settings):
    key = await issue_key(settings.async_database_url or "", "operator", name="key-ana")
    stream = await open_stream(client, key)
    try:
        message = await post(client, "obrigada!!", "geral")
        closed = await close(client, message["id"], reason="no_reply_needed")
        event = await next_event(stream, CLOSED, message["id"])
        assert event["message"]["close_reason"] == "no_reply_needed"
        assert event["message"]["closed_at"] == closed["closed_at"]

        # The customer wrote again in the same message's thread: the operator answers it.
        body = {"answer": "Nós que agradecemos!", "validated_by": "human"}
        response = await client.put(f"{API}/messages/{message['id']}", json=body)
        assert response.status == 200, await response.text()
        answered = await response.json()
        assert (answered["closed_at"], answered["closed_by"], answered["close_reason"]) == (
            None,
            None,
            None,
        )
        assert answered["answered_at"] is not None

        again = await post(client, "valeu", "geral")
        await close(client, again["id"], reason="no_reply_needed")
        await next_event(stream, CLOSED, again["id"])
        response = await client.post(url(again["id"], "reopen"))
        assert response.status == 200
        reopened = await next_event(stream, UPDATED, again["id"])
        assert reopened["message"]["closed_at"] is None
    finally:
        stream.close()


async def test_a_burst_of_messages_is_closed_as_answered_together_once_answered(client, settings):
    db = settings.async_database_url or ""
    ana = await operator(settings, "key-ana")
    burst = ("oi", "bom dia", "meu pix nao caiu")
    hello, morning, question = [await say(client, t) for t in burst]
    stranger = await say(client, "oi", STRANGER)

    # Nobody answered the customer yet: refused, and the message stays in the queue.
    refused = await close(client, hello, 409, headers=ana, reason="answered_together")
    assert "no answer went to this customer" in refused["error"]["message"]
    assert hello in [i["id"] for i in (await queue(client, ana))["items"]]

    body = {"answer": "Oi! O Pix cai em até 30 min.", "validated_by": "human"}
    response = await client.put(f"{API}/messages/{question}", json=body, headers=ana)
    assert response.status == 200, await response.text()
    for covered in (hello, morning):
        closed = await close(client, covered, headers=ana, reason="answered_together")
        assert (closed["close_reason"], closed["closed_by"]) == ("answered_together", "key-ana")
    assert [i["id"] for i in (await queue(client, ana))["items"]] == [stranger]
    # Closing queued nothing for the customer (over REST the answer itself is not delivered).
    assert await query_sql(db, "SELECT id FROM deliveries") == []

    # Another customer's answer does not cover them, nor one sent before the message came.
    await close(client, stranger, 409, headers=ana, reason="answered_together")
    later = await say(client, "obrigado")
    await close(client, later, 409, headers=ana, reason="answered_together")
    assert await close(client, 999_999, 404, reason="answered_together")

    closed = (await (await client.get(f"{API}/analytics")).json())["closed"]
    assert (closed["answered_together"], closed["total"]) == (2, 2)
    lines = (await (await client.get(f"{API}/analytics.csv")).text()).splitlines()
    assert any(",answered_together," in line and line.endswith(",2") for line in lines)
