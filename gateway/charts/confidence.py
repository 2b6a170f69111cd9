"""A small SVG chart for `atende eval`: what each confidence bar would give.

Coverage and precision of the in-scope messages, and the share of out-of-scope and
missing-intent messages left without a suggestion, by the least confidence asked for;
a dashed line marks the configured bar. Drawn with `gateway.charts.svg`, so the chart needs no
plotting library and the model's name is escaped like any label.
"""

from __future__ import annotations

from gateway.charts.svg import Svg
from gateway.evaluation.report import EvalReport

_W, _H, _PAD = 640, 340, 48
_SERIES = (
    ("coverage", "coverage", "#1f77b4"),
    ("precision", "precision", "#d62728"),
    ("out_of_scope_silent", "out-of-scope: none", "#2ca02c"),
    ("missing_intent_silent", "missing intent: none", "#9467bd"),
)


def _xy(bar: float, value: float) -> tuple[float, float]:
    x = _PAD + bar * (_W - 2 * _PAD)
    y = _H - _PAD - value * (_H - 2 * _PAD)
    return round(x, 1), round(y, 1)


def confidence_svg(report: EvalReport) -> str:
    rows = report.curve
    svg = Svg(_W, _H)
    title = f"{report.dataset or report.model_id}: by least confidence ({report.model_id})"
    svg.text(_PAD, 20, title)
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        _, y = _xy(0, tick)
        svg.line(_PAD, y, _W - _PAD, y, stroke="#ddd")
        svg.text(8, y + 4, f"{tick:.2f}")
        x, _ = _xy(tick, 0)
        svg.text(x - 12, _H - _PAD + 18, f"{tick:.2f}")
    for key, _label, colour in _SERIES:
        points = [_xy(r["min_confidence"] or 0.0, r[key]) for r in rows if r.get(key) is not None]
        if points:
            svg.polyline(points, stroke=colour)
    x, _ = _xy(report.min_confidence, 0)
    svg.line(x, _PAD, x, _H - _PAD, stroke="#555", dash="4 3")
    for i, (_, label, colour) in enumerate(_SERIES):
        svg.text(_PAD + 8 + i * 140, 40, label, fill=colour)
    return svg.render()
