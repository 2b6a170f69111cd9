"""How sure a suggestion is: answers weighed over the neighbours, and one calibrated number.

Similarity alone cannot tell a paraphrase of a known question from a new question that
merely looks like one: in e5's narrow band both score about 0.9. What does tell them
apart is how the nearest validated messages agree. Every neighbour votes for its answer
with weight exp((similarity - best) / temperature); identical answers pool their votes,
so the decision is made on answers, not on single neighbours. Of the winning answer four
things are read (`Evidence`):

- `similarity`: its nearest supporter's similarity;
- `share`: its part of all the votes;
- `margin`: how far its pooled score, best + temperature * log(votes), stands above the
  runner-up answer's (an answer only one neighbour stands for: 0.05 below the winner);
- `support`: how many of the neighbours stand for it (at most 5 count).

Once `atende calibrate` fitted an answer model beside its projection
(gateway.services.answer_model), that model orders the answers the neighbours speak for,
and two more things are read: the winner's `score` and its `lead` over the runner-up;
and a third where the model knows how near each answer's messages are to one another
(`AnswerModel.typical_of`): the winner's `closeness`, its similarity minus that.

Where calibrating also learnt which words each answer was asked with (gateway.services
.lexicon), the confidence reads one thing more, the winner's `unmatched`: how much more
of what the question says its answer was never asked with than a new phrasing of a known
question typically has; and the winner's `word_vote`: the log of its share of a vote of
the question's words among the first answers. Their weights are fixed
(lexicon.UNMATCHED_WEIGHT, lexicon.WORD_VOTE_WEIGHT), not fitted: see there.

A logistic model turns them into a confidence in [0, 1], read as the probability that
the suggestion is right; the threshold (one per sector where `atende calibrate` set one)
reads that number.

The model is fitted on the validated history itself (gateway.services.simulation), never on the
messages that are measured: every validated message is asked once with the rest of the
history (is its own answer chosen?) and once with every message of its answer taken out
(an intent with no validated answer yet: any suggestion would be wrong); the answer
model's scores are those of its fit without the asked rows. That teaches the
model what "right" and "nothing to suggest" look like with this database's model, its
language and its way of writing, with no labelled data beyond what operators validated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from gateway.services.lexicon import UNMATCHED_WEIGHT, WORD_VOTE_WEIGHT, WORDS_BAR
from storage.reviews import answer_key

# The nearest validated messages with an answer that vote. On the pt-BR tuning split 30
# ranked the right answer first for 0.81 of the questions, 10 for 0.74 (20: 0.78): an
# intent's several phrasings pool more of their votes.
NEIGHBOURS = 30
SUPPORT_CAP = 5
LONE_MARGIN = 0.05  # the margin of an answer that no other answer contests


@dataclass(frozen=True)
class Vote:
    """One neighbour's vote: how similar it is and which answer it gives."""

    similarity: float
    answer: str


@dataclass(frozen=True)
class Evidence:
    """What the neighbours say for one answer (the winner's is what confidence reads)."""

    key: str
    similarity: float
    share: float
    margin: float
    support: int
    members: tuple[int, ...]  # positions of its votes in the list weighed, best first
    # Set where an answer model ordered the answers (gateway.services.answer_model).
    score: float | None = None
    lead: float | None = None
    # Its similarity minus how near its own messages are to one another, where known.
    closeness: float | None = None
    # The share of the question's words its answer was never asked with, less the share
    # a new phrasing of a known question typically has, where a lexicon was read
    # (gateway.services.lexicon).
    unmatched: float | None = None
    # The log of its share of the question's words' vote among the first answers, where
    # the lexicon keeps its words' counts.
    word_vote: float | None = None

    def features(self) -> list[float]:
        votes = [self.similarity, self.share, self.margin, min(self.support, SUPPORT_CAP)]
        if self.score is None or self.lead is None:
            return votes
        if self.closeness is None:
            return [*votes, self.score, self.lead]
        return [*votes, self.score, self.lead, self.closeness]


def weigh(
    votes: Sequence[Vote],
    *,
    temperature: float,
    against: Iterable[Vote] = (),
) -> list[Evidence]:
    """Every answer's evidence, best first; `votes` best first.

    `against` are answers operators rejected for messages like this one: each takes away
    the weight a vote at its similarity would give, so an answer rejected as often and as
    near as it was validated no longer wins.
    """
    if not votes:
        return []
    best = votes[0].similarity
    weight: dict[str, float] = {}
    members: dict[str, list[int]] = {}
    for position, vote in enumerate(votes):
        key = answer_key(vote.answer)
        weight[key] = weight.get(key, 0.0) + math.exp((vote.similarity - best) / temperature)
        members.setdefault(key, []).append(position)
    for vote in against:
        key = answer_key(vote.answer)
        if key in weight:
            weight[key] -= math.exp((vote.similarity - best) / temperature)
    alive = {k: w for k, w in weight.items() if w > 1e-9}
    if not alive:
        return []
    total = sum(alive.values())
    score = {k: best + temperature * math.log(w) for k, w in alive.items()}
    order = sorted(alive, key=lambda k: (score[k], votes[members[k][0]].similarity), reverse=True)
    evidence = []
    for rank, key in enumerate(order):
        # The winner is measured against the runner-up, every other answer against the winner.
        rival = score[order[1 if rank == 0 else 0]] if len(order) > 1 else None
        evidence.append(
            Evidence(
                key=key,
                similarity=votes[members[key][0]].similarity,
                share=alive[key] / total,
                margin=score[key] - rival if rival is not None else LONE_MARGIN,
                support=len(members[key]),
                members=tuple(members[key]),
            )
        )
    return evidence


def order_by_scores(
    evidence: Sequence[Evidence],
    scores: Mapping[str, float],
    typical: Callable[[str], float | None] = lambda key: None,
) -> list[Evidence]:
    """`evidence` ordered by the model's `scores` (the voters' order breaks ties), each
    with its score and its lead: over the runner-up for the first, else behind the first.
    A lone answer leads by its score (a score of 0 is "not this answer"). Where `typical`
    says how near an answer's messages are to one another, its closeness is set too."""
    order = sorted(range(len(evidence)), key=lambda i: (-scores[evidence[i].key], i))
    ranked = [evidence[i] for i in order]
    out = []
    for position, e in enumerate(ranked):
        rival = scores[ranked[1 if position == 0 else 0].key] if len(ranked) > 1 else 0.0
        near = typical(e.key)
        out.append(
            replace(
                e,
                score=scores[e.key],
                lead=scores[e.key] - rival,
                closeness=None if near is None else e.similarity - near,
            )
        )
    return out


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic weights over Evidence.features(): the votes' four, and the answer model's
    two or three where one ordered the answers; `source` says where they came from."""

    intercept: float
    weights: tuple[float, ...]
    source: str = "default"
    examples: int = 0
    model_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The least confidence its suggestions are made at where neither a sector's
    # threshold nor ATENDE_SUGGESTION_MIN_CONFIDENCE says otherwise; None: MIN_CONFIDENCE.
    bar: float | None = None
    # How much the words a question shares with no message of its answer take away
    # (Evidence.unmatched; see lexicon.UNMATCHED_WEIGHT).
    unmatched_weight: float = 0.0
    # How much the words' vote counts (Evidence.word_vote; see lexicon.WORD_VOTE_WEIGHT).
    word_vote_weight: float = 0.0

    def confidence(self, evidence: Evidence) -> float:
        z = self.intercept + sum(
            w * x for w, x in zip(self.weights, evidence.features(), strict=True)
        )
        z -= self.unmatched_weight * (evidence.unmatched or 0.0)
        z += self.word_vote_weight * (evidence.word_vote or 0.0)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "weights": list(self.weights)}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ConfidenceModel:
        weights = tuple(float(w) for w in value["weights"])
        if len(weights) not in (4, 6, 7):
            raise ValueError(
                "a confidence model has four weights, or six or seven with an answer model"
            )
        bar = value.get("bar")
        if bar is not None and not 0.0 <= float(bar) <= 1.0:
            raise ValueError("a confidence model's bar is a confidence in [0, 1]")
        return cls(
            intercept=float(value["intercept"]),
            weights=weights,
            source=str(value.get("source", "calibrated")),
            examples=int(value.get("examples", 0)),
            model_id=value.get("model_id"),
            extra=dict(value.get("extra") or {}),
            bar=float(bar) if bar is not None else None,
            unmatched_weight=float(value.get("unmatched_weight", 0.0)),
            word_vote_weight=float(value.get("word_vote_weight", 0.0)),
        )


# Until `atende calibrate --apply` fits one on a database's own history: the model fitted
# the same way (simulate_history) on the tuning split of eval/pt_br with e5-small
# (`python eval/fit_default_confidence.py`). Another model, language or style of writing
# ranks the same way with it but may read other numbers: calibrate.
DEFAULT_MODEL = ConfidenceModel(
    intercept=-29.5676, weights=(27.748, 6.3999, 30.7923, 0.244), source="default"
)
# Similarities and margins mean other numbers with another embedding model, so before a
# calibration the others read the winning answer's share of the vote alone: confidence
# 0.5 where it holds half of it, 0.99 where it holds all (the decision atende made before
# confidences, a similarity floor and agreement).
SHARE_MODEL = ConfidenceModel(intercept=-5.0, weights=(0.0, 10.0, 0.0, 0.0), source="share")
# The bar of a model that has no bar of its own: the built-in ones, and one calibrated
# without an answer model. On the pt-BR tuning split the built-in model kept precision
# 0.982 there (0.976 at 0.55), four seeds of `atende eval --split dev --no-calibrate`;
# fitted before accents were put back, 0.967 (0.960), and before abbreviations were
# spelt out, 0.959 (0.948).
MIN_CONFIDENCE = 0.6
# The bar of a model that reads closeness. It is fitted on simulated questions half of
# which ask for an answer taken out of the history, so it is more sure of itself on
# traffic where fewer do: on the pt-BR tuning split (`atende eval --split dev`, eight
# seeds) its suggestions at confidence 0.6 were right for 0.974 of messages. The lowest
# bar, in steps of 0.05, that kept precision >= 0.95 and both out-of-scope and
# missing-intent messages silent >= 0.90 with 0.01 to spare: coverage 0.596, precision
# 0.973, silent 0.954 / 0.914 (at 0.6: 0.578, 0.974, 0.960 / 0.920). With accents put
# back before embedding, still 0.55: coverage 0.616, precision 0.985, silent 0.953 / 0.916
# (at 0.5, missing intents silent 0.904).
CLOSENESS_BAR = 0.55
DEFAULT_MODEL_FAMILY = "e5-small:"


def reading_words(model: ConfidenceModel) -> ConfidenceModel:
    """`model` reading the words (gateway.services.lexicon), at their bar."""
    return replace(
        model, unmatched_weight=UNMATCHED_WEIGHT, word_vote_weight=WORD_VOTE_WEIGHT, bar=WORDS_BAR
    )


def default_model(model_id: str | None) -> ConfidenceModel:
    """The model a database starts with before `atende calibrate --apply`."""
    if model_id is None or model_id.startswith(DEFAULT_MODEL_FAMILY):
        return DEFAULT_MODEL
    return SHARE_MODEL
