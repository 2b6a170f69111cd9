"""Labelled data for `atende eval`: reading it, checking it, and splitting it.

A row is a customer message with what it should get:
- `text` (or `instruction`): the message;
- `intent` and/or `sector` (or a map from intents to sectors): its labels;
- `answer` (or `response`): the validated answer of its intent;
- `scope`: `out` for a message nothing should be suggested for (a greeting, another
  business's question, spam); `kind` says which;
- `split`: which part of the data it belongs to (`dev` to tune on, `heldout` to check).

JSON Lines may start with one `{"_meta": {...}}` line naming the data's source and licence.
Every problem names the file, the row (the line of a JSONL file, the record of a CSV
counting its header as row 1) and the field.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from config.errors import ConfigurationError

TEXT_FIELDS = ("text", "instruction")
ANSWER_FIELDS = ("answer", "response")


class DatasetError(ConfigurationError):
    """Labelled data that cannot be evaluated, with where and why."""


@dataclass(frozen=True)
class Example:
    text: str
    sector: str | None
    intent: str | None
    answer: str | None
    out_of_scope: bool = False
    kind: str | None = None
    split: str | None = None
    row: int = 0
    # Set by `protocol`: an in-scope message whose intent has no validated answer.
    missing: bool = False

    @property
    def label(self) -> str:
        return self.intent or self.sector or ""

    @property
    def validated_answer(self) -> str:
        """The answer its row holds as history: its own, else a stand-in naming its label
        (data with sectors only), so that the rows of one label still share an answer."""
        return self.answer or f"[{self.label}]"


def check_sector(where: str, sector: str, known: set[str]) -> None:
    """Refuse a sector the sectors file does not name, saying where and which exist."""
    if sector not in known:
        raise DatasetError(
            f"{where}, field sector: unknown sector {sector!r}; known: {', '.join(sorted(known))}"
        )


def _dataset_columns(path: Path, fields: set[str]) -> None:
    if not fields & set(TEXT_FIELDS):
        raise DatasetError(
            f"{path}: row 1: no `text` (or `instruction`) column; the columns are "
            f"{', '.join(sorted(fields)) or 'none'}"
        )
    if not fields & {"intent", "sector"}:
        raise DatasetError(f"{path}: row 1: no `intent` or `sector` column")


def read_utf8(path: Path, unit: str = "row") -> str:
    """A UTF-8 text file's content (a spreadsheet's byte-order mark dropped), or a
    DatasetError naming the file and the `unit` (row, line) where it is not UTF-8."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read it: {exc.strerror or exc}") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DatasetError(
            f"{path}: {unit} {line}: not UTF-8 (byte {raw[exc.start]:#x} at offset "
            f"{exc.start}); save the file as UTF-8"
        ) from exc


def read_records(
    path: Path, check_columns: Callable[[Path, set[str]], None] = _dataset_columns
) -> Iterable[tuple[int, dict[str, Any]]]:
    """The records of a UTF-8 CSV or JSON Lines file with their row numbers; a CSV's
    header is given to `check_columns` first."""
    content = read_utf8(path)
    if not content.strip():
        raise DatasetError(f"{path}: the file is empty")
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}: row {number}: not JSON: {exc.msg}") from exc
            if not isinstance(record, dict):
                raise DatasetError(f"{path}: row {number}: not a JSON object")
            if "_meta" in record:
                continue
            yield number, record
        return
    reader = csv.DictReader(io.StringIO(content, newline=""))
    check_columns(path, set(reader.fieldnames or []))
    for number, record in enumerate(reader, start=2):
        yield number, record


def _field(record: dict[str, Any], names: Iterable[str]) -> str | None:
    for name in names:
        value = record.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def load_examples(
    path: Path,
    sector_map: dict[str, str] | None = None,
    *,
    known_sectors: Iterable[str] | None = None,
) -> list[Example]:
    """Every labelled row of `path`, checked; raises DatasetError naming the first problem."""
    sector_map = sector_map or {}
    known = set(known_sectors) if known_sectors is not None else None
    examples = []
    for number, record in read_records(path):
        where = f"{path}: row {number}"
        text = _field(record, TEXT_FIELDS)
        if text is None:
            raise DatasetError(f"{where}, field text: missing or empty")
        out = str(record.get("scope") or "").strip().lower() == "out"
        intent = _field(record, ["intent"])
        sector = _field(record, ["sector"])
        if sector is None and intent is not None:
            sector = sector_map.get(intent)
        if not out and intent is None and sector is None:
            raise DatasetError(
                f"{where}, field intent: a message needs an intent or a sector "
                '(or `"scope": "out"` for one nothing should be suggested for)'
            )
        if sector is not None and known is not None:
            check_sector(where, sector, known)
        examples.append(
            Example(
                text=text,
                sector=None if out else sector,
                intent=None if out else intent,
                answer=None if out else _field(record, ANSWER_FIELDS),
                out_of_scope=out,
                kind=_field(record, ["kind"]),
                split=_field(record, ["split"]),
                row=number,
            )
        )
    if not any(not e.out_of_scope for e in examples):
        raise DatasetError(f"{path}: no labelled rows (text with a sector or intent)")
    return examples


def select_split(examples: list[Example], split: str | None) -> list[Example]:
    """The rows of one split (None: all of them)."""
    if split is None:
        return examples
    chosen = [e for e in examples if e.split == split]
    if not chosen:
        names = sorted({e.split for e in examples if e.split})
        raise DatasetError(
            f"no rows with split {split!r}; the data has: {', '.join(names) or 'no split column'}"
        )
    return chosen


def one_answer_per_intent(examples: list[Example]) -> list[Example]:
    """Every row of an intent carries the intent's first answer, as a knowledge base
    holds one validated answer per question (Bitext writes each response anew)."""
    first: dict[str, str] = {}
    for e in examples:
        if e.intent and e.answer:
            first.setdefault(e.intent, e.answer)
    return [replace(e, answer=first.get(e.intent, e.answer)) if e.intent else e for e in examples]


def stratified_split(
    examples: list[Example], test_fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """History and questions, each label split in the same proportion; fixed by `seed`."""
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_label[example.label].append(example)
    rng = random.Random(seed)
    history, questions = [], []
    for label in sorted(by_label):
        group = by_label[label][:]
        rng.shuffle(group)
        asked = round(len(group) * test_fraction) if len(group) > 1 else 0
        questions += group[:asked]
        history += group[asked:]
    return history, questions


def protocol(
    examples: list[Example], *, test_fraction: float, missing_fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """History and questions: a share of the intents is left out of the history entirely
    (their messages are asked as `missing`: nothing validated answers them), the other
    intents are split by `stratified_split`, and every out-of-scope message is asked.
    Raises DatasetError when that leaves nothing to ask."""
    in_scope = [e for e in examples if not e.out_of_scope]
    intents = sorted({e.intent for e in in_scope if e.intent})
    count = round(len(intents) * missing_fraction)
    if missing_fraction > 0 and len(intents) > 1:
        count = max(1, min(count, len(intents) - 1))
    left_out = set(random.Random(seed).sample(intents, count)) if count else set()
    history, questions = stratified_split(
        [e for e in in_scope if e.intent not in left_out], test_fraction, seed
    )
    questions += [replace(e, missing=True) for e in in_scope if e.intent in left_out]
    questions += [e for e in examples if e.out_of_scope]
    if not questions:
        raise DatasetError(
            f"nothing to ask: at a test fraction of {test_fraction} every message goes to"
            " the history (an intent is asked from its second message on), no intent is"
            " left out and no row is out of scope"
        )
    return history, questions
