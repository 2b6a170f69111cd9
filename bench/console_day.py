"""An operator's day in the console: is the page as quick and as small at the end of it as
at its start?

`atende serve` (gateway and worker, the default embedding model) on a throwaway database,
with a fake Telegram Bot API on loopback, and the console in Debian's Chromium (driven by
Playwright) signed in as an operator. The queue starts with `--backlog` messages waiting
(their suggestions from a small knowledge base); then, `--messages` times, a customer
writes through the Telegram webhook and the operator opens the oldest free message (`n`)
and approves its suggestion (`a`; the answer waits the console's default 5 s, listed in the
sending bar, then goes). So the queue stays as long as it began, redrawn on every event, for
as many messages as a busy operator answers in a day or more; the operator is faster than
any person, which is the page's worst case.

Per block of `--block` messages it prints, from the page's side:
- arrival: the webhook's POST to its line in the operator's queue (the event stream, the
  queue's read and its redraw);
- open: `n` pressed to the message's detail drawn (its five reads: message, candidates,
  answers, history, the customer's notes and lines);
- send: `a` pressed to the answer listed in the sending bar;
- after a garbage collection, the page's JavaScript heap, its DOM nodes and its event
  listeners (Chrome's Performance.getMetrics).
The baseline is the first block, in the same run: an all-day page ends as it began.

    python bench/console_day.py [--messages 600] [--backlog 80] [--block 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from fake_bot_api import FakeBotApi
from harness import (
    WEBHOOK_PATH,
    Fleet,
    run_in_temporary_folder,
    serve_on_loopback,
    throwaway_database,
)
from loadgen import HEADERS, telegram_update
from machine import load_average

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
USERS = 500  # people writing: most lines are a customer's only one in the queue
WAIT_MS = 60_000
# The knowledge base: each shared phrase (corpus.py) with an answer of its own.
TOPICS = [
    ("Meu boleto venceu, ainda consigo pagar sem multa?", "financeiro"),
    ("O aplicativo fecha sozinho quando tento abrir a fatura", "suporte"),
    ("Quanto custa o plano anual para uma empresa pequena?", "vendas"),
    ("Quero cancelar minha assinatura a partir do mês que vem", "financeiro"),
    ("Qual o horário de atendimento de vocês no sábado?", "geral"),
    ("Fui cobrado duas vezes no cartão de crédito", "financeiro"),
    ("Não recebi o código de confirmação por SMS", "suporte"),
    ("Vocês entregam no interior de Minas Gerais?", "vendas"),
]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def spread(name: str, values: list[float]) -> dict[str, float]:
    """The median and 95th percentile of `values`, named after `name`."""
    return {f"{name}_p50": quantile(values, 0.5), f"{name}_p95": quantile(values, 0.95)}


class Customers:
    """Writes to the bot through the gateway's webhook, one Telegram update at a time."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.url, self.next_id = session, base + WEBHOOK_PATH, 1

    async def write(self) -> str:
        """One message; the text that marks it ("(pedido N)")."""
        update_id, self.next_id = self.next_id, self.next_id + 1
        async with self.session.post(
            self.url, data=telegram_update(update_id, USERS), headers=HEADERS
        ) as response:
            assert response.status == 200, await response.text()
        return f"(pedido {update_id})"


async def prepare(fleet: Fleet, session: aiohttp.ClientSession) -> str:
    """The knowledge base imported; an operator's key."""
    admin = fleet.run("keys", "create", "--role", "admin", "--name", "bench-admin").strip()
    items = [
        {"question": q, "answer": f"Resposta da equipe sobre: {q.lower()}", "sector": s}
        for q, s in TOPICS
    ]
    async with session.post(
        f"{fleet.base}/api/v1/admin/kb/import",
        json={"items": items},
        headers={"Authorization": f"Bearer {admin}"},
    ) as response:
        assert response.status == 200, await response.text()
    return fleet.run("keys", "create", "--role", "operator", "--name", "ana").strip()


async def wait_backlog(session: aiohttp.ClientSession, base: str, key: str, count: int) -> None:
    """Until `count` messages wait in the queue, each routed and suggested."""
    headers = {"Authorization": f"Bearer {key}"}
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        async with session.get(
            f"{base}/api/v1/operator/queue", params={"per_page": "100"}, headers=headers
        ) as response:
            page = await response.json()
        if page["total"] >= count and all(m["pipeline_ms"] is not None for m in page["items"]):
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the backlog of {count} messages was not triaged in 600 s")


async def wait_sent(bot_api: FakeBotApi, count: int, within: float = 60) -> None:
    """Until the delivery worker has sent `count` answers (or `within` seconds passed)."""
    for _ in range(int(within / 0.2)):
        if sum(bot_api.sent.values()) >= count:
            return
        await asyncio.sleep(0.2)


async def metrics(cdp) -> dict[str, float]:
    """The page's heap (MiB), DOM nodes and listeners, after a garbage collection."""
    await cdp.send("HeapProfiler.collectGarbage")
    values = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
    return {
        "heap": values["JSHeapUsedSize"] / 1024 / 1024,
        "nodes": values["Nodes"],
        "listeners": values["JSEventListeners"],
    }


async def answer_oldest(page) -> tuple[float, float]:
    """`n` then `a` on the console: seconds to the detail drawn, and to the answer held."""
    oldest = await page.locator("#queue-list li").first.get_attribute("data-id")
    started = time.perf_counter()
    await page.keyboard.press("n")
    title = re.compile(rf"#{oldest}$")  # not #120 for #12
    await page.locator("#detail h2", has_text=title).wait_for(timeout=WAIT_MS)
    await page.locator("#customer-message").wait_for(timeout=WAIT_MS)
    opened = time.perf_counter() - started
    started = time.perf_counter()
    if await page.locator("#suggestion-text").count():
        await page.keyboard.press("a")
    else:  # no suggestion cleared the bar: the operator writes one
        await page.fill("#answer", "Já verifiquei e resolvi por aqui.")
        await page.press("#answer", "Control+Enter")
        await page.locator("#customer-message").click()  # out of the box, for `n`
    line = f'#sending-bar .sending-line[data-id="{oldest}"]'
    await page.locator(line).wait_for(state="attached", timeout=WAIT_MS)
    return opened, time.perf_counter() - started


async def day(args: argparse.Namespace, base: str, key: str, session) -> list[dict[str, float]]:
    from playwright.async_api import async_playwright

    customers = Customers(session, base)
    for _ in range(args.backlog):
        await customers.write()
    await wait_backlog(session, base, key, args.backlog)
    blocks: list[dict[str, float]] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        await cdp.send("Performance.enable")
        await page.goto(f"{base}/console")
        await page.fill("#signin-key", key)
        await page.fill("#signin-name", "Ana")
        await page.click("#signin-submit")
        await page.wait_for_selector("#live-status.on", timeout=WAIT_MS)
        await page.locator("#queue-list li").nth(args.backlog - 1).wait_for(timeout=WAIT_MS)
        start = await metrics(cdp)
        print(f"signed in, {args.backlog} waiting: heap {start['heap']:.1f} MiB, "
              f"{start['nodes']:.0f} nodes, {start['listeners']:.0f} listeners")  # fmt: skip
        arrivals: list[float] = []
        opens: list[float] = []
        sends: list[float] = []
        held = 0
        for done in range(1, args.messages + 1):
            started = time.perf_counter()
            mark = await customers.write()
            await page.locator("#queue-list li", has_text=mark).wait_for(timeout=WAIT_MS)
            arrivals.append(time.perf_counter() - started)
            opened, sent = await answer_oldest(page)
            opens.append(opened)
            sends.append(sent)
            held = max(held, await page.locator("#sending-bar .sending-line").count())
            if done % args.block == 0:
                block = {
                    "done": done,
                    **spread("arrival", arrivals),
                    **spread("open", opens),
                    **spread("send", sends),
                    "held": held,
                    **await metrics(cdp),
                }  # fmt: skip
                blocks.append(block)
                report_block(block)
                arrivals, opens, sends, held = [], [], [], 0
        # The last answers wait their 5 s in the bar: gone from it, every one has gone.
        await page.locator("#sending-bar").wait_for(state="hidden", timeout=WAIT_MS)
        await browser.close()
    return blocks


def report_block(block: dict[str, float]) -> None:
    ms = {k: v * 1000 for k, v in block.items() if k.endswith(("p50", "p95"))}
    print(
        f"{block['done']:>6.0f}  arrival {ms['arrival_p50']:5.0f} / {ms['arrival_p95']:5.0f} ms"
        f"  open {ms['open_p50']:5.0f} / {ms['open_p95']:5.0f} ms"
        f"  send {ms['send_p50']:4.0f} / {ms['send_p95']:4.0f} ms"
        f"  bar {block['held']:>2.0f}  heap {block['heap']:5.1f} MiB"
        f"  nodes {block['nodes']:6.0f}  listeners {block['listeners']:5.0f}",
        flush=True,
    )


def verdict(blocks: list[dict[str, float]]) -> None:
    first, last = blocks[0], blocks[-1]
    print(f"\nbaseline: the first block ({first['done']:.0f} messages), same run")
    for name, unit in (("heap", "MiB"), ("nodes", ""), ("listeners", "")):
        print(f"  {name:<16} {first[name]:8.1f} -> {last[name]:8.1f} {unit}"
              f"  ({last[name] - first[name]:+.1f})")  # fmt: skip
    for name in ("arrival_p95", "open_p95", "send_p95"):
        print(f"  {name:<16} {first[name] * 1000:8.0f} -> {last[name] * 1000:8.0f} ms"
              f"  (x{last[name] / first[name]:.2f})")  # fmt: skip
    heaps = [b["heap"] for b in blocks]
    print(f"  heap over the blocks: median {statistics.median(heaps):.1f} MiB, "
          f"max {max(heaps):.1f} MiB")  # fmt: skip


@contextlib.asynccontextmanager
async def serving(
    database_url: str | None, folder: Path
) -> AsyncIterator[tuple[Fleet, FakeBotApi]]:
    """`atende serve` on a throwaway database, migrated and live, its Telegram a fake Bot
    API on loopback."""
    async with throwaway_database(database_url, folder) as dsn:
        bot_api = FakeBotApi()
        runner, bot_api_url = await serve_on_loopback(bot_api.app())
        fleet = Fleet(
            folder,
            dsn,
            ATENDE_TELEGRAM_API_URL=bot_api_url,
            ATENDE_LOG_LEVEL="warning",
            ATENDE_RATE_LIMIT_PER_MINUTE="0",  # fast clients, not what is measured
        )
        try:
            fleet.run("migrate")
            fleet.start("gateway", "serve")
            await fleet.wait_live()
            yield fleet, bot_api
        finally:
            fleet.stop()
            await runner.cleanup()


async def measure(args: argparse.Namespace, folder: Path) -> int:
    async with serving(args.database_url, folder) as (fleet, bot_api):
        async with aiohttp.ClientSession() as session:
            key = await prepare(fleet, session)
            print(f"load average (1 min) at start: {load_average():.2f}; {os.cpu_count()} cores")
            blocks = await day(args, fleet.base, key, session)
        verdict(blocks)
        await wait_sent(bot_api, args.messages)
        sent = sum(bot_api.sent.values())
        print(f"  the fake Bot API got {sent} answers for {args.messages} messages answered")
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--backlog", type=int, default=80)
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="a server to use, not embedded")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        parser.error(f"{CHROMIUM} is absent: apt-get install chromium")
    if not 1 <= args.backlog <= 100:
        parser.error("--backlog must be 1 to 100 (the console lists the oldest 100)")
    return run_in_temporary_folder(measure, args, "atende-console-day-")


if __name__ == "__main__":
    sys.exit(main())
