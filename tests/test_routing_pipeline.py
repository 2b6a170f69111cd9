"""The routing-and-suggestion step is a durable queue: claimed rows are skipped by other
workers, and a worker that dies mid-batch leaves its rows to be done again. A new vector
is written with its row's triage; the pipeline's own queue takes what that left."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from sqlalchemy import event, text

from gateway.http import keys
from gateway.services.embedding import EmbeddingWorker
from storage.repositories import MessageRepository
from storage.routing import RoutingRepository
from storage.step_writes import StepWrite, write_steps
from storage.vectors import QueryVector
from tests.conftest import make_settings
from tests.routing_helpers import API, post


@pytest.fixture
def settings(db_url):
    # No background worker: the test drives each step itself.
    return make_settings(db_url, run_worker=False)


def vectors_only(app) -> EmbeddingWorker:
    """An embedding worker that stores vectors and nothing else, as `atende reembed` does:
    it leaves rows for the pipeline's own queue."""
    sessions = app[keys.SESSIONS]
    return EmbeddingWorker(sessions, MessageRepository(sessions), app[keys.EMBEDDER])


async def test_a_new_vector_is_written_with_its_triage_and_a_crash_leaves_both_to_retry(client):
    app = client.server.app
    created = await post(client, "Meu boleto venceu ontem, como faço para pagar?")
    worker = app[keys.EMBEDDING_WORKER]
    session = app[keys.SESSIONS]()
    await session.begin()
    try:
        [claimed] = await MessageRepository(app[keys.SESSIONS]).claim_unembedded(
            session, limit=10, max_attempts=5
        )
        assert claimed.id == created["id"]
        assert await asyncio.wait_for(worker.run_once(), timeout=20) == 0
    finally:
        await session.rollback()
        await session.close()
    body = await (await client.get(f"{API}/messages/{created['id']}")).json()
    assert (body["embedded"], body["sector"]) == (False, None)

    assert await worker.drain() == 1
    body = await (await client.get(f"{API}/messages/{created['id']}")).json()
    assert (body["embedded"], body["sector"]) == (True, "financeiro")
    assert body["pipeline_ms"] > 0
    assert await app[keys.PIPELINE].drain() == 0  # nothing left for the pipeline's own queue


async def test_a_failed_triage_keeps_the_new_vector_and_is_tried_again(
    client, monkeypatch: pytest.MonkeyPatch
):
    app = client.server.app
    pipeline = app[keys.PIPELINE]
    created = await post(client, "Meu boleto venceu ontem, como faço para pagar?")

    async def broken(row, vector):
        raise RuntimeError("the sector router failed")

    monkeypatch.setattr(pipeline, "process", broken)
    assert await app[keys.EMBEDDING_WORKER].drain() == 1
    body = await (await client.get(f"{API}/messages/{created['id']}")).json()
    assert (body["embedded"], body["sector"], body["pipeline_ms"]) == (True, None, None)

    monkeypatch.undo()
    assert await pipeline.drain() == 1
    body = await (await client.get(f"{API}/messages/{created['id']}")).json()
    assert body["sector"] == "financeiro"
    assert body["pipeline_ms"] > 0


async def test_a_claimed_row_is_skipped_and_a_crash_leaves_it_to_retry(client):
    app = client.server.app
    created = await post(client, "Meu boleto venceu ontem, como faço para pagar?")
    assert await vectors_only(app).drain() == 1
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
    assert await app[keys.EMBEDDING_WORKER].drain() == 1
    body = await (await client.get(f"{API}/messages/{created['id']}")).json()
    assert body["pipeline_ms"] > 0  # the step ran
    assert body["answer"] == "Já troquei para você."
    assert body["validated_by"] == "human"
    assert body["suggestion"] is None


async def test_a_rebuilt_vector_leaves_the_rows_triage_alone(client):
    app = client.server.app
    created = await post(client, "Meu boleto venceu ontem, como faço para pagar?")
    assert await app[keys.EMBEDDING_WORKER].drain() == 1
    before = await (await client.get(f"{API}/messages/{created['id']}")).json()
    # What `atende reembed` does to every row before it rebuilds the vectors.
    async with app[keys.ENGINE].begin() as conn:
        await conn.execute(
            text("UPDATE chat_interactions SET embedding = NULL, sector = 'vendas' WHERE id = :id"),
            {"id": created["id"]},
        )
    assert await app[keys.EMBEDDING_WORKER].drain() == 1
    after = await (await client.get(f"{API}/messages/{created['id']}")).json()
    assert after["embedded"] is True
    assert after["sector"] == "vendas"  # not routed again
    assert after["pipeline_ms"] == before["pipeline_ms"]


async def test_a_batch_is_written_in_one_statement_and_each_row_keeps_what_it_does_not_set(
    client,
):
    app = client.server.app
    engine = app[keys.ENGINE]
    async with engine.begin() as conn:
        ids = (
            await conn.execute(
                text(
                    "INSERT INTO chat_interactions (client_id, message, embed_error, answer)"
                    " SELECT gen_random_uuid(), m, 'timed out', 'dada antes'"
                    " FROM unnest(CAST(:m AS text[])) AS t(m) RETURNING id"
                ),
                {"m": ["pago", "falhou", "só o vetor"]},
            )
        ).scalars()
        done, failed, vector_only = sorted(ids)
    vector = QueryVector(np.linspace(-1.0, 1.0, 384))
    stored = {"embedding": vector, "embedding_model": "m1", "embed_error": None}
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with app[keys.SESSIONS].begin() as session:
            elapsed = await write_steps(
                session,
                [
                    StepWrite(
                        done,
                        {
                            **stored,
                            "sector": "financeiro",
                            "route_confidence": 0.75,
                            "route_reason": {"method": "knn"},
                            "suggestion": {"confidence": 0.9},
                        },
                        done=True,
                    ),
                    StepWrite(failed, stored, failed=True),
                    StepWrite(vector_only, {"embedding_model": "m2"}),
                ],
            )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert list(elapsed) == [done]
    assert elapsed[done] > 0

    async with engine.connect() as conn:
        rows = {
            r.id: r
            for r in await conn.execute(
                text(
                    "SELECT id, sector, route_confidence, route_reason, suggestion, answer,"
                    " embedding::text AS embedding, embedding_model, embed_error,"
                    " pipeline_done_at IS NOT NULL AS stamped, pipeline_ms, pipeline_attempts"
                    " FROM chat_interactions WHERE id = ANY(:ids)"
                ),
                {"ids": [done, failed, vector_only]},
            )
        }
    row = rows[done]
    assert (row.sector, row.route_confidence, row.route_reason, row.suggestion) == (
        "financeiro",
        0.75,
        {"method": "knn"},
        {"confidence": 0.9},
    )
    assert np.allclose(np.array(json.loads(row.embedding)), vector.values)
    assert (row.embedding_model, row.embed_error, row.answer) == ("m1", None, "dada antes")
    assert (row.stamped, row.pipeline_ms, row.pipeline_attempts) == (True, elapsed[done], 0)

    row = rows[failed]
    assert (row.sector, row.suggestion, row.embedding_model, row.embed_error) == (
        None,
        None,
        "m1",
        None,
    )
    assert (row.stamped, row.pipeline_ms, row.pipeline_attempts) == (False, None, 1)

    row = rows[vector_only]
    assert (row.embedding, row.embedding_model, row.embed_error) == (None, "m2", "timed out")
    assert (row.stamped, row.pipeline_ms, row.pipeline_attempts) == (False, None, 0)


async def test_a_column_the_pipeline_does_not_write_is_refused(client):
    async with client.server.app[keys.SESSIONS].begin() as session:
        with pytest.raises(ValueError, match="operator_name"):
            await write_steps(session, [StepWrite(1, {"operator_name": "ana"}, done=True)])
