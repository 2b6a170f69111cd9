"""The consoles' live feed, one per process: every stream told by one reader, which is
woken by the process's own commits, polls for the others' and stops with the last
stream; a stream that stops reading is ended rather than kept."""

from __future__ import annotations

import asyncio

from gateway.http import keys
from gateway.services import activity
from gateway.services.activity import STORED, TRIAGED, UPDATED, ActivityHub
from storage.activity import ActivityRepository
from storage.database import create_engine, session_factory
from tests.conftest import issue_key, run_sql
from tests.routing_helpers import API, CLIENT
from tests.test_console import APPROVED, next_event, open_stream

QUESTION = "Meu pedido chegou com a caixa amassada, o que faço?"


async def post_message(client, text: str = QUESTION) -> int:
    response = await client.post(f"{API}/messages/", json={"client_id": CLIENT, "message": text})
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def wait_for(condition, within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


async def test_every_stream_is_told_by_one_reader_that_stops_with_the_last(client, settings):
    hub = client.server.app[keys.ACTIVITY]
    key = await issue_key(settings.async_database_url, "operator")
    assert not hub.reading  # no console open: the database is not read
    streams = [await open_stream(client, key) for _ in range(3)]
    assert hub.reading
    message_id = await post_message(client)
    told = [await next_event(stream, STORED, message_id) for stream in streams]
    assert all(event == told[0] for event in told)
    assert told[0]["message"]["message"] == QUESTION

    for stream in streams:
        stream.close()
    # A stream learns its console left when it next writes: the next message's event.
    await post_message(client, "Outra pergunta, agora sobre a nota fiscal")
    await wait_for(lambda: not hub.reading)
    reads = hub.reads
    await asyncio.sleep(3 * activity.POLL_SECONDS)
    assert hub.reads == reads

    stream = await open_stream(client, key)  # a new console starts it again
    assert hub.reading
    message_id = await post_message(client, "E a troca, quanto tempo leva?")
    await next_event(stream, STORED, message_id)
    stream.close()


async def test_this_process_s_changes_are_told_without_waiting_for_the_poll(client, settings):
    hub = client.server.app[keys.ACTIVITY]
    hub.poll_seconds = 120.0  # only a wake-up can tell anything within the test's wait
    stream = await open_stream(client, await issue_key(settings.async_database_url, "operator"))
    message_id = await post_message(client)
    await next_event(stream, STORED, message_id, within=10)
    await next_event(stream, TRIAGED, message_id, within=20)
    response = await client.post(
        f"{API}/operator/messages/{message_id}/approve", json={"answer": "Pode trocar, sim."}
    )
    assert response.status == 200, await response.text()
    approved = await next_event(stream, APPROVED, message_id, within=10)
    assert approved["message"]["answer"] == "Pode trocar, sim."
    stream.close()


async def test_another_process_s_changes_are_told_at_the_next_poll(client, settings):
    stream = await open_stream(client, await issue_key(settings.async_database_url, "operator"))
    message_id = await post_message(client)
    await next_event(stream, TRIAGED, message_id)
    # Written on a connection of its own, as an `atende worker` or another gateway would.
    await run_sql(
        settings.async_database_url,
        "UPDATE chat_interactions SET sector = 'financeiro' WHERE id = :id",
        id=message_id,
    )
    updated = await next_event(stream, UPDATED, message_id, within=10)
    assert updated["message"]["sector"] == "financeiro"
    stream.close()


async def test_a_stream_that_stops_reading_is_ended_and_the_others_go_on(
    client, settings, monkeypatch
):
    monkeypatch.setattr(activity, "BACKLOG", 2)
    engine = create_engine(settings.async_database_url)
    hub = ActivityHub(ActivityRepository(session_factory(engine)), lambda change: b"{}")
    try:
        reader, idle = await hub.subscribe(), await hub.subscribe()
        kinds: list[str] = []
        for n in range(3):
            await post_message(client, f"Mensagem {n} de um cliente apressado")
            while kinds.count(STORED) <= n:  # the reader takes as it comes
                kinds += [event.kind for event in await reader.take(within=20)]
        assert kinds.count(STORED) == 3
        assert idle.overflowed
        assert idle.ended
        assert await idle.take(within=0) == []  # what it held was let go
        assert not reader.ended
    finally:
        await hub.close()
        await engine.dispose()
    assert reader.ended
