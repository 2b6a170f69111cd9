"""The lexicon the confidence reads: what a question says that its suggested answer was
never asked with."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from gateway.embeddings.normalise import normalise_text
from gateway.services.calibration import fit_calibration
from gateway.services.confidence import ConfidenceModel, Evidence
from gateway.services.lexicon import (
    UNMATCHED_WEIGHT,
    WORD_VOTE_WEIGHT,
    WORDS_BAR,
    Lexicon,
    fit_lexicon,
    stems,
)
from gateway.services.projection import Projection
from gateway.services.suggestions import Calibration, Candidate, SuggestionMaker
from storage.neighbours import Neighbour
from storage.reviews import answer_key
from tests.answer_helpers import random_history

CANCEL = "Para cancelar o pedido, vá em Pedidos > Cancelar."
PLAN = "O plano custa 30 reais por mês."
TRACK = "Acompanhe a entrega em Pedidos > Rastrear."
HISTORY = [
    ("quero cancelar meu pedido", CANCEL),
    ("CANCELA O PEDIDO PF", CANCEL),
    ("quanto custa a assinatura?", PLAN),
    ("qual o valor do plano", PLAN),
    ("onde esta meu pedido", TRACK),
    ("qdo chega minha entrega", TRACK),
]


def _lexicon() -> Lexicon:
    return fit_lexicon([m for m, _ in HISTORY], [a for _, a in HISTORY])


def test_words_are_compared_as_customers_type_them():
    assert stems("Cancelamento da ASSINATURA, vc pode?") == {"cance", "assin", "voce", "pode"}
    assert (
        stems("Não consigo, cancelei")
        == stems("nao consigo cancelei")
        == {
            "nao",
            "consi",
            "cance",
        }
    )
    assert stems("ok 👍 12345") == set()


def test_a_word_only_another_answer_was_asked_with_counts_against_the_winner():
    lexicon = _lexicon()
    cancel = answer_key(CANCEL)
    # Asked as it was validated: every word the history knows is the answer's own.
    assert lexicon.unmatched("cancelar o pedido", cancel) == 0.0
    # Each of these words one answer of three was asked with: weight log 3 / log 3 = 1.
    # "quero" and "cancelar" are this answer's; "minha" (the delivery's) and "assinatura"
    # (the plan's) are not: half of what the question says.
    weights = [lexicon.weights[w] for w in ("quero", "cance", "minha", "assin")]
    assert weights == pytest.approx([1.0] * 4)
    assert lexicon.unmatched("quero cancelar minha assinatura", cancel) == pytest.approx(0.5)
    # A word two answers share weighs less: log(3 / 2) / log 3.
    assert lexicon.weights["pedid"] == pytest.approx(math.log(1.5) / math.log(3))
    unasked = lexicon.weights["onde"] + lexicon.weights["esta"]
    assert lexicon.unmatched("onde esta o pedido", cancel) == pytest.approx(
        unasked / (unasked + lexicon.weights["pedid"])
    )
    # A word no answer knows tells nothing, and neither does one every answer knows.
    assert lexicon.unmatched("cancelar o pedido xyzzy", cancel) == 0.0


def test_an_answer_validated_since_is_read_from_its_messages_at_hand():
    lexicon = _lexicon()
    new = answer_key("Você pode pausar a assinatura por até 3 meses.")
    assert new not in lexicon.words
    asked = ["quero pausar a assinatura", "Você pode pausar a assinatura por até 3 meses."]
    assert lexicon.unmatched("quanto custa a assinatura", new, asked) > 0.0
    assert lexicon.unmatched("assinatura", new, asked) == 0.0
    # Nothing at hand: every known word is one it was never asked with.
    assert lexicon.unmatched("assinatura", new) == 1.0


def test_the_lexicon_is_stored_and_read_back():
    lexicon = _lexicon()
    assert Lexicon.from_json(lexicon.as_json()) == lexicon
    assert lexicon.summary() == {"answers": 3, "words": len(lexicon.weights)}
    stored = lexicon.as_json()
    with pytest.raises(ValueError, match="vocabulary lacks"):
        Lexicon.from_json({**stored, "answers": {"x": [len(stored["vocabulary"])]}})
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        Lexicon.from_json({**stored, "weights": {"assin": 2.0}})
    with pytest.raises(ValueError, match="do not match"):
        Lexicon.from_json({**stored, "counts": {k: [] for k in stored["answers"]}})
    with pytest.raises(ValueError, match="at most all"):
        Lexicon.from_json({**stored, "texts": {k: 1 for k in stored["texts"]}})
    # Stored before the words voted: each word once, no counts of texts, no vote.
    older = {k: v for k, v in stored.items() if k not in ("counts", "texts")}
    read = Lexicon.from_json(older)
    assert read.texts == {}
    assert {k: set(ws) for k, ws in read.words.items()} == {
        k: set(ws) for k, ws in lexicon.words.items()
    }
    assert read.unmatched("quero cancelar minha assinatura", answer_key(CANCEL)) == pytest.approx(
        lexicon.unmatched("quero cancelar minha assinatura", answer_key(CANCEL))
    )


def test_the_words_vote_among_the_first_answers_as_a_naive_bayes_over_them():
    # "senha" is in 2 of the 6 texts: 1/3 of them. Answer a has it in 2 of its 3 texts,
    # b in none; each chance is pulled towards 1/3 as one text more.
    lexicon = Lexicon(
        weights={"senha": 1.0, "bolet": 0.0},
        words={"a": {"senha": 2, "bolet": 1}, "b": {"bolet": 3}},
        texts={"a": 3, "b": 3},
    )
    a, b = (2 + 1 / 3) / 4 / (1 / 3), (0 + 1 / 3) / 4 / (1 / 3)  # 7/4 and 1/4
    assert lexicon.word_vote("senha", ["a", "b"], {}) == pytest.approx(math.log(a / (a + b)))
    assert lexicon.word_vote("senha", ["b", "a"], {}) == pytest.approx(math.log(1 / 8))
    # Words the history never saw say nothing; with nothing said, every answer is alike.
    assert lexicon.word_vote("senha xyzzy", ["a", "b"], {}) == pytest.approx(math.log(7 / 8))
    assert lexicon.word_vote("xyzzy", ["a", "b"], {}) == pytest.approx(math.log(1 / 2))
    # An answer validated since: read from the texts at hand (2 of 2 hold "senha").
    new = (2 + 1 / 3) / 3 / (1 / 3)
    asked = {"c": ["minha senha", "senha errada"]}
    assert lexicon.word_vote("senha", ["c", "a"], asked) == pytest.approx(math.log(new / (new + a)))
    # A lexicon stored before the words voted keeps no counts of texts: no vote.
    assert replace(lexicon, texts={}).word_vote("senha", ["a", "b"], {}) is None


def test_the_words_vote_against_the_answer_a_question_has_no_word_of():
    lexicon = _lexicon()
    cancel, track = answer_key(CANCEL), answer_key(TRACK)
    # "pedido" is the delivery's word as much as the cancellation's; "cancelar" is not.
    sure = lexicon.word_vote("cancelar meu pedido", [cancel, track], {})
    doubt = lexicon.word_vote("onde esta meu pedido", [cancel, track], {})
    assert sure is not None
    assert doubt is not None
    assert doubt < math.log(0.5) < sure < 0.0


def test_the_unmatched_words_take_their_weight_off_the_confidence():
    model = ConfidenceModel(intercept=-1.0, weights=(1.0, 2.0, 3.0, 0.1), unmatched_weight=3.0)
    evidence = Evidence(key="k", similarity=0.9, share=0.8, margin=0.1, support=3, members=(0,))
    z = -1.0 + 0.9 + 1.6 + 0.3 + 0.3
    assert model.confidence(evidence) == pytest.approx(1 / (1 + math.exp(-z)))
    half = replace(evidence, unmatched=0.5)
    assert model.confidence(half) == pytest.approx(1 / (1 + math.exp(-(z - 1.5))))
    assert ConfidenceModel.from_json(model.as_json()) == model
    voted = replace(model, word_vote_weight=1.0)
    doubted = replace(evidence, word_vote=math.log(0.25))
    # A weight of 1 multiplies the odds by the winner's share of the words' vote.
    odds = model.confidence(evidence) / (1 - model.confidence(evidence))
    assert voted.confidence(doubted) == pytest.approx(odds / 4 / (1 + odds / 4))
    assert ConfidenceModel.from_json(voted.as_json()) == voted
    stored = voted.as_json()
    del stored["unmatched_weight"]  # stored before the lexicon: reads none
    del stored["word_vote_weight"]
    assert ConfidenceModel.from_json(stored).unmatched_weight == 0.0
    assert ConfidenceModel.from_json(stored).word_vote_weight == 0.0


def test_calibrating_learns_the_lexicon_from_the_validated_messages():
    vectors, answers = random_history(times=5)
    messages = [f"mensagem {answer} numero {i % 7}" for i, answer in enumerate(answers)]
    projection, model = fit_calibration(
        vectors, answers, temperature=0.02, model_id="m", messages=messages
    )
    assert projection is not None
    assert model is not None
    # The same words; its typical vote read from the simulated questions' first answers.
    assert replace(projection.lexicon, typical_vote=0.0) == fit_lexicon(messages, answers)
    assert projection.lexicon.typical_vote <= 0.0
    assert model.unmatched_weight == UNMATCHED_WEIGHT
    assert model.word_vote_weight == WORD_VOTE_WEIGHT
    assert model.bar == WORDS_BAR
    again = Projection.from_json(projection.as_json())
    assert again.lexicon == projection.lexicon
    np.testing.assert_allclose(again.matrix, projection.matrix)
    # Without the texts (a caller that has none) the confidence reads the vectors alone.
    bare, plain = fit_calibration(vectors, answers, temperature=0.02, model_id="m")
    assert bare is not None
    assert bare.lexicon is None
    assert plain is not None
    assert plain.unmatched_weight == 0.0
    assert plain.word_vote_weight == 0.0


@pytest.mark.parametrize("copy", [False, True])
def test_the_typical_share_is_each_message_asked_of_the_history_without_it(copy):
    history = [*HISTORY, ("Quero cancelar meu PEDIDO", CANCEL)] if copy else HISTORY
    messages = [m for m, _ in history]
    answers = [a for _, a in history]
    shares = []
    for message, answer in history:
        # Without it and without any copy of it: a copy would answer it word for word.
        rest = [(m, a) for m, a in history if normalise_text(m) != normalise_text(message)]
        refit = fit_lexicon([m for m, _ in rest], [a for _, a in rest])
        shares.append(refit.unmatched(message, answer_key(answer)))
    typical = fit_lexicon(messages, answers).typical
    assert typical == pytest.approx(sum(shares) / len(shares))
    assert 0.0 < typical < 1.0


def test_the_typical_vote_is_each_message_asked_of_the_history_without_it():
    messages = [m for m, _ in HISTORY]
    answers = [a for _, a in HISTORY]
    cancel, plan, track = answer_key(CANCEL), answer_key(PLAN), answer_key(TRACK)
    # Where each of these came first when asked of the rest, and the answers after it.
    orders = {0: [cancel, track], 2: [plan, cancel, track], 5: [track, cancel]}
    votes = []
    for row, order in orders.items():
        rest = [pair for i, pair in enumerate(HISTORY) if i != row]
        refit = fit_lexicon([m for m, _ in rest], [a for _, a in rest])
        vote = refit.word_vote(messages[row], order, {})
        assert vote is not None
        votes.append(vote)
    lexicon = fit_lexicon(messages, answers, orders)
    assert lexicon.typical_vote == pytest.approx(sorted(votes)[1])
    assert lexicon.typical_vote < 0.0
    assert Lexicon.from_json(lexicon.as_json()) == lexicon
    # The vote reads how far below the typical one a winner's falls, never above it.
    plain = replace(lexicon, typical_vote=0.0)
    for question, order in [("onde esta meu pedido", [cancel, track]), ("custa", [plan, track])]:
        raw = plain.word_vote(question, order, {})
        assert raw is not None
        expected = min(0.0, raw - lexicon.typical_vote)
        assert lexicon.word_vote(question, order, {}) == pytest.approx(expected)
        assert lexicon.read(question, order, {})[1] == pytest.approx(expected)
    assert lexicon.word_vote("custa", [plan, track], {}) == 0.0
    with pytest.raises(ValueError, match="at most 0"):
        Lexicon.from_json({**lexicon.as_json(), "typical_vote": 0.5})
    older = {k: v for k, v in lexicon.as_json().items() if k != "typical_vote"}
    assert Lexicon.from_json(older).typical_vote == 0.0


def _calibrated_on_topics(
    answer: Callable[[int, str], str],
) -> tuple[np.ndarray, list[str], Projection, ConfidenceModel]:
    """A random history's four intents asked about one topic word each ("duvida sobre
    boleto numero 3"), calibrated with the messages' texts; `answer(row, intent)` is
    each message's validated answer."""
    vectors, intents = random_history(times=5)
    topics = {"answer 0": "boleto", "answer 1": "senha", "answer 2": "entrega", "answer 3": "cupom"}
    messages = [f"duvida sobre {topics[a]} numero {i}" for i, a in enumerate(intents)]
    answers = [answer(i, a) for i, a in enumerate(intents)]
    projection, model = fit_calibration(
        vectors, answers, temperature=0.02, model_id="m", messages=messages
    )
    assert projection is not None
    assert projection.lexicon is not None
    assert model is not None
    return vectors, messages, projection, model


def test_calibrating_reads_the_typical_vote_where_answers_are_written_many_ways():
    # Each intent's answer written three ways: its messages' words are all three's.
    _, _, projection, _ = _calibrated_on_topics(lambda i, intent: f"{intent}, wording {i % 3}")
    lexicon = projection.lexicon
    assert lexicon is not None
    # Even a right winner holds about a third of the vote among its wordings.
    assert math.log(0.2) < lexicon.typical_vote < math.log(0.5)
    first = [answer_key(f"answer 0, wording {w}") for w in (0, 1, 2)]
    raw = replace(lexicon, typical_vote=0.0).word_vote("duvida sobre boleto", first, {})
    assert raw is not None
    assert raw < math.log(0.5)
    assert lexicon.word_vote("duvida sobre boleto", first, {}) == pytest.approx(
        min(0.0, raw - lexicon.typical_vote)
    )
    # One answer per intent: the right one holds the vote, and nothing is taken off.
    _, _, single, _ = _calibrated_on_topics(lambda i, intent: intent)
    assert single.lexicon is not None
    assert single.lexicon.typical_vote > math.log(0.9)


def test_a_suggestion_reads_the_words_of_the_question_its_answer_was_never_asked_with():
    vectors, messages, projection, model = _calibrated_on_topics(lambda i, intent: intent)
    _, answers = random_history(times=5)
    maker = SuggestionMaker(
        None,  # type: ignore[arg-type]
        model_id="m",
        threshold=0.0,
        calibration=Calibration(model=model, projection=projection),
    )
    query = vectors[0]
    # A few of its own answer's messages among the others', so that other answers vote.
    neighbours = [
        Neighbour(i, None, answers[i], messages[i], float(vectors[i] @ query), vectors[i])
        for i in range(1, len(answers))
        if answers[i] != "answer 0" or i < 6
    ]
    ranked = [Candidate(n, False, True) for n in projection.rescore(query, neighbours)]
    own = maker.assess(query, ranked, text="duvida sobre boleto")
    other = maker.assess(query, ranked, text="duvida sobre senha")
    winner = own.evidence[0]
    assert winner.key == "answer 0"
    lexicon = projection.lexicon
    assert winner.unmatched == pytest.approx(-lexicon.typical)
    assert other.evidence[0].unmatched == pytest.approx(
        lexicon.unmatched("duvida sobre senha", "answer 0") - lexicon.typical
    )
    assert other.evidence[0].unmatched > winner.unmatched
    first = [e.key for e in own.evidence[:5]]
    assert len(first) > 1
    assert [e.key for e in other.evidence[:5]] == first
    assert winner.word_vote == pytest.approx(lexicon.word_vote("duvida sobre boleto", first, {}))
    assert other.evidence[0].word_vote < winner.word_vote
    # The same neighbours, the same vote: only the words take the confidence down.
    read = other.evidence[0]
    assert other.confidence == pytest.approx(
        model.confidence(replace(winner, unmatched=read.unmatched, word_vote=read.word_vote))
    )
    assert other.confidence < own.confidence
    # An answer validated since the lexicon was learnt is read from its voters' texts:
    # none of them says "senha", which the history knows as another answer's word.
    younger = replace(
        lexicon,
        words={k: v for k, v in lexicon.words.items() if k != "answer 0"},
        texts={k: v for k, v in lexicon.texts.items() if k != "answer 0"},
    )
    maker.calibration = Calibration(model=model, projection=replace(projection, lexicon=younger))
    boleto = maker.assess(query, ranked, text="duvida sobre boleto").evidence[0]
    senha = maker.assess(query, ranked, text="duvida sobre senha").evidence[0]
    assert boleto.key == senha.key == "answer 0"
    assert boleto.word_vote is not None
    assert senha.word_vote is not None
    assert senha.word_vote < boleto.word_vote
