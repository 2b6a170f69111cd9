"""The routing-and-suggestion step is a durable queue: claimed rows are skipped by other
workers, and a worker that dies mid-batch leaves its rows to be done again."""

from __future__ import annotations

import asyncio

import pytest

from gateway import keys
from storage.routing import RoutingRepository
from tests.conftest import make_settings
from tests.routing_helpers import API, post


@pytest.fixture
def settings(db_url):
    # No background worker: the test drives each step itself.
    return make_settings(db_url, run_worker=False)


async def test_a_claimed_row_is_skipped_and_a_crash_leaves_it_to_retry(client):
    app = client.server.app
    created = await post(client, "Meu boleto venceu ontem, como faço para pagar?")
    assert await app[keys.EMBEDDING_WORKER].drain() == 1
    pipeline = app[keys.PIPELINE]
    repository = RoutingRepository(app[keys.SESSIONS])

    session = app[keys.SESSIONS]()
    await session.begin()
    try:
        [claimed] = await repository.claim_pending_pipeline(session, limit=10, max_attempts=5)
        assert claimed.id == created["id"]
        # Another worker finds nothing to do while the row is held (and does not wait).
        assert await asyncio.wait_for(pipeline.run_once(), timeout=20) == 0
    finally:
        await session.rollback()  # the first worker "crashes" before finishing
        await session.close()

    body = await (await client.get(f"{API}/messages/{created['id']}")).json()
    assert body["sector"] is None
    assert body["pipeline_ms"] is None

    assert await pipeline.drain() == 1
    body = await (await client.get(f"{API}/messages/{created['id']}")).json()
    assert body["sector"] == "financeiro"
    assert body["pipeline_ms"] > 0
    assert await pipeline.drain() == 0  # done once, not again


async def test_a_human_answer_given_before_the_step_is_never_replaced(client):
    app = client.server.app
    await client.post(
        f"{API}/admin/kb/import",
        json={
            "items": [{"question": "Esqueci minha senha", "answer": "Use o link de recuperação."}]
        },
    )
    created = await post(client, "Esqueci a minha senha", "suporte")
    await client.put(
        f"{API}/messages/{created['id']}",
        json={"answer": "Já troquei para você.", "validated_by": "human"},
    )
    await app[keys.EMBEDDING_WORKER].drain()
    assert await app[keys.PIPELINE].drain() == 1
    body = await (await client.get(f"{API}/messages/{created['id']}")).json()
    assert body["answer"] == "Já troquei para você."
    assert body["validated_by"] == "human"
    assert body["suggestion"] is None
