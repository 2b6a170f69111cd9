"""The plain-text reader gives exactly what python-telegram-bot's path gives.

`plain_text_message` reads common updates straight from their JSON; every update it takes
must normalise to the same InboundMessage as `normalise_update(parse_update(...))`, and it
must hand everything else back (None) rather than guess.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.telegram.normalise import normalise_raw, normalise_update, parse_update
from connectors.telegram.plain import plain_text_message
from tests.conftest import require_shared, shared_dir
from tests.connectors.test_conformance import _wrap


def _through_telegram_library(update: dict[str, Any]):
    try:
        parsed = parse_update(update)
    except (TypeError, ValueError, KeyError, AttributeError):
        return normalise_raw(update)
    assert parsed is not None
    return normalise_update(parsed)


def _samples() -> list[str]:
    root = shared_dir() / "fixtures" / "telegram"
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.glob("*/*.json"))


@pytest.mark.parametrize("sample", _samples() or ["absent"])
def test_every_sample_update_reads_the_same_or_is_left_to_the_library(sample):
    path = require_shared("fixtures", "telegram", f"{sample}.json")
    update = _wrap(json.loads(path.read_text()))
    plain = plain_text_message(update)
    if plain is not None:
        assert plain == _through_telegram_library(update)


def test_the_common_sample_message_is_read_plainly():
    path = require_shared("fixtures", "telegram", "teloxide-updates", "message.json")
    update = json.loads(path.read_text())
    assert plain_text_message(update) is not None


def _text_update(**changes: Any) -> dict[str, Any]:
    update: dict[str, Any] = {
        "update_id": 10,
        "message": {
            "message_id": 7,
            "date": 1_764_000_000,
            "chat": {"id": 42, "type": "private", "first_name": "Ana"},
            "from": {"id": 42, "is_bot": False, "first_name": "Ana"},
            "text": "Olá, meu pedido não chegou",
        },
    }
    update["message"].update(changes)
    return update


@pytest.mark.parametrize(
    "changes",
    [
        {"edit_date": 1_764_000_100},  # still a "message" kind, so plain: edits come apart
        {"from": {"id": 42, "is_bot": False, "first_name": "Ana", "last_name": "Souza"}},
        {"chat": {"id": -100123, "type": "supergroup", "title": "Loja"}},
        {"entities": [{"type": "bold", "offset": 0, "length": 3}]},
        {"reply_to_message": {"message_id": 3, "date": 1, "chat": {"id": 42, "type": "private"}}},
    ],
)
def test_text_messages_with_other_fields_read_the_same(changes):
    update = _text_update(**changes)
    plain = plain_text_message(update)
    assert plain is not None
    assert plain == _through_telegram_library(update)


@pytest.mark.parametrize(
    "update",
    [
        _text_update(text="   "),  # blank text is described, not stored blank
        _text_update(text=None, caption="foto", photo=[]),
        _text_update(**{"from": {"id": 42, "is_bot": False, "first_name": ""}}),
        _text_update(date=10**20),
        _text_update(message_id=True),
        {"update_id": 10, "edited_message": _text_update()["message"]},
        {**_text_update(), "callback_query": {}},
        [],
        "text",
    ],
)
def test_anything_else_is_left_to_the_library(update):
    assert plain_text_message(update) is None


_ints = st.integers(min_value=-(2**52), max_value=2**52)
_names = st.one_of(st.none(), st.text(max_size=20))


@settings(max_examples=300, deadline=None)
@given(
    update_id=_ints,
    message_id=_ints,
    chat_id=_ints,
    user_id=_ints,
    date=st.integers(min_value=0, max_value=4_000_000_000),
    text=st.text(min_size=1, max_size=200),
    first=st.text(min_size=1, max_size=20),
    last=_names,
)
def test_generated_text_updates_read_the_same(
    update_id, message_id, chat_id, user_id, date, text, first, last
):
    sender: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first}
    if last is not None:
        sender["last_name"] = last
    update = {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": date,
            "chat": {"id": chat_id, "type": "private"},
            "from": sender,
            "text": text,
        },
    }
    plain = plain_text_message(update)
    assert (plain is None) == (not text.strip())
    if plain is not None:
        assert plain == _through_telegram_library(update)
