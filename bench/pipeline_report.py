"""What pipeline_latency.py prints about its history and its load: how near the held-out
texts come to the history, then atende's own receipt-to-suggestion record over the
measured window, the poller's split of it, the window over time, and whether routing and
suggestions were right."""

from __future__ import annotations

import collections
import statistics

import numpy as np
from machine import describe_machine

TARGET_P95_MS = 150.0  # issue 6


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values), q))


def spread(values: list[float]) -> str:
    return f"p50 {pct(values, 50):7.1f}  p95 {pct(values, 95):7.1f}  p99 {pct(values, 99):7.1f} ms"


def describe_history(probes, probe_vectors, sources, source_vectors, vectors, origin, threshold):
    """How near the held-out texts come to the sources and to the derived rows: the
    derived rows should look like more of the same, not like copies of the queries."""
    intents = np.array([s.intent for s in sources])
    wanted = np.array([p.intent for p in probes])
    to_sources = probe_vectors @ source_vectors.T
    to_history = probe_vectors @ vectors.T
    near_s, near_h = to_sources.max(1), to_history.max(1)
    same_s = (intents[to_sources.argmax(1)] == wanted).mean()
    same_h = (intents[origin[to_history.argmax(1)]] == wanted).mean()
    derived = vectors[len(source_vectors) :]
    own = (derived * source_vectors[origin[len(source_vectors) :]]).sum(1)
    print(
        f"history vectors: {len(vectors)} rows = the {len(source_vectors)} sources + "
        f"{len(derived)} derived (cosine to their own source: p5 {pct(own.tolist(), 5):.3f}, "
        f"p50 {pct(own.tolist(), 50):.3f}, p95 {pct(own.tolist(), 95):.3f})\n"
        f"  {len(probes)} held-out texts, nearest neighbour among the sources: cosine p50 "
        f"{np.median(near_s):.3f}, {np.mean(near_s >= threshold):.0%} >= {threshold}, same "
        f"intent {same_s:.0%}; among all {len(vectors)} rows: p50 {np.median(near_h):.3f}, "
        f"{np.mean(near_h >= threshold):.0%} >= {threshold}, same intent {same_h:.0%}"
    )


def report(args, plan, expected, measured_from, rows, seen, machine, sent_s, backlog, drain_s,
           history_intents):  # fmt: skip
    measured = {u: s for u, s in plan.items() if u >= measured_from}
    by_key = {r["update_key"]: r for r in rows}
    ok = [s for s in measured.values() if s.status == 200]
    done = [r for r in rows if r["pipeline_ms"] is not None]
    latencies = [r["pipeline_ms"] for r in done]
    suggested = [r for r in done if r["suggested"]]
    print(
        f"\nload: {len(plan)} POSTs open-loop at {args.rate:g}/s ({args.warmup:g} s unmeasured, "
        f"then {args.duration:g} s measured) sent in {sent_s:.1f} s; POST left late by "
        f"p99 {pct([s.lag_ms for s in plan.values()], 99):.1f} ms, max "
        f"{max(s.lag_ms for s in plan.values()):.1f} ms"
    )
    print("  during the load: " + describe_machine(machine))
    errors = {}
    for s in measured.values():
        if s.status != 200:
            errors[str(s.status)] = errors.get(str(s.status), 0) + 1
    print(
        f"  webhook POSTs (measured): {len(measured)} sent, {len(ok)} answered 200"
        + (f", errors {errors}" if errors else "")
        + f"; POST latency {spread([s.post_ms for s in ok])}"
    )
    print(
        f"  not yet routed/suggested when the last POST was answered: {backlog}; all "
        f"measured messages done {drain_s:.1f} s later"
        + ("" if len(done) == len(measured) else f" (gave up after {args.drain:g} s)")
    )
    print(
        f"\nreceipt to suggestion, atende's record (chat_interactions.pipeline_ms), "
        f"{len(measured)} measured messages:"
    )
    print(
        f"  {len(rows)} stored, {len(done)} routed and triaged, {len(suggested)} got a "
        f"suggestion ({len(suggested) / max(len(done), 1):.0%})"
    )
    complete = len(done) == len(measured)
    mean = statistics.fmean(latencies) if latencies else float("nan")
    print(
        f"  pipeline_ms {spread(latencies)}   mean {mean:.1f} ms, "
        f"max {max(latencies, default=float('nan')):.1f} ms"
        + ("" if complete else "  (ONLY the finished ones: the rest took longer)")
    )
    # A batch is written in its transaction, whose start is every row's pipeline_done_at.
    batches = sorted(collections.Counter(r["done_at"] for r in done).values())
    if batches:
        print(
            f"  written in {len(batches)} batches (rows of them a batch: mean "
            f"{statistics.fmean(batches):.2f}, p50 {pct(batches, 50):.0f}, p95 "
            f"{pct(batches, 95):.0f}, max {batches[-1]})"
        )
    p95 = pct(latencies, 95) if complete else float("inf")
    print(
        f"  target p95 <= {TARGET_P95_MS:.0f} ms: "
        + ("met" if p95 <= TARGET_P95_MS else
           f"NOT met ({p95 / TARGET_P95_MS:.1f}x the target)" if complete else "NOT met")
    )  # fmt: skip

    # Where the time goes, from the poller (resolution: its period).
    commit, post_to_visible = [], []
    for key, r in by_key.items():
        if r["pipeline_ms"] is None:
            continue
        finished = r["created"] + r["pipeline_ms"] / 1000
        if key in seen.done:
            commit.append((seen.done[key] - finished) * 1000)
            post_to_visible.append((seen.done[key] - plan[int(key)].sent_wall) * 1000)
    every = args.poll * 1000
    # The vector is written with the routing and suggestion, so they become visible together.
    print(f"\nsplit by the poller (every {every:.0f} ms, so +-{every:.0f} ms each):")
    print(f"  routed/suggested -> committed, visible (rest of batch) {spread(commit)}")
    print(f"  POST sent -> suggestion visible (end to end)           {spread(post_to_visible)}")

    # Over time: does the worker keep up?
    print("\nover the measured window (by the second a POST was due):")
    slice_s = 10
    for start in range(0, int(args.duration), slice_s):
        keys = [str(u) for u, s in measured.items()
                if start <= s.due - args.warmup < start + slice_s]  # fmt: skip
        values = [by_key[k]["pipeline_ms"] for k in keys
                  if k in by_key and by_key[k]["pipeline_ms"] is not None]  # fmt: skip
        print(
            f"  {start:3d}-{start + slice_s:3d} s  {len(keys):4d} sent  {len(values):4d} done  "
            + spread(values)
        )

    # Sanity of the data: the suggestions and sectors should mostly be right.
    right_sector = sum(1 for r in done if r["sector"] == expected[int(r["update_key"])].sector)
    print(
        f"\nrouting: {right_sector / max(len(done), 1):.0%} to the held-out text's sector "
        f"(methods: {count_of(r['method'] for r in done)})"
    )
    right_answer = sum(
        1
        for r in suggested
        if history_intents.get(r["source"]) == expected[int(r["update_key"])].intent
    )
    print(
        f"  suggestions whose answer is of the held-out text's intent: {right_answer} of "
        f"{len(suggested)} ({right_answer / max(len(suggested), 1):.0%})"
    )


def count_of(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out
