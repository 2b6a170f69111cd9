"""Resident memory of atende's two processes: the gateway (`atende serve` with
ATENDE_RUN_WORKER=false) and the worker (`atende worker`, default embedding model).

Each is measured at three points: after it starts; after its first embedding (the
gateway embeds only a semantic search's query, so one search; the worker embeds, routes
and suggests one Telegram message); and after some load (`--messages` webhooks through the
gateway, all embedded, routed and suggested by the worker, plus `--searches` searches).
The baseline, measured in the same run, is a bare `python -c 'import aiohttp'` process.

RSS counts every page the process maps, shared libraries whole; PSS (from
/proc/<pid>/smaps_rollup) divides each shared page by the processes sharing it, so PSS
is what the process adds to the machine. Peak is VmHWM, the highest RSS so far.

Both processes share a throwaway database (history.py) holding `--history`
human-validated rows derived from `--sources` embedded Bitext texts; with the default
sizes the setup takes about a minute, and the figures do not depend on the history's
size, which lives in PostgreSQL.

    python bench/memory.py [--history 10000] [--sources 300] [--messages 500]
        [--searches 50] [--concurrency 8] [--database-url postgresql://admin@host/db]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import asyncpg
from harness import ATENDE_SCRIPT, WEBHOOK_PATH, Fleet, run_in_temporary_folder, wait_pipeline_done
from history import bitext_split, derive, embed_all, load_history, migrated_database
from loadgen import HEADERS, telegram_update
from machine import MachineWatch, describe_machine, load_average

MIB = 1024 * 1024
USERS = 1000  # people writing


def memory_of(pid: int) -> dict[str, float]:
    """RSS, PSS and peak RSS in MiB (PSS NaN where smaps_rollup is missing)."""
    out = {"rss": float("nan"), "pss": float("nan"), "peak": float("nan")}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("Rss", "Pss"):
                out[name.lower()] = int(rest.split()[0]) * 1024 / MIB
    except OSError:
        pass
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name == "VmHWM":
            out["peak"] = int(rest.split()[0]) * 1024 / MIB
        elif name == "VmRSS" and out["rss"] != out["rss"]:
            out["rss"] = int(rest.split()[0]) * 1024 / MIB
    return out


async def wait_for_log(fleet: Fleet, name: str, event: str, within: float = 300) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < within:
        fleet.check_alive()
        if f'"event": "{event}"' in fleet.read_log(name):
            return time.perf_counter() - started
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no {event} in {fleet.log(name)} after {within} s")


async def post_updates(url: str, first: int, count: int, texts: list[str], concurrency: int):
    statuses: dict[int, int] = {}
    queue = list(range(first, first + count))
    async with aiohttp.ClientSession() as session:

        async def client() -> None:
            while queue:
                update_id = queue.pop()
                text = texts[update_id % len(texts)]
                async with session.post(
                    url, data=telegram_update(update_id, USERS, text), headers=HEADERS
                ) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return statuses


async def search(base: str, key: str, texts: list[str]) -> dict[int, int]:
    statuses: dict[int, int] = {}
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as session:
        for text in texts:
            async with session.post(
                f"{base}/api/v1/messages/search",
                json={"query": text, "limit": 5},
                headers=headers,
            ) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
    return statuses


async def bare_python() -> dict[str, float]:
    """A Python process that imported aiohttp and waits, measured after 3 s."""
    bare = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import aiohttp, time; time.sleep(600)"
    )
    try:
        await asyncio.sleep(3)
        return memory_of(bare.pid)
    finally:
        bare.kill()
        await bare.wait()


def row(name: str, stage: str, m: dict[str, float]) -> str:
    return f"{name:27} {stage:40} {m['rss']:8.1f} {m['pss']:8.1f} {m['peak']:8.1f}"


async def measure(args: argparse.Namespace, folder: Path) -> None:
    from config.settings import Settings
    from gateway.embeddings import create_embedder

    settings = Settings(_env_file=None)
    sources, held = bitext_split(0.4, 6)
    sources = sources[: args.sources]
    print(
        f"memory: default embedding provider {settings.embedding_provider.value}; "
        f"{args.history} validated rows from {len(sources)} Bitext texts; machine: "
        f"{os.cpu_count()} cores, load average (1 min) now "
        f"{load_average()}"
    )
    lines: list[str] = []

    # The baseline first, while nothing else of this run is loaded.
    lines.append(row("python -c 'import aiohttp'", "after import", await bare_python()))

    async with migrated_database(args.database_url, folder) as dsn:
        embedder = create_embedder(settings)
        try:
            vectors = await embed_all(embedder, [s.message for s in sources])
        finally:
            await embedder.aclose()
        history, origin = derive(vectors, [s.intent for s in sources], args.history, 6,
                                 pull=0.5, noise=0.25)  # fmt: skip
        await load_history(dsn, sources, history, origin, embedder.model_id)
        del history, vectors, embedder

        fleet = Fleet(folder, dsn, ATENDE_SCRIPT)
        # An admin key from `atende keys create`, as an operator would make one.
        created = await asyncio.to_thread(
            fleet.run, "keys", "create", "--role", "admin", "--name", "bench"
        )
        key = created.split()[0]
        gateway = fleet.start("gateway", "serve", ATENDE_RUN_WORKER="false")
        worker = None
        watch = MachineWatch({
            "atende serve": lambda: [gateway.pid],
            "atende worker": lambda: [worker.pid] if worker is not None else [],
        })  # fmt: skip
        watch.start()
        try:
            await fleet.wait_live(within=120.0)
            await asyncio.sleep(1)
            lines.append(row("atende serve (worker off)", "after start", memory_of(gateway.pid)))
            status = await search(fleet.base, key, [held[0].message])
            lines.append(
                row("", f"after 1st embedding (1 search: {status})", memory_of(gateway.pid))
            )

            worker = fleet.start("worker", "worker")
            await wait_for_log(fleet, "worker", "worker_started")
            await asyncio.sleep(1)
            started_at = memory_of(worker.pid)
            url = fleet.base + WEBHOOK_PATH
            await post_updates(url, 1, 1, [held[1].message], 1)
            await wait_pipeline_done(dsn, ["1"], 300)
            first = memory_of(worker.pid)

            texts = [h.message for h in held]
            started = time.perf_counter()
            sent, statuses = await asyncio.gather(
                post_updates(url, 1000, args.messages, texts, args.concurrency),
                search(fleet.base, key, texts[-args.searches :]),
            )
            await wait_pipeline_done(dsn, [str(u) for u in range(1000, 1000 + args.messages)], 600)
            took = time.perf_counter() - started
            lines.append(row("", f"after load ({args.messages} webhooks, {args.searches} searches)",
                             memory_of(gateway.pid)))  # fmt: skip
            lines.append(row("atende worker", "after start", started_at))
            lines.append(row("", "after 1st embedding + suggestion", first))
            lines.append(row("", f"after load ({args.messages} messages)", memory_of(worker.pid)))
            conn = await asyncpg.connect(dsn)
            done = await conn.fetchval(
                "SELECT count(*) FROM chat_interactions WHERE channel = 'telegram' "
                "AND pipeline_done_at IS NOT NULL"
            )
            await conn.close()
        finally:
            machine = await watch.stop()
            fleet.stop(signal.SIGINT)

    print(f"\n{'process':27} {'when':40} {'RSS MiB':>8} {'PSS MiB':>8} {'peak MiB':>8}")
    print("\n".join(lines))
    print(
        f"\nload: webhooks answered {sent}, searches answered {statuses}; {done} Telegram "
        f"messages embedded, routed and suggested by the worker; load took {took:.1f} s"
    )
    print("while the processes ran: " + describe_machine(machine))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=10_000, help="human-validated rows")
    parser.add_argument("--sources", type=int, default=300, help="Bitext texts embedded for them")
    parser.add_argument("--messages", type=int, default=500, help="webhooks in the load")
    parser.add_argument("--searches", type=int, default=50, help="searches in the load")
    parser.add_argument("--concurrency", type=int, default=8, help="webhooks in flight")
    parser.add_argument("--database-url", help="a server to create a throwaway database on")
    args = parser.parse_args()
    run_in_temporary_folder(measure, args, "atende-bench-")


if __name__ == "__main__":
    main()
