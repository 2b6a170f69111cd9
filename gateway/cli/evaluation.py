"""The `atende eval` command (registered by `gateway.cli`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

from config.sectors import SectorCatalog
from config.settings import Settings
from gateway.cli.arguments import bounded
from gateway.evaluation.report import EvalReport
from gateway.evaluation.reviews import OWN_HISTORY
from gateway.evaluation.splits import combine
from gateway.evaluation.targets import PRECISION, SILENT
from gateway.services.projection import describe


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


SPLIT_COLUMNS = (
    ("sector_in_scope", "sector"),
    ("top1", "top-1"),
    ("hit3", "hit@3"),
    ("coverage", "coverage"),
    ("precision", "precision"),
    ("out_of_scope_silent", "out silent"),
    ("missing_intent_silent", "missing silent"),
)


def _format_splits(report: EvalReport) -> list[str]:
    """Each split's headline figures, their mean (the figures above) and range."""

    def row(label: str, cells: list[str]) -> str:
        return label.ljust(10) + "".join(cell.rjust(15) for cell in cells)

    def figures(headline: dict[str, float | None]) -> list[str]:
        return [_f(headline[name]) for name, _ in SPLIT_COLUMNS]

    lines = [
        f"the figures above are the mean of {len(report.splits)} splits:",
        row("split", [title for _, title in SPLIT_COLUMNS]),
    ]
    for split in report.splits:
        lines.append(row(f"seed {split['seeds'][0]}", figures(EvalReport(**split).headline())))
    lines.append(row("mean", figures(report.headline())))
    ranges = [report.ranges.get(name) for name, _ in SPLIT_COLUMNS]
    spread = [f"{_f(r[0])}-{_f(r[1])}".replace("0.", ".") if r else "-" for r in ranges]
    lines.append(row("range", spread))
    return lines


def _format_reachable(report: EvalReport) -> str:
    reach = report.reachable
    bar = reach.get("bar")
    at = f" at bar {bar:.2f}" if bar is not None else ""
    best = "at best" if len(report.splits) < 2 else "each split's best, averaged"
    return (
        f"reachable ({best})  coverage {_f(reach.get('coverage'))}{at} with precision >= "
        f"{PRECISION:.2f} and both silences >= {SILENT:.2f}; in scope alone "
        f"{_f(reach.get('in_scope_coverage'))} with precision >= {PRECISION:.2f}"
    )


def _format_reviews(tally: dict[str, Any]) -> str:
    def n(key: str) -> str:
        return f"{tally.get(key, 0):g}"

    bars = tally.get("sector_bars") or {}
    set_bars = ", ".join(f"{sector} {bar:.2f}" for sector, bar in bars.items()) or "none"
    return (
        f"after reviews of split {tally.get('split')}: {n('arrived')} messages arrived first; "
        f"the operator approved {n('approved')} suggestions, corrected {n('corrected')} wrong "
        "ones (rejected, then answered), "
        f"answered {n('written')} by hand, rejected {n('rejected_out_of_scope')} made to "
        f"out-of-scope messages; sectors' bars from the reviews: {set_bars} (the curve "
        "below is at one bar for all)"
    )


def format_report(report: EvalReport) -> str:
    asked = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.asked.items())
    seeds = ", ".join(str(seed) for seed in report.seeds)
    lines = [
        f"{report.dataset}"
        + (f" (split {report.split})" if report.split else "")
        + (f", seeds {seeds}" if len(report.seeds) > 1 else ""),
        f"model {report.model_id}; history {report.history}, asked {report.questions} ({asked})",
        f"confidence model: {report.calibration.get('source')}"
        f" ({report.calibration.get('examples', 0)} simulated questions); "
        + describe(report.calibration.get("projection")),
        "",
    ]
    if report.sector_accuracy is not None:
        by_scope = report.sector_accuracy_by_scope
        lines.append(
            f"sector accuracy      {report.sector_accuracy:.3f}   (in scope "
            f"{_f(by_scope.get('in_scope'))}, missing intent {_f(by_scope.get('missing_intent'))})"
        )
        methods = ", ".join(f"{k} {v}" for k, v in sorted(report.route_methods.items()))
        lines.append(f"routing methods      {methods}")
    if report.top1 is not None:
        lines.append(f"suggestion top-1     {report.top1:.3f}   hit@3 {_f(report.hit3)}")
        bars = report.reviews.get("sector_bars")
        at = (
            f"at the sectors' bars ({report.min_confidence:.2f} where none)"
            if bars
            else f"at confidence {report.min_confidence:.2f}"
        )
        lines.append(
            f"{at}   coverage {_f(report.coverage)}, "
            f"precision {_f(report.precision)} (similarity floor {report.threshold:.2f})"
        )
        lines.append(
            f"no suggestion, in scope: the right answer among the 3 offered "
            f"{_f(report.hit3_unsuggested)}"
        )
        silent = report.no_suggestion
        lines.append(
            f"no suggestion for    out-of-scope {_f(silent.get('out_of_scope'))}, "
            f"missing-intent {_f(silent.get('missing_intent'))}"
        )
        if report.reachable:
            lines.append(_format_reachable(report))
        if report.reviews:
            lines.append(_format_reviews(report.reviews))
    if report.splits:
        lines += ["", *_format_splits(report)]
    lines.append(
        f"latency per message  route+suggest p50 {report.latency_ms['p50']:.1f} ms, "
        f"p95 {report.latency_ms['p95']:.1f} ms; embedding {report.embed_ms_per_message:.1f} ms"
    )
    if report.confusion:
        names = sorted({*report.confusion, *(p for row in report.confusion.values() for p in row)})
        width = max(10, *(len(n) + 1 for n in names))
        lines += ["", "confusion (rows: labelled sector, columns: routed)"]
        lines.append(" " * width + "".join(n.rjust(width) for n in names))
        for gold in names:
            row = report.confusion.get(gold)
            if row is None:
                continue
            lines.append(
                gold.ljust(width) + "".join(str(row.get(n, 0)).rjust(width) for n in names)
            )
    if not report.curve:
        # No intents or answers in the data, or none of them asked (--test-fraction 0).
        unscored = (
            "(no in-scope message with an intent or answer was asked: suggestions were not scored)"
        )
        return "\n".join([*lines, "", unscored])
    lines += ["", "confidence  coverage  precision  out-of-scope silent  missing silent"]
    for row in report.curve:
        lines.append(
            f"{row['min_confidence']:10.2f}  {_f(row['coverage']):>8}  {_f(row['precision']):>9}"
            f"  {_f(row['out_of_scope_silent']):>19}  {_f(row['missing_intent_silent']):>14}"
        )
    return "\n".join(lines)


def cmd_eval(settings: Settings, args: argparse.Namespace) -> None:
    from config.sectors import load_sectors
    from gateway.evaluation.data import (
        DatasetError,
        load_examples,
        one_answer_per_intent,
        protocol,
        select_split,
    )

    path = Path(args.file)
    if args.svg:
        # Refused now rather than after the run it would chart.
        folder = Path(args.svg).absolute().parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise DatasetError(f"--svg {args.svg}: {folder} is not a folder atende may write to")
    sector_map = None
    if args.sector_map:
        try:
            sector_map = json.loads(Path(args.sector_map).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DatasetError(f"{args.sector_map}: not a readable JSON map: {exc}") from exc
        if not isinstance(sector_map, dict):
            raise DatasetError(f"{args.sector_map}: not a JSON object of intent: sector")
    catalog = load_sectors(settings.sectors_file)
    every = load_examples(path, sector_map, known_sectors=catalog.names)
    examples = select_split(every, args.split)
    reviews = None
    if args.reviews is not None and args.reviews != OWN_HISTORY:
        if args.split is None or args.reviews == args.split:
            raise DatasetError(
                f"--reviews {args.reviews}: name the split to evaluate with --split, and "
                "another split to review first (as in --split heldout --reviews dev), or "
                f"review half of the history with --reviews {OWN_HISTORY}"
            )
        reviews = select_split(every, args.reviews)
    if args.answers == "per-intent":
        examples = one_answer_per_intent(examples)
        reviews = one_answer_per_intent(reviews) if reviews is not None else None
    try:  # refused here, before a model loads or a scratch database exists
        protocol(
            examples,
            test_fraction=args.test_fraction,
            missing_fraction=args.missing_intents,
            seed=(args.seeds or [args.seed])[0],
        )
    except DatasetError as exc:
        raise DatasetError(f"{path}: {exc}") from None
    updates: dict[str, Any] = {}
    if args.threshold is not None:
        updates["suggestion_threshold"] = args.threshold
    if args.min_confidence is not None:
        updates["suggestion_min_confidence"] = args.min_confidence
    settings = settings.model_copy(update=updates)
    reports = asyncio.run(
        _eval(settings, args, catalog, examples, args.seeds or [args.seed], reviews)
    )
    report = reports[0] if len(reports) == 1 else combine(reports)
    report.dataset, report.split = path.name, args.split
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print(format_report(report))
    if args.svg and report.curve:
        from gateway.charts.confidence import confidence_svg

        try:
            Path(args.svg).write_text(confidence_svg(report), encoding="utf-8")
        except OSError as exc:
            raise DatasetError(f"--svg {args.svg}: cannot write it: {exc.strerror}") from None


async def _eval(
    settings: Settings,
    args: argparse.Namespace,
    catalog: SectorCatalog,
    examples: list,
    seeds: list[int],
    reviews: list | None = None,
) -> list[EvalReport]:
    """One report a split, with one embedder loaded for them all."""
    from tqdm import tqdm

    from gateway.embeddings import create_embedder
    from gateway.evaluation.report import evaluate

    embedder = create_embedder(settings)
    bars: dict[tuple[int, str], Any] = {}
    reports = []
    try:
        for seed in seeds:

            def progress(stage: str, done: int, total: int, seed: int = seed) -> None:
                if (seed, stage) not in bars:
                    desc = f"{stage} (seed {seed})" if len(seeds) > 1 else stage
                    bars[seed, stage] = tqdm(
                        total=total, desc=desc, unit="msg", disable=args.quiet or args.json
                    )
                bars[seed, stage].n = done
                bars[seed, stage].refresh()

            reports.append(
                await evaluate(
                    settings,
                    catalog,
                    embedder,
                    examples,
                    test_fraction=args.test_fraction,
                    missing_fraction=args.missing_intents,
                    seed=seed,
                    calibrate=not args.no_calibrate,
                    reviews=reviews,
                    reviews_split=args.reviews or "",
                    progress=progress,
                )
            )
    finally:
        for bar in bars.values():
            bar.close()
        await embedder.aclose()
    return reports


def _seed_list(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: seeds are whole numbers separated by commas, as in 13,1,2,3"
        ) from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: a seed is named twice")
    return seeds


_fraction = bounded(float, 0.0, 1.0, below=True)
_confidence = bounded(float, 0.0, 1.0)
_cosine = bounded(float, -1.0, 1.0)  # as ATENDE_SUGGESTION_THRESHOLD accepts


def add_commands(sub: Any) -> None:
    ev = sub.add_parser("eval", help="measure routing and suggestions on labelled data")
    ev.add_argument("file", help="CSV (instruction/text, intent, response) or JSONL")
    ev.add_argument("--sector-map", help="JSON file mapping each intent to a sector")
    ev.add_argument("--split", help="only the rows whose `split` is this (e.g. dev, heldout)")
    ev.add_argument(
        "--test-fraction", type=_fraction, default=0.3, help="share asked (default 0.3)"
    )
    ev.add_argument(
        "--missing-intents",
        type=_fraction,
        default=0.15,
        help="share of intents left out of the history, asked as missing (default 0.15)",
    )
    ev.add_argument(
        "--answers",
        choices=("as-given", "per-intent"),
        default="as-given",
        help="per-intent: every row of an intent gets its first answer (one validated "
        "answer per intent, for data that writes each response anew)",
    )
    which = ev.add_mutually_exclusive_group()
    which.add_argument("--seed", type=int, default=13, help="seed of the split")
    which.add_argument(
        "--seeds",
        type=_seed_list,
        help="several splits, comma-separated (13,1,2,3): the report gives their mean, "
        "each split's figures and the range of each",
    )
    ev.add_argument(
        "--reviews",
        metavar="SPLIT",
        help="before asking, have an operator who knows the labels review the rows of this "
        "other split as they arrive (approve, edit, reject), then calibrate: the figures "
        "after a stretch of reviews, not the default decision's (needs --split); "
        f"'{OWN_HISTORY}': half of the history's rows and of the out-of-scope ones instead",
    )
    ev.add_argument("--threshold", type=_cosine, help="override ATENDE_SUGGESTION_THRESHOLD")
    ev.add_argument(
        "--min-confidence", type=_confidence, help="override ATENDE_SUGGESTION_MIN_CONFIDENCE"
    )
    ev.add_argument(
        "--no-calibrate",
        action="store_true",
        help="keep the built-in confidence model instead of fitting one on the history",
    )
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    ev.add_argument("--svg", help="also write the precision/coverage by confidence chart here")
    ev.add_argument("--quiet", action="store_true", help="no progress bars")
    ev.set_defaults(func=cmd_eval)
