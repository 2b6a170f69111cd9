"""Choosing a sector's confidence bar from operators' reviews (`atende calibrate`): the
lowest bar that reaches the target precision, never below what operators saw."""

from __future__ import annotations

from gateway.services.calibration import (
    CalibrationReport,
    Label,
    calibrate_thresholds,
    choose_threshold,
)
from gateway.services.suggestions import Calibration


def _labels(pairs: list[tuple[float, bool]], sector: str = "vendas") -> list[Label]:
    return [Label(sector, confidence, right) for confidence, right in pairs]


def test_the_bar_is_the_lowest_that_reaches_the_target_precision():
    # Below 0.7 half are wrong; from 0.7 up all are right.
    labels = _labels([(0.55, False), (0.6, True), (0.65, False)] * 4 + [(0.8, True)] * 10)
    bar, note = choose_threshold(labels, target=0.95, min_reviews=5, current=0.5)
    assert bar == 0.7
    assert "precision >= 0.95" in note


def test_too_few_reviews_keep_the_bar():
    bar, note = choose_threshold(
        _labels([(0.9, True)] * 3), target=0.95, min_reviews=5, current=0.5
    )
    assert bar == 0.5
    assert "fewer than 5" in note


def test_the_bar_never_drops_below_what_operators_saw():
    # Every reviewed suggestion was at 0.6 or more and all were right: nothing is known
    # of lower confidences, so the bar stays at the lowest seen, not at 0.05.
    bar, _ = choose_threshold(_labels([(0.62, True)] * 10), target=0.95, min_reviews=5, current=0.7)
    assert bar == 0.6


def test_when_no_bar_reaches_the_target_the_most_precise_one_is_taken():
    labels = _labels([(0.6, False), (0.6, True), (0.9, True), (0.9, False), (0.9, True)] * 3)
    bar, note = choose_threshold(labels, target=0.95, min_reviews=5, current=0.5)
    assert bar == 0.65  # from 0.65 up: 2 of 3 right, better than 3 of 5
    assert "no bar reaches" in note


def test_a_new_model_with_its_own_bar_reports_the_bar_it_will_run_at():
    """A sector with too few reviews keeps no threshold of its own: before it ran at the
    old model's bar, after it runs at the new model's, and the report says both."""
    labels = _labels([(0.9, True)] * 3)
    report = CalibrationReport(before=Calibration(), after=Calibration())
    calibrate_thresholds(
        report,
        labels,
        labels,
        sectors=[labels[0].sector],
        default_bar=0.6,
        default_bar_after=0.55,
        target=0.95,
        min_reviews=5,
    )
    [sector] = report.sectors
    assert (sector.before.threshold, sector.after.threshold) == (0.6, 0.55)
    assert report.after.sector_thresholds == {}
