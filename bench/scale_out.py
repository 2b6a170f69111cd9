"""Scale-out: two gateways and two workers on one PostgreSQL, with duplicates at both.

One embedded PostgreSQL 18 (in a temporary folder) is handed to every process as
DATABASE_URL, as a production database would be. `atende migrate` runs once; then two
`atende serve` processes (ATENDE_RUN_WORKER=false, ATENDE_MIGRATE_ON_START=false, their
own ports) and two `atende worker` processes start, all with the same Telegram bot, whose
Bot API is a fake on loopback that counts what it is asked to send. Embeddings come from
the local use-multilingual model (pure numpy, ~15x faster than e5-small).

1. Webhooks: `--updates` distinct Telegram updates, `--concurrency` at a time, spread
   over both gateways; every `--both-every`th update is POSTed to BOTH gateways at the same
   moment, as a platform retrying through a load balancer would.
2. The workers embed, route and suggest; the script waits until every message is done.
3. Approvals through the REST API of both gateways: most messages once, through either
   gateway; every `--race-every`th twice at once, one approval at each gateway, half of
   those with the same answer (a double click) and half with two different answers (two
   operators).
4. The workers send the approved answers to the fake Bot API.

Checked and printed: rows per update (no duplicates, nothing acknowledged lost), how
many messages each worker embedded and triaged (from their debug logs: each message
exactly once in all), what the approvals were answered, and how many times the fake Bot
API received each answer.

    python bench/scale_out.py [--updates 1200] [--concurrency 32] [--both-every 3]
        [--race-every 10] [--keep-logs]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
from fake_bot_api import FakeBotApi
from harness import (
    BOT,
    WEBHOOK_PATH,
    Fleet,
    free_port,
    run_in_temporary_folder,
    serve_on_loopback,
    throwaway_database,
)
from loadgen import HEADERS, telegram_update

USERS = 400
DONE_WITHIN_S = 300.0


# --- the phases -----------------------------------------------------------------------


@dataclass
class Webhooks:
    posts: Counter[str] = field(default_factory=Counter)  # per gateway
    statuses: Counter[int] = field(default_factory=Counter)
    acknowledged: set[int] = field(default_factory=set)
    stored_reported: Counter[int] = field(default_factory=Counter)  # update_id -> "stored"
    both: int = 0


async def send_webhooks(
    session: aiohttp.ClientSession, gateways: list[str], args: argparse.Namespace
) -> Webhooks:
    result = Webhooks()
    rng = random.Random(6)
    first = 1_000
    jobs = iter(range(first, first + args.updates))

    async def one(base: str, update_id: int) -> None:
        async with session.post(
            base + WEBHOOK_PATH,
            data=telegram_update(update_id, USERS),
            headers=HEADERS,
        ) as response:
            body = await response.read()
        result.posts[base] += 1
        result.statuses[response.status] += 1
        if response.status == 200:
            result.acknowledged.add(update_id)
            result.stored_reported[update_id] += json.loads(body)["stored"]

    async def client() -> None:
        for update_id in jobs:
            if (update_id - first) % args.both_every == 0:
                result.both += 1
                await asyncio.gather(*(one(base, update_id) for base in gateways))
            else:
                await one(rng.choice(gateways), update_id)

    await asyncio.gather(*(client() for _ in range(args.concurrency)))
    return result


@dataclass
class Approvals:
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)  # (kind, status)
    expected: dict[int, set[str]] = field(default_factory=dict)  # id -> answers approved


async def approve_all(
    session: aiohttp.ClientSession,
    gateways: list[str],
    key: str,
    ids: list[int],
    args: argparse.Namespace,
) -> Approvals:
    result = Approvals()
    headers = {"Authorization": f"Bearer {key}"}
    rng = random.Random(7)
    jobs = iter(enumerate(ids))

    async def approve(base: str, interaction_id: int, answer: str, kind: str) -> int:
        async with session.post(
            f"{base}/api/v1/operator/messages/{interaction_id}/approve",
            json={"answer": answer, "operator_name": f"op-{base[-4:]}"},
            headers=headers,
        ) as response:
            await response.read()
        result.statuses[(kind, response.status)] += 1
        if response.status == 200:
            result.expected.setdefault(interaction_id, set()).add(answer)
        return response.status

    async def client() -> None:
        for index, interaction_id in jobs:
            answer = f"Resposta {interaction_id}: veja o app."
            if index % args.race_every == 0:
                same = (index // args.race_every) % 2 == 0
                kind = "race, same answer" if same else "race, two answers"
                answers = [answer, answer if same else f"Outra resposta {interaction_id}."]
                await asyncio.gather(
                    *(
                        approve(b, interaction_id, a, kind)
                        for b, a in zip(gateways, answers, strict=True)
                    )
                )
            else:
                await approve(rng.choice(gateways), interaction_id, answer, "single")

    await asyncio.gather(*(client() for _ in range(args.concurrency)))
    return result


async def wait_for(conn: asyncpg.Connection, query: str, what: str, fleet: Fleet) -> float:
    """Seconds until `query` counts zero; raises after DONE_WITHIN_S."""
    began = time.monotonic()
    while (left := await conn.fetchval(query)) != 0:
        fleet.check_alive()
        if time.monotonic() - began > DONE_WITHIN_S:
            raise RuntimeError(f"{left} {what} after {DONE_WITHIN_S:g} s")
        await asyncio.sleep(0.5)
    return time.monotonic() - began


# --- the run --------------------------------------------------------------------------


async def run(args: argparse.Namespace, folder: Path) -> int:
    async with throwaway_database(None, folder) as dsn:
        bot_api = FakeBotApi()
        runner, bot_api_url = await serve_on_loopback(bot_api.app())
        fleet = Fleet(
            folder,
            dsn,
            ATENDE_MIGRATE_ON_START="false",
            ATENDE_TELEGRAM_API_URL=bot_api_url,
            ATENDE_EMBEDDING_PROVIDER="use-multilingual",
            ATENDE_LOG_LEVEL="info",
            # One operator key approves everything through two processes; the per-key limit
            # is per process and not what is measured here.
            ATENDE_RATE_LIMIT_PER_MINUTE="0",
        )
        try:
            return await run_phases(args, dsn, fleet, bot_api)
        finally:
            fleet.stop()
            await runner.cleanup()
            if args.keep_logs:
                for name in fleet.processes:
                    shutil.copy(fleet.log(name), Path.cwd() / f"scale_out_{name}.log")
                print(f"logs kept in {Path.cwd()}/scale_out_*.log")


async def run_phases(args: argparse.Namespace, dsn: str, fleet: Fleet, bot_api: FakeBotApi) -> int:
    """The four phases of the module's docstring, then the report; its exit code."""
    fleet.run("migrate")
    key = fleet.run("keys", "create", "--role", "operator", "--name", "bench").strip()
    ports = [free_port(), free_port()]
    gateways = [f"http://127.0.0.1:{port}" for port in ports]
    for number, port in enumerate(ports, 1):
        fleet.start(f"gateway-{number}", "serve", "--port", str(port), ATENDE_RUN_WORKER="false")
    for number in (1, 2):
        # Debug: the embedding worker logs each batch's size only at that level.
        fleet.start(f"worker-{number}", "worker", ATENDE_LOG_LEVEL="debug")
    connector = aiohttp.TCPConnector(limit=2 * args.concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        for base in gateways:
            await fleet.wait_live(base)
        print(
            f"scale-out: 2 `atende serve` (ATENDE_RUN_WORKER=false) + 2 `atende worker` on one "
            f"embedded PostgreSQL 18 via DATABASE_URL; use-multilingual embeddings; fake Bot "
            f"API on loopback\n{args.updates} updates, {args.concurrency} at a time, 1 in "
            f"{args.both_every} to both gateways at once; 1 approval in {args.race_every} "
            "raced at both"
        )
        began = time.monotonic()
        hooks = await send_webhooks(session, gateways, args)
        ingest_s = time.monotonic() - began

        conn = await asyncpg.connect(dsn)
        try:
            triage_s = await wait_for(
                conn,
                "SELECT count(*) FROM chat_interactions "
                "WHERE embedding IS NULL OR pipeline_done_at IS NULL",
                "messages not embedded, routed and suggested",
                fleet,
            )
            rows = await conn.fetch(
                "SELECT id, update_key, message, sector FROM chat_interactions "
                "WHERE channel = 'telegram' AND channel_account = $1 ORDER BY id",
                BOT,
            )
            ids = [r["id"] for r in rows]
            random.Random(8).shuffle(ids)
            began = time.monotonic()
            approvals = await approve_all(session, gateways, key, ids, args)
            approve_s = time.monotonic() - began
            send_s = await wait_for(
                conn,
                "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')",
                "deliveries not sent",
                fleet,
            )
            deliveries = await conn.fetch(
                "SELECT d.interaction_id, d.body, d.status, d.recipient "
                "FROM deliveries d ORDER BY d.id"
            )
        finally:
            await conn.close()
    # Let the last log lines reach the files before they are read.
    await asyncio.sleep(1.0)
    return report(
        fleet, hooks, rows, approvals, deliveries, bot_api, ingest_s, triage_s, approve_s,
        send_s,
    )  # fmt: skip


def report(
    fleet: Fleet,
    hooks: Webhooks,
    rows: list[asyncpg.Record],
    approvals: Approvals,
    deliveries: list[asyncpg.Record],
    bot_api: FakeBotApi,
    ingest_s: float,
    triage_s: float,
    approve_s: float,
    send_s: float,
) -> int:
    failed = False

    def verdict(ok: bool) -> str:
        nonlocal failed
        failed |= not ok
        return "OK" if ok else "FAILED"

    print(
        f"\nwebhooks: {sum(hooks.posts.values())} POSTs in {ingest_s:.1f} s "
        f"({', '.join(f'{n} to gateway-{i}' for i, n in enumerate(hooks.posts.values(), 1))}); "
        f"{hooks.both} updates sent to both at once; statuses {dict(hooks.statuses)}"
    )
    keys = [int(r["update_key"]) for r in rows]
    missing = hooks.acknowledged - set(keys)
    reported = Counter(hooks.stored_reported.values())
    print(
        f"  rows: {len(rows)} for {len(set(keys))} update_ids; {len(hooks.acknowledged)} "
        f"acknowledged, {len(missing)} missing -> "
        + verdict(not missing and len(keys) == len(set(keys)))
        + f"; updates reported stored by how many of their POSTs: {dict(sorted(reported.items()))}"
        + f" -> {verdict(set(reported) == {1})}"
    )

    embedded: Counter[str] = Counter()
    triaged: Counter[int] = Counter()
    triaged_by: Counter[str] = Counter()
    for name in ("worker-1", "worker-2"):
        for event in fleet.events(name):
            if event.get("event") == "embedded":
                embedded[name] += int(event["rows"])
            elif event.get("event") == "message_triaged":
                triaged[int(event["interaction_id"])] += 1
                triaged_by[name] += 1
    ids = {r["id"] for r in rows}
    print(
        f"workers ({triage_s:.1f} s after the last webhook until all were done): embedded "
        f"{dict(embedded)} = {sum(embedded.values())} for {len(rows)} messages -> "
        + verdict(sum(embedded.values()) == len(rows))
        + f"; triaged {dict(triaged_by)}, each message "
        + f"{dict(Counter(triaged[i] for i in ids))} time(s) -> "
        + verdict(all(triaged[i] == 1 for i in ids) and set(triaged) <= ids)
    )

    print(f"approvals ({approve_s:.1f} s): " + ", ".join(
        f"{kind} -> {status}: {n}" for (kind, status), n in sorted(approvals.statuses.items())
    ))  # fmt: skip
    print(f"  messages approved: {len(approvals.expected)} of {len(rows)}")

    by_status = Counter(r["status"] for r in deliveries)
    received = sum(bot_api.sent.values())
    repeated = {k: n for k, n in bot_api.sent.items() if n > 1}
    per_message: Counter[int] = Counter()
    for r in deliveries:
        # One row per part of an approved answer, addressed to the customer's chat.
        per_message[r["interaction_id"]] += bot_api.sent.get((str(r["recipient"]), r["body"]), 0)
    two_answers = {i: a for i, a in approvals.expected.items() if len(a) > 1}
    print(
        f"sends ({send_s:.1f} s after the last approval until none was pending): deliveries "
        f"{dict(by_status)}; the fake Bot API received {received} messages for "
        f"{len(approvals.expected)} approved messages; the same text to the same chat more "
        f"than once: {len(repeated)} -> " + verdict(not repeated)
    )
    sent_per_message = Counter(per_message[i] for i in approvals.expected)
    print(
        f"  answers the customer received per approved message: "
        f"{dict(sorted(sent_per_message.items()))} -> " + verdict(set(sent_per_message) == {1})
    )
    if two_answers:
        print(
            f"  {len(two_answers)} messages were approved by BOTH racing operators with different "
            f"answers, e.g. {next(iter(two_answers))}: {sorted(next(iter(two_answers.values())))}"
        )
    errors = Counter()
    for name in fleet.processes:
        for event in fleet.events(name):
            if (
                event.get("level") in ("error", "critical")
                or event.get("event") == "unhandled_error"
            ):
                errors[(name, event.get("event"))] += 1
    print(f"errors logged: {dict(errors) or 'none'}")
    print("\nresult:", "FAILED" if failed else "OK")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1200, help="distinct Telegram updates")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument(
        "--both-every", type=int, default=3, help="every Nth update goes to both gateways"
    )
    parser.add_argument(
        "--race-every", type=int, default=10, help="every Nth approval is raced at both"
    )
    parser.add_argument("--keep-logs", action="store_true", help="copy the processes' logs here")
    args = parser.parse_args()
    sys.exit(run_in_temporary_folder(run, args, "atende-scale-"))


if __name__ == "__main__":
    main()
