"""Sentence embeddings: the embedder, the text it embeds, and vectors stored by text digest.

Tests marked `needs_model` run the real model from the `embeddings` extra. Without the extra
they skip, unless GAPBOT_TEST_EMBEDDINGS=1 (CI sets it), where this module fails to load.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from sqlalchemy import func, select

import detectors.embeddings as embeddings_module
from config.errors import ConfigError
from detectors.embeddings import (
    DIMENSIONS,
    MODEL_ID,
    Embedder,
    EmbeddingsUnavailable,
    embedding_text,
    item_vectors,
    text_digest,
    vector_bytes,
)
from store.db import Store
from store.embeddings import save_vectors, stored_vectors
from store.models import TextEmbedding
from tests.embedding_support import needs_model

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    """One loaded model for the module: loading takes seconds."""
    return Embedder()


class CountingEmbedder(Embedder):
    """The shared embedder, recording every text it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:  # no super(): reuse the loaded model
        self.inner = inner
        self.embedded: list[str] = []

    def embed(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> NDArray[np.float32]:
        """Record, then embed with the real model."""
        self.embedded.extend(texts)
        return self.inner.embed(texts, progress)


def _row_count(store: Store) -> int:
    with store.session() as session:
        return int(session.execute(select(func.count()).select_from(TextEmbedding)).scalar_one())


# --- without the model ---------------------------------------------------------------------


def test_embedding_text_is_title_then_folded_body() -> None:
    assert embedding_text("Fix login", "") == "Fix login"
    assert embedding_text("  Fix   login ", " \n ") == "Fix login"
    assert embedding_text("Fix login", "The  button\n\ndoes nothing") == (
        "Fix login. The button does nothing"
    )
    long = embedding_text("T", "word " * 100_000)
    assert len(long) <= len("T. ") + embeddings_module.BODY_CHARS


def test_text_digest_covers_model_and_text() -> None:
    digest = text_digest("Fix login")
    assert len(digest) == 64
    assert digest == text_digest("Fix login")
    assert digest != text_digest("Fix login.")
    import hashlib

    assert digest == hashlib.sha256(f"{MODEL_ID}\nFix login".encode()).hexdigest()


def test_missing_extra_is_a_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings_module, "embeddings_available", lambda: False)
    with pytest.raises(EmbeddingsUnavailable) as caught:
        Embedder()
    assert isinstance(caught.value, ConfigError)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert "\n" not in message
    assert "pip install 'gapbot[embeddings]'" in message


def test_start_up_does_not_import_torch() -> None:
    code = "import sys, bot.cli, detectors.embeddings; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.stdout.strip() == "False"


def test_vectors_are_stored_once_per_digest(store: Store) -> None:
    first = vector_bytes(np.ones(DIMENSIONS, dtype=np.float32))
    other = vector_bytes(np.zeros(DIMENSIONS, dtype=np.float32))
    with store.session() as session:
        save_vectors(session, {"a" * 64: first})
    with store.session() as session:
        save_vectors(session, {"a" * 64: other, "b" * 64: other})  # a duplicate is ignored
    with store.session() as session:
        found = stored_vectors(session, ["a" * 64, "b" * 64, "c" * 64])
    assert found == {"a" * 64: first, "b" * 64: other}
    assert _row_count(store) == 2


def test_lookup_goes_in_chunks(store: Store) -> None:
    rows = {
        f"{i:064x}": vector_bytes(np.full(DIMENSIONS, i, dtype=np.float32)) for i in range(1200)
    }
    with store.session() as session:
        save_vectors(session, rows)
    with store.session() as session:
        found = stored_vectors(session, [*rows, "f" * 64])
    assert found == rows


def test_concurrent_saves_of_the_same_digests_do_not_fail(store: Store) -> None:
    rows = {f"{i:064x}": vector_bytes(np.full(DIMENSIONS, i, dtype=np.float32)) for i in range(300)}
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def save() -> None:
        try:
            barrier.wait()
            with store.session() as session:
                save_vectors(session, rows)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _row_count(store) == 300


def test_stored_vectors_need_no_model(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    vector = np.arange(DIMENSIONS, dtype=np.float32)
    with store.session() as session:
        save_vectors(session, {text_digest("Fix login"): vector_bytes(vector)})

    def no_model() -> None:
        raise AssertionError("an Embedder was made though every vector was stored")

    monkeypatch.setattr(embeddings_module, "Embedder", no_model)
    got = item_vectors(store, {"PAY-1": "Fix login", "PAY-2": "Fix login", "PAY-3": ""})
    assert np.array_equal(got["PAY-1"], vector)
    assert np.array_equal(got["PAY-2"], vector)
    assert got["PAY-1"].dtype == np.float32
    assert not got["PAY-3"].any()  # an empty text is a zero vector, made without the model


# --- with the model ------------------------------------------------------------------------


@needs_model
def test_vectors_are_unit_rows_in_input_order(embedder: Embedder) -> None:
    texts = ["Fix JS syntax error", "Add dark mode to the settings page", "", "Fix JS syntax error"]
    done: list[int] = []
    vectors = embedder.embed(texts, progress=done.append)
    assert vectors.shape == (4, DIMENSIONS)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[[0, 1, 3]], axis=1), 1.0, atol=1e-5)
    assert not np.isnan(vectors).any()
    assert not vectors[2].any()
    assert np.array_equal(vectors[0], vectors[3])
    assert sum(done) == 4
    assert embedder.embed([]).shape == (0, DIMENSIONS)


@needs_model
def test_embedding_is_deterministic(embedder: Embedder) -> None:
    texts = [f"Item {i}: make the export job retry on timeouts" for i in range(40)]
    assert np.array_equal(embedder.embed(texts), embedder.embed(texts))


@needs_model
def test_a_paraphrase_is_closer_than_an_unrelated_text(embedder: Embedder) -> None:
    base, paraphrase, unrelated = embedder.embed(
        ["Fix JS syntax error", "Fixed invalid JavaScript", "Add dark mode to the settings page"]
    )
    assert float(base @ paraphrase) > float(base @ unrelated) + 0.2


@needs_model
def test_item_vectors_embed_each_new_text_once(store: Store, embedder: Embedder) -> None:
    texts = {
        "PAY-1": "Fix JS syntax error",
        "CORE-1": "Fix JS syntax error",  # the same text: embedded once
        "WEB-1": "Add dark mode to the settings page",
    }
    counting = CountingEmbedder(embedder)
    first = item_vectors(store, texts, embedder=counting)
    assert sorted(counting.embedded) == [
        "Add dark mode to the settings page",
        "Fix JS syntax error",
    ]
    assert set(first) == set(texts)
    assert np.array_equal(first["PAY-1"], first["CORE-1"])
    assert _row_count(store) == 2

    counting.embedded.clear()
    again = item_vectors(store, texts, embedder=counting)
    assert counting.embedded == []
    for key in texts:
        assert np.array_equal(again[key], first[key])

    changed = {**texts, "WEB-1": "Add a dark theme to the settings page"}
    done: list[int] = []
    third = item_vectors(store, changed, embedder=counting, progress=done.append)
    assert counting.embedded == ["Add a dark theme to the settings page"]
    assert done == [1]
    assert np.array_equal(third["PAY-1"], first["PAY-1"])
    assert not np.array_equal(third["WEB-1"], first["WEB-1"])


@needs_model
def test_vectors_survive_a_new_store(database_url: str, embedder: Embedder) -> None:
    texts = {"PAY-1": "Okta SSO login fails for EU users", "CORE-1": "Okta login broken in EU"}
    opened = Store(database_url)
    first = item_vectors(opened, texts, embedder=embedder)
    opened.dispose()

    reopened = Store(database_url)
    counting = CountingEmbedder(embedder)
    again = item_vectors(reopened, texts, embedder=counting)
    reopened.dispose()
    assert counting.embedded == []
    for key in texts:
        assert np.array_equal(again[key], first[key])


def test_prune_keeps_live_and_recent_vectors(store: Store) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from store.embeddings import prune_vectors
    from store.models import utcnow

    vector = vector_bytes(np.ones(DIMENSIONS, dtype=np.float32))
    with store.session() as session:
        save_vectors(session, {"live-old": vector, "dead-old": vector, "dead-new": vector})
    month_ago = utcnow() - timedelta(days=30)
    with store.session() as session:
        session.execute(
            update(TextEmbedding)
            .where(TextEmbedding.digest.in_(["live-old", "dead-old"]))  # type: ignore[attr-defined]
            .values(created=month_ago)
        )
    with store.session() as session:
        deleted = prune_vectors(session, ["live-old"], utcnow() - timedelta(days=7))
    assert deleted == 1
    with store.session() as session:
        left = stored_vectors(session, ["live-old", "dead-old", "dead-new"])
    # The unused old vector goes; a live one stays, and so does a young unused one (another
    # process may have just stored it for an item this caller has not seen).
    assert sorted(left) == ["dead-new", "live-old"]
