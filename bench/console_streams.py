"""Many consoles open at once: what each live feed costs the gateway and the database.

Every operator's console keeps `GET /api/v1/operator/events` open. `atende serve` (gateway
and worker, the default embedding model) on a throwaway database, with a fake Telegram Bot
API on loopback; for each count in `--streams`, that many event streams are opened with an
operator's key, then customers write through the Telegram webhook at `--rate` messages a
second for `--seconds` seconds. It prints, per count:
- stored: the webhook's POST to its `message.stored` event, on every stream (p50 / p95);
- triaged: the POST to `message.triaged` (routed and suggested), on every stream;
- the CPU the gateway's process and the database's processes used in that time, in cores.
With `--consoles`, each stream is read as the console reads it: every event reads the
queue (`GET /operator/queue?per_page=100`) 150 ms later, the events meanwhile sharing that
read, and operators close each message `--answer-after` seconds after its triage, so the
queue stays as long as a team at work keeps it. It prints besides:
- listed: the POST to the first queue read that lists the message, on every console;
- the queue reads all the consoles made, a second.
The baseline is the first count (one console), in the same run.

    python bench/console_streams.py [--streams 1,10,30] [--rate 20] [--seconds 20]
                                    [--consoles] [--answer-after 3]
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


def mark_of(message: dict) -> str:
    return message["message"].rsplit("(", 1)[-1]


class Stream:
    """One console's event stream: when each marked message's events arrived."""

    def __init__(self, session: aiohttp.ClientSession, base: str, key: str) -> None:
        self.seen: dict[tuple[str, str], float] = {}
        self.ready = asyncio.Event()
        self.session, self.base = session, base
        self.headers = {"Authorization": f"Bearer {key}"}

    async def read(self) -> None:
        url = f"{self.base}/api/v1/operator/events"
        headers = {**self.headers, "Accept": "text/event-stream"}
        timeout = aiohttp.ClientTimeout()
        async with self.session.get(url, headers=headers, timeout=timeout) as response:
            assert response.status == 200, await response.text()
            self.ready.set()
            async for raw in response.content:
                line = raw.decode().strip()
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    self.seen.setdefault(
                        (event["kind"], mark_of(event["message"])), time.perf_counter()
                    )
                    self.on_event(event)

    def on_event(self, event: dict) -> None:
        pass

    def close(self) -> None:
        pass


class Console(Stream):
    """A stream read as the console reads it (console.js's scheduleRefresh): an event reads
    the queue 150 ms later, and the events meanwhile share that read."""

    def __init__(self, session: aiohttp.ClientSession, base: str, key: str) -> None:
        super().__init__(session, base, key)
        self.listed: dict[str, float] = {}  # when a read first listed each marked message
        self.reads = 0
        self._timer: asyncio.Task[None] | None = None
        self._reads: set[asyncio.Task[None]] = set()

    def on_event(self, event: dict) -> None:
        if self._timer is None:
            self._timer = asyncio.create_task(self._read_later())

    async def _read_later(self) -> None:
        await asyncio.sleep(0.15)
        self._timer = None  # the events from now on schedule the next read
        url = f"{self.base}/api/v1/operator/queue?per_page=100"
        async with self.session.get(url, headers=self.headers) as response:
            assert response.status == 200, await response.text()
            page = await response.json()
        self.reads += 1
        now = time.perf_counter()
        for item in page["items"]:
            self.listed.setdefault(mark_of(item), now)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class Operators(Stream):
    """The operators at work: each message leaves the queue `after` seconds after it was
    triaged (closed without an answer: nothing to deliver), so the queue stays as long as
    a busy team keeps it, not growing through the run."""

    def __init__(self, session: aiohttp.ClientSession, base: str, key: str, after: float) -> None:
        super().__init__(session, base, key)
        self.after = after
        self.tasks: set[asyncio.Task[None]] = set()

    def on_event(self, event: dict) -> None:
        if event["kind"] == "message.triaged":
            task = asyncio.create_task(self._close(event["message"]["id"]))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _close(self, message_id: int) -> None:
        await asyncio.sleep(self.after)
        url = f"{self.base}/api/v1/operator/messages/{message_id}/close"
        body = {"reason": "no_reply_needed"}
        async with self.session.post(url, json=body, headers=self.headers) as response:
            assert response.status == 200, await response.text()

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()


async def phase(
    fleet: Fleet, session: aiohttp.ClientSession, key: str, count: int, args, first_id: int
) -> dict[str, float]:
    kind = Console if args.consoles else Stream
    streams = [kind(session, fleet.base, key) for _ in range(count)]
    team = Operators(session, fleet.base, key, args.answer_after)
    everyone = [*streams, team] if args.consoles else streams
    readers = [asyncio.create_task(s.read()) for s in everyone]
    await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in everyone)), 60)
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
    for stream in everyone:
        stream.close()
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    figures: dict[str, float] = {"streams": count}
    seen = {
        name: [[s.seen.get((f"message.{name}", mark)) for s in streams] for mark in posted]
        for name in ("stored", "triaged")
    }
    consoles = [s for s in streams if isinstance(s, Console)]
    if consoles:
        seen["listed"] = [[c.listed.get(mark) for c in consoles] for mark in posted]
        figures["queue_reads"] = sum(c.reads for c in consoles) / elapsed
    for name, times in seen.items():
        delays = [
            when - at
            for at, row in zip(posted.values(), times, strict=True)
            for when in row
            if when is not None
        ]
        figures[f"{name}_missing"] = len(posted) * count - len(delays)
        figures[f"{name}_p50"] = quantile(delays, 0.5)
        figures[f"{name}_p95"] = quantile(delays, 0.95)
    figures["gateway_cores"] = (cpu_after[0] - cpu_before[0]) / elapsed
    figures["database_cores"] = (cpu_after[1] - cpu_before[1]) / elapsed
    return figures


def report(row: dict[str, float]) -> None:
    ms = {k: v * 1000 for k, v in row.items() if k.endswith(("p50", "p95"))}
    listed = (
        f"  listed {ms['listed_p50']:5.0f} / {ms['listed_p95']:5.0f} ms"
        f"  {row['queue_reads']:5.1f} queue reads/s"
        if "queue_reads" in row
        else ""
    )
    missing = sum(v for k, v in row.items() if k.endswith("_missing"))
    print(
        f"{row['streams']:>4.0f} {'consoles' if listed else 'streams'}"
        f"  stored {ms['stored_p50']:5.0f} / {ms['stored_p95']:5.0f} ms"
        f"  triaged {ms['triaged_p50']:5.0f} / {ms['triaged_p95']:5.0f} ms{listed}"
        f"  missing {missing:.0f}"
        f"  gateway {row['gateway_cores']:.2f} cores  database {row['database_cores']:.2f} cores",
        flush=True,
    )


async def measure(args: argparse.Namespace, folder: Path) -> int:
    async with serving(args.database_url, folder) as (fleet, _), aiohttp.ClientSession() as session:
        key = fleet.run("keys", "create", "--role", "operator", "--name", "ana").strip()
        print(f"load average (1 min) at start: {load_average():.2f}; {os.cpu_count()} cores")
        print(f"{args.rate:g} messages/s for {args.seconds:g} s per count of streams")
        # Warm up: the model loaded, the first messages routed.
        warm = argparse.Namespace(**{**vars(args), "rate": 5, "seconds": 2})
        await phase(fleet, session, key, 1, warm, 1)
        rows = []
        for n, count in enumerate(args.streams):
            rows.append(await phase(fleet, session, key, count, args, 1_000 + n * 100_000))
            report(rows[-1])
        base = rows[0]
        print(f"\nbaseline: {base['streams']:.0f} stream(s), same run")
        for row in rows[1:]:
            ratio = {k: row[k] / base[k] for k in ("stored_p95", "triaged_p95")}
            if args.consoles:
                listed = row["listed_p95"] / base["listed_p95"]
                print(f"  {row['streams']:>4.0f} consoles: listed p95 x{listed:.2f}")
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
    parser.add_argument(
        "--consoles",
        action="store_true",
        help="read each stream as the console does: the queue read after events, and "
        "operators closing each message --answer-after seconds after its triage",
    )
    parser.add_argument("--answer-after", type=float, default=3.0)
    parser.add_argument("--database-url", default=None, help="a server to use, not embedded")
    args = parser.parse_args()
    return run_in_temporary_folder(measure, args, "atende-console-streams-")


if __name__ == "__main__":
    sys.exit(main())
