"""The console over an operator's day, in a real browser (Debian's Chromium driven by
Playwright): answering from the possible answers the decision ranks, by mouse and by
keyboard, on a desktop and a phone; a queue longer than it lists; a reload that keeps the
operator's place and unsent answer; the queue counted in the tab's title; the customers
waiting past the response target; the next message nobody holds; a sector filter changed
while an earlier reading of the queue is still on its way. Screenshots go to
tests/artifacts/console/.
"""

from __future__ import annotations

import asyncio
import re
import uuid

from tests.conftest import issue_key, run_sql
from tests.connectors.test_console_browser import WAIT_MS, browser, shot
from tests.connectors.test_console_work import (
    ANSWER,
    ASKED,
    DESKTOP,
    PHONE,
    QUESTION,
    no_sideways_scroll,
    sign_in,
)
from tests.routing_helpers import API, import_kb, post, wait_until_triaged

BOLETO = "A segunda via do boleto está em Minha conta > Pagamentos."
SENHA = "Use 'Esqueci minha senha' na tela de entrada e siga o e-mail."
KNOWN = [
    {"question": QUESTION, "answer": ANSWER, "sector": "vendas"},
    {"question": "Como tiro a segunda via do boleto?", "answer": BOLETO, "sector": "financeiro"},
    {"question": "Esqueci minha senha, como recupero?", "answer": SENHA, "sector": "suporte"},
]


async def test_an_operator_answers_from_the_possible_answers(client, settings):
    await import_kb(client, KNOWN)
    # One message the decision suggests for, one it does not (routed: every sector votes).
    suggested = await wait_until_triaged(client, (await post(client, ASKED))["id"])
    assert suggested["answer"] == ANSWER
    unsure = await wait_until_triaged(client, (await post(client, "Bom dia, tudo bem?"))["id"])
    assert unsure["suggestion"] is None
    key = await issue_key(settings.async_database_url or "", "operator", name="ana")

    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Ana")

        # Nothing suggested: the known answers are offered, ranked, with a warning.
        await page.click(f'#queue-list li[data-id="{unsure["id"]}"]')
        offered = page.locator("#possible-answers > li")
        await offered.first.wait_for(timeout=WAIT_MS)
        assert await offered.count() == 3
        assert "confiança mínima" in await page.inner_text("#detail")
        assert "parta de uma das possíveis" in await page.inner_text("#detail")
        texts = [await offered.nth(n).locator(".answer-text").inner_text() for n in range(3)]
        assert sorted(texts) == sorted([ANSWER, BOLETO, SENHA])
        phone = await new_page(PHONE)  # the same list on a phone: nothing scrolls sideways
        await sign_in(phone, client, key, "Ana")
        await phone.click(f'#queue-list li[data-id="{unsure["id"]}"]')
        await phone.locator("#possible-answers > li").first.wait_for(timeout=WAIT_MS)
        await no_sideways_scroll(phone)
        # `2` puts the second in the box; the operator adjusts it and sends it (Ctrl+Enter).
        await page.locator("#customer-message").click()
        await page.keyboard.press("2")
        assert await page.input_value("#answer") == texts[1]
        assert await page.evaluate("document.activeElement.id") == "answer"
        assert await page.inner_text("#action-status") == (
            "Resposta 2 no campo: ajuste se precisar e envie."
        )
        await page.keyboard.press("End")
        await page.keyboard.type(" Posso ajudar em algo mais?")
        await shot(page, "20-possible-answers")
        await page.keyboard.press("Control+Enter")
        await page.locator("#detail-state", has_text="aprovada por Ana").wait_for(timeout=WAIT_MS)
        stored = await (await client.get(f"{API}/messages/{unsure['id']}")).json()
        assert stored["answer"] == texts[1] + " Posso ajudar em algo mais?"
        assert stored["validated_by"] == "human"
        # Answered: nothing is offered any more.
        assert await page.locator("#possible-answers").count() == 0

        # Suggested: the others are offered besides it; one replaces it when approved.
        await page.click(f'#queue-list li[data-id="{suggested["id"]}"]')
        await page.locator("#suggestion-text", has_text=ANSWER).wait_for(timeout=WAIT_MS)
        await offered.first.wait_for(timeout=WAIT_MS)
        others = [await item.locator(".answer-text").inner_text() for item in await offered.all()]
        assert sorted(others) == sorted([BOLETO, SENHA])
        await offered.nth(0).get_by_role("button").click()
        assert await page.input_value("#answer") == others[0]
        await page.get_by_role("button", name="Editar e aprovar", exact=True).click()
        await page.locator("#detail-state", has_text="aprovada por Ana").wait_for(timeout=WAIT_MS)
        stored = await (await client.get(f"{API}/messages/{suggested['id']}")).json()
        assert stored["answer"] == others[0]


async def test_a_long_queue_a_reload_and_the_tabs_title(client, settings):
    # More waiting than the queue lists (the oldest 100): the page says so.
    customer = str(uuid.uuid4())
    for n in range(101):
        body = {
            "client_id": customer,
            "message": f"Boleto {n + 1} em aberto",
            "sector": "financeiro",
        }
        response = await client.post(f"{API}/messages/", json=body)
        assert response.status == 201
    asked = await post(client, ASKED, "vendas")
    key = await issue_key(settings.async_database_url or "", "operator", name="ana")

    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Ana")
        await page.locator("#queue-count", has_text="102").wait_for(timeout=WAIT_MS)
        assert await page.locator("#queue-list > li").count() == 100
        more = page.locator("#queue-more")
        assert await more.inner_text() == (
            "Mostrando as 100 mais antigas de 102: as demais aparecem conforme estas são"
            " respondidas, ou filtrando por setor."
        )
        # A console in a background tab still says customers are waiting.
        assert await page.title() == "(102) atende · console do operador"

        await page.select_option("#sector-filter", "vendas")
        await page.locator("#queue-count", has_text=re.compile("^1$")).wait_for(timeout=WAIT_MS)
        assert await more.is_hidden()
        assert await page.title() == "(1) atende · console do operador"
        await page.click(f'#queue-list li[data-id="{asked["id"]}"]')
        await page.locator("#customer-message", has_text=ASKED).wait_for(timeout=WAIT_MS)
        await page.fill("#answer", "Para o Nordeste são 5 a 8 dias úteis, e")

        # A reload (F5, a crash of the tab's page) keeps the operator's place and what
        # they were typing.
        await page.reload()
        await page.wait_for_selector("#live-status.on", timeout=WAIT_MS)
        await page.locator("#customer-message", has_text=ASKED).wait_for(timeout=WAIT_MS)
        assert await page.input_value("#answer") == "Para o Nordeste são 5 a 8 dias úteis, e"
        assert await page.input_value("#sector-filter") == "vendas"
        assert await page.locator("#queue-list > li").count() == 1
        assert await page.title() == "(1) atende · console do operador"

        # Signing out forgets it, for whoever signs in next in this tab.
        await page.click("#signout")
        await page.locator("#signin-view").wait_for(timeout=WAIT_MS)
        assert await page.title() == "atende · console do operador"
        await sign_in(page, client, key, "Bruno")
        await page.locator("#queue-count", has_text="102").wait_for(timeout=WAIT_MS)
        assert await page.input_value("#sector-filter") == ""
        # Nothing of the last operator's message is left on the screen.
        assert (
            await page.inner_text("#detail") == "Escolha uma mensagem da fila para ver os detalhes."
        )
        await shot(page, "19-long-queue")


async def test_customers_waiting_past_the_response_target_stand_out(client, settings):
    db = settings.async_database_url or ""
    waiting = {}
    for text, sector, minutes in [
        ("Boleto vencido, e agora?", "financeiro", 40),
        ("Meu pedido não chegou", "vendas", 16),
        (ASKED, "vendas", 2),
    ]:
        created = await post(client, text, sector)
        waiting[minutes] = created["id"]
        await run_sql(
            db,
            "UPDATE chat_interactions SET created_at = now() - make_interval(mins => :m)"
            " WHERE id = :id",
            m=minutes,
            id=created["id"],
        )
    key = await issue_key(db, "operator", name="ana")

    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Ana")
        await page.locator("#queue-count", has_text="3").wait_for(timeout=WAIT_MS)
        # The default target is 15 minutes: two customers have waited longer.
        late = page.locator("#queue-late")
        assert await late.inner_text() == "2 há mais de 15 min"
        assert await late.get_attribute("title") == (
            "Esperando há mais que o prazo de resposta (15 min)"
        )
        assert await page.title() == "(3 · 2 atrasadas) atende · console do operador"
        for minutes, marked in [(40, True), (16, True), (2, False)]:
            item = page.locator(f'#queue-list li[data-id="{waiting[minutes]}"]')
            assert ("late" in (await item.get_attribute("class") or "").split()) is marked
            assert await item.locator(".badge.late").count() == int(marked)
            assert (await item.locator(".waited").inner_text()).startswith(f"há {minutes} min")
        await shot(page, "21-late")

        # Per sector, as the queue is filtered.
        await page.select_option("#sector-filter", "vendas")
        await page.locator("#queue-count", has_text=re.compile("^2$")).wait_for(timeout=WAIT_MS)
        assert await late.inner_text() == "1 há mais de 15 min"
        assert await page.title() == "(2 · 1 atrasada) atende · console do operador"
        await page.select_option("#sector-filter", "suporte")
        await page.locator("#queue-count", has_text=re.compile("^0$")).wait_for(timeout=WAIT_MS)
        assert await late.is_hidden()
        assert await page.title() == "atende · console do operador"


async def test_next_free_opens_the_oldest_message_nobody_else_holds(client, settings):
    ids = [(await post(client, text, "vendas"))["id"] for text in (ASKED, "Oi", "Olá")]
    held, older, newer = ids
    for created in ids:
        await wait_until_triaged(client, created)
    response = await client.post(
        f"{API}/operator/messages/{held}/take", json={"operator_name": "Bruno"}
    )
    assert response.status == 200, await response.text()
    key = await issue_key(settings.async_database_url or "", "operator", name="ana")

    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Ana")
        await page.locator("#queue-count", has_text="3").wait_for(timeout=WAIT_MS)
        opened = page.locator("#detail h2")
        # The oldest is Bruno's: `n` skips it.
        await page.keyboard.press("n")
        await opened.filter(has_text=f"#{older}").wait_for(timeout=WAIT_MS)
        await page.click("#next-free")  # the button does the same; the open one is skipped
        await opened.filter(has_text=f"#{newer}").wait_for(timeout=WAIT_MS)
        await page.keyboard.press("n")
        await opened.filter(has_text=f"#{older}").wait_for(timeout=WAIT_MS)

        # Answered, it leaves the queue; `n` goes on to the next one nobody holds.
        await page.fill("#answer", "Olá! Como posso ajudar?")
        await page.keyboard.press("Control+Enter")
        await page.locator("#detail-state", has_text="aprovada por Ana").wait_for(timeout=WAIT_MS)
        await page.locator("#queue-count", has_text="2").wait_for(timeout=WAIT_MS)
        await page.locator("#customer-message").click()  # out of the answer box
        await page.keyboard.press("n")
        await opened.filter(has_text=f"#{newer}").wait_for(timeout=WAIT_MS)
        await page.keyboard.press("n")
        assert await page.inner_text("#queue-note") == "Nenhuma outra mensagem livre na fila."
        await opened.filter(has_text=f"#{newer}").wait_for(timeout=WAIT_MS)
        assert await page.get_attribute("#next-free", "title") == (
            "Abrir a mais antiga que ninguém assumiu (n)"
        )
        await shot(page, "22-next-free")
        phone = await new_page(PHONE)  # the queue's head wraps on a phone
        await sign_in(phone, client, key, "Ana")
        await phone.locator("#next-free").click()
        await phone.locator("#detail h2", has_text=f"#{newer}").wait_for(timeout=WAIT_MS)
        await no_sideways_scroll(phone)


async def test_a_late_answer_for_the_sector_left_does_not_replace_the_queue_chosen(
    client, settings
):
    await import_kb(client, KNOWN[:1])
    created = await post(client, ASKED, "vendas")
    await wait_until_triaged(client, created["id"])
    key = await issue_key(settings.async_database_url or "", "operator", name="ana")

    async with browser() as new_page:
        page = await new_page(DESKTOP)
        await sign_in(page, client, key, "Ana")
        item = page.locator(f'#queue-list li[data-id="{created["id"]}"]')
        await item.wait_for(timeout=WAIT_MS)

        # The operator picks suporte, then vendas at once; suporte's queue (empty) is held
        # on its way until vendas' has been shown, as a slow network would.
        held = asyncio.Event()

        async def hold(route) -> None:
            await held.wait()
            await route.continue_()

        await page.route(lambda url: "/operator/queue?" in url and "sector=suporte" in url, hold)
        await page.select_option("#sector-filter", "suporte")
        await page.select_option("#sector-filter", "vendas")
        await item.wait_for(timeout=WAIT_MS)
        async with page.expect_response(lambda r: "sector=suporte" in r.url) as late:
            held.set()
        await (await late.value).finished()
        # The page has had the late answer; one more turn of its event loop to read it.
        await page.evaluate("new Promise((done) => setTimeout(done, 100))")
        assert await item.is_visible()
        assert await page.locator("#queue-empty").is_hidden()
        assert await page.input_value("#sector-filter") == "vendas"
