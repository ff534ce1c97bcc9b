"""The similarity index: which work items describe the same work, fast enough for a company.

How two items are compared (the "final scorer"):

1. Each item's text is its title (counted `TITLE_WEIGHT` times), its components and labels,
   and the start of its body (`BODY_WORDS` words), normalised by `detectors.text`.
2. Two TF-IDF vectors (sublinear term frequency, smooth idf, L2-normalised) are made from it:
   one over character 3-5-grams inside words (robust to plurals, glued identifiers and
   spelling variants), one over whole words. Features present in more than `MAX_DF` of a
   large corpus carry no signal and get no weight. Each vector keeps only its heaviest
   `CHAR_TERMS` n-grams and `WORD_TERMS` words (its keywords), renormalised, so that exact
   scoring stays cheap at 100,000 items. The cosine of the two items is
   `CHAR_WEIGHT * cos_char + (1 - CHAR_WEIGHT) * cos_word`.
3. The score blends that cosine with rapidfuzz's `token_set_ratio` of the two titles:
   `score = (1 - FUZZ_WEIGHT) * cosine + FUZZ_WEIGHT * ratio`.
4. Hubness correction (CSLS, Conneau et al. 2018): an item that is close to everything (a
   generic "update docs") is a poor witness. Each item's `hub` is the mean score of its
   `HUB_NEIGHBOURS` nearest neighbours; rankings use `score - HUB_ALPHA * hub(other)`, the
   duplicate verdict `score - HUB_ALPHA * (hub(a) + hub(b)) / 2`.
5. Optionally (`detectors.duplicates.embeddings`), a `SemanticVectors` source gives each item
   a sentence embedding (`detectors.semantic`): the similarity of step 3 then becomes
   `(1 - SEMANTIC_WEIGHT) * score + SEMANTIC_WEIGHT * cos_embedding`, before hubness, and
   each item's nearest items by embedding are candidates too. Paraphrases that share no
   word ("App crashes when the phone is rotated" / "Orientation change kills the Android
   client") are found this way only.

How it scales: no all-pairs product. For candidates, each vector keeps its
`CANDIDATE_TERMS` heaviest distinctive features (those in at most `CANDIDATE_DF_SHARE` of the
items); a sparse top-n product of these (sparse_dot_topn, on every core) keeps each row's best
`CANDIDATE_COUNT` partners; only those candidates are rescored exactly. Features are hashed
into a fixed space and words' n-grams are computed once per distinct word (the document x
word matrix times a word x n-gram matrix), so building 100,000 items takes seconds.

Items are added, changed and removed incrementally (`upsert`, `remove`): changed rows are
re-vectorised with the current idf and appended, and the old rows are dropped from use. The
idf is refreshed by `build` (a rebuild from the store at start).
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, TypeVar

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from rapidfuzz import fuzz, process
from sparse_dot_topn import sp_matmul_topn

from detectors.allocator import map_large_blocks
from detectors.gc_pause import collector_paused
from detectors.text import STOP_WORDS, stem, words

_In = TypeVar("_In")
_Out = TypeVar("_Out")

TITLE_WEIGHT = 3
"""How many times the title's words count: a title says what the work is."""
BODY_WORDS = 100
"""Words of the body used; the rest of a long description is detail, not topic."""
TITLE_WORDS = 50
"""Words of a title (and of components plus labels) used: a bound for pasted essays."""
MAX_WORD_LENGTH = 40
"""Longer "words" are hashes, tokens or blobs: not what two items are about."""
NGRAM_MIN, NGRAM_MAX = 3, 5
"""Character n-gram lengths, taken inside words padded with a space at each end."""
CHAR_BUCKETS = 1 << 20
"""Hashed character n-gram features."""
WORD_BUCKETS = 1 << 20
"""Hashed word features (they follow the n-gram features in one vector)."""
MAX_DF = 0.5
"""A feature in more than this share of items gets no weight (only for large corpora)."""
MAX_DF_MIN_ITEMS = 200
"""Below this many items, document frequencies are too noisy to drop features by them."""
CHAR_WEIGHT = 0.75
"""Share of the character n-gram cosine in the blended cosine (the rest is words)."""
FUZZ_WEIGHT = 0.1
"""Share of rapidfuzz's title token-set ratio in the final score."""
HUB_NEIGHBOURS = 5
"""Nearest neighbours whose mean score makes an item's hubness."""
HUB_ALPHA = 0.5
"""How much an item's hubness is subtracted from scores that involve it."""
CHAR_TERMS = 192
"""Heaviest character n-gram features an item's vector keeps (renormalised)."""
WORD_TERMS = 64
"""Heaviest word features an item's vector keeps (renormalised)."""
CANDIDATE_TERMS = 48
"""Heaviest features of a vector kept for candidate generation."""
CANDIDATE_COUNT = 25
"""Candidates kept per item in a scan, before exact rescoring."""
CANDIDATE_DF_SHARE = 0.002
"""Features in more than this share of items are not used to find candidates..."""
CANDIDATE_MIN_DF_CAP = 300
"""...unless they are in at most this many items. With 25 candidates from features in up to
300 items, a scan of 20,000 items finds 99.0% of the pairs an exhaustive run finds at
similarity 0.3 (20 from up to 100: 96.7%, 9.4 s faster at 100,000 items; 30 from up to 300:
99.3%, 0.8 s slower at 20,000); recall on the labelled pairs is the same."""
QUERY_CANDIDATES = 200
"""Candidates rescored for one `similar` or `search` query."""
BUILD_CHUNK = 5000
"""Items vectorised at once when building (bounds peak memory)."""
BLOCK_ROWS = 2000
"""Rows per block of the dense embedding product (bounds peak memory)."""
EXACT_CHUNK = 20000
"""Candidate pairs rescored per task (bounds the memory of the rows gathered for them)."""
MAX_THREADS = 4
"""Most threads the products and the rescoring use (each holds a chunk's temporaries)."""
SEMANTIC_WEIGHT = 0.4
"""Share of the sentence-embedding cosine in the final score, when the index has semantic
vectors (`detectors.embeddings`): measured flat between 0.2 and 0.6 on the labelled pairs."""
SEMANTIC_CANDIDATES = 20
"""Nearest neighbours by embedding added to each item's candidates in a scan..."""
SEMANTIC_SCAN_MAX = 30000
"""...when the index holds at most this many items: the dense product grows with the square
of the items (a scan of 30,000 takes 9.6 to 17 s longer with them on two cores, 10,000 1.6
to 2.6 s: `python bench/similarity_bench.py --semantic`); above it, candidates are lexical
only."""


@dataclass(frozen=True)
class IndexedText:
    """What the index reads of an item."""

    key: str
    title: str
    body: str = ""
    labels: Sequence[str] = ()
    components: Sequence[str] = ()


@dataclass(frozen=True)
class Match:
    """One item found similar to a query or another item."""

    key: str
    score: float
    """The ranking score: the similarity less the other item's hubness, clipped to [0, 1]."""
    similarity: float
    """The final scorer's similarity, before hubness correction."""


class Pair(NamedTuple):
    """Two items the scan found similar (`a` < `b`).

    A named tuple rather than a dataclass: a scan at 100,000 items makes hundreds of
    thousands of them, and a tuple is made several times faster.
    """

    a: str
    b: str
    similarity: float
    score: float
    """The verdict score: the similarity less both items' mean hubness, clipped to [0, 1]."""
    rank: int = 1
    """1 when one item is the other's nearest neighbour, 2 for second nearest, and so on
    (the better of the two directions, among the scan's candidates; neighbours are ranked
    as `similar` ranks them, by similarity less the neighbour's hubness)."""
    mutual_rank: int = 1
    """The worse of the two directions: 1 when each item is the other's nearest neighbour
    (mutual nearest neighbours), k when each is among the other's k nearest."""


@dataclass(frozen=True)
class TitleIdf:
    """How distinctive each title word is among all titles."""

    idf: dict[str, float]
    """Stemmed title word -> smooth idf over the titles."""
    median: float
    """The median idf of the words as they occur in titles: a typical title word's."""


class SemanticVectors(Protocol):
    """Sentence-embedding vectors of items and of query text (L2-normalised rows)."""

    def vectors(self, items: Sequence[IndexedText]) -> NDArray[np.float32]:
        """One row per item, in order."""
        ...

    def query(self, text: str) -> NDArray[np.float32]:
        """The vector of free text (a search)."""
        ...


@dataclass
class _Rows:
    """Per-row state that grows with appends."""

    keys: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    alive: list[bool] = field(default_factory=list)
    hub: list[float] = field(default_factory=list)


def _word_ngrams(word: str) -> list[int]:
    """Hashed character n-grams of one word, as scikit-learn's `char_wb` analyser cuts them.

    The hash is CRC-32: stable across processes and Python versions (unlike `hash`), in the
    standard library, and fast; its collisions in 2**20 buckets cost nothing measurable.
    """
    padded = f" {word} ".encode()
    crc32 = zlib.crc32
    if len(padded) <= NGRAM_MIN:
        return [crc32(padded) % CHAR_BUCKETS]
    buckets: list[int] = []
    for n in range(NGRAM_MIN, NGRAM_MAX + 1):
        if len(padded) <= n:
            buckets.append(crc32(padded) % CHAR_BUCKETS)
            break
        buckets.extend(crc32(padded[i : i + n]) % CHAR_BUCKETS for i in range(len(padded) - n + 1))
    return buckets


def document_words(item: IndexedText) -> tuple[list[str], list[str]]:
    """The words of an item's title, and of its components, labels and body start."""
    title = content_words(item.title)[:TITLE_WORDS]
    tags = [w for value in (*item.components, *item.labels) for w in content_words(value)]
    tags = tags[:TITLE_WORDS]
    body = content_words(item.body)[:BODY_WORDS]
    return title, tags + body


def content_words(text: str) -> list[str]:
    """The words of `text` that are not stop words: what the text is about."""
    return [w for w in words(text) if w not in STOP_WORDS and len(w) <= MAX_WORD_LENGTH]


class SimilarityIndex:
    """Work items as vectors, with candidate generation, exact rescoring and explanations."""

    def __init__(self, semantic: SemanticVectors | None = None) -> None:
        """An empty index; `build` or `upsert` fills it.

        Args:
            semantic: where items' sentence-embedding vectors come from; with it, the final
                score blends their cosine in (`SEMANTIC_WEIGHT`) and they find candidates too.
        """
        self._semantic = semantic
        self._dense: NDArray[np.float32] | None = None
        self._vocab: dict[str, int] = {}
        self._vocab_words: list[str] = []
        self._word_grams: list[list[int]] = []
        self._grams: sp.csr_matrix = sp.csr_matrix((0, CHAR_BUCKETS), dtype=np.float32)
        self._word_df: NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self._char_df: NDArray[np.int32] = np.zeros(CHAR_BUCKETS, dtype=np.int32)
        self._docs = 0
        self._rows = _Rows()
        self._row_of: dict[str, int] = {}
        self._matrix: sp.csr_matrix = sp.csr_matrix(
            (0, CHAR_BUCKETS + WORD_BUCKETS), dtype=np.float32
        )
        self._words_matrix: sp.csr_matrix = sp.csr_matrix((0, 0), dtype=np.float32)
        self._pruned_t: sp.csc_matrix | None = None
        self._pruned: sp.csr_matrix | None = None
        self._dead = 0
        self._word_idf: NDArray[np.float32] | None = None
        self._char_idf: NDArray[np.float32] | None = None

    # -- building -------------------------------------------------------------------------

    def __len__(self) -> int:
        """How many live items the index holds."""
        return len(self._row_of)

    def __contains__(self, key: object) -> bool:
        """Whether the index holds an item of that key."""
        return key in self._row_of

    @property
    def keys(self) -> list[str]:
        """Keys of the live items, in row order."""
        return [k for k, alive in zip(self._rows.keys, self._rows.alive, strict=True) if alive]

    def build(self, items: Iterable[IndexedText], *, scan: bool = True) -> None:
        """Index `items` from scratch (fresh idf); with `scan`, also compute hubness."""
        map_large_blocks()  # before the first large array: see `detectors.allocator`
        self.__init__(self._semantic)  # type: ignore[misc]
        item_list = list({item.key: item for item in items}.values())
        if not item_list:
            return
        if self._semantic is not None:
            self._dense = _unit_rows(self._semantic.vectors(item_list))
        counts, titles = self._count_words(item_list)
        self._words_matrix = counts
        self._docs = len(item_list)
        # Two passes in row chunks: document frequencies first, then the weighted vectors;
        # the unpruned n-gram counts of all items never sit in memory at once.
        chunks = [
            slice(start, start + BUILD_CHUNK) for start in range(0, len(item_list), BUILD_CHUNK)
        ]
        self._gram_matrix(counts.shape[1])  # once, before threads share it

        def chunk_df(chunk: slice) -> NDArray[np.int64]:
            return np.bincount(self._char_counts(counts[chunk]).indices, minlength=CHAR_BUCKETS)

        self._char_df = np.sum(_map_threads(chunk_df, chunks), axis=0).astype(np.int32)
        self._word_df = np.bincount(counts.indices, minlength=len(self._vocab)).astype(np.int32)

        def chunk_vectors(chunk: slice) -> sp.csr_matrix:
            return self._weigh(counts[chunk], self._char_counts(counts[chunk]))

        self._matrix = sp.vstack(_map_threads(chunk_vectors, chunks), format="csr")
        for item, title in zip(item_list, titles, strict=True):
            self._row_of[item.key] = len(self._rows.keys)
            self._rows.keys.append(item.key)
            self._rows.titles.append(title)
            self._rows.alive.append(True)
            self._rows.hub.append(0.0)
        self._invalidate()
        if scan:
            self.scan(0.0, keep_pairs=False)

    def upsert(self, items: Iterable[IndexedText]) -> None:
        """Add new items and re-index changed ones (their old rows stop counting)."""
        item_list = list({item.key: item for item in items}.values())
        if not item_list:
            return
        self.remove(item.key for item in item_list if item.key in self._row_of)
        pruned = self._pruned
        if self._semantic is not None:
            added = _unit_rows(self._semantic.vectors(item_list))
            self._dense = added if self._dense is None else np.vstack([self._dense, added])
        counts, titles = self._count_words(item_list)
        char_counts = self._char_counts(counts)
        self._char_df += np.bincount(char_counts.indices, minlength=CHAR_BUCKETS).astype(np.int32)
        self._word_df += np.bincount(counts.indices, minlength=len(self._vocab)).astype(np.int32)
        self._docs += len(item_list)
        self._char_idf = None
        matrix = self._weigh(counts, char_counts)
        width = len(self._vocab)
        self._words_matrix = sp.vstack(
            [_widen(self._words_matrix, width), _widen(counts, width)], format="csr"
        )
        self._matrix = sp.vstack([self._matrix, matrix], format="csr")
        start = len(self._rows.keys)
        for offset, (item, title) in enumerate(zip(item_list, titles, strict=True)):
            self._row_of[item.key] = start + offset
            self._rows.keys.append(item.key)
            self._rows.titles.append(title)
            self._rows.alive.append(True)
            self._rows.hub.append(0.0)
        self._invalidate()
        if pruned is not None:
            # Only the new rows are pruned: the rest of the candidate matrix is kept.
            self._pruned = sp.vstack([pruned, _prune_rows(matrix, CANDIDATE_TERMS)], format="csr")
        # A new item's hubness comes from its own neighbourhood, found in one block product;
        # the others' are refreshed by the next scan or rebuild.
        new_rows = np.arange(start, start + len(item_list))
        _, full_t = self._prepare()
        rows, cols = _top_partners(
            self._pruned_matrix()[new_rows], full_t, CANDIDATE_COUNT, first_row=start
        )
        if self._dense is not None:
            more_rows, more_cols = self._semantic_neighbours(new_rows)
            rows, cols = np.concatenate([rows, more_rows]), np.concatenate([cols, more_cols])
        alive = np.array(self._rows.alive, dtype=bool)
        rows, cols = rows[alive[cols]], cols[alive[cols]]
        sims = self._exact(rows, cols)
        hub = _hubness(rows - start, sims, len(new_rows)).tolist()
        self._rows.hub[start:] = hub
        if self._dead > max(1000, len(self._rows.keys) // 4):
            self._compact()

    def remove(self, keys: Iterable[str]) -> None:
        """Forget items; their rows stay until compaction but are never returned."""
        gone: list[int] = []
        for key in list(keys):
            row = self._row_of.pop(key, None)
            if row is None:
                continue
            self._rows.alive[row] = False
            gone.append(row)
        if not gone:
            return
        self._dead += len(gone)
        self._docs -= len(gone)
        pruned = self._pruned
        counts = self._words_matrix[gone]
        np.subtract.at(self._word_df, counts.indices, 1)
        np.subtract.at(self._char_df, self._char_counts(counts).indices, 1)
        self._char_idf = None
        self._invalidate()
        if pruned is not None:
            _zero_rows(pruned, np.array(gone))
            self._pruned = pruned

    def _compact(self) -> None:
        alive = np.flatnonzero(np.array(self._rows.alive, dtype=bool))
        self._matrix = self._matrix[alive]
        self._words_matrix = self._words_matrix[alive]
        if self._dense is not None:
            self._dense = self._dense[alive]
        rows = _Rows(
            keys=[self._rows.keys[i] for i in alive],
            titles=[self._rows.titles[i] for i in alive],
            alive=[True] * len(alive),
            hub=[self._rows.hub[i] for i in alive],
        )
        self._rows = rows
        self._row_of = {key: i for i, key in enumerate(rows.keys)}
        self._dead = 0
        self._invalidate()

    def _invalidate(self) -> None:
        self._word_idf = None
        self._pruned = None
        self._pruned_t = None

    def _count_words(self, items: Sequence[IndexedText]) -> tuple[sp.csr_matrix, list[str]]:
        """Document x word counts (title words weighted), growing the vocabulary; and each
        item's title as its content words joined by spaces."""
        # Labels, components and empty bodies repeat across items: each distinct text is
        # normalised once.
        memo: dict[str, list[str]] = {}

        def tokens(text: str) -> list[str]:
            found = memo.get(text)
            if found is None:
                found = memo[text] = content_words(text)
            return found

        # Every text's words are new lists: see `collector_paused`.
        with collector_paused():
            flat: list[str] = []
            group_lengths: list[int] = []
            titles: list[str] = []
            for item in items:
                title = tokens(item.title)
                titles.append(" ".join(title))
                tags = [w for value in (*item.components, *item.labels) for w in tokens(value)]
                rest = tags[:TITLE_WORDS] + tokens(item.body)[:BODY_WORDS]
                flat += title[:TITLE_WORDS]
                flat += rest
                group_lengths += (min(len(title), TITLE_WORDS), len(rest))
            # New words get ids in order of first occurrence, as one pass over the items would
            # give them: a word's id is its hashed feature, so the order is part of the result.
            vocab = self._vocab
            for word in dict.fromkeys(flat):
                if word not in vocab:
                    vocab[word] = len(self._vocab_words)
                    self._vocab_words.append(word)
                    self._word_grams.append(_word_ngrams(word))
        width = len(vocab)
        ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int32, count=len(flat))
        lengths = np.array(group_lengths, dtype=np.int64).reshape(-1, 2)
        weights = np.repeat(
            np.tile(np.array([TITLE_WEIGHT, 1.0], dtype=np.float32), len(items)), lengths.ravel()
        )
        docs = np.repeat(np.arange(len(items), dtype=np.int32), lengths.sum(axis=1))
        if len(self._word_df) < width:
            grown = np.zeros(width - len(self._word_df), dtype=np.int32)
            self._word_df = np.concatenate([self._word_df, grown])
        # scipy adds up a word's repeats in a row (whole numbers: exact in any order) and
        # sorts each row's words, in C++: six times faster than np.unique's sorts.
        counts = sp.csr_matrix((weights, (docs, ids)), shape=(len(items), width))
        counts.sum_duplicates()
        return counts, titles

    def _gram_matrix(self, width: int) -> sp.csr_matrix:
        """Word x hashed n-gram counts for the first `width` words (built once per word)."""
        have = self._grams.shape[0]
        if width > have:
            new = self._word_grams[have:width]
            lengths = np.fromiter((len(g) for g in new), dtype=np.int64, count=len(new))
            indptr = np.concatenate([[0], np.cumsum(lengths)])
            indices = np.fromiter(
                (b for grams in new for b in grams), dtype=np.int32, count=int(indptr[-1])
            )
            data = np.ones(len(indices), dtype=np.float32)
            added = sp.csr_matrix((data, indices, indptr), shape=(len(new), CHAR_BUCKETS))
            added.sum_duplicates()
            self._grams = sp.vstack([self._grams, added], format="csr")
        if width == self._grams.shape[0]:
            return self._grams
        return self._grams[:width]

    def _char_counts(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        grams = self._gram_matrix(counts.shape[1])
        result: sp.csr_matrix = (counts @ grams).tocsr()
        return result

    def _idf(self, df: NDArray[np.int32]) -> NDArray[np.float32]:
        docs = max(self._docs, 1)
        idf = (np.log((1.0 + docs) / (1.0 + np.maximum(df, 0))) + 1.0).astype(np.float32)
        if docs >= MAX_DF_MIN_ITEMS:
            idf[df > MAX_DF * docs] = 0.0
        return idf

    def _char_idf_now(self) -> NDArray[np.float32]:
        """The n-gram idf, kept until the document frequencies change: it spans all
        `CHAR_BUCKETS`, so making it for every search cost more than the search."""
        idf = self._char_idf
        if idf is None:
            # Build threads may both get here: each makes the same array.
            idf = self._char_idf = self._idf(self._char_df)
        return idf

    def _weigh(self, counts: sp.csr_matrix, char_counts: sp.csr_matrix) -> sp.csr_matrix:
        """TF-IDF of both views, normalised, weighted and side by side."""
        parts = []
        # The word idf is made afresh: the vocabulary (and its df) grows with every new word,
        # a search's included, and it is small.
        for matrix, idf, weight, terms in (
            (char_counts, self._char_idf_now(), CHAR_WEIGHT, CHAR_TERMS),
            (counts, self._idf(self._word_df), 1.0 - CHAR_WEIGHT, WORD_TERMS),
        ):
            tfidf = matrix.astype(np.float32, copy=True)
            tfidf.data = np.log(tfidf.data) + 1.0
            tfidf.data *= idf[tfidf.indices]
            # Each item keeps its heaviest features only, renormalised: its keywords. This
            # is what makes exact scoring about as cheap as candidate generation.
            tfidf = _prune_rows(tfidf, terms)
            _normalize_rows(tfidf)
            tfidf.data *= math.sqrt(weight)
            parts.append(tfidf)
        char_part, word_part = parts
        word_part = sp.csr_matrix(
            (word_part.data, word_part.indices % WORD_BUCKETS, word_part.indptr),
            shape=(word_part.shape[0], WORD_BUCKETS),
        )
        word_part.sum_duplicates()
        combined: sp.csr_matrix = sp.hstack([char_part, word_part], format="csr")
        combined.sort_indices()
        return combined

    def vectorize(self, text: IndexedText) -> sp.csr_matrix:
        """The vector of a text that is not (necessarily) in the index, with current idf."""
        counts, _ = self._count_words([text])
        return self._weigh(counts, self._char_counts(counts))

    # -- candidates and scores ---------------------------------------------------------------

    def _pruned_matrix(self) -> sp.csr_matrix:
        """Each row's heaviest features; rows of removed items are empty."""
        if self._pruned is None:
            # Candidates come from distinctive features only: a feature shared by thousands
            # of items would make every one of them a candidate of every other.
            alive_docs = max(len(self._row_of), 1)
            cap = max(CANDIDATE_MIN_DF_CAP, int(CANDIDATE_DF_SHARE * alive_docs))
            common = np.bincount(self._matrix.indices, minlength=self._matrix.shape[1]) > cap

            def chunk_pruned(start: int) -> sp.csr_matrix:
                # In row chunks: a copy of the whole matrix, and the padded table that
                # `_prune_rows` partitions, would each take hundreds of MB at 100,000 items.
                distinctive = self._matrix[start : start + BUILD_CHUNK]
                distinctive.data[common[distinctive.indices]] = 0.0
                distinctive.eliminate_zeros()
                return _prune_rows(distinctive, CANDIDATE_TERMS)

            pieces = _map_threads(chunk_pruned, range(0, self._matrix.shape[0], BUILD_CHUNK))
            self._pruned = sp.vstack(pieces, format="csr") if pieces else self._matrix.copy()
            dead = np.flatnonzero(~np.array(self._rows.alive, dtype=bool))
            _zero_rows(self._pruned, dead)
        return self._pruned

    def _prepare(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        pruned = self._pruned_matrix()
        if self._pruned_t is None:
            self._pruned_t = pruned.T.tocsr()
        return pruned, self._pruned_t

    def _exact(self, rows_a: NDArray[np.int64], rows_b: NDArray[np.int64]) -> NDArray[np.float32]:
        """The final scorer's similarity for each (row_a, row_b)."""
        if len(rows_a) == 0:
            return np.zeros(0, dtype=np.float32)

        def cosines(start: int) -> NDArray[np.float32]:
            a = self._matrix[rows_a[start : start + EXACT_CHUNK]]
            b = self._matrix[rows_b[start : start + EXACT_CHUNK]]
            # Canonical (sorted, unique) indices let scipy multiply row by row in O(nnz)
            # instead of through a dense accumulator as wide as the feature space.
            a.sum_duplicates()
            b.sum_duplicates()
            return np.asarray(a.multiply(b).sum(axis=1), dtype=np.float32).ravel()

        cosine = np.concatenate(_map_threads(cosines, range(0, len(rows_a), EXACT_CHUNK)))
        titles = self._rows.titles
        # One batched call in C on every core, rather than a million Python-level calls.
        ratio: NDArray[np.float32] = np.asarray(
            process.cpdist(
                [titles[i] for i in rows_a.tolist()],
                [titles[j] for j in rows_b.tolist()],
                scorer=fuzz.token_set_ratio,
                dtype=np.float32,
                workers=-1,
            ),
            dtype=np.float32,
        )
        lexical = (1.0 - FUZZ_WEIGHT) * cosine + FUZZ_WEIGHT * ratio / 100.0
        if self._dense is None:
            return lexical
        semantic = np.empty(len(rows_a), dtype=np.float32)
        for start in range(0, len(rows_a), EXACT_CHUNK):
            a_rows, b_rows = (
                rows_a[start : start + EXACT_CHUNK],
                rows_b[start : start + EXACT_CHUNK],
            )
            semantic[start : start + EXACT_CHUNK] = np.einsum(
                "ij,ij->i", self._dense[a_rows], self._dense[b_rows]
            )
        return (1.0 - SEMANTIC_WEIGHT) * lexical + SEMANTIC_WEIGHT * semantic

    def _semantic_neighbours(
        self, rows: NDArray[np.int64], count: int = SEMANTIC_CANDIDATES
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(row, neighbour) for each row's `count` nearest live rows by embedding cosine."""
        assert self._dense is not None
        dense = self._dense
        dead = ~np.array(self._rows.alive, dtype=bool)
        count = min(count, len(dense) - 1)
        if count <= 0 or len(rows) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        firsts, seconds = [], []
        for start in range(0, len(rows), BLOCK_ROWS):
            block_rows = rows[start : start + BLOCK_ROWS]
            product = dense[block_rows] @ dense.T
            product[np.arange(len(block_rows)), block_rows] = -np.inf
            product[:, dead] = -np.inf
            top = np.argpartition(-product, count - 1, axis=1)[:, :count]
            firsts.append(np.repeat(block_rows, count))
            seconds.append(top.ravel().astype(np.int64))
        return np.concatenate(firsts), np.concatenate(seconds)

    def _query_row(
        self,
        vector: sp.csr_matrix,
        title: str,
        *,
        exclude: int | None = None,
        dense: NDArray[np.float32] | None = None,
    ) -> list[tuple[int, float]]:
        """(row, similarity) of the best candidates for one vector, best first.

        `dense` is the query's embedding when the index has semantic vectors: its nearest
        rows by embedding join the lexical candidates, and the score blends it in.
        """
        _, pruned_t = self._prepare()
        query = _prune_rows(vector, CANDIDATE_TERMS * 2)
        product = (query @ pruned_t).tocsr()
        cols, vals = product.indices, product.data
        if exclude is not None:
            keep = cols != exclude
            cols, vals = cols[keep], vals[keep]
        if len(cols) > QUERY_CANDIDATES:
            top = np.argpartition(-vals, QUERY_CANDIDATES)[:QUERY_CANDIDATES]
            cols = cols[top]
        semantic_query = dense if self._dense is not None else None
        if semantic_query is not None:
            assert self._dense is not None
            closeness = self._dense @ semantic_query
            closeness[~np.array(self._rows.alive, dtype=bool)] = -np.inf
            if exclude is not None:
                closeness[exclude] = -np.inf
            count = min(QUERY_CANDIDATES, int(np.isfinite(closeness).sum()))
            if count:
                nearest = np.argpartition(-closeness, count - 1)[:count]
                cols = np.union1d(cols, nearest)
        if len(cols) == 0:
            return []
        cosine = np.asarray((self._matrix[cols] @ vector.T).todense()).ravel()
        ratio = np.array(
            [fuzz.token_set_ratio(title, self._rows.titles[c]) for c in cols.tolist()],
            dtype=np.float32,
        )
        sims = (1.0 - FUZZ_WEIGHT) * cosine + FUZZ_WEIGHT * ratio / 100.0
        if semantic_query is not None:
            assert self._dense is not None
            sims = (1.0 - SEMANTIC_WEIGHT) * sims + SEMANTIC_WEIGHT * (
                self._dense[cols] @ semantic_query
            )
        order = np.argsort(-sims, kind="stable")
        return [(int(cols[i]), float(sims[i])) for i in order]

    def _rank(self, found: list[tuple[int, float]], limit: int) -> list[Match]:
        hub = self._rows.hub
        ranked = sorted(
            (
                Match(
                    key=self._rows.keys[row],
                    score=_clip(sim - HUB_ALPHA * hub[row]),
                    similarity=_clip(sim),
                )
                for row, sim in found
                if self._rows.alive[row]
            ),
            key=lambda m: (-(m.similarity - HUB_ALPHA * hub[self._row_of[m.key]]), m.key),
        )
        return ranked[:limit]

    def similar(self, key: str, limit: int = 10) -> list[Match]:
        """The items most like the item `key` (never itself), best first; KeyError if unknown."""
        row = self._row_of[key]
        dense = None if self._dense is None else self._dense[row]
        found = self._query_row(self._matrix[row], self._rows.titles[row], exclude=row, dense=dense)
        return self._rank(found, limit)

    def search(self, text: str, limit: int = 10) -> list[Match]:
        """The items most like free text (matched as a title), best first."""
        query = IndexedText(key="", title=text)
        vector = self.vectorize(query)
        dense = None
        if self._semantic is not None and self._dense is not None:
            dense = _unit_rows(self._semantic.query(text)[None, :])[0]
        if vector.nnz == 0 and dense is None:
            return []
        found = self._query_row(vector, " ".join(content_words(text)), dense=dense)
        return self._rank(found, limit)

    def similarity(self, key_a: str, key_b: str) -> float:
        """The final scorer's similarity of two indexed items."""
        a, b = self._row_of[key_a], self._row_of[key_b]
        return float(self._exact(np.array([a]), np.array([b]))[0])

    def pair_score(self, key_a: str, key_b: str, similarity: float | None = None) -> float:
        """The verdict score of two indexed items: similarity less their mean hubness."""
        a, b = self._row_of[key_a], self._row_of[key_b]
        sim = self.similarity(key_a, key_b) if similarity is None else similarity
        return _clip(sim - HUB_ALPHA * (self._rows.hub[a] + self._rows.hub[b]) / 2.0)

    def hubness(self, key: str) -> float:
        """The mean similarity of the item's nearest neighbours."""
        return self._rows.hub[self._row_of[key]]

    def candidate_pairs(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Row pairs (a < b) that share heavy features: each row's best candidates."""
        pruned, pruned_t = self._prepare()
        firsts: list[NDArray[np.int64]] = []
        seconds: list[NDArray[np.int64]] = []
        n_rows = pruned.shape[0]
        rows, cols = _top_partners(pruned, pruned_t, CANDIDATE_COUNT, first_row=0)
        firsts.append(np.minimum(rows, cols))
        seconds.append(np.maximum(rows, cols))
        if self._dense is not None and len(self) <= SEMANTIC_SCAN_MAX:
            live = np.flatnonzero(np.array(self._rows.alive, dtype=bool))
            rows, cols = self._semantic_neighbours(live)
            firsts.append(np.minimum(rows, cols))
            seconds.append(np.maximum(rows, cols))
        if not firsts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        codes = np.concatenate(firsts) * n_rows + np.concatenate(seconds)
        # Sorted and deduplicated as np.unique would, without its hashing pass.
        codes.sort()
        first_of_run = np.ones(len(codes), dtype=bool)
        first_of_run[1:] = codes[1:] != codes[:-1]
        codes = codes[first_of_run]
        return codes // n_rows, codes % n_rows

    def scan(
        self,
        min_similarity: float,
        *,
        keep_pairs: bool = True,
        max_mutual_rank: int | None = None,
        always_keep: Iterable[str] = (),
    ) -> list[Pair]:
        """Every candidate pair with similarity at least `min_similarity`; refreshes hubness.

        Args:
            min_similarity: the lowest final-scorer similarity returned.
            keep_pairs: False only refreshes hubness and returns nothing.
            max_mutual_rank: if given, only pairs whose `mutual_rank` is at most this (each
                item among the other's this many nearest neighbours)...
            always_keep: ...except pairs of two of these keys, kept whatever their ranks.

        Returns:
            Pairs, best verdict score first.
        """
        rows_a, rows_b = self.candidate_pairs()
        sims = self._exact(rows_a, rows_b)
        self._refresh_hubness(rows_a, rows_b, sims)
        if not keep_pairs:
            return []
        hub = np.array(self._rows.hub, dtype=np.float32)
        rank_a, rank_b = _directed_ranks(rows_a, rows_b, sims, hub)
        best, worst = np.minimum(rank_a, rank_b), np.maximum(rank_a, rank_b)
        keep = sims >= min_similarity
        if max_mutual_rank is not None:
            # Filtered here, in arrays: at 100,000 items the scan has millions of candidate
            # pairs, and only the few mutual neighbours should become Python objects.
            special = np.zeros(len(self._rows.keys), dtype=bool)
            special[[self._row_of[k] for k in always_keep if k in self._row_of]] = True
            keep &= (worst <= max_mutual_rank) | (special[rows_a] & special[rows_b])
        scores = np.clip(sims - HUB_ALPHA * (hub[rows_a] + hub[rows_b]) / 2.0, 0.0, 1.0)
        keys = self._rows.keys
        chosen = np.flatnonzero(keep)
        # Each pair as (first key, second key) by the keys' sorted positions, and the pairs
        # best verdict first, equal scores by key: ordered in numpy, not by a Python sort
        # of hundreds of thousands of pairs (a scan at 100,000 items).
        key_rank = np.empty(len(keys), dtype=np.int64)
        key_rank[np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)] = (
            np.arange(len(keys))
        )
        swap = key_rank[rows_b[chosen]] < key_rank[rows_a[chosen]]
        firsts = np.where(swap, rows_b[chosen], rows_a[chosen])
        seconds = np.where(swap, rows_a[chosen], rows_b[chosen])
        order = np.lexsort((key_rank[seconds], key_rank[firsts], -scores[chosen]))
        chosen, firsts, seconds = chosen[order], firsts[order], seconds[order]
        with collector_paused():
            return [
                Pair(keys[a], keys[b], sim, score, rank, mutual)
                for a, b, sim, score, rank, mutual in zip(
                    firsts.tolist(),
                    seconds.tolist(),
                    np.clip(sims[chosen], 0.0, 1.0).tolist(),
                    scores[chosen].tolist(),
                    best[chosen].tolist(),
                    worst[chosen].tolist(),
                    strict=True,
                )
            ]

    def _refresh_hubness(
        self, rows_a: NDArray[np.int64], rows_b: NDArray[np.int64], sims: NDArray[np.float32]
    ) -> None:
        rows = np.concatenate([rows_a, rows_b])
        values = np.concatenate([sims, sims])
        self._rows.hub = _hubness(rows, values, len(self._rows.keys)).tolist()

    def exhaustive_pairs(
        self, min_similarity: float, *, cosine_bound: bool = True
    ) -> list[tuple[str, str, float]]:
        """All pairs at or above `min_similarity` by comparing every pair (for benchmarks).

        With `cosine_bound`, a pair whose cosine alone cannot reach `min_similarity` (even
        with a perfect title ratio) gets no title ratio: exact, and much cheaper. Without
        it, every pair is scored in full: its cosine in dense blocks and its title ratio
        from rapidfuzz's `process.cdist` over all titles, on every core.
        """
        if not cosine_bound:
            return self._every_pair_scored(min_similarity)
        alive = np.flatnonzero(np.array(self._rows.alive, dtype=bool))
        matrix = self._matrix[alive]
        matrix_t = matrix.T.tocsr()
        floor = (min_similarity - FUZZ_WEIGHT) / (1.0 - FUZZ_WEIGHT)
        found: list[tuple[str, str, float]] = []
        for start in range(0, len(alive), 1000):
            block = (matrix[start : start + 1000] @ matrix_t).toarray()
            local_rows, cols = np.nonzero(np.triu(block, k=1 - 0) > floor)
            keep = local_rows + start < cols
            local_rows, cols = local_rows[keep], cols[keep]
            rows_a = alive[local_rows + start]
            rows_b = alive[cols]
            sims = self._exact(rows_a.astype(np.int64), rows_b.astype(np.int64))
            keys = self._rows.keys
            for a, b, sim in zip(rows_a.tolist(), rows_b.tolist(), sims.tolist(), strict=True):
                if sim >= min_similarity:
                    first, second = sorted((keys[a], keys[b]))
                    found.append((first, second, sim))
        return found

    def _every_pair_scored(self, min_similarity: float) -> list[tuple[str, str, float]]:
        """`exhaustive_pairs` without the cosine bound: the final score of every pair."""
        alive = np.flatnonzero(np.array(self._rows.alive, dtype=bool))
        matrix = self._matrix[alive]
        matrix_t = matrix.T.tocsr()
        titles = [self._rows.titles[i] for i in alive.tolist()]
        keys = [self._rows.keys[i] for i in alive.tolist()]
        found: list[tuple[str, str, float]] = []
        step = 1000
        for start in range(0, len(alive), step):
            # Each block of rows against itself and every later row: each pair once.
            cosine = (matrix[start : start + step] @ matrix_t[:, start:]).toarray()
            ratio = process.cdist(
                titles[start : start + step],
                titles[start:],
                scorer=fuzz.token_set_ratio,
                dtype=np.float32,
                workers=-1,
            )
            sims = (1.0 - FUZZ_WEIGHT) * cosine.astype(np.float32) + FUZZ_WEIGHT * ratio / 100.0
            local_rows, cols = np.nonzero(np.triu(sims >= min_similarity, k=1))
            for a, b, sim in zip(
                (local_rows + start).tolist(),
                (cols + start).tolist(),
                sims[local_rows, cols].tolist(),
                strict=True,
            ):
                first, second = sorted((keys[a], keys[b]))
                found.append((first, second, sim))
        return found

    # -- title evidence -------------------------------------------------------------------------

    def title_words(self, key: str) -> list[str]:
        """The item's title content words, stemmed (`detectors.text.stem`), in order."""
        return [stem(w) for w in self._rows.titles[self._row_of[key]].split()]

    def title_idf(self) -> TitleIdf:
        """Smooth idf of each stemmed title word over the live items' titles.

        Titles only: a word that starts many titles ("update", "second half") is a
        template's frame, whatever the bodies say.
        """
        counts: dict[str, int] = {}
        titles = [
            [stem(w) for w in title.split()]
            for title, alive in zip(self._rows.titles, self._rows.alive, strict=True)
            if alive
        ]
        for title in titles:
            for word in set(title):
                counts[word] = counts.get(word, 0) + 1
        docs = max(len(titles), 1)
        idf = {word: math.log((1.0 + docs) / (1.0 + df)) + 1.0 for word, df in counts.items()}
        occurrences = [idf[word] for title in titles for word in title]
        median = float(np.median(occurrences)) if occurrences else 0.0
        return TitleIdf(idf=idf, median=median)

    # -- explanations -------------------------------------------------------------------------

    def shared_terms(self, key_a: str, key_b: str, limit: int = 5) -> list[str]:
        """The distinctive words and title phrases both items use, most distinctive first."""
        a, b = self._row_of[key_a], self._row_of[key_b]
        title_a, title_b = self._rows.titles[a].split(), self._rows.titles[b].split()
        if self._word_idf is None:
            self._word_idf = self._idf(self._word_df)
        idf = self._word_idf
        phrases = _shared_phrases(title_a, title_b)
        indptr, indices = self._words_matrix.indptr, self._words_matrix.indices
        shared = np.intersect1d(
            indices[indptr[a] : indptr[a + 1]], indices[indptr[b] : indptr[b + 1]]
        )
        candidates = [
            (float(idf[w]), self._vocab_words[w])
            for w in shared.tolist()
            if idf[w] > 0
            and self._vocab_words[w] not in STOP_WORDS
            and len(self._vocab_words[w]) > 2
            and not self._vocab_words[w].isdigit()
        ]
        in_titles = set(title_a) & set(title_b)
        # Words shared by both titles come first: the title is what a reader compares.
        candidates.sort(key=lambda c: (c[1] not in in_titles, -c[0], c[1]))
        terms: list[str] = list(phrases)
        covered = {w for phrase in phrases for w in phrase.split()}
        for _, word in candidates:
            if word not in covered:
                terms.append(word)
                covered.add(word)
            if len(terms) >= limit:
                break
        return terms[:limit]


def _shared_phrases(title_a: list[str], title_b: list[str]) -> list[str]:
    """Longest runs of two or more consecutive title words both titles have."""
    phrases: list[str] = []
    used: set[int] = set()
    for length in range(min(len(title_a), len(title_b), 4), 1, -1):
        grams_b = {tuple(title_b[i : i + length]) for i in range(len(title_b) - length + 1)}
        for i in range(len(title_a) - length + 1):
            gram = tuple(title_a[i : i + length])
            span = set(range(i, i + length))
            content = [w for w in gram if w not in STOP_WORDS]
            if gram in grams_b and not span & used and len(content) >= 2:
                phrases.append(" ".join(gram))
                used |= span
    return phrases


def _directed_ranks(
    rows_a: NDArray[np.int64],
    rows_b: NDArray[np.int64],
    sims: NDArray[np.float32],
    hub: NDArray[np.float32],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """For each pair, b's rank among a's candidates and a's rank among b's.

    A neighbour is ranked by its similarity less its own hubness, as `similar` ranks it, so
    a generic item close to everything is nobody's nearest neighbour by default.
    """
    count = len(rows_a)
    rows = np.concatenate([rows_a, rows_b])
    values = np.concatenate([sims - HUB_ALPHA * hub[rows_b], sims - HUB_ALPHA * hub[rows_a]])
    order = _row_order(rows, values)
    sorted_rows = rows[order]
    starts = np.searchsorted(sorted_rows, sorted_rows)
    rank_sorted = np.arange(len(order)) - starts + 1
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = rank_sorted
    return ranks[:count], ranks[count:]


def _hubness(
    rows: NDArray[np.int64], values: NDArray[np.float32], n_rows: int
) -> NDArray[np.float32]:
    """Each of `n_rows` rows' hubness: the mean of its `HUB_NEIGHBOURS` best `values`."""
    order = _row_order(rows, values)
    rows, values = rows[order], values[order]
    # Each row's rank among its partners, best first; the best HUB_NEIGHBOURS count.
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows)
    top = rank < HUB_NEIGHBOURS
    # A row's best scores side by side, summed in float32 in rank order: the same sums as
    # adding up each row's slice, to the last bit (a missing neighbour adds 0).
    table = np.zeros((n_rows, HUB_NEIGHBOURS), dtype=np.float32)
    table[rows[top], rank[top]] = values[top]
    hub: NDArray[np.float32] = table.sum(axis=1) / np.float32(HUB_NEIGHBOURS)
    return hub


def _row_order(rows: NDArray[np.int64], values: NDArray[np.float32]) -> NDArray[np.int64]:
    """Positions ordered by row, then by value descending, ties in position order: the same
    order as `np.lexsort((-values, rows))`, in a third of its time (millions of entries)."""
    # The bits of a float, sign bit flipped (all bits for negatives), order as the floats
    # do; inverting them orders descending. Adding 0 turns -0.0 into 0.0, as comparison has.
    bits = (values.astype(np.float32) + np.float32(0.0)).view(np.uint32)
    ascending = np.where(bits >> np.uint32(31), ~bits, bits | np.uint32(0x80000000))
    key = rows.astype(np.uint64) << np.uint64(32)
    key |= (~ascending).astype(np.uint64)
    order: NDArray[np.int64] = np.argsort(key, kind="stable")
    return order


def _unit_rows(matrix: NDArray[np.float32]) -> NDArray[np.float32]:
    """`matrix` as float32 rows of length 1 (a zero row stays zero)."""
    rows = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: NDArray[np.float32] = rows / norms
    return unit


def _clip(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def _widen(matrix: sp.csr_matrix, width: int) -> sp.csr_matrix:
    return sp.csr_matrix(
        (matrix.data, matrix.indices, matrix.indptr), shape=(matrix.shape[0], width)
    )


def _normalize_rows(matrix: sp.csr_matrix) -> None:
    squares = matrix.multiply(matrix).sum(axis=1)
    norms = np.sqrt(np.asarray(squares).ravel()).astype(np.float32)
    norms[norms == 0] = 1.0
    matrix.data /= np.repeat(norms, np.diff(matrix.indptr))


def _zero_rows(matrix: sp.csr_matrix, rows: NDArray[np.int64]) -> None:
    """Empty the given rows of a CSR matrix in place."""
    if len(rows) == 0:
        return
    for row in rows.tolist():
        matrix.data[matrix.indptr[row] : matrix.indptr[row + 1]] = 0.0
    matrix.eliminate_zeros()


def _prune_rows(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Each row's `keep` heaviest entries (entries tied with the last one are kept too)."""
    lengths = np.diff(matrix.indptr)
    if len(lengths) == 0 or lengths.max(initial=0) <= keep:
        return matrix.copy()
    n_rows, width = matrix.shape[0], int(lengths.max())
    rows = np.repeat(np.arange(n_rows), lengths)
    # Each row's keep-th largest value by a linear-time partition of a padded table, rather
    # than sorting every entry: this runs over every n-gram weight of every item.
    table = np.full((n_rows, width), -np.inf, dtype=np.float32)
    table[rows, np.arange(len(rows)) - np.repeat(matrix.indptr[:-1], lengths)] = matrix.data
    cutoff = np.partition(table, width - keep, axis=1)[:, width - keep]
    del table
    chosen = matrix.data >= cutoff[rows]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[chosen], minlength=n_rows))])
    return sp.csr_matrix((matrix.data[chosen], matrix.indices[chosen], indptr), shape=matrix.shape)


def _top_partners(
    left: sp.csr_matrix, right: sp.csr_matrix, keep: int, *, first_row: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(row, column) of each row's `keep` largest entries of `left @ right`, best first.

    Row i of `left` is row `first_row + i` of the index: its self-match (column
    `first_row + i`) is left out, and the next best partner taken in its place.
    """
    if left.nnz == 0 or right.nnz == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    # sparse_dot_topn keeps only each row's best entries while multiplying, on every core:
    # the full product of the candidate matrix has about 100 million entries at 100,000
    # items, and sorting them took longer than the product itself.
    product = sp_matmul_topn(left, right, top_n=keep + 1, sort=True, n_threads=_threads())
    lengths = np.diff(product.indptr)
    rows = np.repeat(np.arange(first_row, first_row + len(lengths), dtype=np.int64), lengths)
    rank = np.arange(product.nnz, dtype=np.int64) - np.repeat(product.indptr[:-1], lengths)
    cols = product.indices.astype(np.int64)
    own = cols == rows
    has_own = np.zeros(len(lengths), dtype=bool)
    has_own[rows[own] - first_row] = True
    chosen = ~own & ((rank < keep) | has_own[rows - first_row])
    return rows[chosen], cols[chosen]


def _threads() -> int:
    """Threads for the sparse products: the cores this process may use, up to `MAX_THREADS`."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        available = os.cpu_count() or 1
    return max(1, min(available, MAX_THREADS))


def _map_threads(function: Callable[[_In], _Out], arguments: Sequence[_In]) -> list[_Out]:
    """`function` over `arguments` in threads, in order.

    The work mapped here is scipy's and rapidfuzz's compiled code, which releases the GIL,
    so threads use every core without copying the index into other processes.
    """
    threads = min(_threads(), len(arguments))
    if threads <= 1:
        return [function(argument) for argument in arguments]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(function, arguments))
