"""The `atende calibrate` command (registered by `gateway.cli`).

Dry run by default: it prints what it would store, per sector the precision and coverage
of the reviewed suggestions before and after, and stores it only with `--apply`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from config.sectors import SectorCatalog
from config.settings import Settings
from gateway.cli.arguments import bounded
from gateway.services.calibration import DAYS, MIN_REVIEWS, TARGET, CalibrationReport


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_calibration(report: CalibrationReport) -> str:
    before, after = report.before.model, report.after.model
    lines = [
        f"labels: {report.labels} reviewed suggestions from the {report.source}"
        + (
            f" ({report.left_out} rejections left out: their answer would no longer win)"
            if report.left_out
            else ""
        ),
        f"confidence model: {before.source} -> {after.source}; {report.model_note}",
        "",
        f"{'sector':<12} {'reviews':>7}   {'before: bar  precision  coverage':<34}"
        f" {'after: bar  precision  coverage':<33} note",
    ]
    for s in report.sectors:
        lines.append(
            f"{s.sector:<12} {s.after.reviewed:>7}   "
            f"{s.before.threshold:>11.2f}  {_f(s.before.precision):>9}  {_f(s.before.coverage):>8}"
            f"   {s.after.threshold:>10.2f}  {_f(s.after.precision):>9}  {_f(s.after.coverage):>8}"
            f"  {s.note}"
        )
    lines += [
        "",
        "coverage: the share of the reviewed suggestions that the bar still lets through",
        "stored: the pipeline reads it within a minute"
        if report.applied
        else "dry run: nothing was stored (add --apply to store it)",
    ]
    return "\n".join(lines)


def cmd_calibrate(settings: Settings, args: argparse.Namespace) -> None:
    from config.sectors import load_sectors
    from gateway.services.review_labels import load_labels

    catalog = load_sectors(settings.sectors_file)
    # A file is read and checked whole before the database is touched.
    labels = load_labels(Path(args.labels), known_sectors=catalog.names) if args.labels else None
    report = asyncio.run(_calibrate(settings, args, catalog, labels))
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print(format_calibration(report))


async def _calibrate(
    settings: Settings, args: argparse.Namespace, catalog: SectorCatalog, labels: Any
) -> CalibrationReport:
    from gateway.app import open_database
    from gateway.embeddings import create_embedder
    from gateway.services.calibration import (
        calibrate_from_database,
        calibrate_from_labels,
        load_calibration,
        store_calibration,
    )
    from gateway.services.embedding import check_embedding_model
    from gateway.services.triage import build_triage
    from storage.answer_vectors import AnswerVectorRepository
    from storage.repositories import MetaRepository
    from storage.reviews import ReviewRepository
    from storage.routing import RoutingRepository

    embedder = create_embedder(settings)
    try:
        async with open_database(settings, embedder.dim) as (_, sessions):
            meta = MetaRepository(sessions)
            await check_embedding_model(meta, embedder)
            _, maker = build_triage(
                settings,
                catalog,
                RoutingRepository(sessions),
                embedder,
                threshold=settings.effective_suggestion_threshold,
            )
            maker.calibration = await load_calibration(meta, embedder.model_id)
            options = {
                "sectors": catalog.names,
                "target": args.target_precision,
                "min_reviews": args.min_reviews,
            }
            if labels is not None:
                report = calibrate_from_labels(
                    maker.calibration, labels, default_bar=maker.min_confidence, **options
                )
            else:
                report = await calibrate_from_database(
                    maker,
                    ReviewRepository(sessions),
                    embedder,
                    AnswerVectorRepository(sessions),
                    days=args.days,
                    refit=not args.keep_model,
                    **options,
                )
            if args.apply:
                await store_calibration(meta, report.after)
                report.applied = True
    finally:
        await embedder.aclose()
    return report


_days = bounded(int, 1, 3650)
_count = bounded(int, 1, 100_000)
_precision = bounded(float, 0.0, 1.0, above=True)


def add_commands(sub: Any) -> None:
    cal = sub.add_parser(
        "calibrate",
        help="re-fit the projection and confidence model from the validated history and "
        "per-sector thresholds from operators' reviews (dry run unless --apply)",
    )
    cal.add_argument(
        "--apply", action="store_true", help="store the result (default: only show it)"
    )
    cal.add_argument(
        "--days",
        type=_days,
        default=DAYS,
        help=f"reviews of the last N days (default {DAYS})",
    )
    cal.add_argument(
        "--target-precision",
        type=_precision,
        default=TARGET,
        help=f"share of suggestions approved unchanged to aim for (default {TARGET})",
    )
    cal.add_argument(
        "--min-reviews",
        type=_count,
        default=MIN_REVIEWS,
        help=f"reviews a sector's bar must leave to be judged by (default {MIN_REVIEWS})",
    )
    cal.add_argument(
        "--keep-model",
        action="store_true",
        help="keep the projection and confidence model; only re-fit the sectors' thresholds",
    )
    cal.add_argument(
        "--labels",
        help="read the reviews from this CSV or JSONL file (sector, confidence, outcome) "
        "instead of the database; the confidence model is kept",
    )
    cal.add_argument("--json", action="store_true", help="print the result as JSON")
    cal.set_defaults(func=cmd_calibrate)
