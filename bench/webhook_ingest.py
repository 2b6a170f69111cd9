"""Webhook ingest: Telegram updates POSTed on loopback to the real gateway.

atende runs as `atende serve` runs it (`create_app(Settings(...))` on an aiohttp
`AppRunner`, no access log, structlog as JSON to a file in the temporary folder), with one
Telegram bot configured through `telegram_bots`, so every POST takes the full path: route,
middlewares, secret-token check, parse, normalise, customer upsert and insert with
`ON CONFLICT`, committed (together with the POSTs that arrived at the same moment: group
commit, storage/ingest.py), then 200. The baseline, measured in the same run on
the same database, is a minimal aiohttp handler: compare the secret header, `json.loads`,
one asyncpg `INSERT ... ON CONFLICT DO NOTHING` (autocommit) into a table of the same
shape as far as dedupe goes (unique bot + update id), 200. Both get the same bodies from
a load generator in a separate process (an aiohttp client, `--concurrency` requests in
flight), each with a new update_id except every `--duplicate-every`th, which repeats one
the same client already had acknowledged, as Telegram does when it retries. Afterwards
every acknowledged update_id is looked up in the database.

    python bench/webhook_ingest.py [--concurrency 32] [--duration 10] [--warmup 1]
        [--rounds 1] [--duplicate-every 50] [--users 1000] [--worker] [--log-level info]
        [--database-url postgresql://admin@host/db] [--profile server.pstats]

Without `--database-url` a throwaway embedded PostgreSQL runs in a temporary folder; with
it, a throwaway database is created on that server (the URL needs CREATEDB) and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import hmac
import json
import multiprocessing
import pstats
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiohttp import web
from harness import (
    BOT,
    TELEGRAM_BOT,
    WEBHOOK_PATH,
    serve_on_loopback,
    temporary_folder,
    throwaway_database,
)
from loadgen import BOT_SECRET, SECRET_HEADER, Load, Outcome, generate
from machine import machine_cpu

TARGET_RATIO = 1.0  # atende's requests/s over the baseline's (issue 6)
TARGET_P99_MS = 25.0
BASELINE_TABLE = """
    CREATE TABLE bench_baseline_updates (
        id bigserial PRIMARY KEY,
        bot text NOT NULL,
        update_key text NOT NULL,
        chat_id text NOT NULL,
        message text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (bot, update_key)
    )"""
BASELINE_INSERT = """
    INSERT INTO bench_baseline_updates (bot, update_key, chat_id, message)
    VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"""


# --- the servers ----------------------------------------------------------------------

POOL = web.AppKey("pool", asyncpg.Pool)


def baseline_app(dsn: str, pool_size: int) -> web.Application:
    """The least a webhook receiver can do and still acknowledge durably."""

    async def pool_ctx(app: web.Application):
        app[POOL] = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=2 * pool_size)
        yield
        await app[POOL].close()

    async def receive(request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, ""), BOT_SECRET):
            raise web.HTTPForbidden()
        update = json.loads(await request.read())
        message = update["message"]
        status = await request.app[POOL].execute(
            BASELINE_INSERT,
            request.match_info["name"],
            str(update["update_id"]),
            str(message["chat"]["id"]),
            message["text"],
        )
        stored = status == "INSERT 0 1"
        return web.json_response({"ok": True, "stored": int(stored), "duplicates": int(not stored)})

    app = web.Application()
    app.cleanup_ctx.append(pool_ctx)
    app.router.add_post("/webhooks/telegram/{name}", receive)
    return app


# --- measuring ------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    outcome: Outcome
    seconds: float
    server_cpu_s: float
    machine_busy: float  # fraction of all cores
    rows_found: int = 0
    rows_total: int = 0
    rows_distinct: int = 0

    @property
    def rate(self) -> float:
        return len(self.outcome.latencies_ms) / self.seconds

    def percentile(self, q: int) -> float:
        latencies = self.outcome.latencies_ms
        if len(latencies) < 2:
            return float("nan")
        return statistics.quantiles(latencies, n=100, method="inclusive")[q - 1]


async def run_phase(
    name: str, executor: ProcessPoolExecutor, load: Load, profiler: cProfile.Profile | None
) -> Phase:
    loop = asyncio.get_running_loop()
    cpu_started, (busy_started, total_started) = time.process_time(), machine_cpu()
    if profiler is not None:
        profiler.enable()
    try:
        outcome = await loop.run_in_executor(executor, generate, load)
    finally:
        if profiler is not None:
            profiler.disable()
    busy, total = machine_cpu()
    return Phase(
        name,
        outcome,
        load.duration,
        time.process_time() - cpu_started,
        (busy - busy_started) / max(total - total_started, 1),
    )


async def check_rows(conn: asyncpg.Connection, phase: Phase, table: str, where: str) -> None:
    """Every update_id the client saw acknowledged must be a row; no update twice."""
    acknowledged = [str(u) for u in phase.outcome.acknowledged]
    if not acknowledged:
        return
    phase.rows_found = await conn.fetchval(
        f"SELECT count(*) FROM {table} WHERE {where} AND update_key = ANY($2::text[])",
        BOT,
        acknowledged,
    )
    low, high = min(phase.outcome.acknowledged), max(phase.outcome.acknowledged)
    row = await conn.fetchrow(
        f"SELECT count(*), count(DISTINCT update_key) FROM {table} WHERE {where} "
        "AND update_key::bigint BETWEEN $2 AND $3",
        BOT,
        low,
        high,
    )
    phase.rows_total, phase.rows_distinct = row[0], row[1]


def report(args: argparse.Namespace, rounds: list[tuple[Phase, Phase]]) -> None:
    print(
        f"\n{'':22}{'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>7} "
        f"{'dups':>6} {'srv CPU/req':>12} {'client CPU':>11} {'machine':>8}"
    )
    for index, pair in enumerate(rounds, 1):
        for phase in pair:
            o = phase.outcome
            served = o.sent or 1
            print(
                f"{phase.name + (f' #{index}' if len(rounds) > 1 else ''):22}"
                f"{phase.rate:8.0f} {phase.percentile(50):7.1f} {phase.percentile(95):7.1f} "
                f"{phase.percentile(99):7.1f} {sum(o.errors.values()):7d} "
                f"{o.duplicates_sent:6d} {phase.server_cpu_s / served * 1000:9.2f} ms "
                f"{o.client_cpu_s / (args.duration + args.warmup):10.0%} "
                f"{phase.machine_busy:7.0%}"
            )
    print(
        "(latencies of the POSTs answered 2xx inside the measured window; dups: repeated "
        "update_ids sent; srv CPU/req: the server process's CPU per POST; client CPU: the load "
        "process's share of one core; machine: all cores busy, PostgreSQL included)"
    )
    baseline = statistics.median(b.rate for b, _ in rounds)
    ours = statistics.median(a.rate for _, a in rounds)
    p99 = statistics.median(a.percentile(99) for _, a in rounds)
    ratio = ours / baseline
    print(
        f"\natende / baseline requests/s: {ratio:.2f}  (target >= {TARGET_RATIO:.1f}x: "
        + ("met" if ratio >= TARGET_RATIO else f"NOT met, {1 - ratio:.0%} short")
        + ")"
    )
    print(
        f"atende p99 latency: {p99:.1f} ms  (target <= {TARGET_P99_MS:.0f} ms: "
        + ("met" if p99 <= TARGET_P99_MS else f"NOT met, {p99 / TARGET_P99_MS:.1f}x the target")
        + ")"
    )
    print("\ndurability (every 2xx-acknowledged update_id is a row; no update stored twice):")
    for index, pair in enumerate(rounds, 1):
        for phase in pair:
            o = phase.outcome
            missing = len(o.acknowledged) - phase.rows_found
            print(
                f"  {phase.name + (f' #{index}' if len(rounds) > 1 else ''):20} "
                f"{len(o.acknowledged)} acknowledged, {phase.rows_found} found, "
                f"{missing} missing -> {'OK' if missing == 0 else 'FAILED'}; "
                f"{phase.rows_total} rows for {phase.rows_distinct} update_ids; "
                f"{o.duplicates_sent} repeats sent, {o.duplicates_reported} answered as duplicates"
                + (f"; errors: {dict(o.errors)}" if o.errors else "")
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--rounds", type=int, default=1, help="baseline/atende pairs; median")
    parser.add_argument(
        "--duplicate-every", type=int, default=50, help="every Nth POST of a client repeats one"
    )
    parser.add_argument("--users", type=int, default=1000, help="distinct people writing")
    parser.add_argument("--worker", action="store_true", help="run atende's workers too")
    parser.add_argument("--log-level", default="info", help="atende's (default: serve's)")
    parser.add_argument("--database-url", help="a server to create a throwaway database on")
    parser.add_argument("--profile", type=Path, help="cProfile atende's side into this file")
    args = parser.parse_args()

    from config.settings import LogFormat
    from gateway.telemetry.logging import configure_logging

    profiler = cProfile.Profile() if args.profile else None
    with temporary_folder("atende-bench-") as folder:
        log_path = folder / "atende.log"
        # structlog keeps the stream it was configured with: this file, open till the end.
        with open(log_path, "w") as log_file:
            with contextlib.redirect_stderr(log_file):
                configure_logging(args.log_level, LogFormat.JSON)
            rounds = asyncio.run(measure(args, folder, log_path, profiler))
        with open(log_path) as log_file:
            lines = sum(1 for _ in log_file)
        report(args, rounds)
        print(f"\natende wrote {lines} log lines")
        if profiler is not None:
            profiler.dump_stats(args.profile)
            print(f"\natende's side, profiled (figures above are slowed by it): {args.profile}")
            pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(25)


async def measure(
    args: argparse.Namespace, folder: Path, log_path: Path, profiler: cProfile.Profile | None
) -> list[tuple[Phase, Phase]]:
    from config.settings import LogFormat, Settings
    from gateway.app import create_app

    rounds: list[tuple[Phase, Phase]] = []
    spawn = multiprocessing.get_context("spawn")
    async with throwaway_database(args.database_url, folder) as dsn:
        settings = Settings(
            _env_file=None,
            database_url=dsn,
            data_dir=folder,
            channels_file=folder / "absent.yaml",
            telegram_bots=[TELEGRAM_BOT],
            run_worker=args.worker,
            log_level=args.log_level,
            log_format=LogFormat.JSON,
        )
        conn = await asyncpg.connect(dsn)
        await conn.execute(BASELINE_TABLE)
        ours, ours_url = await serve_on_loopback(
            create_app(settings, host="127.0.0.1"), WEBHOOK_PATH
        )
        theirs, theirs_url = await serve_on_loopback(baseline_app(dsn, pool_size=10), WEBHOOK_PATH)
        print(
            f"webhook ingest: {args.concurrency} concurrent POSTs for {args.duration:g} s "
            f"(after {args.warmup:g} s unmeasured), {args.rounds} round(s); every "
            f"{args.duplicate_every}th POST of a client repeats an acknowledged update_id; "
            f"{args.users} people\natende: worker {'on' if args.worker else 'off'}, "
            f"log level {args.log_level} (JSON to {log_path.name}); database: "
            + ("given server" if args.database_url else "embedded PostgreSQL 18 in a temp folder")
            + "; both pools 10 + 10 connections"
        )
        try:
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as executor:
                first = 1
                for _ in range(args.rounds):
                    pair = []
                    for name, url, table, where, profile in (
                        ("baseline (asyncpg)", theirs_url, "bench_baseline_updates",
                         "bot = $1", None),
                        ("atende", ours_url, "chat_interactions",
                         "channel = 'telegram' AND channel_account = $1", profiler),
                    ):  # fmt: skip
                        load = Load(
                            url, first, args.concurrency, args.duration, args.warmup,
                            args.duplicate_every, args.users,
                        )  # fmt: skip
                        phase = await run_phase(name, executor, load, profile)
                        await check_rows(conn, phase, table, where)
                        first = max(phase.outcome.acknowledged, default=first) + 1_000_000
                        pair.append(phase)
                    rounds.append((pair[0], pair[1]))
        finally:
            await theirs.cleanup()
            await ours.cleanup()
            await conn.close()
    return rounds


if __name__ == "__main__":
    main()
