"""A small SVG chart of coverage and precision by suggestion threshold, for `atende eval`.

Drawn with `gateway.svg`, so the chart needs no plotting library and the model's name is
escaped like any label.
"""

from __future__ import annotations

from gateway.evaluation import EvalReport
from gateway.svg import Svg

_W, _H, _PAD = 560, 320, 48


def _xy(threshold: float, value: float, low: float, high: float) -> tuple[float, float]:
    x = _PAD + (threshold - low) / max(high - low, 1e-9) * (_W - 2 * _PAD)
    y = _H - _PAD - value * (_H - 2 * _PAD)
    return round(x, 1), round(y, 1)


def threshold_svg(report: EvalReport) -> str:
    rows = report.sweep
    low, high = rows[0]["threshold"] or 0.0, rows[-1]["threshold"] or 1.0
    svg = Svg(_W, _H)
    svg.text(_PAD, 20, f"{report.model_id}: coverage and precision by threshold")
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        _, y = _xy(low, tick, low, high)
        svg.line(_PAD, y, _W - _PAD, y, stroke="#ddd")
        svg.text(8, y + 4, f"{tick:.2f}")
    for row in rows:
        x, _ = _xy(row["threshold"] or 0.0, 0, low, high)
        svg.text(x - 12, _H - _PAD + 18, f"{row['threshold']:.2f}")
    for key, colour in (("coverage", "#1f77b4"), ("precision", "#d62728")):
        points = [_xy(r["threshold"] or 0.0, r[key], low, high) for r in rows if r[key] is not None]
        svg.polyline(points, stroke=colour)
    x, _ = _xy(report.threshold, 0, low, high)
    svg.line(x, _PAD, x, _H - _PAD, stroke="#555", dash="4 3")
    svg.text(_W - 200, 40, "coverage", fill="#1f77b4")
    svg.text(_W - 120, 40, "precision", fill="#d62728")
    return svg.render()
