"""The measuring side of search.py: the settings each query runs under, timed passes over
the held-out queries with their recall against numpy's exact top K, and the table and
verdict printed from them."""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
import numpy as np
from machine import Meter
from search_data import DIM, SECTOR_SHARES

K = 10
TARGET_RECALL, TARGET_P95_MS = 0.95, 15.0  # issue 6, on 1,000,000 rows
SEARCH = (
    "SELECT id FROM chat_interactions WHERE embedding IS NOT NULL {sector}"
    "AND embedding_model = $2 ORDER BY embedding <=> $1 LIMIT {k}"
)


def plan_of(node: dict) -> str:
    """The scans of an EXPLAIN (FORMAT JSON) plan, e.g. 'Index Scan ix_..._embedding'."""
    found = []

    def walk(n: dict) -> None:
        if "Scan" in n["Node Type"]:
            found.append(f"{n['Node Type']} {n.get('Index Name', '')}".strip())
        for child in n.get("Plans", []):
            walk(child)

    walk(node["Plan"])
    names = " + ".join(found).replace("ix_chat_interactions_", "ix_")
    names = re.sub(r"ix_sector_embedding_[0-9a-f]{8}_", "ix_sector:", names)
    return names.replace("Parallel Seq Scan", "Parallel Seq").replace("Index Scan", "Index")


@dataclass
class Config:
    label: str
    settings: dict[str, str]
    exact: bool = False


@dataclass
class Result:
    case: str
    config: Config
    plan: str
    latencies_ms: list[float]
    recall: float
    rows: float
    busy: float
    load: float
    ids: list[list[int]] = field(repr=False, default_factory=list)

    def p(self, q: int) -> float:
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]


def configs(efs: Sequence[int], filtered: bool, *, exact: bool = True) -> list[Config]:
    out = [Config("exact (enable_indexscan off)", {"enable_indexscan": "off"}, exact=True)]
    out = out if exact else []
    modes = (("off", "hnsw"), ("relaxed_order", "hnsw relaxed"), ("strict_order", "hnsw strict"))
    for mode, label in modes if filtered else modes[:1]:
        for ef in efs:
            if mode == "strict_order" and ef != efs[0]:
                continue
            out.append(
                Config(
                    f"{label} ef={ef}",
                    {"hnsw.iterative_scan": mode, "hnsw.ef_search": str(ef)},
                )
            )
    return out


ALL_SETTINGS = ("enable_indexscan", "hnsw.iterative_scan", "hnsw.ef_search")


async def run_config(
    conn: asyncpg.Connection,
    case: str,
    config: Config,
    queries: np.ndarray,
    sectors: list[str | None],
    truth: list[list[int]],
    model_id: str,
    passes: int,
) -> list[Result]:
    """`passes` passes over the queries; every pass is returned (the first is the warm-up)."""
    for name in ALL_SETTINGS:
        await conn.execute(f"RESET {name}")
    for name, value in config.settings.items():
        await conn.execute(f"SET {name} = '{value}'")
    filtered = sectors[0] is not None
    sql = SEARCH.format(sector="AND sector = $3 " if filtered else "", k=K)
    statement = await conn.prepare(sql)

    def args(i: int) -> tuple:
        return (queries[i], model_id, sectors[i]) if filtered else (queries[i], model_id)

    # Which scan each query gets (the planner may leave the HNSW index for a seq scan
    # or the sector's btree, depending on ef_search, the table's size and the sector).
    plans: dict[str, int] = {}
    for i in range(len(queries)):
        explain = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args(i))
        name = plan_of(json.loads(explain)[0])
        plans[name] = plans.get(name, 0) + 1
    plan = ", ".join(f"{name} x{n}" if len(plans) > 1 else name for name, n in plans.items())
    results = []
    for _ in range(passes):
        meter = Meter()
        latencies, ids = [], []
        for i in range(len(queries)):
            started = time.perf_counter()
            rows = await statement.fetch(*args(i))
            latencies.append((time.perf_counter() - started) * 1000)
            ids.append([r["id"] for r in rows])
        _, load, busy = meter.read()
        hits = [
            len(set(got) & set(want)) / max(1, min(K, len(want)))
            for got, want in zip(ids, truth, strict=False)
        ]
        results.append(
            Result(
                case, config, plan, latencies, statistics.fmean(hits),
                statistics.fmean(len(x) for x in ids), busy, load, ids,
            )
        )  # fmt: skip
    for name in ALL_SETTINGS:
        await conn.execute(f"RESET {name}")
    return results


def exact_ids(
    matrix: np.ndarray, row_sectors: np.ndarray, queries: np.ndarray, sectors: list[str | None]
) -> list[list[int]]:
    """The exact top K by cosine, computed in numpy over the vectors that were loaded.

    Row i of the load has id i + 1 (a fresh identity column, one COPY stream); the
    script checks this against PostgreSQL's own exact search."""
    names = list(SECTOR_SHARES)
    out = []
    for start in range(0, len(queries), 32):
        # One pass over the matrix for 32 queries: a matrix product, not 32 sweeps.
        block = matrix @ queries[start : start + 32].T
        for j, sector in enumerate(sectors[start : start + 32]):
            sims = block[:, j]
            if sector is not None:
                sims = np.where(row_sectors == names.index(sector), sims, -np.inf)
            top = np.argpartition(-sims, K)[:K]
            top = top[np.argsort(-sims[top])]
            out.append([int(i) + 1 for i in top if np.isfinite(sims[i])])
    return out


def print_table(rows: int, results: list[Result], first_pass: Result) -> None:
    print(
        f"\n{rows:,} rows x {DIM}-d, top {K}, {len(first_pass.latencies_ms)} queries each "
        "(sequential, one connection, warm)"
    )
    header = (
        f"{'filter':16} {'setting':30} {'n':>4} {'recall@10':>9} {'rows':>5} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'mean ms':>8}  {'busy':>4} {'load':>5}  plan"
    )
    print(header)
    print("-" * len(header))
    last_case = None
    for r in [first_pass, *results]:
        label = r.config.label + (" [1st pass]" if r is first_pass else "")
        print(
            f"{r.case if r.case != last_case else '':16} {label:30} {len(r.latencies_ms):4d} "
            f"{r.recall:9.3f} "
            f"{r.rows:5.1f} {r.p(50):8.2f} {r.p(95):8.2f} {statistics.fmean(r.latencies_ms):8.2f}"
            f"  {r.busy:4.0%} {r.load:5.2f}  {r.plan}"
        )
        last_case = r.case
    print(
        "(n: queries timed; recall@10: share of the exact top 10 returned (on the exact lines: "
        "PostgreSQL's exact search against numpy's, a check of the ground truth); rows: "
        "mean rows returned, fewer than 10 = rows missing; busy: all cores busy during that "
        "line's pass, PostgreSQL included; load: 1-min load average at its end)"
    )


def verdict(rows: int, results: list[Result]) -> None:
    print(
        f"\ntarget (issue 6, on 1,000,000 rows): recall@10 >= {TARGET_RECALL} at p95 <= "
        f"{TARGET_P95_MS:g} ms; here on {rows:,} rows:"
    )
    for case in dict.fromkeys(r.case for r in results):
        met = [
            r for r in results
            if r.case == case and not r.config.exact
            and r.recall >= TARGET_RECALL and r.p(95) <= TARGET_P95_MS
        ]  # fmt: skip
        exact = next((r for r in results if r.case == case and r.config.exact), None)
        text = ", ".join(f"{r.config.label} ({r.recall:.3f}, {r.p(95):.1f} ms)" for r in met)
        baseline = f"; exact p95 {exact.p(95):.1f} ms" if exact else ""
        print(f"  {case:16} met by: {text or 'none'}{baseline}")
