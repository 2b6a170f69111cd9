"""Fit atende's built-in confidence model: `python eval/fit_default_confidence.py`.

The built-in model (gateway.services.confidence.DEFAULT_MODEL) serves a database until
`atende calibrate --apply` fits one on its own history. It is fitted here the same way,
on the validated history alone (every message asked of the others, and of the others
without its answer), from the tuning split of eval/pt_br only: the held-out split and
Bitext stay unseen. Prints the weights to paste into DEFAULT_MODEL.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Settings  # noqa: E402
from gateway.embeddings import create_embedder  # noqa: E402
from gateway.evaluation.data import load_examples, select_split  # noqa: E402
from gateway.services.simulation import fit_on_history  # noqa: E402


async def main() -> None:
    settings = Settings(_env_file=None)
    examples = select_split(load_examples(ROOT / "eval/pt_br/atende_pt_br.jsonl"), "dev")
    history = [e for e in examples if not e.out_of_scope and e.answer]
    embedder = create_embedder(settings)
    try:
        vectors = np.asarray(await embedder.embed([e.text for e in history]))
    finally:
        await embedder.aclose()
    model = fit_on_history(
        vectors,
        [e.answer or "" for e in history],
        temperature=settings.router_temperature,
        model_id=embedder.model_id,
    )
    if model is None:
        sys.exit("the history could not teach a model")
    print(f"model_id {embedder.model_id}; {model.examples} simulated questions")
    print(f"intercept={model.intercept}, weights={model.weights}")


if __name__ == "__main__":
    asyncio.run(main())
