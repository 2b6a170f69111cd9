"""The vote over answers and the confidence read from it (gateway.services.confidence)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gateway.services.confidence import (
    CLOSENESS_BAR,
    DEFAULT_MODEL,
    LONE_MARGIN,
    SHARE_MODEL,
    ConfidenceModel,
    Vote,
    default_model,
    weigh,
)
from gateway.services.simulation import fit, fit_on_history, simulate_history

T = 0.02


def test_identical_answers_pool_their_votes_whatever_their_case_and_spacing():
    votes = [
        Vote(0.95, "Answer B"),
        Vote(0.94, "answer  a"),
        Vote(0.93, "Answer A"),
        Vote(0.92, "ANSWER A "),
    ]
    [first, second] = weigh(votes, temperature=T)
    # A's three votes outweigh B's one, though B's is the nearest.
    assert first.key == "answer a"
    assert first.support == 3
    assert first.members == (1, 2, 3)
    assert first.similarity == 0.94  # its nearest supporter
    weights = [math.exp((s - 0.95) / T) for s in (0.95, 0.94, 0.93, 0.92)]
    assert first.share == pytest.approx(sum(weights[1:]) / sum(weights))
    assert second.key == "answer b"
    assert first.margin == pytest.approx(T * math.log(sum(weights[1:])) - 0.0)
    assert second.margin == pytest.approx(-first.margin)


def test_an_answer_no_other_contests_has_the_lone_margin():
    [only] = weigh([Vote(0.9, "x"), Vote(0.89, "x")], temperature=T)
    assert only.margin == LONE_MARGIN
    assert only.share == 1.0


def test_a_rejection_as_near_as_the_only_vote_removes_the_answer():
    votes = [Vote(0.93, "wrong"), Vote(0.90, "right")]
    assert weigh(votes, temperature=T)[0].key == "wrong"
    after = weigh(votes, temperature=T, against=[Vote(0.93, "Wrong")])
    assert [e.key for e in after] == ["right"]
    # A rejection further away than the vote only weakens it.
    weaker = weigh(votes, temperature=T, against=[Vote(0.91, "wrong")])
    assert [e.key for e in weaker] == ["wrong", "right"]
    assert weaker[0].share < weigh(votes, temperature=T)[0].share


def test_nothing_to_weigh_gives_no_evidence():
    assert weigh([], temperature=T) == []
    assert weigh([Vote(0.9, "a")], temperature=T, against=[Vote(0.95, "a")]) == []


def test_confidence_rises_with_similarity_and_margin():
    def evidence(similarity: float, second: float):
        return weigh([Vote(similarity, "a"), Vote(second, "b")], temperature=T)[0]

    assert DEFAULT_MODEL.confidence(evidence(0.97, 0.90)) > DEFAULT_MODEL.confidence(
        evidence(0.90, 0.89)
    )
    for model in (DEFAULT_MODEL, SHARE_MODEL):
        value = model.confidence(evidence(0.95, 0.80))
        assert 0.0 <= value <= 1.0


def test_the_built_in_model_is_only_for_the_model_it_was_fitted_for():
    assert default_model("e5-small:multilingual-e5-small-q4:norm1") is DEFAULT_MODEL
    assert default_model("use-multilingual:use-multilingual-v3:norm1") is SHARE_MODEL
    assert default_model("openai:text-embedding-3-small") is SHARE_MODEL


def test_fit_finds_the_direction_that_separates_the_labels():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 2))
    labels = (x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.3, size=400) > 0).astype(float)
    intercept, weights = fit(x, labels)
    assert weights[0] > 0 > weights[1]
    assert weights[1] / weights[0] == pytest.approx(-0.5, abs=0.15)  # the true boundary
    predicted = (intercept + x @ weights) > 0
    assert (predicted == labels.astype(bool)).mean() > 0.85  # noise caps it near 0.9


def _history() -> tuple[np.ndarray, list[str]]:
    """Three answers, each asked four ways: unit vectors near the answer's own axis."""
    rng = np.random.default_rng(5)
    vectors, answers = [], []
    for axis, answer in enumerate(["a", "b", "c"]):
        for _ in range(4):
            v = np.eye(8)[axis] + rng.normal(scale=0.15, size=8)
            vectors.append(v / np.linalg.norm(v))
            answers.append(answer)
    return np.asarray(vectors), answers


def test_simulating_the_history_asks_each_message_with_and_without_its_answer():
    vectors, answers = _history()
    cases = simulate_history(vectors, answers, temperature=0.05)
    assert len(cases) == 2 * len(answers)
    present = [c for c in cases if not c.missing]
    missing = [c for c in cases if c.missing]
    # Asked of the others, each message finds its own answer; with its answer gone, no
    # suggestion could be right.
    assert all(c.right for c in present)
    assert not any(c.right for c in missing)


def test_too_little_history_teaches_no_model():
    vectors, answers = _history()
    assert fit_on_history(vectors, answers, temperature=0.05) is None  # 12 messages
    many = np.vstack([vectors] * 2)
    fitted = fit_on_history(many, answers * 2, temperature=0.05, model_id="m")
    assert fitted is not None
    assert fitted.source == "calibrated"
    assert fitted.model_id == "m"
    assert fitted.examples == 48
    # Without an answer model it reads the votes alone, and has no bar of its own.
    assert len(fitted.weights) == 4
    assert fitted.bar is None


def test_a_model_that_reads_closeness_brings_its_own_bar_and_keeps_it_stored():
    weights = (1.0, 2.0, 3.0, 0.1, 4.0, 5.0, 6.0)
    model = ConfidenceModel(intercept=-1.0, weights=weights, source="calibrated", bar=0.55)
    assert ConfidenceModel.from_json(model.as_json()) == model
    # One stored before models had bars reads as having none.
    stored = model.as_json()
    del stored["bar"]
    assert ConfidenceModel.from_json(stored).bar is None
    with pytest.raises(ValueError, match="bar is a confidence"):
        ConfidenceModel.from_json({**model.as_json(), "bar": 1.5})
    with pytest.raises(ValueError, match="six or seven"):
        ConfidenceModel.from_json({**model.as_json(), "weights": [1.0] * 5})
    assert DEFAULT_MODEL.bar is None
    assert SHARE_MODEL.bar is None
    assert 0.0 < CLOSENESS_BAR < 1.0


def test_a_twin_of_the_same_text_is_hidden_with_the_message_asked():
    vectors, answers = _history()
    # The first message asked again word for word, and validated with another answer.
    twinned = np.vstack([vectors, vectors[:1]])
    cases = simulate_history(twinned, [*answers, "Outra resposta."], temperature=0.05)
    # Asked, neither twin sees the other: the first still finds its own answer among the
    # paraphrases, and the twin's answer (nobody else's) cannot be found at all.
    assert cases[0].right
    assert cases[0].features == simulate_history(vectors, answers, temperature=0.05)[0].features
    assert not cases[2 * len(answers)].right
