"""A duplicate storm: 10,000 Telegram webhook deliveries of 3,000 distinct updates.

Telegram delivers an update again when it did not get its answer in time, and a busy bot
behind a load balancer sees the copies arrive together, at different gateway processes.
Here two gateways share one database, each running its workers, and the copies of each
update are shuffled among all the deliveries so that they race each other, at both
gateways, with up to IN_FLIGHT requests in flight over real HTTP on loopback.

Afterwards the database must hold each update exactly once; every delivery must have
been acknowledged, if need be after a 503 that the client delivered again as Telegram
would (any other refusal fails); one copy of each update must have been reported as
stored and the others as duplicates; and the workers of both gateways together must
have embedded each message exactly once (counted by the OpenAI fake that served the
embeddings) and suggested an answer for it once (counted by both gateways' metrics).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import multiprocessing
import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import aiohttp
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.app import create_app
from tests.conftest import DEFAULT_DIM, bearer, issue_key, make_settings
from tests.fake_openai import FakeOpenAI, create_fake_openai_app, fake_embedding_settings

pytestmark = pytest.mark.slow

BOT = "storm"
BOT_TOKEN = "123456:STORM-token"  # nothing is sent to Telegram here
BOT_SECRET = "storm-webhook-secret"
DISTINCT = 3_000
DELIVERIES = 10_000
IN_FLIGHT = 96
PEOPLE = 300  # customers shared by many updates, so their upserts contend too
REDELIVERIES = 20  # a copy answered 503 is delivered again, at most this often
PROCESSED_WITHIN = 300.0  # seconds for both gateways' workers to finish; a hang fails

# Validated answers imported before the storm, so that every message finds one to suggest.
KNOWLEDGE = [
    ("Meu boleto venceu, ainda consigo pagar sem multa?", "Sim, gere a segunda via.", "financeiro"),
    ("O aplicativo fecha sozinho quando tento abrir a fatura", "Atualize o app.", "suporte"),
    ("Quanto custa o plano anual para uma empresa pequena?", "R$ 990 por ano.", "vendas"),
    ("Quero cancelar minha assinatura a partir do mês que vem", "Feito em Conta.", "admin"),
    ("Qual o horário de atendimento de vocês no sábado?", "Das 9h às 13h.", "geral"),
    ("Fui cobrado duas vezes no cartão de crédito", "Vamos estornar.", "financeiro"),
    ("Não recebi o código de confirmação por SMS", "Reenviamos agora.", "suporte"),
    ("Vocês entregam no interior de Minas Gerais?", "Sim, em todo o estado.", "vendas"),
]


@pytest.fixture
def quiet_logs() -> Iterator[None]:
    """Warnings and errors only: 13,000 info lines would cost more CPU than the checks."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    yield
    structlog.configure(**saved)


def message_text(index: int) -> str:
    return f"{KNOWLEDGE[index % len(KNOWLEDGE)][0]} (pedido {index})"


def update(index: int) -> bytes:
    person = 700_000 + index % PEOPLE
    return json.dumps(
        {
            "update_id": 50_000 + index,
            "message": {
                "message_id": 1 + index,
                "from": {"id": person, "is_bot": False, "first_name": f"Cliente {person}"},
                "chat": {"id": person, "type": "private", "first_name": f"Cliente {person}"},
                "date": 1_700_000_000 + index,
                "text": message_text(index),
            },
        }
    ).encode()


def deliveries(rng: random.Random) -> list[int]:
    """Every update at least three times, a third of them four times, all shuffled."""
    copies = [i for i in range(DISTINCT) for _ in range(3)]
    copies += rng.sample(range(DISTINCT), DELIVERIES - len(copies))
    rng.shuffle(copies)
    return copies


def storm(jobs: list[tuple[int, str]]) -> list[tuple[int, int, Any]]:
    """POST every (update index, webhook URL), IN_FLIGHT at a time, and, as Telegram does,
    deliver again whatever was answered 503; returns (update index, status, body) for
    every POST. Runs in a process of its own, so the client's CPU does not slow the
    gateways' event loop."""
    return asyncio.run(_storm(jobs))


async def _storm(jobs: list[tuple[int, str]]) -> list[tuple[int, int, Any]]:
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": BOT_SECRET}
    pending = collections.deque((index, url, 1) for index, url in jobs)
    in_flight = 0
    answers: list[tuple[int, int, Any]] = []

    async def sender(session: aiohttp.ClientSession) -> None:
        nonlocal in_flight
        while pending or in_flight:
            if not pending:  # another sender may yet put a refused delivery back
                await asyncio.sleep(0.01)
                continue
            index, url, attempt = pending.popleft()
            in_flight += 1
            try:
                async with session.post(url, data=update(index), headers=headers) as response:
                    body = await response.read()
                    try:
                        parsed: Any = json.loads(body)
                    except ValueError:
                        parsed = body.decode(errors="replace")
                    answers.append((index, response.status, parsed))
                if response.status == 503 and attempt < REDELIVERIES:
                    pending.append((index, url, attempt + 1))
            finally:
                in_flight -= 1

    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(sender(session) for _ in range(IN_FLIGHT)))
    return answers


async def suggestions_made(session: aiohttp.ClientSession, base: str) -> tuple[float, float]:
    """A gateway's own count of suggestions made and of messages triaged (/metrics)."""
    async with session.get(f"{base}/metrics") as response:
        assert response.status == 200
        exposition = await response.text()
    made = triaged = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "atende_suggestions_total" and sample.labels == {"event": "made"}:
                made += sample.value
            if sample.name == "atende_receipt_to_suggestion_seconds_count":
                triaged += sample.value
    return made, triaged


async def test_a_duplicate_storm_across_two_gateways_stores_and_processes_each_update_once(
    db_url: str, tmp_path, aiohttp_server, quiet_logs: None
) -> None:
    fake = FakeOpenAI(dim=DEFAULT_DIM)
    openai = await aiohttp_server(create_fake_openai_app(fake))
    settings = make_settings(
        db_url,
        **fake_embedding_settings(str(openai.make_url("")), DEFAULT_DIM),
        run_worker=True,
        channels_file=tmp_path / "absent.yaml",
        telegram_bots=[{"name": BOT, "token": BOT_TOKEN, "secret_token": BOT_SECRET}],
        rate_limit_per_minute=0,
        anonymous_rate_limit_per_minute=0,
    )
    gateways = [await aiohttp_server(create_app(settings)) for _ in range(2)]
    bases = [str(server.make_url("")).rstrip("/") for server in gateways]
    admin = bearer(await issue_key(db_url))

    async with aiohttp.ClientSession() as session:
        items = [{"question": q, "answer": a, "sector": s} for q, a, s in KNOWLEDGE]
        async with session.post(
            f"{bases[0]}/api/v1/admin/kb/import", json={"items": items}, headers=admin
        ) as response:
            assert response.status == 200, await response.text()
            assert (await response.json())["added"] == len(KNOWLEDGE)

    rng = random.Random(6)
    order = deliveries(rng)
    urls = [f"{base}/webhooks/telegram/{BOT}" for base in bases]
    jobs = [(index, rng.choice(urls)) for index in order]  # each copy to either gateway
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        answers = await asyncio.get_running_loop().run_in_executor(pool, storm, jobs)

    # Every delivery acknowledged in the end. A busy gateway may answer 503 (the database
    # did not answer in time), which the platform delivers again; nothing else is allowed.
    statuses = Counter(status for _, status, _ in answers)
    assert set(statuses) <= {200, 503}, f"answers by status: {dict(statuses)}"
    refused = [(index, body) for index, status, body in answers if status == 503]
    assert all(body["error"]["code"] == "service_unavailable" for _, body in refused), refused
    acknowledged = Counter(index for index, status, _ in answers if status == 200)
    assert len(answers) - len(refused) == DELIVERIES, "a delivery was never acknowledged"
    # Of each update's copies exactly one reported it stored. A refused copy may have
    # committed before its answer was lost, so for those updates at most one did.
    stored: Counter[int] = Counter()
    for index, status, body in answers:
        if status == 200:
            assert body["ok"] is True, body
            assert body["stored"] + body["duplicates"] == 1, body
            stored[index] += body["stored"]
    assert sorted(acknowledged) == list(range(DISTINCT))
    had_refusal = {index for index, _ in refused}
    assert all(stored[i] == 1 for i in range(DISTINCT) if i not in had_refusal), (
        "an update reported stored by none or several of its copies"
    )
    assert all(stored[i] <= 1 for i in had_refusal)

    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT update_key, message FROM chat_interactions "
                        "WHERE channel = 'telegram' AND channel_account = :bot"
                    ),
                    {"bot": BOT},
                )
            ).all()
            customers = await conn.scalar(
                text("SELECT count(*) FROM customers WHERE channel = 'telegram'")
            )
        assert len(rows) == DISTINCT
        assert sorted(int(key) for key, _ in rows) == [50_000 + i for i in range(DISTINCT)]
        assert all(message == message_text(int(key) - 50_000) for key, message in rows)
        assert customers == PEOPLE

        # Both gateways' workers race over the same queues until nothing is left.
        deadline = asyncio.get_running_loop().time() + PROCESSED_WITHIN
        while True:
            async with engine.connect() as conn:
                left = await conn.scalar(
                    text(
                        "SELECT count(*) FROM chat_interactions "
                        "WHERE embedding IS NULL OR pipeline_done_at IS NULL"
                    )
                )
            if not left:
                break
            assert asyncio.get_running_loop().time() < deadline, f"{left} messages unprocessed"
            await asyncio.sleep(0.25)
        async with engine.connect() as conn:
            outcome = (
                await conn.execute(
                    text(
                        "SELECT count(*) FILTER (WHERE suggestion IS NOT NULL) AS suggested, "
                        "count(*) FILTER (WHERE validated_by = 'ai') AS ai, "
                        "count(*) FILTER (WHERE embed_attempts > 0 OR pipeline_attempts > 0) "
                        "AS retried FROM chat_interactions WHERE channel = 'telegram'"
                    )
                )
            ).one()
    finally:
        await engine.dispose()

    # Each message's text reached the embedding endpoint exactly once, across both workers.
    embedded = Counter(
        text
        for request in fake.requests
        for text in ([request["input"]] if isinstance(request["input"], str) else request["input"])
        if "(pedido " in text
    )
    assert len(embedded) == DISTINCT
    twice = [t for t, n in embedded.items() if n != 1]
    assert not twice, f"{len(twice)} messages embedded more than once, e.g. {twice[:3]}"

    assert outcome.retried == 0
    assert outcome.suggested == outcome.ai == DISTINCT
    async with aiohttp.ClientSession() as session:
        counts = [await suggestions_made(session, base) for base in bases]
    made, triaged = (sum(column) for column in zip(*counts, strict=True))
    # Each message triaged and given a suggestion once, whichever gateway's worker did it.
    assert made == DISTINCT
    assert triaged == DISTINCT
