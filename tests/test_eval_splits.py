"""`atende eval --seeds`: how several splits' reports make one (gateway.evaluation.splits)."""

from __future__ import annotations

import pytest

from gateway.evaluation.report import EvalReport
from gateway.evaluation.splits import combine


def _report(seed: int, top1: float, precision: float | None, routed: dict[str, int]) -> EvalReport:
    return EvalReport(
        history=100 + seed,
        questions=50,
        threshold=0.88,
        min_confidence=0.55,
        model_id="e5-small:test",
        asked={"in_scope": 30, "missing_intent": 10, "out_of_scope": 10},
        calibration={"source": "calibrated", "examples": 200 + 2 * seed},
        sector_accuracy=0.8,
        sector_accuracy_by_scope={"in_scope": 0.9 + seed / 100, "missing_intent": 0.5},
        confusion={"financeiro": routed},
        route_methods={"answers": seed},
        top1=top1,
        hit3=0.95,
        coverage=0.5 + seed / 10,
        precision=precision,
        no_suggestion={"out_of_scope": 1.0, "missing_intent": 0.9},
        curve=[
            {"min_confidence": 0.0, "coverage": 1.0, "precision": top1},
            {"min_confidence": 0.5, "coverage": 0.1 * seed, "precision": precision},
        ],
        reachable={"coverage": 0.5 + seed / 100, "bar": 0.5, "in_scope_coverage": 0.7},
        latency_ms={"p50": 5.0 * seed, "p95": 10.0 * seed},
        embed_ms_per_message=2.0,
        seeds=[seed],
    )


def test_several_splits_make_one_report_of_their_means_and_ranges():
    one = _report(1, top1=0.8, precision=1.0, routed={"financeiro": 3, "vendas": 1})
    three = _report(3, top1=0.9, precision=0.9, routed={"financeiro": 2, "suporte": 2})
    report = combine([one, three])
    assert report.seeds == [1, 3]
    assert report.top1 == pytest.approx(0.85)
    assert report.coverage == pytest.approx(0.7)
    assert report.precision == pytest.approx(0.95)
    assert report.sector_accuracy_by_scope["in_scope"] == pytest.approx(0.92)
    assert report.history == 102
    assert report.calibration["examples"] == 204
    assert report.ranges["top1"] == [0.8, 0.9]
    assert report.ranges["coverage"] == [0.6, 0.8]
    assert report.ranges["missing_intent_silent"] == [0.9, 0.9]
    # Counts are summed, the curve averaged bar by bar, the latency figures averaged.
    assert report.confusion == {"financeiro": {"financeiro": 5, "vendas": 1, "suporte": 2}}
    assert report.route_methods == {"answers": 4}
    assert report.curve[1]["coverage"] == pytest.approx(0.2)
    assert report.curve[1]["precision"] == pytest.approx(0.95)
    assert report.latency_ms == {"p50": 10.0, "p95": 20.0}
    # What each split reaches at its best is averaged; the bars stay each split's own.
    assert report.reachable == {"coverage": 0.52, "in_scope_coverage": 0.7}
    assert [split["reachable"]["bar"] for split in report.splits] == [0.5, 0.5]
    # Each split is kept whole, as a single run's JSON.
    assert [split["top1"] for split in report.splits] == [0.8, 0.9]
    assert report.splits[0] == one.as_json()


def test_a_split_with_nothing_suggested_does_not_count_towards_the_precision():
    report = combine([_report(1, 0.8, None, {}), _report(2, 0.9, 0.96, {})])
    assert report.precision == pytest.approx(0.96)
    assert report.ranges["precision"] == [0.96, 0.96]
    assert report.curve[1]["precision"] == pytest.approx(0.96)


def test_the_reviews_before_the_splits_are_averaged_and_each_sector_s_bar_too():
    one, two = _report(1, 0.8, 1.0, {}), _report(2, 0.9, 0.96, {})
    one.reviews = {"split": "dev", "arrived": 500, "approved": 260, "sector_bars": {"vendas": 0.3}}
    two.reviews = {
        "split": "dev",
        "arrived": 500,
        "approved": 270,
        "sector_bars": {"vendas": 0.5, "admin": 0.4},
    }
    reviews = combine([one, two]).reviews
    assert reviews == {
        "split": "dev",
        "arrived": 500,
        "approved": 265,
        # Each sector's over the splits whose reviews set it.
        "sector_bars": {"admin": 0.4, "vendas": 0.4},
    }
    # Without reviews in every split, the combined report has none.
    assert combine([_report(1, 0.8, 1.0, {}), two]).reviews == {}
