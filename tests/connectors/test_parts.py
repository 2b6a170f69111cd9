"""The connectors' pure parts: splitting, pacing, signing, error mapping, configuration."""

from __future__ import annotations

import pytest

from config.channels import ChannelConfigError, load_channels
from config.errors import Forbidden, Unauthorized
from connectors.http import JsonReply
from connectors.ratelimit import RateLimiter
from connectors.signing import check_body_signature, check_shared_secret, signature_header
from connectors.splitting import split_text
from connectors.whatsapp.connector import failure


def test_short_text_is_one_part():
    assert split_text("Olá!", 4096) == ["Olá!"]
    assert split_text("x" * 5000, None) == ["x" * 5000]


def test_split_prefers_sentence_ends_then_words_then_a_hard_cut():
    text = "Primeira frase curta. Segunda frase um pouco maior! Terceira?"
    parts = split_text(text, 30)
    assert "".join(parts) == text
    assert parts[0] == "Primeira frase curta. "
    assert all(len(p) <= 30 for p in parts)

    words = "palavra " * 20
    parts = split_text(words.strip(), 50)
    assert "".join(parts) == words.strip()
    assert all(p.endswith(" ") for p in parts[:-1])  # never inside a word

    parts = split_text("a" * 120, 50)
    assert parts == ["a" * 50, "a" * 50, "a" * 20]


def test_split_keeps_order_and_every_character_of_a_long_answer():
    text = " ".join(f"Item {i}: detalhe importante. " for i in range(600))
    parts = split_text(text, 4096)
    assert len(parts) > 1
    assert "".join(parts) == text
    assert all(0 < len(p) <= 4096 for p in parts)


async def test_rate_limiter_paces_overall_and_per_chat():
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    limiter = RateLimiter(2.0, per_chat_interval=1.0, clock=lambda: now[0], sleep=sleep)
    assert await limiter.acquire("a") == 0  # slot at 0.0
    assert await limiter.acquire("b") == 0.5  # overall: 2 a second
    assert await limiter.acquire("a") == 1.0  # chat a: 1 a second
    assert await limiter.acquire("c") == 1.5  # after a's slot at 1.0
    now[0] = 10.0
    assert await limiter.acquire("a") == 0
    assert waits == [0.5, 1.0, 1.5]


def test_shared_secret_and_body_signature():
    with pytest.raises(Unauthorized):
        check_shared_secret(None, "s3cret", "X-Secret")
    with pytest.raises(Forbidden):
        check_shared_secret("s3cre", "s3cret", "X-Secret")
    check_shared_secret("s3cret", "s3cret", "X-Secret")

    body = b'{"a": 1}'
    good = signature_header("key", body)
    assert good.startswith("sha256=")
    assert len(good) == 7 + 64
    check_body_signature(good, "key", body, "X-Sig")
    check_body_signature(good.upper().replace("SHA256=", "sha256="), "key", body, "X-Sig")
    with pytest.raises(Unauthorized):
        check_body_signature("", "key", body, "X-Sig")
    for wrong in (signature_header("other", body), good[7:], "sha256=zz"):
        with pytest.raises(Forbidden):
            check_body_signature(wrong, "key", body, "X-Sig")


@pytest.mark.parametrize(
    ("status", "code", "permanent", "retry_after"),
    [
        (400, 131047, True, None),  # outside the 24-hour window
        (400, 131026, True, None),  # undeliverable
        (400, 100, True, None),  # invalid parameter / recipient
        (400, 130429, False, 60.0),  # throughput limit
        (400, 131056, False, 60.0),  # pair rate limit
        (500, 131000, False, None),
        (503, None, False, None),
    ],
)
def test_whatsapp_errors_map_to_retry_or_final(status, code, permanent, retry_after):
    body = {"error": {"code": code, "message": "m"}} if code is not None else None
    error = failure(JsonReply(status, body, None))
    assert (error.permanent, error.retry_after) == (permanent, retry_after)


def test_channels_file_and_environment_are_merged_and_names_unique(tmp_path):
    path = tmp_path / "channels.yaml"
    path.write_text(
        "telegram:\n  - {name: a, token: t, secret_token: s}\n"
        "whatsapp:\n  - {name: w, phone_number_id: '1', access_token: x, app_secret: y, "
        "verify_token: z}\n"
    )
    from config.channels import TelegramBot

    channels = load_channels(path, [TelegramBot(name="b", token="t2", secret_token="s2")])
    assert sorted(channels.telegram) == ["a", "b"]
    assert channels.whatsapp["w"].phone_number_id == "1"
    assert load_channels(tmp_path / "absent.yaml").telegram == {}
    with pytest.raises(ChannelConfigError, match="given twice: a"):
        load_channels(path, [TelegramBot(name="a", token="t2", secret_token="s2")])
    path.write_text("telegram:\n  - {name: 'bad name', token: t, secret_token: s}\n")
    with pytest.raises(ChannelConfigError, match="name"):
        load_channels(path)
