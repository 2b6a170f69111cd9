"""Analytics: the API's numbers, as JSON, CSV and SVG, against counts the test makes itself
from a history it wrote (tests/analytics_helpers.py)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from tests.analytics_helpers import MESSAGES, D, H, expected, percentile, seed
from tests.conftest import bearer, issue_key, make_settings

API = "/api/v1"


@pytest.fixture
def settings(db_url):
    # No worker: the history is exactly what the test wrote, never embedded or triaged.
    return make_settings(db_url, run_worker=False)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _read(client, path: str, **params: str):
    before = datetime.now(UTC)
    response = await client.get(path, params=params)
    after = datetime.now(UTC)
    return response, before, after


async def test_the_numbers_are_the_ones_counted_from_the_history(client, settings):
    history = await seed(settings.async_database_url or "")
    params = {"from": history.start.isoformat(), "to": history.end.isoformat(), "bucket": "day"}
    response, before, after = await _read(client, f"{API}/analytics", **params)
    assert response.status == 200, await response.text()
    body = await response.json()
    want = expected(history, before)
    slack = (after - before).total_seconds() + 1

    assert _time(body["from"]) == history.start
    assert _time(body["to"]) == history.end
    assert body["bucket"] == "day"

    # Messages per sector per day: every day of the range, the empty ones too.
    buckets = body["messages"]["buckets"]
    days = (history.end - history.start).days
    assert [_time(b["bucket"]) for b in buckets] == [history.start + i * D for i in range(days)]
    for bucket in buckets:
        counted = want["per_bucket"].get(_time(bucket["bucket"]), {})
        assert {c["sector"]: c["count"] for c in bucket["sectors"]} == dict(counted)
        assert bucket["total"] == sum(counted.values())
    assert body["messages"]["total"] == want["total"]
    by_sector = {c["sector"]: c["count"] for c in body["messages"]["by_sector"]}
    assert {s: n for s, n in by_sector.items() if n} == dict(want["by_sector"])
    # Every configured sector is listed, with its zero.
    assert {"financeiro", "suporte", "vendas", "admin", "geral"} <= set(by_sector)

    assert body["suggestions"]["messages"] == want["total"]
    assert body["suggestions"]["suggested"] == want["suggested"]
    assert body["suggestions"]["share"] == pytest.approx(want["suggestion_share"], abs=1e-4)

    reviews = body["reviews"]
    assert reviews["reviewed"] == want["reviewed"]
    assert reviews["replaced"] == want["replaced"] == 1
    for outcome in ("approved", "edited", "rejected", "replaced"):
        assert reviews[outcome] == want["reviews"].get(outcome, want["replaced"])
        assert reviews[f"{outcome}_share"] == pytest.approx(
            want["review_shares"][outcome], abs=1e-4
        )

    count, p50, p95 = want["latency"]
    assert body["latency"]["count"] == count
    assert body["latency"]["p50_ms"] == pytest.approx(p50, abs=0.05)
    assert body["latency"]["p95_ms"] == pytest.approx(p95, abs=0.05)

    failures = body["delivery_failures"]
    assert failures["total"] == sum(want["failures"].values())
    assert {(f["code"], f["reason"]): f["count"] for f in failures["by_reason"]} == dict(
        want["failures"]
    )
    counts = [f["count"] for f in failures["by_reason"]]
    assert counts == sorted(counts, reverse=True)

    queue = body["queue"]
    assert queue["waiting"] == want["waiting"]
    assert queue["oldest_seconds"] == pytest.approx(want["oldest"], abs=slack)
    assert queue["p50_seconds"] == pytest.approx(want["p50_age"], abs=slack)
    assert {b["band"]: b["count"] for b in queue["bands"]} == {
        band: want["bands"].get(band, 0)
        for band in ("lt_5m", "5m_30m", "30m_2h", "2h_24h", "gt_24h")
    }

    assert queue["late"] == want["late"]
    # Closed without an answer: out of the queue, counted by reason.
    closed = body["closed"]
    assert {r: closed[r] for r in ("no_reply_needed", "spam", "duplicate")} == {
        "no_reply_needed": 1,
        "spam": 1,
        "duplicate": 1,
    }
    assert closed["total"] == sum(want["closed"].values()) == 3

    # Time to first answer of the range's messages, against the 15-minute target.
    responses = body["responses"]
    assert responses["target_seconds"] == 900
    everything = [w for waits in want["waits"].values() for w in waits]
    by_sector = {s["sector"]: s for s in responses["by_sector"]}
    assert {"financeiro", "suporte", "vendas", "admin", "geral"} <= set(by_sector)
    for times, waits in [(responses, everything)] + [
        (by_sector[sector], want["waits"].get(sector, [])) for sector in by_sector
    ]:
        within = sum(1 for w in waits if w <= 900)
        assert (times["answered"], times["within_target"]) == (len(waits), within)
        assert times["within_target_share"] == (round(within / len(waits), 4) if waits else None)
        for q, name in ((0.5, "p50_seconds"), (0.95, "p95_seconds")):
            expected_seconds = percentile(waits, q)
            if expected_seconds is None:
                assert times[name] is None
            else:
                assert times[name] == pytest.approx(expected_seconds, abs=0.05)
    # Auto-sent at once and approved after 10 minutes: within; approved after 40: late.
    assert (by_sector["vendas"]["answered"], by_sector["vendas"]["within_target"]) == (3, 2)

    rates = {(r["sector"], r["days"]): r for r in body["sector_rates"]}
    for (sector, days), outcomes in want["rates"].items():
        rate = rates[(sector, days)]
        reviewed = sum(outcomes.values())
        assert rate["reviewed"] == reviewed
        replaced = want["rates_replaced"][(sector, days)]
        assert rate["replaced"] == replaced
        # An edit that wrote another answer did not accept the suggestion.
        assert rate["acceptance_rate"] == pytest.approx(
            (outcomes["approved"] + outcomes["edited"] - replaced) / reviewed, abs=1e-4
        )
        assert rate["precision"] == pytest.approx(outcomes["approved"] / reviewed, abs=1e-4)
    for key, rate in rates.items():
        if key not in want["rates"]:
            assert rate["reviewed"] == 0, key
            assert rate["acceptance_rate"] is None, key
            assert rate["precision"] is None, key

    # The CSV holds the same numbers, one per row.
    response = await client.get(f"{API}/analytics.csv", params=params)
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == ["metric", "sector", "bucket", "detail", "value"]
    table = {(m, s, b, d): v for m, s, b, d, v in rows[1:]}
    assert len(table) == len(rows) - 1, "a number appears twice"
    for day, counted in want["per_bucket"].items():
        for sector, n in counted.items():
            assert table[("messages", sector or "", day.isoformat(), "")] == str(n)
    assert sum(int(v) for (m, *_), v in table.items() if m == "messages") == want["total"]
    assert table[("messages_total", "", "", "")] == str(want["total"])
    assert table[("suggested_messages", "", "", "")] == str(want["suggested"])
    for outcome in ("approved", "edited", "rejected"):
        assert table[("reviews", "", "", outcome)] == str(want["reviews"][outcome])
    assert table[("reviews", "", "", "replaced")] == str(want["replaced"])
    assert float(table[("pipeline_ms", "", "", "p95")]) == pytest.approx(p95, abs=0.05)
    assert table[("queue_waiting", "", "", "")] == str(want["waiting"])
    assert table[("queue_age", "", "", "gt_24h")] == str(want["bands"]["gt_24h"])
    assert table[("queue_late", "", "", "")] == str(want["late"])
    assert table[("closed_total", "", "", "")] == "3"
    assert table[("closed", "", "", "spam")] == "1"
    assert table[("answered", "", "", "")] == str(len(everything))
    assert table[("sector_answered", "vendas", "", "")] == "3"
    assert table[("sector_answered_within_target", "vendas", "", "")] == "2"
    assert float(table[("response_seconds", "", "", "p50")]) == pytest.approx(
        percentile(everything, 0.5), abs=0.05
    )
    for (code, reason), n in want["failures"].items():
        cell = f"{code}: {reason}"
        # A cell a spreadsheet would run as a formula is written as text.
        cell = "'" + cell if cell.startswith("=") else cell
        assert table[("delivery_failures", "", "", cell)] == str(n)
    for (sector, days), outcomes in want["rates"].items():
        reviewed = sum(outcomes.values())
        assert table[("sector_reviewed", sector or "", "", f"{days}d")] == str(reviewed)
        assert float(table[("precision", sector or "", "", f"{days}d")]) == pytest.approx(
            outcomes["approved"] / reviewed, abs=1e-4
        )


async def test_hour_buckets_and_the_default_range(client, settings):
    history = await seed(settings.async_database_url or "")
    start = history.start + 2 * D
    end = start + 12 * H
    response = await client.get(
        f"{API}/analytics",
        params={"from": start.isoformat(), "to": end.isoformat(), "bucket": "hour"},
    )
    body = await response.json()
    assert [_time(b["bucket"]).hour for b in body["messages"]["buckets"]] == list(range(12))

    # No range given: the last 7 days, to now; a date alone is midnight UTC.
    body = await (await client.get(f"{API}/analytics")).json()
    assert (_time(body["to"]) - _time(body["from"])).days == 7
    assert body["messages"]["total"] == sum(1 for m in MESSAGES if not m.kb and m.ago < 7 * D)
    response = await client.get(
        f"{API}/analytics", params={"from": "2026-01-01", "to": "2026-01-03"}
    )
    body = await response.json()
    assert body["from"].startswith("2026-01-01T00:00:00")
    assert len(body["messages"]["buckets"]) == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-03-02", "to": "2026-03-01"}, "from"),
        ({"from": "2026-03-01", "to": "2026-03-01"}, "from"),
        ({"from": "2024-01-01", "to": "2025-06-01"}, "from"),
        ({"bucket": "week"}, "bucket"),
        ({"from": "2026-01-01", "to": "2026-03-01", "bucket": "hour"}, "bucket"),
        ({"from": "yesterday"}, "from"),
        ({"to": "0.5"}, "to"),  # not seconds since 1970: ISO 8601 only
        ({"from": "1764547200", "to": "2025-12-03"}, "from"),  # 2025-12-01 in seconds
        ({"to": "2026-13-01"}, "to"),
        ({"since": "2026-01-01"}, "since"),
        ({"to": "0001-01-02"}, "from"),  # seven days before it is no date at all
        ({"from": "0001-01-01T00:00:00+01:00"}, "from"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(client, params, field):
    for path in (f"{API}/analytics", f"{API}/analytics.csv", f"{API}/analytics/charts/queue.svg"):
        response = await client.get(path, params=params)
        assert response.status == 422, (path, params)
        body = await response.json()
        assert body["error"]["code"] == "validation_error"
        assert [d["field"] for d in body["error"]["details"]] == [field], body


def contrast(colour: str, ground: str = "#ffffff") -> float:
    """WCAG 2's contrast ratio of two #rrggbb colours."""

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(colour), luminance(ground)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def unreadable(root: ET.Element) -> list[str]:
    """What in a chart falls short of WCAG 2.2 AA on its white ground: text under 4.5:1
    (1.4.3), a bar under 3:1 (1.4.11, a graphical object the chart is read by)."""
    short = []
    for node in root.iter():
        tag = node.tag.rsplit("}", 1)[-1]
        fill = node.get("fill", "#000000" if tag == "text" else None)
        if fill is None or fill == "white" or tag not in ("text", "rect"):
            continue
        need = 4.5 if tag == "text" else 3.0
        if contrast(fill) < need:
            short.append(f"{tag} {fill} at {contrast(fill):.2f}:1 ({node.text or ''})")
    return short


async def test_the_charts_are_svg_with_every_label_escaped(client, settings):
    history = await seed(settings.async_database_url or "")
    params = {"from": history.start.isoformat(), "to": history.end.isoformat()}
    for name in ("messages", "reviews", "failures", "queue"):
        for lang in ("pt-BR", "en"):
            response = await client.get(
                f"{API}/analytics/charts/{name}.svg", params={**params, "lang": lang}
            )
            assert response.status == 200, name
            assert response.content_type == "image/svg+xml"
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]
            svg = await response.text()
            root = ET.fromstring(svg)  # well-formed, whatever the labels held
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
            assert "<script" not in svg
            assert "style=" not in svg  # the console's policy forbids inline styles
            # Drawn on white in either theme of the page (analytics.css keeps their ground).
            assert unreadable(root) == [], (name, unreadable(root))
    failures = await (
        await client.get(f"{API}/analytics/charts/failures.svg", params=params)
    ).text()
    assert "&lt;script&gt;" in failures
    texts = "".join(ET.fromstring(failures).itertext())
    assert "bot was blocked by the user" in texts
    reviews = await (await client.get(f"{API}/analytics/charts/reviews.svg", params=params)).text()
    assert "aprovadas" in reviews
    response = await client.get(f"{API}/analytics/charts/pie.svg")
    assert response.status == 404
    assert "messages" in (await response.json())["error"]["message"]


async def test_operators_may_read_analytics_and_integrators_may_not(client, settings):
    db = settings.async_database_url or ""
    for role, status in (("operator", 200), ("integrator", 403)):
        key = await issue_key(db, role)
        for path in (f"{API}/analytics", f"{API}/analytics.csv"):
            response = await client.get(path, headers=bearer(key))
            assert response.status == status, (role, path)


async def test_the_analytics_page_and_its_files_need_no_key_and_keep_the_policy(client):
    response = await client.get("/console/analytics", headers={"Authorization": ""})
    assert response.status == 200
    assert response.content_type == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    page = await response.text()
    assert "<script>" not in page  # its script is a file, as the policy demands
    assert 'style="' not in page
    for name in ("analytics.js", "analytics.css"):
        response = await client.get(f"/console/static/{name}", headers={"Authorization": ""})
        assert response.status == 200, name
        assert f"/console/static/{name}" in page
