"""Sentence-embedding vectors for the similarity index, kept in the store.

The index asks for the vectors of the items it adds (`SemanticVectors.vectors`) and of a
search's text (`query`). Items' vectors are read from the store by a digest of their text
and computed only for texts not seen before (`detectors.embeddings.item_vectors`), so a
rebuild after a restart embeds nothing and a sync embeds only what changed. The model loads
on the first text that needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from detectors.embeddings import (
    DIMENSIONS,
    Embedder,
    embedding_text,
    item_vectors,
    text_digest,
)
from detectors.similarity import IndexedText
from store.db import Store
from store.embeddings import prune_vectors

PRUNE_AFTER = timedelta(days=7)
"""A vector no item uses is deleted once it is this old: younger ones may belong to texts
another process (a sync, the Slack app's index) stored for items this run has not seen."""


class EmbeddingProgress(Protocol):
    """Told about embedding work as it happens (a first run embeds every item)."""

    def starting(self, texts: int) -> None:
        """`texts` texts are about to be embedded."""

    def advance(self, texts: int) -> None:
        """`texts` more are done."""


class StoredEmbeddings:
    """`SemanticVectors` read from `store`, computed and saved there when missing."""

    def __init__(self, store: Store, progress: EmbeddingProgress | None = None) -> None:
        """Vectors of items in `store` (the model is loaded only when a text needs it).

        `progress` hears of long work: how many texts are to be embedded, then each batch.
        """
        self._store = store
        self._embedder: Embedder | None = None
        self._progress = progress

    def _model(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder()
        return self._embedder

    def vectors(self, items: Sequence[IndexedText]) -> NDArray[np.float32]:
        """One unit row per item, in order."""
        if not items:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        texts = {item.key: embedding_text(item.title, item.body) for item in items}
        progress = self._progress
        found = item_vectors(
            self._store,
            texts,
            make_embedder=self._model,
            starting=progress.starting if progress else None,
            progress=progress.advance if progress else None,
        )
        return np.stack([found[item.key] for item in items]).astype(np.float32, copy=False)

    def prune(self, items: Sequence[IndexedText], now: datetime) -> int:
        """Delete stored vectors of texts none of `items` has any more (edited or gone
        items' old texts), if stored more than `PRUNE_AFTER` ago; returns how many."""
        live = [text_digest(embedding_text(item.title, item.body)) for item in items]
        with self._store.session() as session:
            return prune_vectors(session, live, now - PRUNE_AFTER)

    def query(self, text: str) -> NDArray[np.float32]:
        """The vector of a search's text (not stored: searches are not items)."""
        vector: NDArray[np.float32] = self._model().embed([embedding_text(text, "")])[0]
        return vector
