"""Many consoles open at once: what each live feed costs the gateway and the database.

Every operator's console keeps `GET /api/v1/operator/events` open. `atende serve` (gateway
and worker, the default embedding model) on a throwaway database, with a fake Telegram Bot
API on loopback; for each count in `--streams`, that many event streams are opened with an
operator's key, then customers write through the Telegram webhook at `--rate` messages a
second for `--seconds` seconds. It prints, per count:
- stored: the webhook's POST to its `message.stored` event, on every stream (p50 / p95);
- triaged: the POST to `message.triaged` (routed and suggested), on every stream;
- the CPU the gateway's process and the database's processes used in that time, in cores.
The baseline is the first count (one console), in the same run.

    python bench/console_streams.py [--streams 1,10,30] [--rate 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import aiohttp
from console_day import quantile, serving
from harness import WEBHOOK_PATH, Fleet, run_in_temporary_folder
from loadgen import HEADERS, telegram_update
from machine import load_average

USERS = 500
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int], children: bool = False) -> float:
    """User and system CPU the processes `pids` have used so far (with their ended
    children's, if `children`)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11 : 15 if children else 13])
    return total / TICKS


def database_cpu() -> float:
    """The CPU seconds of the PostgreSQL server's processes (the embedded one, or a local
    one), with the connections' that have ended (their postmaster's children)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
    return cpu_seconds(pids, children=True)


class Stream:
    """One console's event stream: when each marked message's events arrived."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], float] = {}
        self.ready = asyncio.Event()

    async def read(self, session: aiohttp.ClientSession, url: str, key: str) -> None:
        headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
        async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout()) as response:
            assert response.status == 200, await response.text()
            self.ready.set()
            async for raw in response.content:
                line = raw.decode().strip()
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    mark = event["message"]["message"].rsplit("(", 1)[-1]
                    self.seen.setdefault((event["kind"], mark), time.perf_counter())


async def phase(
    fleet: Fleet, session: aiohttp.ClientSession, key: str, count: int, args, first_id: int
) -> dict[str, float]:
    streams = [Stream() for _ in range(count)]
    readers = [
        asyncio.create_task(s.read(session, f"{fleet.base}/api/v1/operator/events", key))
        for s in streams
    ]
    await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in streams)), 60)
    await asyncio.sleep(1)
    gateway = [fleet.processes["gateway"].pid]
    cpu_before = cpu_seconds(gateway), database_cpu()
    started_at = time.perf_counter()
    posted: dict[str, float] = {}
    total = int(args.rate * args.seconds)
    for n in range(total):
        update_id = first_id + n
        await asyncio.sleep(max(0.0, started_at + n / args.rate - time.perf_counter()))
        posted[f"pedido {update_id})"] = time.perf_counter()
        async with session.post(
            fleet.base + WEBHOOK_PATH, data=telegram_update(update_id, USERS), headers=HEADERS
        ) as response:
            assert response.status == 200, await response.text()
    await asyncio.sleep(5)  # the last messages' events
    elapsed = time.perf_counter() - started_at
    cpu_after = cpu_seconds(gateway), database_cpu()
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    figures: dict[str, float] = {"streams": count}
    for kind in ("message.stored", "message.triaged"):
        delays = [
            stream.seen[(kind, mark)] - at
            for mark, at in posted.items()
            for stream in streams
            if (kind, mark) in stream.seen
        ]
        name = kind.split(".")[1]
        figures[f"{name}_missing"] = len(posted) * count - len(delays)
        figures[f"{name}_p50"] = quantile(delays, 0.5)
        figures[f"{name}_p95"] = quantile(delays, 0.95)
    figures["gateway_cores"] = (cpu_after[0] - cpu_before[0]) / elapsed
    figures["database_cores"] = (cpu_after[1] - cpu_before[1]) / elapsed
    return figures


def report(row: dict[str, float]) -> None:
    ms = {k: v * 1000 for k, v in row.items() if k.endswith(("p50", "p95"))}
    print(
        f"{row['streams']:>4.0f} streams"
        f"  stored {ms['stored_p50']:5.0f} / {ms['stored_p95']:5.0f} ms"
        f"  triaged {ms['triaged_p50']:5.0f} / {ms['triaged_p95']:5.0f} ms"
        f"  missing {row['stored_missing'] + row['triaged_missing']:.0f}"
        f"  gateway {row['gateway_cores']:.2f} cores  database {row['database_cores']:.2f} cores",
        flush=True,
    )


async def measure(args: argparse.Namespace, folder: Path) -> int:
    async with serving(args.database_url, folder) as (fleet, _), aiohttp.ClientSession() as session:
        key = fleet.run("keys", "create", "--role", "operator", "--name", "ana").strip()
        print(f"load average (1 min) at start: {load_average():.2f}; {os.cpu_count()} cores")
        print(f"{args.rate:g} messages/s for {args.seconds:g} s per count of streams")
        # Warm up: the model loaded, the first messages routed.
        await phase(fleet, session, key, 1, argparse.Namespace(rate=5, seconds=2), 1)
        rows = []
        for n, count in enumerate(args.streams):
            rows.append(await phase(fleet, session, key, count, args, 1_000 + n * 100_000))
            report(rows[-1])
        base = rows[0]
        print(f"\nbaseline: {base['streams']:.0f} stream(s), same run")
        for row in rows[1:]:
            ratio = {k: row[k] / base[k] for k in ("stored_p95", "triaged_p95")}
            extra = {k: row[k] - base[k] for k in ("gateway_cores", "database_cores")}
            print(
                f"  {row['streams']:>4.0f} streams: stored p95 x{ratio['stored_p95']:.2f},"
                f" triaged p95 x{ratio['triaged_p95']:.2f},"
                f" gateway {extra['gateway_cores']:+.2f} cores,"
                f" database {extra['database_cores']:+.2f} cores"
            )
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--streams", type=lambda s: [int(n) for n in s.split(",")], default=[1, 10, 30]
    )
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--database-url", default=None, help="a server to use, not embedded")
    args = parser.parse_args()
    return run_in_temporary_folder(measure, args, "atende-console-streams-")


if __name__ == "__main__":
    sys.exit(main())
