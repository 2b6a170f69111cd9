"""The answer model `atende calibrate` fits beside the projection: a ridge regression from a
message to its answer, which orders the answers the voters found."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.services.answer_model import (
    AnswerFit,
    AnswerModel,
)
from gateway.services.calibration import fit_calibration
from gateway.services.confidence import (
    Vote,
    order_by_scores,
    weigh,
)
from gateway.services.projection import Projection
from storage.reviews import answer_digest
from tests.answer_helpers import random_history, simulated, unit


def test_held_out_scores_are_those_of_the_fit_without_the_rows():
    vectors, answers = random_history()
    fit = AnswerFit(vectors, answers)
    # One message left out, and an answer's every message left out (a missing intent).
    for rows in ([3], [i for i, a in enumerate(answers) if a == "answer 1"]):
        kept = [i for i in range(len(answers)) if i not in rows]
        refit = AnswerFit(vectors[kept], [answers[i] for i in kept])
        held = fit.held_out(rows)
        for key in refit.classes:
            expected = fit.design[rows] @ refit.weights[:, refit.index[key]]
            assert held[:, fit.index[key]] == pytest.approx(expected, abs=1e-9)
    # An answer no kept row gives scores nothing for the rows that asked it.
    assert held[:, fit.index["answer 1"]] == pytest.approx(np.zeros(7), abs=1e-9)


def test_the_stored_model_scores_as_the_fit_did():
    vectors, answers = random_history()
    fit = AnswerFit(vectors, answers)
    model = fit.model()
    # Only the answers given at least twice keep a column; the one given once is scored
    # from its row among the voters, and that is exact.
    assert set(model.digests) == {answer_digest(f"answer {a}") for a in range(3)}
    assert model.examples == len(answers)
    assert model.dim == 6
    query = unit(np.random.default_rng(9).normal(size=(1, 6)))[0]
    pool = {key: vectors[[i for i, a in enumerate(answers) if a == key]] for key in set(answers)}
    pool["answer 0"] = vectors[:2]  # a stored answer is scored from its column, not the pool
    scores = model.scores(query, pool)
    expected = np.append(query, 1.0) @ fit.weights
    for key, score in scores.items():
        assert score == pytest.approx(expected[fit.index[key]], abs=1e-9)


def test_the_whole_history_of_an_answer_outweighs_one_near_phrasing():
    """ "Boleto" messages sit at -x, "Pix" ones at +x, but one "Boleto" message was typed
    the way Pix questions are. A Pix question next to it: its vote goes to Boleto, the
    model that saw every message says Pix."""
    rng = np.random.default_rng(1)
    rows, answers = [], []
    for answer, sign in (("Pix.", 1.0), ("Boleto.", -1.0)):
        for _ in range(12):
            rows.append([sign * rng.uniform(0.2, 1.0), *rng.normal(0, 0.3, 3)])
            answers.append(answer)
    rows.append([0.5, 0.0, 0.0, 0.0])
    answers.append("Boleto.")
    vectors = unit(np.array(rows))
    query = unit(np.array([[0.52, 0.02, 0.0, 0.0]]))[0]
    similarity = vectors @ query
    nearest = np.argsort(-similarity)[:5]
    votes = [Vote(float(similarity[j]), answers[j]) for j in nearest]
    evidence = weigh(votes, temperature=0.01)
    assert evidence[0].key == "boleto."
    model = AnswerFit(vectors, [a.lower() for a in answers]).model()
    pool = {e.key: vectors[nearest[list(e.members)]] for e in evidence}
    ordered = order_by_scores(evidence, model.scores(query, pool))
    assert [e.key for e in ordered] == ["pix.", "boleto."]
    winner, runner = ordered
    assert winner.score is not None
    assert runner.score is not None
    assert winner.lead == pytest.approx(winner.score - runner.score)
    assert winner.lead > 0
    assert runner.lead == pytest.approx(runner.score - winner.score)
    # The votes' own evidence goes with each answer, and the confidence reads both.
    assert winner.support == evidence[1].support
    assert len(winner.features()) == 6
    assert len(evidence[0].features()) == 4


def test_a_lone_answer_leads_by_its_score():
    [only] = order_by_scores(weigh([Vote(0.9, "a")], temperature=0.01), {"a": 0.7})
    assert only.score == 0.7
    assert only.lead == 0.7


def test_the_answer_model_is_stored_within_the_projection_and_read_back():
    vectors, answers = random_history(times=5)
    projection, model = fit_calibration(vectors, answers, temperature=0.02, model_id="m")
    assert projection is not None
    assert projection.answers is not None
    assert model is not None
    assert len(model.weights) == 7
    again = Projection.from_json(projection.as_json())
    assert again.answers is not None
    assert np.allclose(again.answers.columns, projection.answers.columns, atol=1e-4)
    assert again.answers.digests == projection.answers.digests
    assert again.answers.typicals == projection.answers.typicals
    assert again.answers.history_typical == projection.answers.history_typical
    assert again.summary()["answer_model"] == projection.answers.summary()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dim": 7}, "needs 8x8 floats"),
        ({"digests": ["x"]}, "needs 1x7 floats"),
        ({"columns": "not base64!"}, "base64"),
        ({"typicals": [0.5]}, "one per answer"),
        ({"history_typical": None}, "and the history's"),
    ],
)
def test_a_damaged_answer_model_is_refused(change, message):
    vectors, answers = random_history()
    stored = AnswerFit(vectors, answers).model().as_json()
    with pytest.raises(ValueError, match=message):
        AnswerModel.from_json({**stored, **change})


def test_a_projection_holding_an_answer_model_of_another_size_is_refused():
    vectors, answers = random_history()
    projection = Projection(matrix=np.eye(4, dtype=np.float32), examples=10)
    value = projection.as_json()
    value["answer_model"] = AnswerFit(vectors, answers).model().as_json()
    with pytest.raises(ValueError, match="answer model of dimension 6 in a projection of 4"):
        Projection.from_json(value)


def test_the_confidence_learns_from_scores_for_messages_the_model_did_not_see():
    vectors, answers = random_history(times=5)
    _, fit, cases = simulated(vectors, answers)
    assert all(len(c.features) == 7 for c in cases)
    # Where its answer was left out, the best answer left scores lower than a right one.
    missing = [c.features[4] for c in cases if c.missing]
    right = [c.features[4] for c in cases if c.right]
    assert missing
    assert right
    assert np.mean(missing) < np.mean(right)
    # Scores in sample would put every message's own answer far ahead; held out they
    # are lower than the fit's own.
    own = [fit.design[i] @ fit.weights[:, fit.index[a]] for i, a in enumerate(answers)]
    held = [fit.held_out([i])[0, fit.index[a]] for i, a in enumerate(answers)]
    assert np.mean(held) < np.mean(own)


def test_a_small_history_keeps_the_votes_alone():
    vectors, answers = random_history()  # 21 messages
    projection, model = fit_calibration(vectors, answers, temperature=0.02, model_id="m")
    assert projection is not None
    assert projection.answers is None
    assert model is not None
    assert len(model.weights) == 4


def test_a_message_asked_again_word_for_word_is_scored_without_its_copies():
    vectors, answers = random_history(times=5)
    twinned = np.vstack([vectors, vectors[:1]])
    asked = [*answers, answers[0]]
    projection, _, cases = simulated(twinned, asked)
    first = cases[0]
    assert not first.missing
    # The fit without both copies, as if the message had never been seen.
    kept = list(range(1, len(answers)))
    refit = AnswerFit(projection.apply(twinned[kept]), [asked[i] for i in kept])
    scores = np.append(projection.apply(twinned[0]), 1.0) @ refit.weights
    # Two routes through two matrix inverses: they agree to rounding (2.5e-8 with numpy
    # 2.4), where leaving the copy in moves the score by more than 1e-4 (below).
    assert first.features[4] == pytest.approx(float(scores.max()), abs=1e-6)
    # Left in, the copy would have given it another score.
    leaky = AnswerFit(projection.apply(twinned[1:]), asked[1:])
    leaked = np.append(projection.apply(twinned[0]), 1.0) @ leaky.weights
    assert abs(float(leaked.max()) - float(scores.max())) > 1e-4


def _nearest_sibling(vectors: np.ndarray, answers: list[str], row: int, rows: list[int]) -> float:
    """Brute force: the similarity of `row` to the nearest other of `rows` of its answer
    that is not a copy of its text."""
    near = [
        float(vectors[row] @ vectors[j])
        for j in rows
        if j != row and answers[j] == answers[row] and vectors[row] @ vectors[j] < 0.9999
    ]
    return max(near, default=-np.inf)


def test_how_near_an_answers_messages_are_to_one_another():
    vectors, answers = random_history(times=2)
    vectors = np.vstack([vectors, vectors[:1]])  # a copy of a message's text
    answers = [*answers, answers[0]]
    fit = AnswerFit(vectors, answers)
    everyone = list(range(len(answers)))
    for key in ("answer 0", "answer 1", "answer 2"):
        rows = [i for i, a in enumerate(answers) if a == key]
        expected = np.mean([_nearest_sibling(vectors, answers, i, everyone) for i in rows])
        assert fit.typical(key) == pytest.approx(expected, abs=1e-9)
        # Without one of its messages: as a fit that never saw it.
        for left_out in rows[:3]:
            kept = [i for i in everyone if i != left_out]
            refit = AnswerFit(vectors[kept], [answers[i] for i in kept])
            assert fit.typical(key, without=left_out) == pytest.approx(refit.typical(key), abs=1e-9)
    # The copy did not count as a phrasing near its original.
    assert fit._nearest[0] < 0.9999
    # An answer given once shows no nearness of its own: it reads the history's.
    found = [_nearest_sibling(vectors, answers, i, everyone) for i in everyone]
    history = np.mean([f for f in found if np.isfinite(f)])
    assert fit.typical("answer 3") == pytest.approx(history, abs=1e-9)
    model = fit.model()
    assert model.typical_of("answer 1") == pytest.approx(fit.typical("answer 1"), abs=1e-6)
    assert model.typical_of("answer 3") == pytest.approx(history, abs=1e-6)
    assert model.typical_of("validated after the fit") == pytest.approx(history, abs=1e-6)


def test_the_winner_is_measured_against_how_near_its_messages_are():
    vectors, answers = random_history(times=5)
    projection, _, cases = simulated(vectors, answers)
    model = projection.answers
    assert model is not None
    query = projection.apply(vectors[4])
    similarity = projection.apply(vectors) @ query
    nearest = [j for j in np.argsort(-similarity) if j != 4][:10]
    evidence = weigh([Vote(float(similarity[j]), answers[j]) for j in nearest], temperature=0.01)
    pool = {e.key: projection.apply(vectors[[nearest[m] for m in e.members]]) for e in evidence}
    ordered = order_by_scores(evidence, model.scores(query, pool), model.typical_of)
    for e in ordered:
        assert e.closeness == pytest.approx(e.similarity - model.typical_of(e.key), abs=1e-9)
    assert len(ordered[0].features()) == 7
    # The simulated question is measured against its answer's messages without itself.
    first = cases[0]
    assert first.right
    kept = list(range(1, len(answers)))
    refit = AnswerFit(projection.apply(vectors[kept]), [answers[i] for i in kept])
    assert first.features[6] == pytest.approx(
        first.features[0] - refit.typical(answers[0]), abs=1e-6
    )


def test_an_answer_model_stored_before_it_knew_nearness_keeps_six_features():
    vectors, answers = random_history(times=5)
    stored = AnswerFit(vectors, answers).model().as_json()
    del stored["typicals"], stored["history_typical"]
    model = AnswerModel.from_json(stored)
    assert model.typical_of("answer 0") is None
    evidence = weigh([Vote(0.9, "answer 0"), Vote(0.8, "answer 1")], temperature=0.01)
    ordered = order_by_scores(evidence, {"answer 0": 0.6, "answer 1": 0.2}, model.typical_of)
    assert ordered[0].closeness is None
    assert len(ordered[0].features()) == 6
