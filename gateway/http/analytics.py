"""Analytics routes: the numbers as JSON, the same numbers as CSV, and charts as SVG.

The CSV is one long table, `metric,sector,bucket,detail,value`, a row per number, which a
spreadsheet pivots as it likes and which gains rows, never columns, as metrics are added:
- `messages` (sector, bucket): messages received; `messages_by_sector` (sector) and
  `messages_total`: the same over the range;
- `suggested_messages`, `suggestion_share`: messages that got a suggestion, and their share;
- `reviews` and `review_share` (detail: approved, edited, rejected, or replaced: the edits
  that wrote another answer, counted among the edited too), and `reviewed`;
- `pipeline_ms` (detail: count, p50 or p95): receipt to suggestion;
- `delivery_failures` (detail: "code: reason") and `delivery_failures_total`;
- `queue_waiting`, `queue_oldest_seconds`, `queue_p50_seconds`, `queue_age` (detail: band),
  `queue_late` (waiting past the response target);
- `response_target_seconds`; `answered`, `answered_within_target`, `within_target_share`
  and `response_seconds` (detail: p50 or p95): the range's messages answered, against the
  target; the same per sector as `sector_answered`, `sector_answered_within_target`,
  `sector_within_target_share` and `sector_response_seconds`;
- `sector_reviewed`, `acceptance_rate`, `precision` (sector; detail: 7d or 30d).
An empty sector on a per-sector metric is a message not routed (yet); an empty value is
a number that does not exist (a share of nothing).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

from aiohttp import web

from config.errors import NotFound
from gateway.charts.analytics import CHARTS
from gateway.http import keys
from gateway.http.operations import Operation, PathParam, allow
from gateway.http.parsing import parse_query
from gateway.http.responses import json_model
from gateway.schemas.analytics import Analytics, AnalyticsQuery, ChartQuery
from gateway.services.access import Role
from gateway.services.analytics import AnalyticsService
from storage.models import CLOSE_REASONS

Row = tuple[str, str | None, datetime | None, str, float | int | None]
CSV_HEADER = ("metric", "sector", "bucket", "detail", "value")
# A chart opened on its own is a document of the API's origin: it may run nothing, load
# nothing and style itself only with its own attributes.
_SVG_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


async def _report(request: web.Request, query: AnalyticsQuery) -> Analytics:
    service: AnalyticsService = request.app[keys.ANALYTICS]
    window = service.window(query.start, query.end, query.bucket, now=datetime.now(UTC))
    return await service.report(window)


async def analytics(request: web.Request) -> web.Response:
    return json_model(await _report(request, parse_query(request, AnalyticsQuery)))


# Each operator's numbers, a CSV row each, named operator_<figure>.
OPERATOR_FIGURES = ("answered", "approved", "edited", "rejected", "closed", "p50_response_seconds")


def csv_rows(report: Analytics) -> Iterator[Row]:
    """Every number of the report as one row of the long table (see the module's doc)."""
    for bucket in report.messages.buckets:
        for count in bucket.sectors:
            yield "messages", count.sector, bucket.bucket, "", count.count
    for count in report.messages.by_sector:
        yield "messages_by_sector", count.sector, None, "", count.count
    yield "messages_total", None, None, "", report.messages.total
    yield "suggested_messages", None, None, "", report.suggestions.suggested
    yield "suggestion_share", None, None, "", report.suggestions.share
    reviews = report.reviews
    yield "reviewed", None, None, "", reviews.reviewed
    for outcome in ("approved", "edited", "rejected", "replaced"):
        yield "reviews", None, None, outcome, getattr(reviews, outcome)
        yield "review_share", None, None, outcome, getattr(reviews, f"{outcome}_share")
    latency = report.latency
    for name, value in (("count", latency.count), ("p50", latency.p50_ms), ("p95", latency.p95_ms)):
        yield "pipeline_ms", None, None, name, value
    yield "delivery_failures_total", None, None, "", report.delivery_failures.total
    for failure in report.delivery_failures.by_reason:
        reason = ": ".join(p for p in (failure.code, failure.reason) if p)
        yield "delivery_failures", None, None, reason, failure.count
    queue = report.queue
    yield "queue_waiting", None, None, "", queue.waiting
    yield "queue_oldest_seconds", None, None, "", queue.oldest_seconds
    yield "queue_p50_seconds", None, None, "", queue.p50_seconds
    for band in queue.bands:
        yield "queue_age", None, None, band.band, band.count
    yield "queue_late", None, None, "", queue.late
    yield "closed_total", None, None, "", report.closed.total
    for reason in CLOSE_REASONS:
        yield "closed", None, None, reason, getattr(report.closed, reason)
    for person in report.operators:
        for figure in OPERATOR_FIGURES:
            yield f"operator_{figure}", None, None, person.name or "", getattr(person, figure)
    responses = report.responses
    yield "response_target_seconds", None, None, "", responses.target_seconds
    for prefix, times in [("", responses)] + [("sector_", s) for s in responses.by_sector]:
        sector = getattr(times, "sector", None)
        yield f"{prefix}answered", sector, None, "", times.answered
        yield f"{prefix}answered_within_target", sector, None, "", times.within_target
        yield f"{prefix}within_target_share", sector, None, "", times.within_target_share
        yield f"{prefix}response_seconds", sector, None, "p50", times.p50_seconds
        yield f"{prefix}response_seconds", sector, None, "p95", times.p95_seconds
    for rate in report.sector_rates:
        window = f"{rate.days}d"
        yield "sector_reviewed", rate.sector, None, window, rate.reviewed
        yield "acceptance_rate", rate.sector, None, window, rate.acceptance_rate
        yield "precision", rate.sector, None, window, rate.precision


def _cell(text: str | None) -> str:
    # A cell starting with one of these is a formula to a spreadsheet; sector names and
    # delivery errors (written by the platforms) are data, so they are quoted as text.
    text = text or ""
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def write_csv(report: Analytics) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for metric, sector, bucket, detail, value in csv_rows(report):
        writer.writerow(
            (
                metric,
                _cell(sector),
                bucket.isoformat() if bucket is not None else "",
                _cell(detail),
                "" if value is None else value,
            )
        )
    return out.getvalue()


async def analytics_csv(request: web.Request) -> web.Response:
    report = await _report(request, parse_query(request, AnalyticsQuery))
    name = f"atende-analytics-{report.start:%Y%m%d}-{report.end:%Y%m%d}.csv"
    return web.Response(
        text=write_csv(report),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def analytics_chart(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    draw = CHARTS.get(name)
    if draw is None:
        raise NotFound(f"no chart {name!r}; the charts are: {', '.join(CHARTS)}")
    query = parse_query(request, ChartQuery)
    svg = draw(await _report(request, query), query.lang)
    return web.Response(
        text=svg, content_type="image/svg+xml", charset="utf-8", headers=_SVG_HEADERS
    )


_RANGE_ERRORS = (422,)

OPERATIONS = (
    Operation(
        "GET",
        "/analytics",
        analytics,
        "Messages per sector and bucket, suggestions, review outcomes, latency, failed "
        "deliveries, queue age, and acceptance and precision per sector",
        "analytics",
        Analytics,
        query=AnalyticsQuery,
        errors=_RANGE_ERRORS,
        roles=allow(Role.OPERATOR),
    ),
    Operation(
        "GET",
        "/analytics.csv",
        analytics_csv,
        "The same numbers as CSV: one row per number, metric,sector,bucket,detail,value",
        "analytics",
        None,
        text_media_type="text/csv",
        query=AnalyticsQuery,
        errors=_RANGE_ERRORS,
        roles=allow(Role.OPERATOR),
    ),
    Operation(
        "GET",
        "/analytics/charts/{name}.svg",
        analytics_chart,
        "One chart of the same numbers as SVG: messages, reviews, failures or queue",
        "analytics",
        None,
        text_media_type="image/svg+xml",
        query=ChartQuery,
        path_params=(PathParam("name", {"type": "string", "enum": list(CHARTS)}, "Which chart."),),
        errors=(404, 422),
        roles=allow(Role.OPERATOR),
    ),
)
