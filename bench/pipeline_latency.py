"""Receipt to suggestion: Telegram messages at a steady rate through `atende serve`, with
a large human-validated history loaded, and the default embedding model.

Setup (see history.py): a throwaway database with atende's schema from its migrations;
`--history` human-validated rows (answer, sector and a vector each) COPied in, derived
from the Bitext sample's texts embedded with atende's embedder; then the HNSW index built
as migration 0001 defines it. The gateway is `atende serve` in a process of its own, with
its workers on (the default), JSON logs at level info, and one Telegram bot.

The load is open-loop: a POST goes out every 1/`--rate` seconds whatever the answers, with
a held-out Bitext text (never stored in the history), `--warmup` seconds unmeasured and
then `--duration` seconds measured. A few messages sent and finished before that load the
model and the sectors' examples, as the first messages after a start would.

The figure is atende's own record: `chat_interactions.pipeline_ms`, milliseconds from the
row's `created_at` (the webhook's insert) to the routing/suggestion UPDATE (what
GET /api/v1/pipeline/latency summarises). A poller in this process (every `--poll`
seconds) also notes when each row's vector and its suggestion became visible, which
splits that time and adds the wait for the worker's commit. Baselines from the same run,
measured before the gateway starts (pipeline_baselines.py): atende's embedder on one text
(the floor any pipeline pays per message), one kNN query alone, and atende's own routing +
suggestion of one already-embedded message. The report is printed by pipeline_report.py.

    python bench/pipeline_latency.py [--rate 50] [--duration 60] [--warmup 5]
        [--history 100000] [--held-out 0.4] [--drain 300] [--poll 0.025] [--profile FILE]
        [--database-url postgresql://admin@host/db] [--seed 6] [--embeddings-cache FILE]
        [--calibrate] [--answers per-source|per-intent] [--worker-process]

With `--calibrate`, `atende calibrate` runs on the history before the baselines, as an
operator would run it: a dry run, then `--apply`; both times are printed, and the gateway
and the route + suggest baseline then work under what was applied.

`--worker-process` runs the gateway as README's "Commands" allows for more load: `atende
serve` with `ATENDE_RUN_WORKER=false` takes the webhooks, and an `atende worker` beside it
embeds, routes and suggests, each process with its own interpreter lock.

`--answers per-intent` gives every history row of an intent one answer (its first text's),
as a knowledge base holds one validated answer per question. By default each row keeps its
own Bitext text's response, so an intent's hundred-odd answers, all meaning the same, split
its vote: the calibrated confidence, which reads the lead of the best answer over the
runner-up, then rarely clears the bar.

Without `--database-url` a throwaway embedded PostgreSQL runs in a temporary folder; with
it, a throwaway database is created on that server (the URL needs CREATEDB) and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
from harness import ATENDE_SCRIPT, WEBHOOK_PATH, Fleet, run_in_temporary_folder, wait_pipeline_done
from history import bitext_split, derive, embed_all, load_history, migrated_database
from loadgen import HEADERS, telegram_update
from machine import (
    MachineWatch,
    checkpointer,
    checkpointer_since,
    load_average,
    postgres_pids,
    thread_cpu_s,
)
from pipeline_baselines import measure_baselines
from pipeline_report import count_of, describe_history, report

USERS = 1000  # people writing


# --- the load ----------------------------------------------------------------------------


@dataclass
class Sent:
    text: str
    due: float  # seconds after the start of the schedule
    sent_wall: float = float("nan")
    lag_ms: float = float("nan")  # how late the POST left
    post_ms: float = float("nan")
    status: int | str = 0


@dataclass
class Seen:
    done: dict[str, float] = field(default_factory=dict)  # update_key -> wall time


async def send_open_loop(url: str, plan: dict[int, Sent]) -> None:
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as session:

        async def post(update_id: int, item: Sent) -> None:
            item.sent_wall = time.time()
            began = time.perf_counter()
            try:
                async with session.post(
                    url, data=telegram_update(update_id, USERS, item.text), headers=HEADERS
                ) as response:
                    await response.read()
                    item.status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                item.status = type(exc).__name__
            item.post_ms = (time.perf_counter() - began) * 1000

        tasks = []
        start = loop.time() + 0.2
        for update_id, item in plan.items():
            delay = start + item.due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            item.lag_ms = (loop.time() - start - item.due) * 1000
            tasks.append(asyncio.create_task(post(update_id, item)))
        await asyncio.gather(*tasks)


async def poll_visible(dsn: str, seen: Seen, every: float, stop: asyncio.Event) -> None:
    """Note when each Telegram row's routing/suggestion (written with its vector) became
    visible."""
    conn = await asyncpg.connect(dsn)
    low = 0
    try:
        while not stop.is_set():
            rows = await conn.fetch(
                "SELECT id, update_key, pipeline_done_at IS NOT NULL AS d FROM chat_interactions"
                " WHERE id >= $1 AND channel = 'telegram' ORDER BY id",
                low,
            )
            now = time.time()
            for row in rows:
                if row["d"]:
                    seen.done.setdefault(row["update_key"], now)
            pending = [r["id"] for r in rows if not r["d"]]
            low = pending[0] if pending else (rows[-1]["id"] + 1 if rows else low)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
    finally:
        await conn.close()


async def measure(args: argparse.Namespace, folder: Path) -> None:
    from config.settings import Settings
    from gateway.embeddings import create_embedder

    settings = Settings(_env_file=None)
    embedder = create_embedder(settings)
    threshold = settings.effective_suggestion_threshold
    sources, held = bitext_split(args.held_out, args.seed, per_intent=args.answers == "per-intent")
    if args.max_sources:
        sources = sources[: args.max_sources]
    print(
        f"pipeline latency: default embedding provider {settings.embedding_provider.value} "
        f"({embedder.model_id}, {embedder.dim}-d), suggestion threshold {threshold}; "
        f"Bitext: {len(sources)} source texts ({args.answers} answers), {len(held)} held out\n"
        f"machine: {os.cpu_count()} cores, load average (1 min) now "
        f"{load_average()}; database: "
        + ("given server" if args.database_url else "embedded PostgreSQL 18 in a temp folder")
    )
    probes = held[: args.probes]
    async with migrated_database(args.database_url, folder) as dsn:
        # -- the history --
        started = time.perf_counter()
        both = await embed_all(
            embedder, [t.message for t in (*sources, *probes)], cache=args.embeddings_cache
        )
        source_vectors, probe_vectors = both[: len(sources)], both[len(sources) :]
        took = time.perf_counter() - started
        if took < 1:  # they came from --embeddings-cache
            print(f"\n{len(both)} texts' vectors read from {args.embeddings_cache}")
        else:
            print(
                f"\nembedded {len(both)} texts with atende's embedder in {took:.1f} s "
                f"({len(both) / took:.0f} texts/s in batches of 32)"
            )
        vectors, origin = derive(
            source_vectors, [s.intent for s in sources], args.history, args.seed,
            pull=args.pull, noise=args.noise,
        )  # fmt: skip
        describe_history(probes, probe_vectors, sources, source_vectors, vectors, origin, threshold)
        history_intents = {f"h{i}": sources[o].intent for i, o in enumerate(origin.tolist())}
        seconds = await load_history(dsn, sources, vectors, origin, embedder.model_id)
        print(
            f"history: {len(vectors)} human-validated rows COPied in {seconds['copy']:.1f} s, "
            f"HNSW index built in {seconds['hnsw']:.1f} s, the sectors' own in "
            f"{seconds['sector_hnsw']:.1f} s, VACUUM ANALYZE "
            f"{seconds['analyze']:.1f} s, CHECKPOINT {seconds['checkpoint']:.1f} s"
        )
        del vectors

        # -- the gateway --
        # cProfile sees the event loop's thread only: the model runs in C on its own thread.
        profiled = (
            [sys.executable, "-m", "cProfile", "-o", str(args.profile)] if args.profile else []
        )
        settings = dict(setting.split("=", 1) for setting in args.setting)
        if args.worker_process:
            settings["ATENDE_RUN_WORKER"] = "false"
        fleet = Fleet(
            folder, dsn, [*profiled, *ATENDE_SCRIPT], ATENDE_LOG_LEVEL=args.log_level, **settings
        )
        if args.calibrate:
            # What an operator's `atende calibrate --apply` stores: the gateway then ranks
            # neighbours under the projection it learnt (more rows read, each re-scored).
            # Before the baselines, so that route + suggest is measured as the gateway runs.
            # First a dry run, as an operator would: it embeds the answers and keeps their
            # vectors, which `--apply` reads back.
            began = time.perf_counter()
            fleet.run("calibrate")
            dry_s = time.perf_counter() - began
            began = time.perf_counter()
            summary = fleet.run("calibrate", "--apply").strip().splitlines()
            print(
                f"\natende calibrate: dry run {dry_s:.1f} s, then --apply "
                f"{time.perf_counter() - began:.1f} s (answers' vectors kept): {summary[0]}"
            )
            print("\n".join(f"  {line}" for line in summary[1:4]))

        await measure_baselines(dsn, embedder, probes, probe_vectors)
        await embedder.aclose()

        process = fleet.start("atende", "serve")
        # The README's split: the gateway takes webhooks, a process of its own triages.
        worker = fleet.start("worker", "worker") if args.worker_process else None
        try:
            try:
                ready_s = await fleet.wait_live(within=120.0)
            except RuntimeError:
                print(fleet.read_log("atende")[-3000:])
                raise
            url = fleet.base + WEBHOOK_PATH
            warm = {900_000 + i: Sent(held[-1 - i].message, 0.5 * i) for i in range(3)}
            await send_open_loop(url, warm)
            warm_s = await wait_pipeline_done(dsn, [str(u) for u in warm], 300)
            print(
                f"\natende serve (pid {process.pid}) answered after {ready_s:.1f} s; the first 3 "
                f"messages (model load, sectors' examples) were done {warm_s:.1f} s after sending"
                f"; settings: {' '.join(args.setting) or 'the defaults'}"
            )
            await run_load(args, dsn, url, held, process, worker, folder, history_intents)
        finally:
            fleet.stop(signal.SIGINT)
        if args.profile is not None:
            import pstats

            print(f"\natende serve, profiled (its figures above are slowed by it): {args.profile}")
            pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(30)
            pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(40)
        for name in fleet.processes:  # the gateway's, and the worker's when it ran apart
            lines = fleet.read_log(name).splitlines()
            levels = count_of(event.get("level", "?") for event in fleet.events(name))
            print(f"\n{name}'s log: {len(lines)} lines, by level {levels}")
            for line in lines:
                if '"level": "error"' in line or '"level": "warning"' in line:
                    print("  " + line[:300])


async def run_load(args, dsn, url, held, process, worker, folder: Path, history_intents) -> None:
    rate = args.rate
    total = round(rate * (args.warmup + args.duration))
    first = 1_000_000
    measured_from = first + round(rate * args.warmup)
    plan = {first + i: Sent(held[i % len(held)].message, i / rate) for i in range(total)}
    expected = {first + i: held[i % len(held)] for i in range(total)}
    seen = Seen()
    stop = asyncio.Event()
    poller = asyncio.create_task(poll_visible(dsn, seen, args.poll, stop))
    groups = {"atende serve": lambda: [process.pid]}
    if worker is not None:
        groups["atende worker"] = lambda: [worker.pid]
    watch = MachineWatch({
        **groups,
        "postgres": postgres_pids(folder, bool(args.database_url)),
        "bench (sender, poller)": lambda: [os.getpid()],
    })  # fmt: skip
    conn = await asyncpg.connect(dsn)
    checkpoints = await checkpointer(conn)
    watch.start()
    main_thread = thread_cpu_s(process.pid, process.pid)
    started = time.perf_counter()
    await send_open_loop(url, plan)
    sent_s = time.perf_counter() - started
    main_thread = thread_cpu_s(process.pid, process.pid) - main_thread
    machine = await watch.stop()
    machine["main:atende serve"] = main_thread / machine["seconds"]
    machine.update(checkpointer_since(checkpoints, await checkpointer(conn)))
    keys = [str(u) for u in plan if u >= measured_from]
    backlog = await conn.fetchval(
        "SELECT count(*) FROM chat_interactions WHERE channel = 'telegram' "
        "AND pipeline_done_at IS NULL"
    )
    drain_s = await wait_pipeline_done(dsn, keys, args.drain)
    stop.set()
    await poller
    rows = await conn.fetch(
        """SELECT c.update_key, extract(epoch FROM c.created_at)::float8 AS created,
                  c.pipeline_ms, c.suggestion IS NOT NULL AS suggested, c.sector,
                  extract(epoch FROM c.pipeline_done_at)::float8 AS done_at,
                  c.route_reason->>'method' AS method, h.external_id AS source
           FROM chat_interactions c
           LEFT JOIN chat_interactions h ON h.id = (c.suggestion->'source_ids'->>0)::bigint
           WHERE c.channel = 'telegram' AND c.update_key = ANY($1::text[])""",
        keys,
    )
    await conn.close()
    report(args, plan, expected, measured_from, rows, seen, machine, sent_s, backlog, drain_s,
           history_intents)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds first")
    parser.add_argument("--history", type=int, default=100_000, help="human-validated rows")
    parser.add_argument("--held-out", type=float, default=0.4, help="Bitext share sent, not stored")
    parser.add_argument(
        "--max-sources", type=int, default=0, help="fewer source texts (development)"
    )
    parser.add_argument("--probes", type=int, default=200, help="held-out texts for baselines")
    parser.add_argument(
        "--pull", type=float, default=0.5, help="most a derived row moves to a same-intent text"
    )
    parser.add_argument(
        "--noise", type=float, default=0.25, help="most noise, x a source difference"
    )
    parser.add_argument(
        "--profile", type=Path, help="run the gateway under cProfile, into this file"
    )
    parser.add_argument("--drain", type=float, default=300.0, help="longest wait for the backlog")
    parser.add_argument(
        "--poll", type=float, default=0.025, help="seconds between visibility polls"
    )
    parser.add_argument("--log-level", default="info", help="atende's (default: serve's)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--embeddings-cache", type=Path, help="an .npz keeping the Bitext vectors between runs"
    )
    parser.add_argument("--database-url", help="a server to create a throwaway database on")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="run `atende calibrate`, then with --apply, on the history before the baselines",
    )
    parser.add_argument(
        "--answers",
        choices=["per-source", "per-intent"],
        default="per-source",
        help="the history's answers: each text's own Bitext response, or one per intent",
    )
    parser.add_argument(
        "--worker-process",
        action="store_true",
        help="the gateway with ATENDE_RUN_WORKER=false and an `atende worker` beside it",
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="ATENDE_NAME=VALUE",
        help="a setting for the gateway (repeatable), e.g. ATENDE_EMBEDDING_BATCH_SIZE=4",
    )
    args = parser.parse_args()
    run_in_temporary_folder(measure, args, "atende-bench-")


if __name__ == "__main__":
    main()
