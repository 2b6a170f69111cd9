"""Text is evened out before a local model embeds it, and the vectors say so."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.embeddings.local import (
    ABBREVIATIONS_SUFFIX,
    NORMALISED_SUFFIX,
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


async def test_an_abbreviation_and_its_word_get_one_vector() -> None:
    spelt = UseMultilingualEmbedder(abbreviations=True)
    typed = UseMultilingualEmbedder()
    try:
        assert spelt.model_id == typed.model_id + ABBREVIATIONS_SUFFIX
        a, b = await spelt.embed(["vc pode ver pq n chegou", "voce pode ver porque nao chegou"])
        np.testing.assert_allclose(a, b, atol=1e-6)
        c, d = await typed.embed(["vc pode ver pq n chegou", "voce pode ver porque nao chegou"])
        assert float(np.dot(c, d)) < 0.999
    finally:
        await spelt.aclose()
        await typed.aclose()
    # Abbreviations are read in evened-out text only.
    assert UseMultilingualEmbedder(normalise=False, abbreviations=True).abbreviations is False
