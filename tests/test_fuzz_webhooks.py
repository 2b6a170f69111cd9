"""Webhook bodies nobody should send, signed as the platforms sign them.

Hypothesis makes Telegram updates and WhatsApp notifications with odd content: any unicode
(NUL, lone surrogates as JSON escapes), huge and negative numbers, floats and strings where
numbers belong, wrong types, missing and extra fields, deep nesting, empty objects, arrays
instead of objects, very long texts. Each goes through the real app with a valid secret or
signature. Whatever the body, atende must not answer 5xx; a 2xx that says it stored
messages must have put exactly that many rows in chat_interactions; a 4xx must be JSON that
names the problem.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import hypothesis
from hypothesis import HealthCheck
from hypothesis import strategies as st

from tests.connectors import conftest as channels
from tests.connectors.conftest import (
    post_telegram,
    post_whatsapp,
    sql,
    telegram_text_update,
    whatsapp_body,
    whatsapp_text,
)

# The channel fixtures of tests/connectors, shared here: the real app with one Telegram bot
# and one WhatsApp number, fakes of their platforms on loopback.
fake_telegram = channels.fake_telegram
fake_whatsapp = channels.fake_whatsapp
channel_settings = channels.channel_settings
app_client = channels.app_client

EXAMPLES = 250
FUZZ = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # The app and its database are built once per test, outside the examples.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
    print_blob=False,
)

# Any code point, lone surrogates included (json.dumps writes them as \udXXX escapes).
ANY_CHAR = st.characters(exclude_categories=())
ODD_TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "\udfff x", "\u202e", "😀" * 3]),
    # Long texts, built rather than drawn character by character.
    st.builds(
        lambda unit, times: unit * times,
        st.sampled_from(["a", "ç", "\x00", "😀", "\ud83d", "ab "]),
        st.integers(4000, 20_000),
    ),
)
ODD_INT = st.one_of(
    st.integers(-(2**63), 2**63),
    st.sampled_from([0, -1, 2**31, 2**63, -(2**64), 10**30, 10**400]),
)
ODD_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    ODD_INT,
    st.floats(allow_nan=False, allow_infinity=False),
    ODD_TEXT,
)
JSON = st.recursive(
    ODD_SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(ANY_CHAR, max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)


@dataclass(frozen=True)
class Deep:
    """Objects and arrays nested `depth` times around `leaf`; written by `encode`, as
    json.dumps itself stops at about a thousand levels."""

    depth: int
    leaf: Any


def encode(value: Any) -> bytes:
    return _encode(value).encode()


def _encode(value: Any) -> str:
    if isinstance(value, Deep):
        opening = "".join('{"x":' if level % 2 else "[" for level in range(value.depth))
        closing = "".join("}" if level % 2 else "]" for level in reversed(range(value.depth)))
        return opening + _encode(value.leaf) + closing
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    return json.dumps(value)


# Deep, but within what the JSON decoder takes (about a thousand levels, less the stack
# the server already uses); deeper bodies are tested on their own below.
DEEP = st.builds(Deep, st.integers(50, 700), ODD_SCALAR)
# Fresh empty containers each time: a shared one would be filled in by later mutations.
ODD = st.one_of(ODD_SCALAR, JSON, DEEP, st.builds(dict), st.builds(list))


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], fields: dict[str, st.SearchStrategy]) -> Any:
    """`base` with a few of `fields` (dotted paths) given other valid values, odd values or
    taken out, and maybe an extra field. A few at a time, so that most bodies still carry
    a message and the storing path is exercised, not only the refusals."""
    body = copy.deepcopy(base)
    for path in draw(st.lists(st.sampled_from(sorted(fields)), max_size=3, unique=True)):
        *parents, name = path.split(".")
        target = body
        for parent in parents:
            if isinstance(target, list) and parent.isdigit() and int(parent) < len(target):
                target = target[int(parent)]
            else:
                target = target.get(parent) if isinstance(target, dict) else None
        if isinstance(target, list) and name.isdigit() and int(name) < len(target):
            # An element of a list: replaced or made odd, never taken out.
            target[int(name)] = draw(fields[path] if draw(st.booleans()) else ODD)
            continue
        if not isinstance(target, dict):
            continue
        choice = draw(st.sampled_from(["valid", "odd", "drop"]))
        if choice == "valid":
            target[name] = draw(fields[path])
        elif choice == "odd":
            target[name] = draw(ODD)
        else:
            target.pop(name, None)
    if draw(st.integers(0, 3)) == 0:
        body[draw(st.text(ANY_CHAR, max_size=10))] = draw(ODD)
    return body


# Ids of a body before it is mutated: new ones each time, so that a body that still carries
# a message stores it rather than repeating one already stored.
IDS = st.integers(1, 2**40)


def _telegram_message(kind: str, update_id: int, message_id: int) -> dict[str, Any]:
    update = telegram_text_update(update_id, message_id, "oi")
    update[kind] = update.pop("message")
    return update


TELEGRAM_FIELDS: dict[str, st.SearchStrategy] = {
    "update_id": ODD_INT,
    "M.message_id": ODD_INT,
    "M.date": ODD_INT,
    "M.edit_date": ODD_INT,
    "M.text": ODD_TEXT,
    "M.caption": ODD_TEXT,
    "M.from": st.fixed_dictionaries(
        {"id": ODD_INT, "is_bot": st.booleans(), "first_name": ODD_TEXT}
    ),
    "M.from.id": ODD_INT,
    "M.from.first_name": ODD_TEXT,
    "M.from.last_name": ODD_TEXT,
    "M.chat": st.fixed_dictionaries({"id": ODD_INT, "type": st.sampled_from(["private", "x"])}),
    "M.chat.id": ODD_INT,
    "M.chat.type": ODD_TEXT,
    "M.photo": st.lists(
        st.fixed_dictionaries(
            {"file_id": ODD_TEXT, "width": ODD_INT, "height": ODD_INT, "file_unique_id": ODD_TEXT}
        ),
        max_size=3,
    ),
    "M.location": st.fixed_dictionaries({"latitude": ODD_SCALAR, "longitude": ODD_SCALAR}),
    "M.contact": st.fixed_dictionaries({"phone_number": ODD_TEXT, "first_name": ODD_TEXT}),
    "M.sticker": st.fixed_dictionaries({"file_id": ODD_TEXT, "emoji": ODD_TEXT, "width": ODD_INT}),
}


@st.composite
def telegram_updates(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(ODD)
    kind = draw(
        st.sampled_from(
            ["message", "edited_message", "channel_post", "edited_channel_post", "callback_query"]
        )
    )
    if kind == "callback_query":
        base = {
            "update_id": draw(IDS),
            "callback_query": {
                "id": str(draw(IDS)),
                "from": {"id": 4242, "is_bot": False, "first_name": "Maria"},
                "chat_instance": "1",
                "data": "ok",
            },
        }
        fields = {
            "update_id": ODD_INT,
            "callback_query.id": ODD_TEXT,
            "callback_query.data": ODD_TEXT,
            "callback_query.from": ODD,
            "callback_query.from.id": ODD_INT,
            "callback_query.message": ODD,
        }
        return draw(mutated(base, fields))
    fields = {path.replace("M", kind, 1): value for path, value in TELEGRAM_FIELDS.items()}
    return draw(mutated(_telegram_message(kind, draw(IDS), draw(IDS)), fields))


WA_MESSAGE_FIELDS: dict[str, st.SearchStrategy] = {
    "from": st.one_of(ODD_TEXT, ODD_INT),
    "id": st.one_of(ODD_TEXT, ODD_INT),
    "timestamp": st.one_of(ODD_TEXT, ODD_INT, st.floats()),
    "type": st.sampled_from(
        [
            "text",
            "image",
            "audio",
            "interactive",
            "button",
            "reaction",
            "location",
            "contacts",
            "order",
            "edit",
            "unsupported",
            "system",
            "x",
        ]
    ),
    "text": ODD,
    "text.body": ODD_TEXT,
    "image": ODD,
    "audio": st.fixed_dictionaries({"id": ODD_TEXT, "voice": ODD_SCALAR}),
    "interactive": st.fixed_dictionaries(
        {"type": st.sampled_from(["button_reply", "list_reply", "nfm_reply"]), "button_reply": ODD}
    ),
    "button": ODD,
    "reaction": st.fixed_dictionaries({"emoji": ODD_SCALAR, "message_id": ODD_SCALAR}),
    "location": st.fixed_dictionaries({"latitude": ODD_SCALAR, "name": ODD_SCALAR}),
    "contacts": st.lists(ODD, max_size=3),
    "order": ODD,
    "edit": st.fixed_dictionaries({"message": ODD, "original_message_id": ODD_SCALAR}),
    "errors": st.lists(ODD, max_size=2),
}


WA_STATUS_FIELDS: dict[str, st.SearchStrategy] = {
    "id": st.one_of(ODD_TEXT, ODD_INT),
    "status": st.sampled_from(["sent", "delivered", "read", "failed", "x"]),
    "errors": st.lists(
        st.fixed_dictionaries({"code": ODD_SCALAR, "title": ODD, "message": ODD}), max_size=2
    ),
}
WA_BODY_FIELDS: dict[str, st.SearchStrategy] = {
    "object": ODD,
    "entry": ODD,
    "entry.0": ODD,
    "entry.0.changes": ODD,
    "entry.0.changes.0.field": ODD,
    "entry.0.changes.0.value": ODD,
}
WA_VALUE_FIELDS: dict[str, st.SearchStrategy] = {
    "metadata": ODD,
    "metadata.phone_number_id": st.one_of(ODD_TEXT, ODD_INT),
    "contacts": st.lists(st.fixed_dictionaries({"wa_id": ODD_SCALAR, "profile": ODD}), max_size=2),
    "messages": st.one_of(ODD, st.lists(ODD, max_size=2)),
    "statuses": st.one_of(ODD, st.lists(ODD, max_size=2)),
}


@st.composite
def whatsapp_bodies(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(ODD)
    # One layer of the notification is made odd at a time, the message most often.
    layer = draw(st.sampled_from(["message", "message", "message", "status", "body", "value"]))
    message = whatsapp_text(f"wamid.{draw(IDS)}", "oi")
    if layer == "message":
        message = draw(mutated(message, WA_MESSAGE_FIELDS))
    status: dict[str, Any] = {"id": "wamid.out", "status": "read", "recipient_id": "5511999990000"}
    if layer == "status":
        status = draw(mutated(status, WA_STATUS_FIELDS))
    body = whatsapp_body([message], [status] if draw(st.booleans()) else None)
    if layer == "body":
        return draw(mutated(body, WA_BODY_FIELDS))
    if layer == "value":
        change = body["entry"][0]["changes"][0]
        change["value"] = draw(mutated(change["value"], WA_VALUE_FIELDS))
    return body


@dataclass(frozen=True)
class Body:
    """A generated body; its repr (what Hypothesis prints for a failure) is kept short."""

    value: Any

    def __repr__(self) -> str:
        raw = _encode(self.value)
        return f"Body({raw[:2000]!r}{'...' if len(raw) > 2000 else ''}, {len(raw)} chars)"


async def _count(client) -> int:
    [row] = await sql(client, "SELECT count(*) AS n FROM chat_interactions")
    return int(row["n"])


async def _check_answer(client, post: Callable[[], Awaitable[Any]]) -> int:
    """The property: no 5xx; a 2xx stored what it says; a 4xx is JSON naming the problem.
    Returns how many messages the answer said were stored."""
    before = await _count(client)
    response = await post()
    raw = await response.read()
    assert response.status < 500, raw[:2000]
    body = json.loads(raw)
    if response.status < 300:
        assert body["ok"] is True
        assert await _count(client) - before == body["stored"], body
        return int(body["stored"])
    assert isinstance(body["error"]["code"], str)
    assert body["error"]["message"], body
    return 0


def _run(client, loop: asyncio.AbstractEventLoop, strategy, post) -> tuple[int, int]:
    """Hypothesis in this thread, each example's request on the app's loop; returns the
    bodies sent and how many of them stored something."""
    sent = storing = 0

    @hypothesis.given(body=strategy.map(Body))
    @FUZZ
    def example(body: Body) -> None:
        nonlocal sent, storing
        sent += 1
        future = asyncio.run_coroutine_threadsafe(
            _check_answer(client, lambda: post(client, encode(body.value))), loop
        )
        storing += future.result(timeout=60) > 0

    example()
    return sent, storing


async def test_odd_telegram_updates_never_fail_the_server(app_client):
    loop = asyncio.get_running_loop()
    sent, storing = await asyncio.to_thread(
        _run, app_client, loop, telegram_updates(), post_telegram
    )
    # Odd bodies that still carry a message must be stored, not only acknowledged.
    assert (sent, storing > sent // 5) == (EXAMPLES, True), (sent, storing)


async def test_odd_whatsapp_bodies_never_fail_the_server(app_client):
    loop = asyncio.get_running_loop()
    sent, storing = await asyncio.to_thread(
        _run, app_client, loop, whatsapp_bodies(), post_whatsapp
    )
    assert (sent, storing > sent // 5) == (EXAMPLES, True), (sent, storing)


# Regression tests for what the fuzzing found, one plain example each.
