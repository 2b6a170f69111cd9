"""Operations: Prometheus metrics that move when things happen, liveness and readiness,
and the `atende keys` commands against a real database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from gateway.app import create_app
from tests.conftest import make_settings, run_sql
from tests.routing_helpers import API, import_kb, post, wait_until_triaged

REFUND_Q = "Como faço para pedir o reembolso de uma compra?"
REFUND_A = "Você pode pedir o reembolso em Minha conta > Pedidos, em até 7 dias."


async def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_requests_are_counted_by_route_pattern_and_status(client):
    before = await scrape(client)
    await client.get(f"{API}/messages/123456")  # 404, counted under its pattern
    await client.get(f"{API}/sectors")
    after = await scrape(client)
    name = "atende_http_requests_total"
    pattern = dict(route=f"{API}/messages/{{id}}", method="GET", status="404")
    assert value(after, name, **pattern) == value(before, name, **pattern) + 1
    sectors = dict(route=f"{API}/sectors", method="GET", status="200")
    assert value(after, name, **sectors) == value(before, name, **sectors) + 1
    assert not any("123456" in str(labels) for _, labels in after)


async def test_suggestions_and_their_timing_are_counted(client, db_url):
    await import_kb(client, [{"question": REFUND_Q, "answer": REFUND_A, "sector": "financeiro"}])
    created = await post(client, "Como peço o reembolso da minha compra?")
    body = await wait_until_triaged(client, created["id"])
    assert body["validated_by"] == "ai"
    samples = await scrape(client)
    assert value(samples, "atende_suggestions_total", event="made") == 1
    assert value(samples, "atende_receipt_to_suggestion_seconds_count") == 1
    assert value(samples, "atende_operator_queue_depth") == 1
    assert value(samples, "atende_operator_queue_late") == 0
    assert value(samples, "atende_worker_backlog") == 0
    # Past the response target (15 minutes by default), the waiting message counts as late.
    await run_sql(
        db_url,
        "UPDATE chat_interactions SET created_at = now() - interval '16 minutes' WHERE id = :id",
        id=created["id"],
    )
    assert value(await scrape(client), "atende_operator_queue_late") == 1

    response = await client.post(f"{API}/operator/messages/{created['id']}/approve")
    assert response.status == 200, await response.text()
    samples = await scrape(client)
    assert value(samples, "atende_suggestions_total", event="approved") == 1
    assert value(samples, "atende_suggestions_total", event="rejected") == 0
    assert value(samples, "atende_operator_queue_depth") == 0

    # An answer written for a message with no suggestion (the console's Responder) approves
    # no suggestion.
    unknown = await post(client, "Vocês abrem no sábado?")
    assert (await wait_until_triaged(client, unknown["id"]))["validated_by"] == "pending"
    body = {"answer": "Abrimos, das 9h às 13h."}
    response = await client.post(f"{API}/operator/messages/{unknown['id']}/approve", json=body)
    assert response.status == 200, await response.text()
    assert value(await scrape(client), "atende_suggestions_total", event="approved") == 1


async def test_metrics_can_require_a_key(db_url, aiohttp_client):
    app = create_app(make_settings(db_url, metrics_require_key=True, run_worker=False))
    client = await aiohttp_client(app)
    assert (await client.get("/metrics")).status == 401


async def test_live_and_ready(client, pg_admin, settings):
    live = await client.get("/health/live")
    assert (live.status, await live.json()) == (200, {"status": "ok"})
    ready = await client.get("/health/ready")
    assert ready.status == 200
    assert await ready.json() == {
        "status": "ok",
        "database": "ok",
        "backlog": 0,
        "max_backlog": settings.ready_max_backlog,
    }

    await pg_admin(f'DROP DATABASE "{make_url(settings.async_database_url).database}" WITH (FORCE)')
    ready = await client.get("/health/ready")
    assert ready.status == 503
    assert (await ready.json())["database"] == "unreachable"
    assert (await client.get("/health/live")).status == 200


class TestBacklog:
    @pytest.fixture
    def settings(self, db_url):
        return make_settings(db_url, run_worker=False, ready_max_backlog=1)

    async def test_ready_is_503_when_the_worker_backlog_passes_its_bound(self, client):
        await post(client, "primeira mensagem")
        assert (await client.get("/health/ready")).status == 200
        await post(client, "segunda mensagem")
        ready = await client.get("/health/ready")
        assert ready.status == 503
        body = await ready.json()
        assert (body["status"], body["database"], body["backlog"]) == ("unavailable", "ok", 2)
        assert (await client.get("/health")).status == 200  # unchanged: the database only
        samples = await scrape(client)
        assert value(samples, "atende_worker_backlog") == 2


def _keys(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ATENDE_DATABASE_URL": db_url, "ATENDE_LOG_LEVEL": "warning"}
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "keys", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_keys_commands_create_list_and_revoke(db_url):
    # In a thread: the CLI runs its own event loop and this test's must stay free.
    made = await asyncio.to_thread(_keys, db_url, "create", "--role", "operator", "--name", "bia")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("atd_")
    assert "shown only now" in made.stderr

    client = TestClient(
        TestServer(create_app(make_settings(db_url, run_worker=False))),
        headers={"Authorization": f"Bearer {key}"},
    )
    await client.start_server()
    try:
        assert (await client.get(f"{API}/operator/queue")).status == 200
        assert (await client.get(f"{API}/admin/keys")).status == 403

        listed = await asyncio.to_thread(_keys, db_url, "list")
        assert listed.returncode == 0, listed.stderr
        header, row = listed.stdout.splitlines()
        assert header.split() == [
            "name", "role", "prefix", "created_at", "last_used_at", "revoked_at"
        ]  # fmt: skip
        name, role, prefix, _created, last_used, revoked = row.split()
        assert (name, role, revoked) == ("bia", "operator", "-")
        assert key.startswith(prefix + "_")
        assert last_used != "-"
        assert key not in listed.stdout

        revoked = await asyncio.to_thread(_keys, db_url, "revoke", prefix)
        assert revoked.returncode == 0, revoked.stderr
        assert "revoked operator key 'bia'" in revoked.stdout
        assert (await client.get(f"{API}/operator/queue")).status == 401

        unknown = await asyncio.to_thread(_keys, db_url, "revoke", "nobody")
        assert unknown.returncode == 1
        assert "no API key" in unknown.stderr
        duplicate = await asyncio.to_thread(
            _keys, db_url, "create", "--role", "admin", "--name", "bia"
        )
        assert duplicate.returncode == 1
        assert "exists already" in duplicate.stderr
    finally:
        await client.close()


def test_serve_refuses_auth_off_on_a_public_address(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("ATENDE_") and k != "DATABASE_URL"
    }
    env["ATENDE_AUTH_DISABLED"] = "true"
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--host", "0.0.0.0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "ATENDE_AUTH_DISABLED works only" in result.stderr
    assert "Traceback" not in result.stderr
