"""A small SVG chart of coverage and precision by suggestion threshold, for `atende eval`.

Written by hand so that the chart needs no plotting library.
"""

from __future__ import annotations

from gateway.evaluation import EvalReport

_W, _H, _PAD = 560, 320, 48


def _xy(threshold: float, value: float, low: float, high: float) -> tuple[float, float]:
    x = _PAD + (threshold - low) / max(high - low, 1e-9) * (_W - 2 * _PAD)
    y = _H - _PAD - value * (_H - 2 * _PAD)
    return round(x, 1), round(y, 1)


def threshold_svg(report: EvalReport) -> str:
    rows = report.sweep
    low, high = rows[0]["threshold"] or 0.0, rows[-1]["threshold"] or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{_W}" height="{_H}" fill="white"/>',
        f'<text x="{_PAD}" y="20">{report.model_id}: coverage and precision by threshold</text>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        _, y = _xy(low, tick, low, high)
        parts.append(f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{y}" y2="{y}" stroke="#ddd"/>')
        parts.append(f'<text x="8" y="{y + 4}">{tick:.2f}</text>')
    for row in rows:
        x, _ = _xy(row["threshold"] or 0.0, 0, low, high)
        parts.append(f'<text x="{x - 12}" y="{_H - _PAD + 18}">{row["threshold"]:.2f}</text>')
    for key, colour in (("coverage", "#1f77b4"), ("precision", "#d62728")):
        points = " ".join(
            "{},{}".format(*_xy(r["threshold"] or 0.0, r[key], low, high))
            for r in rows
            if r[key] is not None
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
    x, _ = _xy(report.threshold, 0, low, high)
    parts.append(
        f'<line x1="{x}" x2="{x}" y1="{_PAD}" y2="{_H - _PAD}" stroke="#555" '
        'stroke-dasharray="4 3"/>'
    )
    parts.append(f'<text x="{_W - 200}" y="40" fill="#1f77b4">coverage</text>')
    parts.append(f'<text x="{_W - 120}" y="40" fill="#d62728">precision</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
