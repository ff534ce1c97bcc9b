"""Accuracy of `similar` and of the duplicates detector on labelled duplicate pull requests.

Usage: python bench/accuracy_bench.py [DATA_DIR] [--no-demo] [--embeddings]
(default DATA_DIR ../shared/data/dupes)

Prints recall@1/5/10 of `similar` over the labelled duplicate pairs (both directions, the
item itself left out), precision/recall/F1 of the detector's verdict on the labelled pairs
at its default threshold (scope: any), and the same for two baselines computed in this run:
TF-IDF cosine (sublinear tf) on the title twice plus the body, and rapidfuzz token_set_ratio
on titles. A baseline has no threshold of its own, so its verdict uses the lowest threshold
at which its labelled precision reaches 0.97 (tuned on this very data: generous to it).

Labelled precision hides alert volume (labelled negatives are few), so it also prints how
many pairs the detector flags among all the items (flagged pairs per item), and runs
`gapbot demo`'s pipeline on two generated organisations (seed 7 size 1, seed 11 size 2) to
print the planted duplicates found and the false duplicate alarms (`--no-demo` skips that).

`--embeddings` measures the matcher with sentence embeddings blended in
(`detectors.duplicates.embeddings: true`; needs the optional extra gapbot[embeddings]): the
items are embedded once into a temporary store, and the time that takes is printed.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process
from sklearn.feature_extraction.text import TfidfVectorizer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.settings import GapbotConfig  # noqa: E402
from detectors.base import Snapshot  # noqa: E402
from detectors.duplicates import (  # noqa: E402
    DEFAULT_THRESHOLD,
    build_index,
    detect_duplicates,
    indexed_text,
)
from store.models import WorkItem  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dupes"
KS = (1, 5, 10)


def load(data_dir: Path) -> tuple[list[WorkItem], list[dict[str, object]]]:
    """The items (all open, one team) and the labelled pairs."""
    items = []
    with (data_dir / "items.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            items.append(
                WorkItem(
                    key=row["key"],
                    title=row["title"],
                    body=row.get("body") or "",
                    source=row.get("source", "github"),
                    kind=row.get("kind", "pull_request"),
                    team="bench",
                    status_category="todo",
                )
            )
    with (data_dir / "pairs.jsonl").open(encoding="utf-8") as handle:
        pairs = [json.loads(line) for line in handle if line.strip()]
    return items, pairs


def recall_at(ranked: dict[str, list[str]], pairs: list[dict[str, object]]) -> dict[int, float]:
    """Share of (A, B) duplicate pairs, both directions, with B in A's top k."""
    hits = dict.fromkeys(KS, 0)
    total = 0
    for pair in pairs:
        if pair["label"] != 1:
            continue
        for a, b in ((pair["a"], pair["b"]), (pair["b"], pair["a"])):
            total += 1
            top = ranked[str(a)]
            for k in KS:
                hits[k] += b in top[:k]
    return {k: hits[k] / total for k in KS}


def verdict_figures(flagged: list[bool], labels: list[int]) -> tuple[float, float, float]:
    """Precision, recall and F1 of a verdict against the labels."""
    tp = sum(1 for f, y in zip(flagged, labels, strict=True) if f and y)
    fp = sum(1 for f, y in zip(flagged, labels, strict=True) if f and not y)
    positives = sum(labels)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / positives if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def threshold_for_precision(scores: list[float], labels: list[int], target: float) -> float:
    """The lowest score threshold at which labelled precision is still at least `target`."""
    best = max(scores) + 1.0
    tp = fp = 0
    for score, label in sorted(zip(scores, labels, strict=True), reverse=True):
        tp += label
        fp += 1 - label
        if tp / (tp + fp) >= target:
            best = score
    return best


def dense_ranking(similarity: np.ndarray, keys: list[str]) -> dict[str, list[str]]:
    """Each key's ten most similar other keys under a full similarity matrix."""
    similarity = similarity.astype(np.float64, copy=True)
    np.fill_diagonal(similarity, -np.inf)
    top = np.argsort(-similarity, axis=1, kind="stable")[:, :10]
    return {key: [keys[j] for j in top[i]] for i, key in enumerate(keys)}


def baseline_row(
    name: str,
    similarity: np.ndarray,
    keys: list[str],
    pairs: list[dict[str, object]],
) -> tuple[str, dict[int, float], tuple[float, float, float], float]:
    """Recall@k and the verdict figures of a baseline similarity matrix."""
    position = {key: i for i, key in enumerate(keys)}
    ranked = dense_ranking(similarity, keys)
    scores = [float(similarity[position[str(p["a"])], position[str(p["b"])]]) for p in pairs]
    labels = [int(str(p["label"])) for p in pairs]
    threshold = threshold_for_precision(scores, labels, 0.97)
    figures = verdict_figures([s >= threshold for s in scores], labels)
    return name, recall_at(ranked, pairs), figures, threshold


def demo_duplicates(seed: int, size: float, *, embeddings: bool = False) -> str:
    """The demo pipeline's duplicate score on one generated organisation, as a line."""
    from bot.demo import run_demo  # the sandbox pipeline, loaded only for this part

    with tempfile.TemporaryDirectory() as folder:
        result = run_demo(Path(folder), seed=seed, size=size, embeddings=embeddings)
    entry = result.scores["duplicate"]
    return (
        f"demo seed {seed} size {size:g} ({result.org.item_count()} items): duplicates found "
        f"{entry.found} of {entry.planted} planted, {entry.false_alarms} false alarms"
    )


def main() -> None:
    """Run the benchmark and print its figures."""
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    data_dir = Path(args[0]) if args else DEFAULT_DATA
    if not (data_dir / "items.jsonl").is_file() or not (data_dir / "pairs.jsonl").is_file():
        sys.exit(f"error: {data_dir} holds no items.jsonl and pairs.jsonl (give DATA_DIR)")
    items, pairs = load(data_dir)
    keys = [item.key for item in items]
    labels = [int(str(p["label"])) for p in pairs]
    n_dup = sum(labels)
    print(
        f"data: {data_dir}: {len(items)} items, {n_dup} duplicate and "
        f"{len(pairs) - n_dup} non-duplicate labelled pairs"
    )

    semantic = None
    embeddings = "--embeddings" in sys.argv
    if embeddings:
        from detectors.semantic import StoredEmbeddings  # the optional extra
        from store.db import Store

        folder = tempfile.mkdtemp(prefix="gapbot-bench-")
        semantic = StoredEmbeddings(Store(f"sqlite:///{folder}/vectors.db"))
        started = time.perf_counter()
        semantic.vectors([indexed_text(item) for item in items])
        embedded = time.perf_counter() - started
        print(
            f"embedded {len(items):,} items in {embedded:.1f}s "
            f"({1000 * embedded / len(items):.1f} ms per item, model load included)"
        )
    started = time.perf_counter()
    index = build_index(items, semantic=semantic)
    built = time.perf_counter() - started
    started = time.perf_counter()
    ranked = {key: [m.key for m in index.similar(key, 10)] for key in keys}
    queried = time.perf_counter() - started
    ours_recall = recall_at(ranked, pairs)

    config = GapbotConfig.model_validate(
        {
            "teams": [{"name": "bench", "github_repos": ["bench/*"]}],
            "detectors": {"duplicates": {"scope": "any"}},
        }
    )
    now = datetime(2026, 11, 29, tzinfo=UTC)
    snapshot = Snapshot(
        items={i.key: i for i in items}, links=[], now=now, config=config, semantic=semantic
    )
    started = time.perf_counter()
    gaps = detect_duplicates(snapshot)
    detected = time.perf_counter() - started
    flagged_pairs = {frozenset(g.item_keys) for g in gaps}
    flagged = [frozenset((str(p["a"]), str(p["b"]))) in flagged_pairs for p in pairs]
    ours_verdict = verdict_figures(flagged, labels)

    # How the default threshold was chosen: the verdict score's precision/recall curve.
    scores = [index.pair_score(str(p["a"]), str(p["b"])) for p in pairs]
    curve = []
    for threshold in (0.0, 0.02, 0.03, 0.04, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3):
        figures = verdict_figures([s >= threshold for s in scores], labels)
        curve.append((threshold, *figures))

    titles = [item.title.lower() for item in items]
    started = time.perf_counter()
    docs = [f"{item.title} {item.title} {item.body}" for item in items]
    tfidf = TfidfVectorizer(sublinear_tf=True).fit_transform(docs)
    tfidf_similarity = (tfidf @ tfidf.T).toarray()
    fuzz_similarity = process.cdist(titles, titles, scorer=fuzz.token_set_ratio, workers=2) / 100.0
    baselines_time = time.perf_counter() - started
    rows = [
        baseline_row("TF-IDF title x2 + body", tfidf_similarity, keys, pairs),
        baseline_row("rapidfuzz token_set_ratio titles", fuzz_similarity, keys, pairs),
    ]

    print()
    print(f"{'method':36} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'prec':>6} {'recall':>6} {'F1':>6}")
    p, r, f = ours_verdict
    r1, r5, r10 = (ours_recall[k] for k in KS)
    name = f"gapbot{' + embeddings' if embeddings else ''} (threshold {DEFAULT_THRESHOLD})"
    print(f"{name:36} {r1:6.3f} {r5:6.3f} {r10:6.3f} {p:6.3f} {r:6.3f} {f:6.3f}")
    for name, recall, (p, r, f), threshold in rows:
        r1, r5, r10 = (recall[k] for k in KS)
        label = f"{name} (@{threshold:.2f})"
        print(f"{label:36} {r1:6.3f} {r5:6.3f} {r10:6.3f} {p:6.3f} {r:6.3f} {f:6.3f}")
    print()
    print(
        "verdict score alone on the labelled pairs, before the mutual-neighbour and "
        "template rules (threshold: precision recall F1)"
    )
    for threshold, p, r, f in curve:
        print(f"  {threshold:5.2f}: {p:.3f} {r:.3f} {f:.3f}")
    print()
    print(
        f"times: index build {built:.1f}s, {len(keys)} similar queries {queried:.1f}s, "
        f"detector run {detected:.1f}s ({len(gaps)} pairs flagged), baselines {baselines_time:.1f}s"
    )
    print(
        f"flagged pairs: {len(gaps):,} among {len(items):,} items "
        f"({len(gaps) / len(items):.3f} per item; scope any, all open)"
    )
    if "--no-demo" not in sys.argv:
        for seed, size in ((7, 1.0), (11, 2.0)):
            print(demo_duplicates(seed, size, embeddings=embeddings))


if __name__ == "__main__":
    main()
