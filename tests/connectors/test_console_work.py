"""The console as operators work in it all day, in a real browser (Debian's Chromium driven
by Playwright): two operators at once, one takes a message and the other sees it taken;
approving by keyboard; a customer's whole conversation, paged; search; a phone's width;
errors said in the page; English labels (test_console_day.py has the rest of the day).
Screenshots go to tests/artifacts/console/.
"""

from __future__ import annotations

import uuid

from tests.conftest import bearer, issue_key, query_sql, run_sql
from tests.connectors.test_console_browser import WAIT_MS, browser, shot
from tests.routing_helpers import API, import_kb, post, wait_until_triaged

QUESTION = "Qual é o prazo de entrega para o Nordeste?"
ANSWER = "Para o Nordeste a entrega leva de 5 a 8 dias úteis."
ASKED = "Qual o prazo de entrega pro Nordeste?"
DESKTOP = {"width": 1280, "height": 720}
PHONE = {"width": 375, "height": 740}


async def sign_in(page, client, key: str, name: str) -> None:
    await page.goto(str(client.make_url("/console")))
    await page.fill("#signin-key", key)
    await page.fill("#signin-name", name)
    await page.click("#signin-submit")
    await page.wait_for_selector("#live-status.on", timeout=WAIT_MS)


async def ana_and_bruno(new_page, client, db: str):
    """Two operators, each with a key of their own, signed in on desktop pages of their own;
    returns their pages and Ana's key."""
    ana_key = await issue_key(db, "operator", name="ana")
    bruno_key = await issue_key(db, "operator", name="bruno")
    ana, bruno = await new_page(DESKTOP), await new_page(DESKTOP)
    await sign_in(ana, client, ana_key, "Ana")
    await sign_in(bruno, client, bruno_key, "Bruno")
    return ana, bruno, ana_key


async def no_sideways_scroll(page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= await page.evaluate("window.innerWidth"), "the page scrolls sideways"


async def test_two_operators_one_takes_the_other_sees_it_taken(client, settings):
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    db = settings.async_database_url or ""

    async with browser() as new_page:
        ana, bruno, _ = await ana_and_bruno(new_page, client, db)
        created = await post(client, ASKED, "vendas")
        for page in (ana, bruno):
            item = page.locator(f'#queue-list li[data-id="{created["id"]}"]')
            await item.locator(".badge.ai").wait_for(timeout=WAIT_MS)
            assert "há" in await item.locator(".waited").inner_text()

        await ana.click(f'#queue-list li[data-id="{created["id"]}"]')
        await ana.locator("#suggestion-text").wait_for(timeout=WAIT_MS)
        assert "Confiança" in await ana.inner_text("#suggestion-meta")
        await ana.click("#take")
        await ana.locator("#detail-assigned", has_text="você").wait_for(timeout=WAIT_MS)
        await ana.locator("#queue-list .badge.taken.mine").wait_for(timeout=WAIT_MS)
        assert "null" not in await ana.inner_text("#detail")  # no empty part shows as text

        # Bruno's page is told live: no reload, no click.
        taken = bruno.locator(f'#queue-list li[data-id="{created["id"]}"] .badge.taken')
        await taken.wait_for(timeout=WAIT_MS)
        assert await taken.inner_text() == "com Ana"
        await bruno.click(f'#queue-list li[data-id="{created["id"]}"]')
        await bruno.locator("#taken-notice").wait_for(timeout=WAIT_MS)
        assert "Ana está com esta mensagem" in await bruno.inner_text("#taken-notice")
        assert await bruno.get_by_role("button", name="Aprovar", exact=True).is_disabled()
        assert await bruno.locator("#take").is_disabled()
        await shot(bruno, "7-taken-by-another-operator")

        # Ana approves by keyboard: `a`, with the focus on no text field.
        await ana.locator("#customer-message").click()
        await ana.keyboard.press("a")
        await ana.locator("#detail-state", has_text="aprovada por Ana").wait_for(timeout=WAIT_MS)
        await ana.locator("#queue-empty").wait_for(timeout=WAIT_MS)
        await bruno.locator("#queue-empty").wait_for(timeout=WAIT_MS)
        await shot(ana, "8-approved-by-keyboard")
        stored = await (await client.get(f"{API}/messages/{created['id']}")).json()
        assert stored["validated_by"] == "human"
        assert stored["operator_name"] == "Ana"
        assert stored["assigned_to"] is None  # answered: nobody holds it any more

        await ana.keyboard.press("?")
        await ana.locator("#help").wait_for(timeout=WAIT_MS)
        await shot(ana, "9-keyboard-help")
        await ana.keyboard.press("Escape")
        await ana.locator("#help").wait_for(state="hidden", timeout=WAIT_MS)

        # The analytics page counts what the test did: one message, suggested, approved
        # as it was (the same sign-in: the key is in this tab).
        await ana.click("#analytics-link")
        await ana.locator("#report[data-ready]").wait_for(timeout=WAIT_MS)
        assert await ana.inner_text("#stat-messages") == "1"
        assert await ana.inner_text("#stat-suggested") == "1"
        assert await ana.inner_text("#stat-reviewed") == "1"


async def test_a_customers_whole_conversation_paged_and_search_on_a_phone(client, settings):
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    customer = str(uuid.uuid4())
    ids = []
    for n in range(23):
        body = {"client_id": customer, "message": f"Mensagem {n + 1} do cliente", "sector": "geral"}
        response = await client.post(f"{API}/messages/", json=body)
        assert response.status == 201
        ids.append((await response.json())["id"])
    # One of them answered by a person: the thread shows the answer under it.
    response = await client.put(
        f"{API}/messages/{ids[2]}",
        json={"answer": "Resposta da equipe", "validated_by": "human", "operator_name": "Caio"},
    )
    assert response.status == 200
    await wait_until_triaged(client, ids[-1])
    key = await issue_key(settings.async_database_url or "", "operator", name="ana")

    async with browser() as new_page:
        page = await new_page(PHONE)
        await sign_in(page, client, key, "Ana")
        await no_sideways_scroll(page)
        await shot(page, "10-queue-phone")
        await page.click(f'#queue-list li[data-id="{ids[-1]}"]')
        await page.locator("#customer-message").wait_for(timeout=WAIT_MS)
        await no_sideways_scroll(page)  # the message, its suggestion and the actions
        await page.click("#open-conversation")
        thread = page.locator("#thread > li")
        await page.locator("#thread-count", has_text="20 de 23").wait_for(timeout=WAIT_MS)
        # Newest at the bottom.
        assert await thread.last.get_attribute("data-id") == str(ids[-1])
        assert await thread.first.get_attribute("data-id") == str(ids[3])
        await page.click("#load-older")
        await page.locator("#thread-count", has_text="23 de 23").wait_for(timeout=WAIT_MS)
        assert await thread.first.get_attribute("data-id") == str(ids[0])
        assert await page.locator("#load-older").count() == 0
        assert "null" not in await page.inner_text("#detail")
        answered = thread.nth(2)
        assert "Resposta de Caio" in await answered.inner_text()
        assert "Resposta da equipe" in await answered.inner_text()
        await no_sideways_scroll(page)
        await shot(page, "11-conversation-phone")

        # The semantic search of the API, from the top bar (`/` focuses it).
        await page.keyboard.press("Escape")
        await page.keyboard.press("/")
        await page.keyboard.type("prazo da entrega no Nordeste")
        await page.keyboard.press("Enter")
        hit = page.locator("#search-results li", has_text=QUESTION)
        await hit.wait_for(timeout=WAIT_MS)
        await no_sideways_scroll(page)
        await shot(page, "12-search-phone")
        await hit.click()
        await page.locator("#customer-message", has_text=QUESTION).wait_for(timeout=WAIT_MS)

        desktop = await new_page(DESKTOP)
        await sign_in(desktop, client, key, "Ana")
        await desktop.click(f'#queue-list li[data-id="{ids[-1]}"]')
        await desktop.locator("#customer-message").wait_for(timeout=WAIT_MS)
        await no_sideways_scroll(desktop)
        await shot(desktop, "13-detail-1280x720")

        # Handed to another sector: its queue now, and nobody holds it.
        await desktop.select_option("#transfer-sector", "suporte")
        await desktop.click("#transfer")
        await desktop.locator("#action-status", has_text="transferida para suporte").wait_for(
            timeout=WAIT_MS
        )
        await desktop.locator("#detail-sector", has_text="suporte").wait_for(timeout=WAIT_MS)
        moved = await (await client.get(f"{API}/messages/{ids[-1]}")).json()
        assert moved["sector"] == "suporte"
        assert moved["assigned_to"] is None


async def test_errors_are_said_in_the_page_and_nothing_is_sent_twice(client, settings):
    db = settings.async_database_url or ""
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    first = await wait_until_triaged(client, (await post(client, ASKED, "vendas"))["id"])
    second = await wait_until_triaged(client, (await post(client, "Oi, tudo bem?", "geral"))["id"])
    third = await wait_until_triaged(client, (await post(client, ASKED, "vendas"))["id"])
    assert third["validated_by"] == "ai"
    key = await issue_key(db, "operator", name="bruno")

    # Chromium logs refused requests and the feed this test cuts; those are the point.
    expected = ("status of 409", "status of 404", "status of 401", "ERR_FAILED")
    async with browser(expected=expected) as new_page:
        page = await new_page(DESKTOP)
        # No live feed for this page: it cannot learn of the others' work before it acts.
        await page.route("**/api/v1/operator/events", lambda route: route.abort())
        await page.goto(str(client.make_url("/console")))
        await page.fill("#signin-key", key)
        await page.fill("#signin-name", "Bruno")
        await page.click("#signin-submit")
        await page.click(f'#queue-list li[data-id="{first["id"]}"]')
        await page.locator("#take:not([disabled])").wait_for(timeout=WAIT_MS)

        # Someone else takes it first.
        response = await client.post(
            f"{API}/operator/messages/{first['id']}/take", json={"operator_name": "Ana"}
        )
        assert response.status == 200
        await page.click("#take")
        error = page.locator("#action-status.error")
        await error.wait_for(timeout=WAIT_MS)
        assert "Ana" in await error.inner_text()
        await page.locator("#taken-notice").wait_for(timeout=WAIT_MS)  # and the page caught up
        await shot(page, "14-taken-meanwhile")

        # Answered by someone else meanwhile: approving again is refused, and sent once.
        await page.click(f'#queue-list li[data-id="{third["id"]}"]')
        approve = page.get_by_role("button", name="Aprovar", exact=True)
        await approve.wait_for(timeout=WAIT_MS)
        response = await client.post(
            f"{API}/operator/messages/{third['id']}/approve", json={"operator_name": "Ana"}
        )
        assert response.status == 200
        await approve.click()
        error = page.locator("#action-status.error")
        await error.wait_for(timeout=WAIT_MS)
        assert "Não foi possível" in await error.inner_text()
        await page.locator("#detail-state", has_text="aprovada por Ana").wait_for(timeout=WAIT_MS)
        # Approved once, by Ana: one review, her name on the answer.
        reviews = await query_sql(
            db,
            "SELECT outcome, operator_name FROM suggestion_reviews WHERE interaction_id = :id",
            id=third["id"],
        )
        assert reviews == [{"outcome": "approved", "operator_name": "Ana"}]
        await shot(page, "15-answered-meanwhile")

        await page.click(f'#queue-list li[data-id="{second["id"]}"]')
        await page.locator("#customer-message", has_text="Oi, tudo bem?").wait_for(timeout=WAIT_MS)
        # A message that no longer exists.
        await run_sql(db, "DELETE FROM chat_interactions WHERE id = :id", id=second["id"])
        await page.fill("#answer", "Tudo ótimo, e com você?")
        await page.get_by_role("button", name="Responder", exact=True).click()
        gone = page.locator("#detail-error")
        await gone.wait_for(timeout=WAIT_MS)
        assert f"não existe mais (#{second['id']})" in await gone.inner_text()
        await shot(page, "16-message-gone")

        # The key is revoked mid-session: the next call signs out and says why.
        revoke = await client.delete(f"{API}/admin/keys/bruno")
        assert revoke.status == 200
        await page.select_option("#sector-filter", "vendas")
        await page.locator("#signin-view").wait_for(timeout=WAIT_MS)
        assert "deixou de valer" in await page.inner_text("#signin-error")
        await shot(page, "17-key-revoked")

    # Bruno's refused take changed nothing: Ana still holds it, its suggestion waits.
    held = await (await client.get(f"{API}/messages/{first['id']}")).json()
    assert held["assigned_to"] == "Ana"
    assert held["validated_by"] == "ai"


async def test_the_console_speaks_english_by_a_setting(english, aiohttp_client):
    from gateway.app import create_app

    db = english.async_database_url or ""
    client = await aiohttp_client(create_app(english), headers=bearer(await issue_key(db)))
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    created = await wait_until_triaged(client, (await post(client, "Hello there", "geral"))["id"])
    key = await issue_key(db, "operator", name="sam")
    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await page.goto(str(client.make_url("/console")))
        assert await page.inner_text("#signin-submit") == "Sign in"
        await page.fill("#signin-key", key)
        await page.click("#signin-submit")
        await page.wait_for_selector("#live-status.on", timeout=WAIT_MS)
        assert await page.inner_text("#queue-title") == "Waiting queue 1"
        await page.click(f'#queue-list li[data-id="{created["id"]}"]')
        await page.get_by_role("button", name="Reply", exact=True).wait_for(timeout=WAIT_MS)
        assert "start from one of the possible answers" in await page.inner_text("#detail")
        assert await page.inner_text("#possible-answers button") == "Use (1)"
        assert await page.evaluate("document.documentElement.lang") == "en"
        await shot(page, "18-english")


async def test_the_queue_is_read_again_while_events_keep_coming(client, settings):
    """A busy hour: the live feed's events never pause for long, and the queue must not
    wait for a lull to show what arrived."""
    db = settings.async_database_url or ""
    async with browser() as new_page:
        ana = await new_page(DESKTOP)
        await sign_in(ana, client, await issue_key(db, "operator", name="ana"), "Ana")
        reads: list[str] = []
        ana.on("request", lambda r: reads.append(r.url) if "/operator/queue" in r.url else None)
        # An event every 25 ms for a second, as the feed sends them at 40 messages a second.
        await ana.evaluate(
            """async () => {
                for (let i = 0; i < 40; i++) {
                    onEvent("message.updated", { message: { id: -1, client_id: "nobody" } });
                    await new Promise((resolve) => setTimeout(resolve, 25));
                }
            }"""
        )
        assert len(reads) >= 4, f"the queue was read {len(reads)} times in the second"
