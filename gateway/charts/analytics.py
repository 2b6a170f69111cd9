"""The analytics charts as SVG, drawn from a report alone (pure: no I/O, no clock).

Titles are left to the page that shows a chart; a chart's own words (outcomes, the legend
for no sector, "no data") come in the language asked for. Every label goes through
`gateway.charts.svg`, which escapes it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from gateway.charts.svg import Svg
from gateway.schemas.analytics import Analytics

_W, _H = 720, 320
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 16, 36, 44
PALETTE = ("#1f6feb", "#1a7f37", "#bf8700", "#cf222e", "#8250df", "#0a7ea4", "#bc4c00",
           "#57606a", "#e85aad", "#4d2d00")  # fmt: skip
_WORDS = {
    "pt-BR": {
        "approved": "aprovadas",
        "edited": "editadas",
        "rejected": "rejeitadas",
        "no_sector": "(sem setor)",
        "no_data": "Sem dados no período",
        "no_failures": "Nenhuma falha de envio no período",
        "empty_queue": "Ninguém esperando resposta",
        "unknown": "(sem motivo)",
    },
    "en": {
        "approved": "approved",
        "edited": "edited",
        "rejected": "rejected",
        "no_sector": "(no sector)",
        "no_data": "No data in this range",
        "no_failures": "No failed deliveries in this range",
        "empty_queue": "Nobody is waiting for an answer",
        "unknown": "(no reason)",
    },
}
BAND_LABELS = {"lt_5m": "< 5 min", "5m_30m": "5–30 min", "30m_2h": "30 min–2 h",
               "2h_24h": "2–24 h", "gt_24h": "> 24 h"}  # fmt: skip
_OUTCOME_COLOURS = {"approved": "#1a7f37", "edited": "#bf8700", "rejected": "#cf222e"}
_LABEL_CHARS = 46


def _ceiling(value: int) -> int:
    """A round top for the y axis: 1, 2 or 5 times a power of ten, at least `value`."""
    if value <= 4:
        return 4
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 4, 5, 10) if step * power >= value)


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _empty(svg: Svg, message: str) -> str:
    svg.text(svg.width / 2, svg.height / 2, message, anchor="middle", fill="#667085", size=14)
    return svg.render()


def _y_axis(svg: Svg, top: int) -> Callable[[float], float]:
    """Grid lines and their values; returns the y of a value."""
    plot = _H - _TOP - _BOTTOM

    def y(value: float) -> float:
        return _H - _BOTTOM - value / top * plot

    for i in range(5):
        value = top * i / 4
        svg.line(_LEFT, y(value), _W - _RIGHT, y(value), stroke="#dde1e7")
        svg.text(_LEFT - 6, y(value) + 4, f"{value:g}", anchor="end", fill="#667085")
    return y


def _bucket_label(start: datetime, bucket: str, previous: datetime | None) -> str:
    if bucket == "day":
        return start.strftime("%d/%m")
    if previous is None or previous.date() != start.date():
        return start.strftime("%d/%m %Hh")
    return start.strftime("%Hh")


def sector_name(sector: str | None, lang: str) -> str:
    return sector if sector is not None else _WORDS[lang]["no_sector"]


def messages_chart(report: Analytics, lang: str) -> str:
    """Messages per bucket, stacked by sector, with a legend of the sectors."""
    svg = Svg(_W, _H)
    buckets = report.messages.buckets
    if not report.messages.total:
        return _empty(svg, _WORDS[lang]["no_data"])
    sectors = [c.sector for c in report.messages.by_sector if c.count]
    colour = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(sectors)}
    x = _LEFT + 8
    for sector in sectors:
        name = _short(sector_name(sector, lang))
        if x + 14 + 7 * len(name) > _W:  # no room left: the bars' tooltips still name it
            svg.text(x, 19, "…")
            break
        svg.rect(x, 10, 10, 10, fill=colour[sector])
        svg.text(x + 14, 19, name)
        x += 14 + 7 * len(name) + 16
    y = _y_axis(svg, _ceiling(max(b.total for b in buckets)))
    slot = (_W - _LEFT - _RIGHT) / len(buckets)
    width = max(slot * 0.7, 1)
    every = math.ceil(len(buckets) / 12)  # at most about twelve labels under the axis
    labelled: datetime | None = None
    for i, bucket in enumerate(buckets):
        left = _LEFT + i * slot + (slot - width) / 2
        base = 0
        for count in sorted(bucket.sectors, key=lambda c: sectors.index(c.sector)):
            svg.rect(
                left,
                y(base + count.count),
                width,
                y(base) - y(base + count.count),
                fill=colour[count.sector],
                title=f"{sector_name(count.sector, lang)}: {count.count}",
            )
            base += count.count
        if i % every == 0:
            svg.text(
                left + width / 2,
                _H - _BOTTOM + 16,
                _bucket_label(bucket.bucket, report.bucket, labelled),
                anchor="middle",
                fill="#667085",
            )
            labelled = bucket.bucket
    return svg.render()


def _columns(svg: Svg, bars: list[tuple[str, int, str, str]]) -> str:
    """Vertical bars (label, value, colour, text over the bar), evenly spaced."""
    y = _y_axis(svg, _ceiling(max(value for _, value, _, _ in bars)))
    slot = (_W - _LEFT - _RIGHT) / len(bars)
    width = min(slot * 0.6, 120)
    for i, (label, value, colour, over) in enumerate(bars):
        left = _LEFT + i * slot + (slot - width) / 2
        svg.rect(left, y(value), width, y(0) - y(value), fill=colour, title=f"{label}: {value}")
        svg.text(left + width / 2, y(value) - 6, over, anchor="middle", weight="bold")
        svg.text(left + width / 2, _H - _BOTTOM + 18, label, anchor="middle")
    return svg.render()


def reviews_chart(report: Analytics, lang: str) -> str:
    """How many suggestions operators approved as they were, edited and rejected."""
    svg = Svg(_W, _H)
    reviews = report.reviews
    if not reviews.reviewed:
        return _empty(svg, _WORDS[lang]["no_data"])
    bars = []
    for outcome in ("approved", "edited", "rejected"):
        count = getattr(reviews, outcome)
        share = getattr(reviews, f"{outcome}_share") or 0.0
        bars.append(
            (_WORDS[lang][outcome], count, _OUTCOME_COLOURS[outcome], f"{count} ({share:.0%})")
        )
    return _columns(svg, bars)


def queue_chart(report: Analytics, lang: str) -> str:
    """Messages waiting for a human, by how long they have waited."""
    svg = Svg(_W, _H)
    if not report.queue.waiting:
        return _empty(svg, _WORDS[lang]["empty_queue"])
    colours = ("#1a7f37", "#57a05a", "#bf8700", "#bc4c00", "#cf222e")
    bars = [
        (BAND_LABELS[band.band], band.count, colours[i], str(band.count))
        for i, band in enumerate(report.queue.bands)
    ]
    return _columns(svg, bars)


def failures_chart(report: Analytics, lang: str, *, most: int = 8) -> str:
    """Failed deliveries by reason, the most frequent first, as horizontal bars."""
    failures = report.delivery_failures.by_reason
    rows = len(failures[:most]) + (1 if len(failures) > most else 0)
    height = max(120, 28 * rows + 24)
    svg = Svg(_W, height)
    if not failures:
        return _empty(svg, _WORDS[lang]["no_failures"])
    shown = [
        (": ".join(p for p in (f.code, f.reason) if p) or _WORDS[lang]["unknown"], f.count)
        for f in failures[:most]
    ]
    if len(failures) > most:
        rest = sum(f.count for f in failures[most:])
        shown.append((f"+{len(failures) - most}", rest))
    label_width = 330
    top = max(count for _, count in shown)
    span = _W - label_width - _RIGHT - 40
    for i, (label, count) in enumerate(shown):
        y = 12 + i * 28
        svg.text(label_width - 8, y + 14, _short(label), anchor="end")
        width = max(count / top * span, 2)
        svg.rect(label_width, y, width, 20, fill="#cf222e", title=f"{label}: {count}")
        svg.text(label_width + width + 6, y + 14, str(count), weight="bold")
    return svg.render()


CHARTS: dict[str, Callable[[Analytics, str], str]] = {
    "messages": messages_chart,
    "reviews": reviews_chart,
    "failures": failures_chart,
    "queue": queue_chart,
}
