"""`atende eval --seeds`: one report for several splits of the same data.

One split of a small set says little: a wrong suggestion among sixty moves precision by
0.017, and which intents a split leaves out moves coverage by more than most changes do.
atende's figures are read as the mean over several splits, with how far they spread.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gateway.evaluation.report import EvalReport


def _mean(values: Iterable[float | None], digits: int = 4) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), digits) if known else None


def _mean_by_key(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {key: _mean(row.get(key) for row in rows) for key in rows[0]} if rows else {}


def _summed(tables: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for table in tables:
        total.update(table)
    return dict(total)


def _reviews_mean(reports: Sequence[EvalReport]) -> dict[str, Any]:
    if not all(r.reviews for r in reports):
        return {}
    # The counts averaged, and each sector's bar over the splits that set one.
    counts = _mean_by_key(
        [{k: v for k, v in r.reviews.items() if isinstance(v, int | float)} for r in reports]
    )
    bars: dict[str, list[float]] = {}
    for r in reports:
        for sector, bar in r.reviews.get("sector_bars", {}).items():
            bars.setdefault(sector, []).append(bar)
    means = {sector: _mean(values) for sector, values in sorted(bars.items())}
    return {"split": reports[0].reviews["split"], **counts, "sector_bars": means}


def combine(reports: Sequence[EvalReport]) -> EvalReport:
    """One report for several splits of the same data: each rate the mean of the splits'
    (not pooled over their questions: every split counts alike, as the targets are read),
    counts summed (the routing confusion) or averaged (how many were asked), the curve
    averaged bar by bar. One split says little (a wrong suggestion among 60 moves
    precision by 0.017), so the least and most of each headline figure are kept too."""
    first = reports[0]
    curve = [
        _mean_by_key([r.curve[i] for r in reports if i < len(r.curve)])
        for i in range(max(len(r.curve) for r in reports))
    ]
    headlines = [r.headline() for r in reports]
    ranges = {}
    for name in headlines[0]:
        values = [h[name] for h in headlines if h[name] is not None]
        if values:
            ranges[name] = [min(values), max(values)]
    calibration = dict(first.calibration)
    calibration["examples"] = round(_mean(r.calibration.get("examples", 0) for r in reports) or 0)
    return EvalReport(
        history=round(_mean(r.history for r in reports) or 0),
        questions=round(_mean(r.questions for r in reports) or 0),
        threshold=first.threshold,
        min_confidence=first.min_confidence,
        model_id=first.model_id,
        asked={k: round(v or 0) for k, v in _mean_by_key([r.asked for r in reports]).items()},
        calibration=calibration,
        sector_accuracy=_mean(r.sector_accuracy for r in reports),
        sector_accuracy_by_scope=_mean_by_key([r.sector_accuracy_by_scope for r in reports]),
        confusion={
            gold: _summed(r.confusion.get(gold, {}) for r in reports)
            for gold in sorted({g for r in reports for g in r.confusion})
        },
        route_methods=_summed(r.route_methods for r in reports),
        top1=_mean(r.top1 for r in reports),
        hit3=_mean(r.hit3 for r in reports),
        hit3_unsuggested=_mean(r.hit3_unsuggested for r in reports),
        coverage=_mean(r.coverage for r in reports),
        precision=_mean(r.precision for r in reports),
        no_suggestion=_mean_by_key([r.no_suggestion for r in reports]),
        curve=curve,
        # Each split's best, averaged (not the best of the averaged curve); the bars
        # that gave them are each split's own.
        reachable={
            key: _mean(r.reachable.get(key) for r in reports)
            for key in ("coverage", "in_scope_coverage")
            if any(key in r.reachable for r in reports)
        },
        latency_ms=_mean_by_key([r.latency_ms for r in reports]),
        embed_ms_per_message=_mean((r.embed_ms_per_message for r in reports), 2) or 0.0,
        seeds=[seed for r in reports for seed in r.seeds],
        reviews=_reviews_mean(reports),
        splits=[r.as_json() for r in reports],
        ranges=ranges,
    )
