"""Speed and memory of the similarity index on generated work items.

Usage: python bench/similarity_bench.py [--small] [--detector] [--semantic]

Each measurement runs in a fresh subprocess so its peak memory (max RSS) is its own:
a full scan (build + candidate scan + rescoring) of 20,000 and 100,000 items; the same
20,000 through two exhaustive all-pairs runs of the same final scorer, one scoring every pair,
one skipping the title ratio where the cosine alone cannot reach `MIN_SIMILARITY` (for each:
time ratio to the scan, share of its pairs at or above `MIN_SIMILARITY` that the scan
found); 1,000 new items added to 100,000; `search` latency (p50/p95) on 100,000 once warm;
and the duplicates detector's whole run (`detect_duplicates`: index build, scan, verdict) on
100,000 items spread over 12 teams.
`--small` divides the sizes by 10; `--detector` runs only the detector part; `--semantic`
only times a scan with embedding vectors (random ones) against the same without, at 10,000
items and at `SEMANTIC_SCAN_MAX`, the most that get embedding candidates; `--phases` only
splits the 100,000-item full scan into its phases (the time of each step, wall clock; the
n-gram steps run in threads, so theirs are summed over threads).
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.similarity import SEMANTIC_SCAN_MAX, IndexedText, SimilarityIndex  # noqa: E402

MIN_SIMILARITY = 0.3
"""Pairs compared between the scan and the exhaustive run: the region the detector acts in."""
SEED = 7
DATA_DIR = ROOT.parent / "shared" / "data" / "dupes"

_SYLLABLES = ["ka", "lo", "mi", "ra", "ten", "sol", "vi", "dor", "pex", "qua", "zen", "bri"]
_VERBS = ["fix", "add", "update", "remove", "migrate", "refactor", "support", "handle", "allow"]
_ENGLISH = [
    "the",
    "a",
    "of",
    "to",
    "in",
    "for",
    "on",
    "with",
    "when",
    "after",
    "before",
    "from",
    "is",
    "are",
    "be",
    "not",
    "can",
    "should",
    "does",
    "users",
    "user",
    "page",
    "error",
    "fails",
    "broken",
    "slow",
    "timeout",
    "request",
    "response",
    "data",
    "field",
    "value",
    "list",
    "new",
    "old",
    "first",
    "last",
    "missing",
    "wrong",
    "duplicate",
    "empty",
    "null",
    "crash",
    "retry",
    "cache",
    "config",
    "setting",
    "option",
]


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    """Made-up domain words (service names, identifiers, jargon)."""
    words: set[str] = set()
    while len(words) < size:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if rng.random() < 0.15:
            word = word.capitalize() + rng.choice(["Service", "Client", "Handler", "Api"])
        words.add(word)
    return sorted(words)


def _real_vocabulary(data_dir: Path) -> tuple[list[str], list[float]] | None:
    """Words and their frequencies in real pull requests, if the data set is there."""
    path = data_dir / "items.jsonl"
    if not path.exists():
        return None
    counts: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            for word in f"{row['title']} {row.get('body') or ''}".split():
                if word.isalpha():
                    counts[word] = counts.get(word, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [w for w, _ in ranked], [float(c) for _, c in ranked]


def generate(count: int, seed: int = SEED, data_dir: Path = DATA_DIR) -> list[IndexedText]:
    """Items whose words follow a real word-frequency law; 3% are rewordings of another.

    The vocabulary and its frequencies come from the real pull requests in `data_dir`
    (about 40,000 distinct words), else from made-up words with a Zipf law. Each item gets a
    topic of four words drawn from the less frequent half, so items differ as real ones do.
    """
    rng = random.Random(seed)
    real = _real_vocabulary(data_dir)
    if real is None:
        vocab = _vocabulary(rng, 20000)
        weights = [1.0 / (rank + 10) for rank in range(len(vocab))]
    else:
        vocab, weights = real
    rare = vocab[len(vocab) // 20 :]
    items: list[IndexedText] = []
    for number in range(count):
        if items and rng.random() < 0.03:
            source = rng.choice(items)
            title_words = source.title.split()
            rng.shuffle(title_words)
            title_words[-1] = rng.choice(_ENGLISH)
            body_words = source.body.split()[: rng.randint(10, 40)]
            title, body = " ".join(title_words), " ".join(body_words)
        else:
            topic = rng.sample(rare, 4)
            common = rng.choices(vocab, weights=weights, k=rng.randint(2, 5))
            title = " ".join([rng.choice(_VERBS), *topic[:3], *common])
            body_list = topic + rng.choices(vocab, weights=weights, k=rng.randint(20, 80))
            rng.shuffle(body_list)
            body = " ".join(body_list)
        items.append(IndexedText(key=f"GEN-{number}", title=title, body=body))
    return items


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def part_scan(count: int) -> dict[str, float]:
    """Build + full scan of `count` items."""
    items = generate(count)
    before = peak_mb()
    started = time.perf_counter()
    index = SimilarityIndex()
    index.build(items, scan=False)
    pairs = index.scan(MIN_SIMILARITY)
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "peak_mb": peak_mb(), "before_mb": before, "pairs": len(pairs)}


class RandomVectors:
    """Embedding vectors in random directions: what the dense product costs, not what it
    finds (`bench/accuracy_bench.py --embeddings` measures that with the real model)."""

    def __init__(self, dimensions: int = 384) -> None:
        self.rng = np.random.default_rng(SEED)
        self.dimensions = dimensions

    def vectors(self, items: Sequence[IndexedText]) -> NDArray[np.float32]:
        return self.rng.standard_normal((len(items), self.dimensions)).astype(np.float32)

    def query(self, text: str) -> NDArray[np.float32]:
        return self.rng.standard_normal(self.dimensions).astype(np.float32)


def part_semantic(count: int) -> dict[str, float]:
    """The full scan of `count` items with embedding vectors, against the same without."""
    items = generate(count)
    seconds = {}
    for name, semantic in (("lexical", None), ("semantic", RandomVectors())):
        index = SimilarityIndex(semantic)
        index.build(items, scan=False)
        started = time.perf_counter()
        index.scan(MIN_SIMILARITY)
        seconds[name] = time.perf_counter() - started
    return seconds


def part_phases(count: int) -> dict[str, float]:
    """Build + full scan of `count` items, timed step by step (seconds per step)."""
    items = generate(count)
    spent: dict[str, float] = {}
    steps = {
        "tokenise and count words": "_count_words",
        "n-gram counts (summed over threads)": "_char_counts",
        "weighting and pruning (summed over threads)": "_weigh",
        "candidates": "candidate_pairs",
        "exact rescoring": "_exact",
        "hubness": "_refresh_hubness",
    }
    index = SimilarityIndex()
    for label, name in steps.items():
        method = getattr(index, name)

        def timed(*args: object, _method: Any = method, _label: str = label) -> Any:
            started = time.perf_counter()
            try:
                return _method(*args)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.perf_counter() - started

        setattr(index, name, timed)
    started = time.perf_counter()
    index.build(items, scan=False)
    spent["build in all"] = time.perf_counter() - started
    started = time.perf_counter()
    index.scan(MIN_SIMILARITY)
    spent["scan in all"] = time.perf_counter() - started
    return spent


def part_exhaustive(count: int) -> dict[str, float]:
    """The scan against two exhaustive all-pairs runs of the same scorer.

    One scores every pair (dense cosine blocks and rapidfuzz's cdist of all titles); the
    other skips the title ratio of pairs whose cosine alone cannot reach the threshold (its
    result is the same, its time much less).
    """
    items = generate(count)
    index = SimilarityIndex()
    index.build(items, scan=False)
    started = time.perf_counter()
    scanned = {(p.a, p.b) for p in index.scan(MIN_SIMILARITY)}
    scan_time = time.perf_counter() - started
    figures: dict[str, float] = {"scan_seconds": scan_time}
    for name, bound in (("bound", True), ("full", False)):
        started = time.perf_counter()
        pairs = index.exhaustive_pairs(MIN_SIMILARITY, cosine_bound=bound)
        elapsed = time.perf_counter() - started
        exhaustive = {(a, b) for a, b, _ in pairs}
        figures[f"{name}_seconds"] = elapsed
        figures[f"{name}_ratio"] = elapsed / scan_time
        figures[f"{name}_pairs"] = len(exhaustive)
        figures[f"{name}_found"] = (
            len(scanned & exhaustive) / len(exhaustive) if exhaustive else 1.0
        )
    return figures


def part_incremental_and_search(count: int, new: int, queries: int) -> dict[str, float]:
    """Adding `new` items to `count`, then warm `search` latency."""
    items = generate(count + new)
    index = SimilarityIndex()
    index.build(items[:count])
    started = time.perf_counter()
    index.upsert(items[count:])
    upsert_time = time.perf_counter() - started
    rng = random.Random(SEED)
    texts = [" ".join(rng.choice(items).title.split()[:4]) for _ in range(queries)]
    index.search(texts[0], 10)  # warm: the transposed candidate matrix is built once
    latencies = []
    for text in texts:
        started = time.perf_counter()
        index.search(text, 10)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    return {
        "upsert_seconds": upsert_time,
        "search_p50_ms": latencies[len(latencies) // 2] * 1000,
        "search_p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
        "peak_mb": peak_mb(),
    }


def part_detector(count: int) -> dict[str, float]:
    """`detect_duplicates` on `count` generated items, all open, over twelve teams."""
    from datetime import UTC, datetime

    from config.settings import GapbotConfig
    from detectors.base import Snapshot
    from detectors.duplicates import detect_duplicates
    from store.models import WorkItem

    teams = [f"team{n}" for n in range(12)]
    config = GapbotConfig.model_validate(
        {"teams": [{"name": t, "jira_projects": [t.upper()]} for t in teams]}
    )
    items = {
        text.key: WorkItem(
            key=text.key,
            source="jira",
            kind="issue",
            title=text.title,
            body=text.body,
            team=teams[n % len(teams)],
            status_category="todo",
        )
        for n, text in enumerate(generate(count))
    }
    snapshot = Snapshot(items=items, links=[], now=datetime.now(UTC), config=config)
    started = time.perf_counter()
    gaps = detect_duplicates(snapshot)
    return {"seconds": time.perf_counter() - started, "flagged": len(gaps), "peak_mb": peak_mb()}


def run_part(*args: str) -> dict[str, float]:
    """Run one part in a fresh interpreter and return its figures."""
    result = subprocess.run(
        [sys.executable, __file__, "--part", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    """Run every part and print the figures."""
    if len(sys.argv) > 2 and sys.argv[1] == "--part":
        name, *numbers = sys.argv[2:]
        values = [int(n) for n in numbers]
        parts: dict[str, Callable[..., dict[str, float]]] = {
            "scan": part_scan,
            "exhaustive": part_exhaustive,
            "incremental": part_incremental_and_search,
            "detector": part_detector,
            "semantic": part_semantic,
            "phases": part_phases,
        }
        print(json.dumps(parts[name](*values)))
        return
    scale = 10 if "--small" in sys.argv else 1
    small, large = 20000 // scale, 100000 // scale
    if "--detector" in sys.argv:
        print_detector(large)
        return
    if "--phases" in sys.argv:
        for label, seconds in run_part("phases", str(large)).items():
            print(f"{label}: {seconds:.1f}s")
        return
    if "--semantic" in sys.argv:
        for count in (10000 // scale, SEMANTIC_SCAN_MAX // scale):
            figures = run_part("semantic", str(count))
            print(
                f"scan of {count:,} items with embedding vectors: {figures['semantic']:.1f}s, "
                f"without: {figures['lexical']:.1f}s (the index already built)"
            )
        return
    print(f"generated items; pairs compared at similarity >= {MIN_SIMILARITY}")
    for count in (small, large):
        figures = run_part("scan", str(count))
        print(
            f"full scan of {count:,} items: {figures['seconds']:.1f}s, peak memory "
            f"{figures['peak_mb']:.0f} MB (generated data alone {figures['before_mb']:.0f} MB), "
            f"{figures['pairs']:,.0f} pairs"
        )
    figures = run_part("exhaustive", str(small))
    for name, label in (
        ("full", "every pair scored"),
        ("bound", "every pair with the cosine bound"),
    ):
        print(
            f"exhaustive all-pairs of {small:,}, {label}: {figures[f'{name}_seconds']:.1f}s vs "
            f"scan {figures['scan_seconds']:.2f}s = {figures[f'{name}_ratio']:.0f}x faster; scan "
            f"found {figures[f'{name}_found']:.1%} of its {figures[f'{name}_pairs']:,.0f} pairs"
        )
    figures = run_part("incremental", str(large), str(1000 // scale), "200")
    print(
        f"{1000 // scale:,} new items into {large:,}: {figures['upsert_seconds']:.2f}s; "
        f"search on {large:,} warm: p50 {figures['search_p50_ms']:.1f} ms, "
        f"p95 {figures['search_p95_ms']:.1f} ms"
    )
    print_detector(large)


def print_detector(count: int) -> None:
    """Run and print the detector part."""
    figures = run_part("detector", str(count))
    print(
        f"duplicates detector on {count:,} items (12 teams): {figures['seconds']:.1f}s, "
        f"{figures['flagged']:,.0f} pairs flagged, peak memory {figures['peak_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
