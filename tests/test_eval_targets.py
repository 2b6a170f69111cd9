"""What `atende eval` says the decision reaches at its best (gateway.evaluation.targets)."""

from __future__ import annotations

from gateway.evaluation.targets import coverage_at_precision, reachable_on_curve


def _row(bar: float, coverage: float, precision: float | None, out: float, missing: float):
    return {
        "min_confidence": bar,
        "coverage": coverage,
        "precision": precision,
        "out_of_scope_silent": out,
        "missing_intent_silent": missing,
    }


def test_the_reachable_coverage_is_the_best_bar_where_every_target_holds():
    curve = [
        _row(0.0, 0.95, 0.80, 0.60, 0.10),  # precision and silences short
        _row(0.4, 0.70, 0.97, 0.95, 0.88),  # missing intents not silent enough
        _row(0.5, 0.66, 0.94, 0.95, 0.91),  # precision short
        _row(0.55, 0.62, 0.96, 0.95, 0.91),
        _row(0.6, 0.62, 0.97, 0.96, 0.93),  # as far, at a higher bar
        _row(0.7, 0.50, 1.00, 0.99, 0.99),
    ]
    assert reachable_on_curve(curve) == (0.62, 0.55)


def test_no_bar_where_the_targets_hold_reaches_nothing():
    curve = [_row(0.5, 0.7, 0.9, 0.95, 0.95), _row(0.9, 0.0, None, 1.0, 1.0)]
    assert reachable_on_curve(curve) == (None, None)


def test_in_scope_coverage_cuts_the_ranking_where_precision_last_holds():
    # Nineteen right, then a wrong and a right at one confidence: 20 of 21 is 0.952.
    ranked = [(0.9, True)] * 19 + [(0.8, False), (0.8, True), (0.7, False), (0.6, False)]
    assert coverage_at_precision(ranked, 30) == 0.7
    # Unordered input is ranked by confidence first.
    assert coverage_at_precision(list(reversed(ranked)), 30) == 0.7


def test_a_bar_cannot_part_messages_of_equal_confidence():
    # The first nine are right, but the wrong tenth shares their confidence (0.9 of ten
    # is under 0.95), so no bar suggests any of them at that precision.
    assert coverage_at_precision([(0.9, True)] * 9 + [(0.9, False)], 20) == 0.0
    assert coverage_at_precision([(0.95, True)] * 9 + [(0.9, False)], 20) == 0.45


def test_nothing_asked_or_nothing_past_the_floor_reaches_nothing():
    assert coverage_at_precision([], 0) == 0.0
    assert coverage_at_precision([], 12) == 0.0
