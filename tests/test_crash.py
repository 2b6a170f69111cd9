"""`atende worker` processes beside a gateway that runs no worker of its own.

kill -9 of a worker mid-processing and mid-delivery, then a restart: every message is
processed once and every approved answer sent at most once, exactly once whenever the
platform certainly never saw it. And a worker idle for its long poll starts on the
gateway's notices.

The workers are real subprocesses on the test database; the Telegram Bot API and the
embeddings API are loopback fakes in this process, which can hold a request open so the
test knows where the worker is when it is killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from config.settings import CONFIG_DIR, Settings
from tests.conftest import make_settings
from tests.connectors.conftest import (
    BOT,
    BOT_SECRET,
    BOT_TOKEN,
    post_telegram,
    sql,
    start_app,
    telegram_text_update,
)
from tests.fake_openai import FakeOpenAI, create_fake_openai_app
from tests.fakes.telegram import FakeTelegram
from tests.routing_helpers import import_kb

API = "/api/v1"
DIM = 384  # the test template's vector column
MODEL = "crash-embed"
WITHIN = 60.0  # the longest any step may take on a loaded machine; never an assertion
PAUSE_LOCK = 4242  # the advisory lock the test holds to stop a worker before its send

KB_QUESTION = "Quero a segunda via do boleto."
KB_ANSWER = "Enviamos a segunda via para o seu e-mail."
# The fake's vectors are bags of lower-cased words: these are one vector, four texts.
CUSTOMER_TEXTS = [
    "Quero a segunda via do boleto",
    "quero a segunda via do boleto!",
    "QUERO A SEGUNDA VIA DO BOLETO",
    "Quero a segunda via do boleto?",
]


async def eventually(check: Callable[[], Awaitable[Any]], what: str, within: float = WITHIN):
    """Poll `check` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while not (result := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {within}s")
        await asyncio.sleep(0.05)
    return result


@dataclass
class Workers:
    """`atende worker` subprocesses; every one still running is killed at teardown."""

    env: dict[str, str]
    folder: Path
    running: list[subprocess.Popen] = field(default_factory=list)

    def start(self) -> subprocess.Popen:
        with open(self.folder / f"worker-{len(self.running)}.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "worker"],
                env=self.env,
                cwd=self.folder,  # no .env of the developer's
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.running.append(process)
        return process

    async def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL: no cleanup of any kind runs in the worker."""
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 30)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.folder.glob("worker-*.log"))
        )

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.kill()
                process.wait(30)


@dataclass
class Stack:
    client: Any  # the gateway in this process (its own worker off), for webhooks and SQL
    workers: Workers
    telegram: FakeTelegram
    openai: FakeOpenAI
    settings: Settings


def sectors_file(folder: Path) -> Path:
    """The default sectors, with financeiro sending near-identical answers by itself."""
    data = yaml.safe_load((CONFIG_DIR / "sectors.yaml").read_text())
    for sector in data["sectors"]:
        if sector["name"] == "financeiro":
            sector["auto_send_threshold"] = 0.95
    path = folder / "sectors.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


@pytest.fixture
async def stack(
    db_url: str, tmp_path: Path, aiohttp_server, aiohttp_client
) -> AsyncIterator[Stack]:
    telegram = FakeTelegram(tokens={BOT_TOKEN})
    openai = FakeOpenAI(dim=DIM)
    telegram_url = str((await aiohttp_server(telegram.app())).make_url("")).rstrip("/")
    openai_url = str((await aiohttp_server(create_fake_openai_app(openai))).make_url("/v1"))
    bots = [{"name": BOT, "token": BOT_TOKEN, "secret_token": BOT_SECRET}]
    values: dict[str, Any] = {
        "channels_file": tmp_path / "absent.yaml",
        "telegram_bots": bots,
        "telegram_api_url": telegram_url,
        "embedding_provider": "openai",
        "embedding_model": MODEL,
        "embedding_dim": DIM,
        "openai_base_url": openai_url,
        "openai_api_key": openai.api_key,
        "sectors_file": sectors_file(tmp_path),
        "embedding_batch_size": 2,
        # Longer than any hold below: the worker is killed, never timed out.
        "delivery_timeout_seconds": 60,
    }
    settings = make_settings(db_url, run_worker=False, **values)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATENDE_")}
    env.pop("DATABASE_URL", None)
    env |= {f"ATENDE_{k.upper()}": str(v) for k, v in values.items()}
    env |= {
        "ATENDE_DATABASE_URL": db_url,
        "ATENDE_TELEGRAM_BOTS": json.dumps(bots),
        "ATENDE_LOG_LEVEL": "info",
        "ATENDE_LOG_FORMAT": "json",
    }
    workers = Workers(env, tmp_path)
    client = await start_app(aiohttp_client, settings)
    try:
        yield Stack(client, workers, telegram, openai, settings)
    finally:
        workers.stop_all()
        # Whatever a fake still holds is answered, so its server can close.
        openai.release.set()
        if telegram.gate is not None:
            telegram.gate.set()


async def telegram_message(stack: Stack, update_id: int, message: str, user_id: int) -> int:
    update = telegram_text_update(update_id, 100 + update_id, message, user_id=user_id)
    assert (await post_telegram(stack.client, update)).status == 200
    [row] = await sql(
        stack.client, "SELECT id FROM chat_interactions WHERE update_key = :k", k=str(update_id)
    )
    return row["id"]


async def approved_delivery(stack: Stack, update_id: int, user_id: int, answer: str) -> int:
    """A customer's message with an approved answer queued; returns its interaction id."""
    interaction_id = await telegram_message(stack, update_id, "Meu boleto?", user_id)
    response = await stack.client.put(
        f"{API}/messages/{interaction_id}", json={"answer": answer, "validated_by": "human"}
    )
    assert response.status == 200, await response.text()
    return interaction_id


async def delivery_rows(stack: Stack) -> list[dict[str, Any]]:
    return await sql(
        stack.client,
        "SELECT id, interaction_id, status, attempts, claimed_by, send_started_at, "
        "last_error_code, last_error_reason FROM deliveries ORDER BY id",
    )


def send_calls(telegram: FakeTelegram) -> list[dict[str, Any]]:
    return [params for method, params in telegram.calls if method == "sendMessage"]


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


async def test_an_idle_worker_starts_on_the_gateways_notices_not_its_poll(stack: Stack):
    """With a minute between its looks at the queues, the worker embeds, suggests and
    sends within seconds: the gateway's notices wake it (storage.notices)."""
    await import_kb(
        stack.client, [{"question": KB_QUESTION, "sector": "financeiro", "answer": KB_ANSWER}]
    )
    stack.workers.env["ATENDE_WORKER_IDLE_POLL_SECONDS"] = "60"
    stack.workers.start()

    def logged(event: str) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return stack.workers.logs().count(f'"event": "{event}"') > 0

        return check

    await eventually(logged("notices_listening"), "the worker listening")
    # Its first looks (at the start, and on connecting) found nothing: it now waits.
    await asyncio.sleep(1.0)
    soon = 15.0
    # A customer's message: stored by the gateway, suggested and auto-sent by the worker.
    asked = await telegram_message(stack, 1, CUSTOMER_TEXTS[0], user_id=9001)

    async def suggested() -> bool:
        [row] = await sql(
            stack.client,
            "SELECT answer, pipeline_done_at FROM chat_interactions WHERE id = :i",
            i=asked,
        )
        return row["pipeline_done_at"] is not None and row["answer"] == KB_ANSWER

    try:
        await eventually(suggested, "the message suggested", within=soon)
        await eventually(
            lambda: asyncio.sleep(0, len(send_calls(stack.telegram)) == 1),
            "the auto-sent answer",
            within=soon,
        )
        # An operator's approval in the gateway: the worker's delivery loop is woken too.
        await approved_delivery(stack, 2, 9002, "Sua fatura já foi paga.")
        await eventually(
            lambda: asyncio.sleep(0, len(send_calls(stack.telegram)) == 2),
            "the approved answer",
            within=soon,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.workers.logs()}") from None
    assert [c["text"] for c in send_calls(stack.telegram)] == [KB_ANSWER, "Sua fatura já foi paga."]
