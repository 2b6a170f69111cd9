"""Text is evened out before a local model embeds it, and the vectors say so."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.embeddings.accents import accent_spellings, restore_accents
from gateway.embeddings.local import (
    ABBREVIATIONS_SUFFIX,
    ACCENTS_SUFFIX,
    NORMALISED_SUFFIX,
    TEXT_OPTIONS,
    UseMultilingualEmbedder,
)
from gateway.embeddings.normalise import normalise_text


@pytest.mark.parametrize(
    ("typed", "evened"),
    [
        ("Não recebi o BOLETO!!!", "nao recebi o boleto!!"),
        ("naaao   recebi o boletooo", "naao recebi o boletoo"),
        ("COBRANÇA em DUPLICIDADE", "cobranca em duplicidade"),
        ("correr, assessor", "correr, assessor"),  # Portuguese's own double letters stay
        ("が", "が"),  # a Japanese voicing mark is part of its letter
        ("Йогурт", "йогурт"),  # and so is a Cyrillic breve
        ("", ""),
    ],
)
def test_normalise_text(typed: str, evened: str) -> None:
    assert normalise_text(typed) == evened


async def test_the_same_question_typed_two_ways_gets_one_vector() -> None:
    evened = UseMultilingualEmbedder(normalise=True)
    raw = UseMultilingualEmbedder(normalise=False)
    try:
        assert evened.model_id == raw.model_id + NORMALISED_SUFFIX
        a, b = await evened.embed(["Não recebi o BOLETO!!!", "nao recebi o boleto!!"])
        np.testing.assert_allclose(a, b, atol=1e-6)
        c, d = await raw.embed(["Não recebi o BOLETO!!!", "nao recebi o boleto!!"])
        assert float(np.dot(c, d)) < 0.999  # the model itself tells them apart
    finally:
        await evened.aclose()
        await raw.aclose()


@pytest.mark.parametrize(
    ("typed", "spelt"),
    [
        ("Vc pode ver PQ n chegou?", "voce pode ver porque nao chegou?"),
        ("manda a msg p/ mim, pfv", "manda a mensagem para mim, por favor"),
        ("p/voce hj", "para voce hoje"),
        ("Q horas vcs abrem?", "que horas voces abrem?"),
        # Only whole words: a word that holds an abbreviation keeps its letters.
        ("vcx pqno quando", "vcx pqno quando"),
        # "tô" and "tá" are English words once accents go, and stay as typed.
        ("to sem acesso, ta?", "to sem acesso, ta?"),
        ("I want to track my order", "i want to track my order"),
    ],
)
def test_abbreviations_are_spelt_out_when_asked(typed: str, spelt: str) -> None:
    assert normalise_text(typed, abbreviations=True) == spelt
    assert normalise_text(typed) == normalise_text(typed, abbreviations=False)


@pytest.mark.parametrize(
    ("option", "suffix", "typed", "spelt"),
    [
        (
            "abbreviations",
            ABBREVIATIONS_SUFFIX,
            "vc pode ver pq n chegou",
            "voce pode ver porque nao chegou",
        ),
        ("accents", ACCENTS_SUFFIX, "nao achei a cobranca", "não achei a cobrança"),
    ],
)
async def test_an_option_gives_a_text_typed_two_ways_one_vector(
    option: str, suffix: str, typed: str, spelt: str
) -> None:
    on = UseMultilingualEmbedder(**{option: True})
    off = UseMultilingualEmbedder()
    try:
        assert on.model_id == off.model_id + suffix
        a, b = await on.embed([typed, spelt])
        np.testing.assert_allclose(a, b, atol=1e-6)
        (c,) = await off.embed([typed])
        assert float(np.dot(a, c)) < 0.999  # without the option the model reads other words
    finally:
        await on.aclose()
        await off.aclose()
    # The options read evened-out text only.
    assert getattr(UseMultilingualEmbedder(normalise=False, **{option: True}), option) is False


@pytest.mark.parametrize(
    ("typed", "spelt"),
    [
        ("nao recebi a cobranca, voce ja viu?", "não recebi a cobrança, você já viu?"),
        ("o produto esta esgotado? ta caro", "o produto está esgotado? tá caro"),
        # As Brazil spells them, where Portugal opens the vowel ("eletrónico"); "-ém" alike.
        ("kd o premio eletronico? tambem", "kd o prêmio eletrônico? também"),
        ("cade meu pedido", "cadê meu pedido"),
        # Words more common as typed keep their spelling: "e" (and), not "é" (is).
        ("e o seguro? nos estamos sem acesso mas o pais", None),
        # Only whole words of letters: "2fa" is not "2fá"; unknown words stay.
        ("meu 2fa e o covid19 no app do pix", None),
        ("i want to track my order", None),
        ("", None),
    ],
)
def test_accents_are_put_back_on_portuguese_words(typed: str, spelt: str | None) -> None:
    assert restore_accents(typed) == (spelt or typed)


def test_the_accents_table_holds_only_words_spelt_better_with_accents() -> None:
    spellings = accent_spellings()
    assert spellings["nao"] == "não"
    assert spellings["cobranca"] == "cobrança"
    assert "e" not in spellings
    assert "mas" not in spellings
    assert all(word.isascii() and word.isalpha() for word in spellings)
    assert all(not spelt.isascii() for spelt in spellings.values())


def test_accents_come_back_after_the_evening_out() -> None:
    typed = "NAO recebi a COBRANÇA!!!, vc ja viu?"
    assert normalise_text(typed, accents=True) == "não recebi a cobrança!!, vc já viu?"
    assert (
        normalise_text(typed, abbreviations=True, accents=True)
        == "não recebi a cobrança!!, você já viu?"
    )
    assert normalise_text(typed) == "nao recebi a cobranca!!, vc ja viu?"


@pytest.mark.parametrize(
    ("keep", "stored_options", "adopted"),
    [
        # Left at their defaults, both may be turned off to match the stored vectors.
        (("abbreviations", "accents"), (), True),
        (("abbreviations", "accents"), ("abbreviations",), True),
        (("abbreviations", "accents"), ("accents",), True),
        # Set by name, an option is never dropped to match.
        (("accents",), ("abbreviations",), True),
        (("abbreviations",), ("abbreviations",), False),
        ((), ("abbreviations",), False),
    ],
)
def test_an_embedder_adopts_a_stored_kind_only_by_dropping_options_left_at_default(
    keep: tuple[str, ...], stored_options: tuple[str, ...], adopted: bool
) -> None:
    stored = UseMultilingualEmbedder.model_id + NORMALISED_SUFFIX
    stored += "".join(suffix for option, suffix in TEXT_OPTIONS.items() if option in stored_options)
    embedder = UseMultilingualEmbedder(abbreviations=True, accents=True, keep_stored=keep)
    wanted = embedder.model_id
    assert embedder.adopt(stored) is adopted
    assert embedder.model_id == (stored if adopted else wanted)
    assert embedder.abbreviations is ("abbreviations" in stored_options or not adopted)
    assert embedder.accents is ("accents" in stored_options or not adopted)
