"""Reviewed suggestions as labels: what `atende calibrate` judges a confidence bar by.

They come from the database's reviews (gateway.services.calibration scores them again)
or, with `--labels FILE`, from a CSV or JSONL file scored elsewhere, read here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gateway.evaluation.data import DatasetError, check_sector, read_records

OUTCOMES = ("approved", "edited", "rejected")


@dataclass(frozen=True)
class Label:
    """One reviewed suggestion: its sector, its confidence, and whether it was right."""

    sector: str | None
    confidence: float
    right: bool


def _label_columns(path: Path, fields: set[str]) -> None:
    missing = [name for name in ("sector", "confidence", "outcome") if name not in fields]
    if missing:
        raise DatasetError(
            f"{path}: row 1: no {', '.join(f'`{m}`' for m in missing)} column; the columns "
            f"are {', '.join(sorted(fields)) or 'none'}"
        )


def load_labels(path: Path, *, known_sectors: Iterable[str]) -> list[Label]:
    """Reviewed suggestions from a CSV or JSONL file (columns sector, confidence and
    outcome: approved, edited or rejected); raises DatasetError naming the row and field."""
    known = set(known_sectors)
    labels = []
    for number, record in read_records(path, _label_columns):
        where = f"{path}: row {number}"
        sector = str(record.get("sector") or "").strip()
        if not sector:
            raise DatasetError(f"{where}, field sector: missing or empty")
        check_sector(where, sector, known)
        outcome = str(record.get("outcome") or "").strip().lower()
        if not outcome:
            raise DatasetError(f"{where}, field outcome: missing or empty")
        if outcome not in OUTCOMES:
            raise DatasetError(
                f"{where}, field outcome: {record.get('outcome')!r} is not one of "
                f"{', '.join(OUTCOMES)}"
            )
        raw = record.get("confidence")
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise DatasetError(f"{where}, field confidence: missing or empty")
        try:
            confidence = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise DatasetError(f"{where}, field confidence: {raw!r} is not a number") from None
        if not 0.0 <= confidence <= 1.0:
            raise DatasetError(f"{where}, field confidence: {confidence} is not in [0, 1]")
        labels.append(Label(sector, confidence, right=outcome == "approved"))
    if not labels:
        raise DatasetError(f"{path}: no reviews in the file")
    return labels
