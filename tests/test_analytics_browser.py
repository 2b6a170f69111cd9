"""The analytics page in a real browser (Debian's Chromium driven by Playwright): a manager
signs in, picks the range of a history the test wrote, and sees the counts the test made
itself, in the summary, the tables, the charts and the exported CSV. The screenshot goes
to tests/artifacts/analytics/.
"""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest

from tests.analytics_helpers import expected, seed
from tests.conftest import REPO_ROOT, issue_key, make_settings
from tests.connectors.test_console_browser import WAIT_MS, browser_page

SHOTS = REPO_ROOT / "tests" / "artifacts" / "analytics"


@pytest.fixture
def settings(db_url):
    return make_settings(db_url, run_worker=False)


async def _cells(page, table: str) -> list[list[str]]:
    return await page.eval_on_selector_all(
        f"#{table} tbody tr",
        "rows => rows.map(r => [...r.children].map(c => c.textContent.trim()))",
    )


async def test_the_page_shows_the_counts_of_the_history(client, settings):
    db = settings.async_database_url or ""
    history = await seed(db)
    key = await issue_key(db, "operator", name="gerente")

    # The page reads its language from /console/config.json and falls back to Portuguese
    # where that route is absent; only then is its 404 expected on the browser's console.
    served = {r.resource.canonical for r in client.app.router.routes() if r.resource}
    expected_errors = () if "/console/config.json" in served else ("status of 404",)

    async with browser_page(expected=expected_errors) as page:
        await page.goto(str(client.make_url("/console/analytics")))
        await page.fill("#signin-key", key)
        await page.click("#signin-submit")
        await page.locator("#report[data-ready]").wait_for(timeout=WAIT_MS)
        # The same sign-in as the console's: its key, in the entry console.js reads.
        assert await page.evaluate("sessionStorage.getItem('atende.console.key')") == key

        await page.fill("#range-from", history.start.date().isoformat())
        await page.fill("#range-to", (history.end - timedelta(days=1)).date().isoformat())
        await page.evaluate("delete document.getElementById('report').dataset.ready")
        await page.click("#range-apply")
        await page.locator("#report[data-ready]").wait_for(timeout=WAIT_MS)
        want = expected(history, history.t)

        assert await page.inner_text("#stat-messages") == str(want["total"])
        assert await page.inner_text("#stat-suggested") == str(want["suggested"])
        assert await page.inner_text("#stat-reviewed") == str(want["reviewed"])
        assert await page.inner_text("#stat-failures") == str(sum(want["failures"].values()))
        assert await page.inner_text("#stat-waiting") == str(want["waiting"])
        assert await page.inner_text("#stat-closed") == "3"
        assert (
            "1 sem necessidade, 1 spam, 1 repetidas, 0 respondidas junto, 0 de clientes bloqueados"
            in await page.inner_text("#stat-closed-reasons")
        )

        messages = await _cells(page, "table-messages")
        assert messages[-1][0] == "Total"
        assert messages[-1][-1] == str(want["total"])
        assert len(messages) == (history.end - history.start).days + 1
        for row in messages[:-1]:
            assert sum(int(c) for c in row[1:-1]) == int(row[-1])

        reviews = {row[0]: row[1] for row in await _cells(page, "table-reviews")}
        assert reviews == {
            "aprovadas sem mudança": str(want["reviews"]["approved"]),
            "aprovadas editadas": str(want["reviews"]["edited"]),
            "das editadas, trocadas por outra resposta": str(want["replaced"]),
            "rejeitadas": str(want["reviews"]["rejected"]),
        }
        queue = [int(row[1]) for row in await _cells(page, "table-queue")]
        assert queue == [
            want["bands"].get(b, 0) for b in ("lt_5m", "5m_30m", "30m_2h", "2h_24h", "gt_24h")
        ]
        failures = {(r[0], r[1]): int(r[2]) for r in await _cells(page, "table-failures")}
        assert failures == dict(want["failures"])  # the <script> reason shown as text
        # Waiting past the 15-minute target now, and the range's answers against it.
        assert await page.inner_text("#stat-late") == f"{want['late']} há mais de 15 min"
        waits = [w for sector in want["waits"].values() for w in sector]
        within = sum(1 for w in waits if w <= 900)
        assert await page.inner_text("#stat-within-label") == "Respondidas no prazo (15 min)"
        assert await page.inner_text("#stat-within") == f"{round(100 * within / len(waits))}%"
        responses = {row[0]: row[1:3] for row in await _cells(page, "table-responses")}
        assert responses["Total"] == [str(len(waits)), f"{within} ({within / len(waits):.0%})"]
        assert responses["vendas"] == ["3", "2 (66,7%)"]
        assert set(responses) == {*want["waits"], "Total"}

        # Per operator: the history's closes are Ana's; its answers and reviews name nobody.
        operators = {row[0]: row for row in await _cells(page, "table-operators")}
        assert set(operators) == {"Ana", "(sem nome)"}
        assert operators["Ana"][5] == str(sum(want["closed"].values()))
        assert operators["Ana"][1] == "0"

        rates = {row[0]: row for row in await _cells(page, "table-rates")}
        for (sector, days), outcomes in want["rates"].items():
            row = rates[sector or "(sem setor)"]
            assert row[1 if days == 7 else 4] == str(sum(outcomes.values()))

        for name in ("messages", "reviews", "queue", "failures"):
            chart = page.locator(f"#chart-{name}[data-loaded]")
            await chart.wait_for(timeout=WAIT_MS)
            assert await chart.evaluate("img => img.complete && img.naturalWidth > 0"), name

        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "analytics.png"), full_page=True)

        async with page.expect_download(timeout=WAIT_MS) as download_info:
            await page.click("#export-csv")
        download = await download_info.value
        assert download.suggested_filename.endswith(".csv")
        target = SHOTS / download.suggested_filename
        await download.save_as(str(target))
        with target.open(encoding="utf-8", newline="") as file:
            table = {tuple(row[:4]): row[4] for row in csv.reader(file)}
        assert table[("messages_total", "", "", "")] == str(want["total"])
        assert table[("reviewed", "", "", "")] == str(want["reviewed"])
