"""Readings of the machine that the benchmarks print next to their figures: how busy all
cores were, the load average, and the CPU time of named groups of processes, all from
/proc, so that contention on a shared machine shows beside the result it bends."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[int, int]:
    """Busy and total jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _cpu_s(stat: Path) -> float:
    """User + system CPU seconds from a /proc stat file (0 once the process is gone)."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads)."""
    return _cpu_s(Path(f"/proc/{pid}/stat"))


def thread_cpu_s(pid: int, tid: int) -> float:
    """User + system CPU seconds of one thread of a process (the main one: tid = pid)."""
    return _cpu_s(Path(f"/proc/{pid}/task/{tid}/stat"))


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def postgres_pids(folder: Path, external: bool) -> Callable[[], list[int]]:
    """The processes of the embedded PostgreSQL a bench started in `folder` (none to
    count on a server it was given)."""
    if external:
        return lambda: []
    pidfile = folder / "pg" / "postmaster.pid"

    def pids() -> list[int]:
        with contextlib.suppress(OSError, ValueError):
            master = int(pidfile.read_text().split("\n", 1)[0])
            return [master, *children_of(master)]
        return []

    return pids


class CostPerMessage:
    """This process's CPU, PostgreSQL's and wall time a message, in ms, one reading a
    round, for a bench that compares ways of doing the same work in one run."""

    KINDS = ("python", "postgres", "wall")

    def __init__(self, postgres: Callable[[], list[int]]) -> None:
        self._postgres = postgres
        self.rounds: dict[str, dict[str, list[float]]] = {}

    async def measure(self, name: str, messages: int, work: Callable[[], Awaitable[Any]]) -> None:
        """Run `work` (which handles `messages` messages) and record its cost as `name`'s."""
        pg_before = sum(process_cpu_s(p) for p in self._postgres())
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        await work()
        readings = (
            time.process_time() - cpu_before,
            sum(process_cpu_s(p) for p in self._postgres()) - pg_before,
            time.perf_counter() - wall_before,
        )
        figure = self.rounds.setdefault(name, {k: [] for k in self.KINDS})
        for kind, seconds in zip(self.KINDS, readings, strict=True):
            figure[kind].append(1000 * seconds / messages)

    def heading(self, messages: int) -> str:
        rounds = max(len(r["python"]) for r in self.rounds.values())
        return (
            f"per message, median of {rounds} rounds of {messages} "
            "(CPU ms: this process, PostgreSQL; wall ms):"
        )

    def median(self, name: str, kind: str) -> float:
        return statistics.median(self.rounds[name][kind])

    def line(self, name: str, width: int = 30) -> str:
        python, postgres, wall = (self.median(name, k) for k in self.KINDS)
        each = ", ".join(f"{v:.2f}" for v in self.rounds[name]["python"])
        return (
            f"  {name:{width}} python {python:5.2f}  postgres {postgres:5.2f}  "
            f"together {python + postgres:5.2f}  wall {wall:5.2f}   (rounds: python {each})"
        )


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


class Meter:
    """Wall time, load average and the whole machine's busy fraction over a phase."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.cpu = machine_cpu()

    def read(self) -> tuple[float, float, float]:
        busy, total = machine_cpu()
        share = (busy - self.cpu[0]) / max(total - self.cpu[1], 1)
        return time.perf_counter() - self.started, os.getloadavg()[0], share


class MachineWatch:
    """CPU of the whole machine and of named process groups between start() and stop(),
    with the 1-minute load average sampled every second, so contention is visible."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self._groups = groups  # name -> function returning the pids to count now
        self._loads: list[float] = []
        self._task: asyncio.Task | None = None
        self._cpu: dict[str, dict[int, float]] = {}

    def _sample_groups(self) -> dict[str, dict[int, float]]:
        return {name: {p: process_cpu_s(p) for p in pids()} for name, pids in self._groups.items()}

    async def _sample_loads(self) -> None:
        while True:
            self._loads.append(load_average())
            await asyncio.sleep(1.0)

    def start(self) -> None:
        self._started = time.perf_counter()
        self._machine = machine_cpu()
        self._cpu = self._sample_groups()
        self._task = asyncio.create_task(self._sample_loads())

    async def stop(self) -> dict[str, float]:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        seconds = time.perf_counter() - self._started
        busy, total = machine_cpu()
        out = {
            "seconds": seconds,
            "busy": (busy - self._machine[0]) / max(total - self._machine[1], 1),
            "load_first": self._loads[0] if self._loads else float("nan"),
            "load_max": max(self._loads, default=float("nan")),
            "load_last": self._loads[-1] if self._loads else float("nan"),
        }
        cores = os.cpu_count() or 1
        counted = 0.0
        for name, before in self._cpu.items():
            now = {p: process_cpu_s(p) for p in self._groups[name]()}
            used = sum(now[p] - before.get(p, 0.0) for p in now)
            out[f"cpu:{name}"] = used / seconds  # cores
            counted += used / seconds
        out["cpu:everything else"] = max(0.0, out["busy"] * cores - counted)
        return out


async def checkpointer(conn: Any) -> tuple[int, int]:
    """Checkpoints finished and the 8 kB buffers checkpoints wrote so far, from the
    server's statistics (PostgreSQL 17 moved them to pg_stat_checkpointer)."""
    if await conn.fetchval("SELECT to_regclass('pg_catalog.pg_stat_checkpointer')"):
        query = "SELECT num_timed + num_requested, buffers_written FROM pg_stat_checkpointer"
    else:
        query = (
            "SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint FROM pg_stat_bgwriter"
        )
    done, written = await conn.fetchrow(query)
    return int(done), int(written)


def checkpointer_since(before: tuple[int, int], after: tuple[int, int]) -> dict[str, float]:
    """What the checkpointer did between two `checkpointer` readings, for describe_machine:
    its writes compete with the gateway for the disk and the cores."""
    return {
        "checkpoints": after[0] - before[0],
        "checkpoint_mb": (after[1] - before[1]) * 8192 / 1e6,
    }


def describe_machine(watch: dict[str, float]) -> str:
    cores = os.cpu_count() or 1
    parts = [
        f"load average (1 min) {watch['load_first']:.2f} at start, {watch['load_last']:.2f} "
        f"at end, {watch['load_max']:.2f} at most; all {cores} cores {watch['busy']:.0%} busy"
    ]
    parts.append(
        "CPU in cores: "
        + ", ".join(f"{k[4:]} {v:.2f}" for k, v in watch.items() if k.startswith("cpu:"))
    )
    # A process's main thread (`main:` readings), where an asyncio program runs its event
    # loop: the rest is its other threads' (for atende, the embedding engine's).
    for key, main in watch.items():
        if key.startswith("main:") and f"cpu:{key[5:]}" in watch:
            whole = watch[f"cpu:{key[5:]}"]
            parts[1] += (
                f"; of {key[5:]}'s, the main thread (event loop) {main:.2f},"
                f" the other threads {whole - main:.2f}"
            )
    if "checkpoints" in watch:
        parts[0] += (
            f"; PostgreSQL's checkpointer: {watch['checkpoints']:.0f} checkpoints finished, "
            f"{watch['checkpoint_mb']:.0f} MB written"
        )
    return "; ".join(parts[:1]) + "\n  " + parts[1]
