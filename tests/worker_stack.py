"""A gateway with no worker of its own, fakes of the Telegram Bot API and of an embeddings
API on loopback, and `atende worker` subprocesses on the same test database: what the
tests of worker processes (tests/test_crash.py, tests/test_worker_notices.py) stand on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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


@contextlib.asynccontextmanager
async def open_stack(
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
