"""What the benchmarks that run atende share: a temporary folder and a throwaway database
for the run, the `atende` processes started in it as an operator would start them (each
logging to a file there), and waiting until they answer or have done their work.

The machine's readings (CPU, load average) are in machine.py; the Telegram load in
loadgen.py."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import asyncpg
from aiohttp import web
from loadgen import BOT_SECRET
from sqlalchemy.engine import make_url

BOT = "bench"
BOT_TOKEN = "123456:BENCH-token"  # only the fake Bot API (fake_bot_api.py) ever sees it
TELEGRAM_BOT = {"name": BOT, "token": BOT_TOKEN, "secret_token": BOT_SECRET}
WEBHOOK_PATH = f"/webhooks/telegram/{BOT}"
# Two ways to call `atende`; each benchmark keeps the one its figures were taken with.
ATENDE_MODULE = (sys.executable, "-m", "gateway.cli")
ATENDE_SCRIPT = (str(Path(sys.executable).with_name("atende")),)
T = TypeVar("T")


# --- the run's folder and database ----------------------------------------------------


@contextlib.contextmanager
def temporary_folder(prefix: str) -> Iterator[Path]:
    """A new folder for the run's database, logs and settings; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_in_temporary_folder(
    measure: Callable[[argparse.Namespace, Path], Awaitable[T]],
    args: argparse.Namespace,
    prefix: str,
) -> T:
    """A benchmark's `measure(args, folder)`, run to its end in a new temporary folder."""
    with temporary_folder(prefix) as folder:
        return asyncio.run(measure(args, folder))


@contextlib.asynccontextmanager
async def throwaway_database(given: str | None, folder: Path) -> AsyncIterator[str]:
    """A new, empty database: on the given server, or on an embedded one in `folder`.
    Yields a postgresql:// DSN; the database is dropped, the embedded server stopped."""
    embedded = None
    if given is None:
        from storage.embedded import EmbeddedPostgres

        embedded = EmbeddedPostgres(folder)
        given = await asyncio.to_thread(embedded.start)
    server = make_url(given).set(drivername="postgresql")
    name = f"atende_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server.render_as_string(hide_password=False))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def wait_pipeline_done(dsn: str, update_keys: list[str], within: float) -> float:
    """Seconds until every one of these Telegram updates is routed and suggested
    (pipeline_done_at set), or `within` if some are not by then."""
    conn = await asyncpg.connect(dsn)
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < within:
            done = await conn.fetchval(
                "SELECT count(*) FROM chat_interactions WHERE channel = 'telegram' "
                "AND update_key = ANY($1::text[]) AND pipeline_done_at IS NOT NULL",
                update_keys,
            )
            if done == len(update_keys):
                break
            await asyncio.sleep(0.2)
        return time.perf_counter() - started
    finally:
        await conn.close()


# --- the processes --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def serve_on_loopback(app: web.Application, path: str = "") -> tuple[web.AppRunner, str]:
    """`app` on a free loopback port, served as `atende serve` serves it (no access log);
    its runner, and the URL of `path` on it."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}{path}"


def atende_environment(dsn: str, folder: Path, **settings: str) -> dict[str, str]:
    """This process's environment without its own ATENDE_* settings and DATABASE_URL, and
    what every run gives atende: the database `dsn`, loopback only, one Telegram bot
    (TELEGRAM_BOT) whose Bot API is nowhere, no channels file, JSON logs. `settings`
    (ATENDE_...=) add to them or override them."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("ATENDE_") and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=dsn,
        ATENDE_HOST="127.0.0.1",
        ATENDE_DATA_DIR=str(folder / "unused"),  # the database is DATABASE_URL's
        ATENDE_CHANNELS_FILE=str(folder / "absent.yaml"),
        ATENDE_TELEGRAM_BOTS=json.dumps([TELEGRAM_BOT]),
        ATENDE_TELEGRAM_API_URL="http://127.0.0.1:9",  # nothing may reach Telegram
        ATENDE_LOG_FORMAT="json",
    )
    env.update(settings)
    return env


class Fleet:
    """The `atende` processes of one run on the database `dsn`, started as an operator
    would start them: in `folder` (so no .env of the working tree applies), with
    atende_environment's settings and `settings`, each writing its output to
    <folder>/<name>.log. `command` is how `atende` is called. ATENDE_PORT is a free port:
    `base` is the URL of a gateway started without a --port of its own."""

    def __init__(
        self, folder: Path, dsn: str, command: Sequence[str] = ATENDE_MODULE, **settings: str
    ) -> None:
        self.folder = folder
        self.command = list(command)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.env = atende_environment(dsn, folder, ATENDE_PORT=str(port), **settings)
        self.processes: dict[str, subprocess.Popen] = {}

    def run(self, *argv: str) -> str:
        """An `atende` command to its end; its stdout."""
        done = subprocess.run(
            [*self.command, *argv],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"atende {' '.join(argv)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def start(self, name: str, *argv: str, **env: str) -> subprocess.Popen:
        """`atende <argv>` in the background, with `env` added to the fleet's."""
        with open(self.log(name), "w") as log:  # the child has its own copy
            process = subprocess.Popen(
                [*self.command, *argv],
                cwd=self.folder,
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes[name] = process
        return process

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def read_log(self, name: str) -> str:
        return self.log(name).read_text(errors="replace")

    def events(self, name: str) -> list[dict[str, Any]]:
        """The JSON log lines of one process."""
        out = []
        for line in self.read_log(name).splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    out.append(event)
        return out

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = self.read_log(name)[-2000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    async def wait_live(self, base: str | None = None, within: float = 180.0) -> float:
        """Seconds until the gateway at `base` (default: the fleet's) answers /health/live;
        raises if one of the fleet's processes has exited, or after `within` seconds."""
        base = base or self.base
        started = time.perf_counter()
        async with aiohttp.ClientSession() as session:
            while True:
                self.check_alive()
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{base}/health/live") as response:
                        if response.status == 200:
                            return time.perf_counter() - started
                if time.perf_counter() - started > within:
                    raise RuntimeError(f"{base} did not answer /health/live within {within:g} s")
                await asyncio.sleep(0.1)

    def stop(self, sig: signal.Signals = signal.SIGTERM, within: float = 30.0) -> None:
        """`sig` to every process still running; killed if one has not ended `within` s."""
        for process in self.processes.values():
            process.send_signal(sig)  # a no-op for one that has ended
        for process in self.processes.values():
            try:
                process.wait(timeout=within)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
