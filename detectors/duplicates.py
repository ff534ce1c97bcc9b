"""Duplicated effort: two teams doing the same work without knowing.

Rule (kind `duplicate`): a pair of items whose verdict score (see `detectors.similarity`) is
at least `detectors.duplicates.threshold` (empty: `DEFAULT_THRESHOLD`, chosen on the labelled
evaluation in `bench/accuracy_bench.py` for precision), where

- the items belong to different teams (`scope: cross_team`, the default; `any` drops this);
- both are open, or one is open and the other was finished in the last `recent_done_days`
  days ("already solved by ...");
- they are not already linked (`duplicates`, `relates`, `blocks`, `parent`, or a pull request
  that implements or mentions the ticket);
- they share at least one distinctive word (the explanation names it);
- they are mutual nearest neighbours (`MUTUAL_RANK`): each is the other's best match among
  all items of any team and state, ranked by similarity less the neighbour's hubness;
- their titles are not one template filled in twice (`template_alike`: "Fix timeout in
  tracing exporter" / "Fix timeout in image picker").

Why mutual neighbours rather than a score alone: a store holds many items on one subject or
from one template, and every pair of them clears any score that still finds rewordings. On
3,977 real pull requests a score threshold flagged 17,654 pairs; mutual nearest neighbours
flag at most one pair per item, about one per four items there (see `bench/accuracy_bench.py`),
at the price of pairs in larger groups of duplicates, of which only the closest is flagged.

A pull request and another team's ticket that describe the same change are such a pair. Two
open pull requests (same or different repositories, any teams) whose titles match
(`PR_TITLE_RATIO`, not as a template) and whose changed files overlap are flagged too,
whatever their score or ranks, unless each implements a different ticket (then the tickets
are the pair to judge).

The finding's facts are the two items' title fingerprints: a dismissed pair comes back only
when a title changes substantially (a content word added, dropped or changed).

Sample::

    duplicate (high, 0.71): PAY-12 (payments) and ID-7 (identity) may be the same work
    Both mention "okta sso login", "saml", "redirect". PAY-12 "Okta SSO login fails for
    SAML users" / ID-7 "SAML: Okta SSO login broken after redirect".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from difflib import SequenceMatcher

from rapidfuzz import fuzz

from detectors.base import DetectedGap, Severity, Snapshot
from detectors.similarity import IndexedText, Pair, SemanticVectors, SimilarityIndex, TitleIdf
from detectors.text import plain_title, title_fingerprint
from store.models import Link, WorkItem

DETECTOR_ID = "duplicates"
KIND = "duplicate"
DEFAULT_THRESHOLD = 0.1
"""Verdict score above which a mutual-neighbour pair is flagged: two items that are each
other's best match but share little are outliers, not duplicates (chosen on the evaluation)."""
MUTUAL_RANK = 1
"""Each item must be among the other's this many nearest neighbours (hubness-corrected, over
all items of any team and state): a pair is flagged for being each other's best match, not
merely for clearing a score. In a store where many items share a template or a subject, a
score alone flags every pair of them; mutual nearest neighbours flag at most one pair per
item."""
HIGH_SEVERITY_MARGIN = 0.25
"""A pair this far above the threshold is high severity."""
SLOT_MAX_RATIO = 80.0
"""Two substituted title spans this alike (rapidfuzz ratio) are a spelling variant, not a
template's slot filled differently."""
GLUED_MIN_LENGTH = 4
"""A slot word at least this long found inside the other span is the same word glued."""
PR_TITLE_RATIO = 80.0
"""rapidfuzz token-set ratio of two pull requests' titles that counts as matching."""
PR_MIN_SIMILARITY = 0.15
"""Pull requests below this similarity are not checked for shared files."""
LINKING_TYPES = frozenset({"duplicates", "relates", "blocks", "parent", "implements"})
"""Link types that mean the teams already know the two items are related."""


def indexed_text(item: WorkItem) -> IndexedText:
    """What the similarity index reads of a work item."""
    return IndexedText(
        key=item.key,
        title=item.title,
        body=item.body or "",
        labels=tuple(item.labels or ()),
        components=tuple(item.components or ()),
    )


def build_index(
    items: Iterable[WorkItem], *, scan: bool = True, semantic: SemanticVectors | None = None
) -> SimilarityIndex:
    """A similarity index over `items` (items gone from their source are left out).

    Args:
        items: the work items.
        scan: compute every item's hubness now (needed before `similar` and `search`);
            False when the caller runs `scan` itself, which computes it first.
        semantic: the items' sentence-embedding vectors, blended into the score.
    """
    index = SimilarityIndex(semantic)
    index.build((indexed_text(item) for item in items if not item.gone), scan=scan)
    return index


def _is_done(item: WorkItem) -> bool:
    return item.status_category == "done" or item.merged


def _done_at(item: WorkItem) -> datetime | None:
    return item.resolved or item.merged_at or item.updated


def _linked_pairs(links: Iterable[Link], items: dict[str, WorkItem]) -> set[frozenset[str]]:
    linked = {
        frozenset((link.source_key, link.target_key))
        for link in links
        if link.type in LINKING_TYPES
    }
    for item in items.values():
        for mentioned in item.mentions or ():
            linked.add(frozenset((item.key, mentioned)))
    return linked


def _implemented_tickets(links: Iterable[Link]) -> dict[str, set[str]]:
    """Pull request key -> the tickets it implements."""
    implemented: dict[str, set[str]] = {}
    for link in links:
        if link.type == "implements":
            implemented.setdefault(link.source_key, set()).add(link.target_key)
    return implemented


def _open_prs_share_files(a: WorkItem, b: WorkItem, implemented: dict[str, set[str]]) -> list[str]:
    """The changed files two open pull requests share with matching titles, else []."""
    if a.kind != "pull_request" or b.kind != "pull_request" or _is_done(a) or _is_done(b):
        return []
    tickets_a, tickets_b = implemented.get(a.key, set()), implemented.get(b.key, set())
    if tickets_a and tickets_b and not tickets_a & tickets_b:
        # Each implements its own ticket: their authors say they are different work. Whether
        # the tickets are the same work is the tickets' pair to judge, by its own rule.
        return []
    shared = sorted(set(a.files or ()) & set(b.files or ()))
    if not shared:
        return []
    if fuzz.token_set_ratio(plain_title(a.title), plain_title(b.title)) < PR_TITLE_RATIO:
        return []
    return shared


def template_alike(title_a: Sequence[str], title_b: Sequence[str], idf: TitleIdf) -> bool:
    """Whether two titles are one template filled in twice ("Fix timeout in X").

    They are when, word for word (stemmed content words, in order), they are the same except
    for spans substituted one for another ("tracing exporter" / "image picker") that share no
    word and are not one word spelt two ways, and each title's substituted span holds a word
    at least as distinctive (title idf) as a typical title word: the pair shares a frame and
    differs in what the frame is about, so it is different work. Rewordings of one piece of
    work insert, drop or reorder words, substitute a spelling variant, or differ only in
    common words ("Update x.rst" / "Fix typo in x.rst"): they stay candidates.

    Args:
        title_a: one title's stemmed content words, in order (`SimilarityIndex.title_words`).
        title_b: the other's.
        idf: the title words' idf (`SimilarityIndex.title_idf`).
    """
    opcodes = SequenceMatcher(a=title_a, b=title_b, autojunk=False).get_opcodes()
    slots = [(title_a[i1:i2], title_b[j1:j2]) for tag, i1, i2, j1, j2 in opcodes if tag != "equal"]
    if len(slots) == len(opcodes) or not slots:
        return False  # nothing in common, or nothing different: no template either way
    words_a, words_b = set(title_a), set(title_b)
    for span_a, span_b in slots:
        # A slot word found anywhere in the other title is a reordering, not a substitution.
        if not span_a or not span_b or words_b.intersection(span_a) or words_a.intersection(span_b):
            return False
        if _spelling_variants(span_a, span_b):
            return False
    weights = idf.idf
    own_a = max(weights.get(w, 0.0) for span, _ in slots for w in span)
    own_b = max(weights.get(w, 0.0) for _, span in slots for w in span)
    return min(own_a, own_b) >= idf.median


def _spelling_variants(span_a: Sequence[str], span_b: Sequence[str]) -> bool:
    """Whether two title spans are one thing spelt two ways: mostly the same letters, or a
    word of one glued into a word of the other (`navbar toggler` / `navbartoggler`)."""
    if fuzz.ratio(" ".join(span_a), " ".join(span_b)) >= SLOT_MAX_RATIO:
        return True
    joined_a, joined_b = "".join(span_a), "".join(span_b)
    return any(len(w) >= GLUED_MIN_LENGTH and w in joined_b for w in span_a) or any(
        len(w) >= GLUED_MIN_LENGTH and w in joined_a for w in span_b
    )


def _severity(score: float, threshold: float) -> Severity:
    return "high" if score >= threshold + HIGH_SEVERITY_MARGIN else "medium"


def _describe(item: WorkItem) -> str:
    what = "pull request" if item.kind == "pull_request" else "ticket"
    return f'{what} {item.key} ({item.team}) "{item.title}"'


def _quoted(terms: list[str]) -> str:
    return ", ".join(f'"{term}"' for term in terms) if terms else "no single distinctive word"


def detect_duplicates(snapshot: Snapshot) -> list[DetectedGap]:
    """Pairs of items that look like the same work, per the module's rule.

    Args:
        snapshot: the store's items and links, the time to judge by and the config.

    Returns:
        One gap per flagged pair, best score first.
    """
    settings = snapshot.config.detectors.duplicates
    if not settings.enabled:
        return []
    threshold = DEFAULT_THRESHOLD if settings.threshold is None else settings.threshold
    items = {key: item for key, item in snapshot.items.items() if not item.gone}
    if len(items) < 2:
        return []
    index = build_index(items.values(), scan=False, semantic=snapshot.semantic)
    linked = _linked_pairs(snapshot.links, items)
    recent = snapshot.now - timedelta(days=settings.recent_done_days)
    gaps: list[DetectedGap] = []
    open_prs = [
        key
        for key, item in items.items()
        if item.kind == "pull_request" and item.files and not _is_done(item)
    ]
    pairs = index.scan(
        min(threshold, PR_MIN_SIMILARITY), max_mutual_rank=MUTUAL_RANK, always_keep=open_prs
    )
    implemented = _implemented_tickets(snapshot.links)
    title_idf = index.title_idf()
    for pair in pairs:
        a, b = items[pair.a], items[pair.b]
        if frozenset((a.key, b.key)) in linked:
            continue
        if template_alike(index.title_words(a.key), index.title_words(b.key), title_idf):
            continue
        shared_files = _open_prs_share_files(a, b, implemented)
        if shared_files:
            gaps.append(_pr_gap(index, pair, a, b, shared_files=shared_files, threshold=threshold))
            continue
        if pair.score < threshold or pair.mutual_rank > MUTUAL_RANK:
            continue
        if settings.scope == "cross_team" and a.team == b.team:
            continue
        gap = _pair_gap(index, pair, a, b, recent=recent, threshold=threshold)
        if gap is not None:
            gaps.append(gap)
    gaps.sort(key=lambda g: (-g.score, g.item_keys))
    return gaps


def _facts(a: WorkItem, b: WorkItem) -> tuple[str, ...]:
    # Only the titles' content: a dismissed pair returns when a title changes substantially,
    # not when a score wobbles because other items changed the idf.
    return (a.key, title_fingerprint(a.title), b.key, title_fingerprint(b.title))


def _pair_gap(
    index: SimilarityIndex,
    pair: Pair,
    a: WorkItem,
    b: WorkItem,
    *,
    recent: datetime,
    threshold: float,
) -> DetectedGap | None:
    done_a, done_b = _is_done(a), _is_done(b)
    if done_a and done_b:
        return None
    terms = index.shared_terms(a.key, b.key)
    if not terms:
        # Similar only in letters, not in any word a reader could check: no alert.
        return None
    teams = tuple(sorted({a.team, b.team}))
    because = f"Both mention {_quoted(terms)} (similarity {pair.score:.2f})."
    if done_a or done_b:
        done, open_item = (a, b) if done_a else (b, a)
        finished = _done_at(done)
        if finished is None or finished < recent:
            return None
        summary = (
            f"{open_item.key} ({open_item.team}) may be already solved by {done.key} ({done.team})"
        )
        explanation = (
            f"{because} Open {_describe(open_item)}; {_describe(done)} was finished on "
            f"{finished.date().isoformat()}."
        )
    else:
        summary = f"{a.key} ({a.team}) and {b.key} ({b.team}) may be the same work"
        explanation = f"{because} {_describe(a)}; {_describe(b)}."
    return DetectedGap(
        kind=KIND,
        item_keys=(a.key, b.key),
        summary=summary,
        explanation=explanation,
        severity=_severity(pair.score, threshold),
        score=round(pair.score, 4),
        teams=teams,
        facts=_facts(a, b),
        extra={"shared_terms": terms, "similarity": round(pair.similarity, 4)},
    )


def _pr_gap(
    index: SimilarityIndex,
    pair: Pair,
    a: WorkItem,
    b: WorkItem,
    *,
    shared_files: list[str],
    threshold: float,
) -> DetectedGap:
    terms = index.shared_terms(a.key, b.key)
    shown = ", ".join(shared_files[:3]) + (
        f" and {len(shared_files) - 3} more" if len(shared_files) > 3 else ""
    )
    return DetectedGap(
        kind=KIND,
        item_keys=(a.key, b.key),
        summary=f"Open pull requests {a.key} and {b.key} change the same files for the same thing",
        explanation=(
            f"Both change {shown}; their titles match and both mention {_quoted(terms)} "
            f"(similarity {pair.score:.2f}). {_describe(a)}; {_describe(b)}."
        ),
        severity="high" if pair.score >= threshold else "medium",
        score=round(max(pair.score, pair.similarity), 4),
        teams=tuple(sorted({a.team, b.team})),
        facts=_facts(a, b),
        extra={"shared_terms": terms, "shared_files": shared_files},
    )
