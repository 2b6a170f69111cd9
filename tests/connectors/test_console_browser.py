"""The operator console in a real browser (Debian's Chromium driven by Playwright): a
Telegram customer's message appears live, the operator approves the suggestion, and the
fake Telegram server receives the answer; then a message without a suggestion is answered
by hand. Screenshots go to tests/artifacts/console/.

Without /usr/bin/chromium these tests fail in CI (`CI` set), naming the package to
install; on a developer's machine they are skipped with the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, issue_key
from tests.connectors.conftest import post_telegram, telegram_text_update
from tests.routing_helpers import import_kb

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO_ROOT / "tests" / "artifacts" / "console"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUESTION = "Qual é o prazo de entrega para o Nordeste?"
ANSWER = "Para o Nordeste a entrega leva de 5 a 8 dias úteis."
OTHER = "Oi, quero falar com um atendente humano, por favor."
REPLY = "Claro! Uma pessoa da equipe já vai falar com você por aqui."
WAIT_MS = 30_000


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = (
        f"{CHROMIUM} is absent: install Debian's `chromium` package "
        "(apt-get install chromium) to run the console's browser tests"
    )
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def watch_errors(page, errors: list[str], expected: tuple[str, ...]) -> None:
    """Collect the page's errors and its console's, but those with an `expected` text."""
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not any(text in msg.text for text in expected)
            else None
        ),
    )


@contextlib.asynccontextmanager
async def browser(*, expected: tuple[str, ...] = ()) -> AsyncIterator:
    """A Chromium whose new_page(viewport, **context_options) opens a page in a context of
    its own (its own sessionStorage: another operator). Errors on any page's console fail
    the test, except those that contain one of the `expected` texts."""
    require_chromium()
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )

        async def new_page(viewport: dict[str, int], **options):
            context = await chromium.new_context(viewport=viewport, locale="pt-BR", **options)
            page = await context.new_page()
            watch_errors(page, errors, expected)
            return page

        try:
            yield new_page
        except Exception as exc:
            raise AssertionError(f"{exc}; errors on the page: {errors}") from exc
        finally:
            await chromium.close()
    assert not errors, errors


@contextlib.asynccontextmanager
async def browser_page(*, expected: tuple[str, ...] = ()) -> AsyncIterator:
    """One fresh Chromium page (see `browser`)."""
    async with browser(expected=expected) as new_page:
        yield await new_page({"width": 1280, "height": 860})


async def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def test_an_operator_approves_a_telegram_message_that_arrived_live(
    live_client, channel_settings, fake_telegram
):
    await import_kb(live_client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    key = await issue_key(channel_settings.async_database_url or "", "operator", name="ana")

    async with browser_page() as page:
        await page.goto(str(live_client.make_url("/console")))
        await page.fill("#signin-key", key)
        await page.fill("#signin-name", "Ana")
        await shot(page, "1-sign-in")
        await page.click("#signin-submit")
        await page.wait_for_selector("#live-status.on", timeout=WAIT_MS)
        # A mark on the window: still there at the end means the page never reloaded.
        await page.evaluate("window.__sameDocument = true")

        response = await post_telegram(
            live_client, telegram_text_update(1, 10, "Qual o prazo de entrega pro Nordeste?")
        )
        assert response.status == 200
        item = page.locator("#queue-list li", has_text="Nordeste")
        await item.locator(".badge.ai").wait_for(timeout=WAIT_MS)  # arrived and suggested
        await shot(page, "2-queue")

        # The sector filter: another sector's queue is empty, this one's has the message.
        await page.select_option("#sector-filter", "suporte")
        await page.locator("#queue-empty").wait_for(timeout=WAIT_MS)
        await page.select_option("#sector-filter", "vendas")
        await item.wait_for(timeout=WAIT_MS)

        await item.click()
        suggestion = page.locator("#suggestion-text")
        await suggestion.wait_for(timeout=WAIT_MS)
        assert await suggestion.inner_text() == ANSWER
        detail = page.locator("#detail")
        assert "Telegram" in await detail.inner_text()
        await page.locator(".sources li.source").first.wait_for(timeout=WAIT_MS)
        await shot(page, "3-item-detail")

        await page.get_by_role("button", name="Aprovar", exact=True).click()
        deadline = asyncio.get_running_loop().time() + 30
        while not any(sent["text"] == ANSWER for sent in fake_telegram.sent):
            assert asyncio.get_running_loop().time() < deadline, "Telegram got no sendMessage"
            await asyncio.sleep(0.1)
        assert fake_telegram.sent[-1]["chat_id"] == "4242"

        sent = re.compile(r"^enviada$")  # not "nenhuma resposta enviada ainda"
        await page.locator("#delivery-state", has_text=sent).wait_for(timeout=WAIT_MS)
        assert await page.locator("#detail-state").inner_text() == "aprovada por Ana"
        await page.locator("#queue-empty").wait_for(timeout=WAIT_MS)
        await shot(page, "4-after-approval")

        # The same customer again, with nothing to suggest: the operator writes the answer.
        await page.select_option("#sector-filter", "")  # wherever the router puts it
        await post_telegram(live_client, telegram_text_update(2, 11, OTHER))
        other = page.locator("#queue-list li", has_text=OTHER)
        await other.locator(".badge.pending").wait_for(timeout=WAIT_MS)  # triaged, no answer
        await other.click()
        await page.locator(".history li", has_text=ANSWER).wait_for(timeout=WAIT_MS)
        await page.fill("#answer", REPLY)
        await page.get_by_role("button", name="Responder", exact=True).click()
        deadline = asyncio.get_running_loop().time() + 30
        while not any(sent["text"] == REPLY for sent in fake_telegram.sent):
            assert asyncio.get_running_loop().time() < deadline, "Telegram got no reply"
            await asyncio.sleep(0.1)
        await page.locator("#delivery-state", has_text=sent).wait_for(timeout=WAIT_MS)
        await shot(page, "6-written-reply-with-history")
        assert await page.evaluate("window.__sameDocument === true")


async def test_a_wrong_key_shows_the_sign_in_error(live_client):
    # Chromium logs the refused request itself; that one error is the point here.
    async with browser_page(expected=("status of 401",)) as page:
        await page.goto(str(live_client.make_url("/console")))
        await page.fill("#signin-key", "atd_notakey0_thisisnotavalidkeyatall")
        await page.click("#signin-submit")
        error = page.locator("#signin-error")
        await error.wait_for(timeout=WAIT_MS)
        assert "Chave inválida ou revogada" in await error.inner_text()
        assert await page.locator("#app-view").is_hidden()
        await shot(page, "5-sign-in-error")
