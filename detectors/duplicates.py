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
- one is among the other's `MAX_NEIGHBOUR_RANK` nearest neighbours.

A pull request and another team's ticket that describe the same change are such a pair. Two
open pull requests (same or different repositories, any teams) whose titles match
(`PR_TITLE_RATIO`) and whose changed files overlap are flagged too, whatever their score.

The finding's facts are the two items' title fingerprints: a dismissed pair comes back only
when a title changes substantially (a content word added, dropped or changed).

Sample::

    duplicate (high, 0.71): PAY-12 (payments) and ID-7 (identity) may be the same work
    Both mention "okta sso login", "saml", "redirect". PAY-12 "Okta SSO login fails for
    SAML users" / ID-7 "SAML: Okta SSO login broken after redirect".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from rapidfuzz import fuzz

from detectors.base import DetectedGap, Severity, Snapshot
from detectors.similarity import IndexedText, Pair, SimilarityIndex
from detectors.text import plain_title, title_fingerprint
from store.models import Link, WorkItem

DETECTOR_ID = "duplicates"
KIND = "duplicate"
DEFAULT_THRESHOLD = 0.04
"""Verdict score above which a pair is flagged (chosen for precision on the evaluation)."""
MAX_NEIGHBOUR_RANK = 10
"""One item must be among the other's this many nearest neighbours: a pair is flagged for
being each other's best match, not merely for clearing a score."""
HIGH_SEVERITY_MARGIN = 0.25
"""A pair this far above the threshold is high severity."""
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


def build_index(items: Iterable[WorkItem], *, scan: bool = True) -> SimilarityIndex:
    """A similarity index over `items` (items gone from their source are left out).

    Args:
        items: the work items.
        scan: compute every item's hubness now (needed before `similar` and `search`);
            False when the caller runs `scan` itself, which computes it first.
    """
    index = SimilarityIndex()
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


def _open_prs_share_files(a: WorkItem, b: WorkItem) -> list[str]:
    """The changed files two open pull requests share with matching titles, else []."""
    if a.kind != "pull_request" or b.kind != "pull_request" or _is_done(a) or _is_done(b):
        return []
    shared = sorted(set(a.files or ()) & set(b.files or ()))
    if not shared:
        return []
    if fuzz.token_set_ratio(plain_title(a.title), plain_title(b.title)) < PR_TITLE_RATIO:
        return []
    return shared


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
    index = build_index(items.values(), scan=False)
    linked = _linked_pairs(snapshot.links, items)
    recent = snapshot.now - timedelta(days=settings.recent_done_days)
    gaps: list[DetectedGap] = []
    for pair in index.scan(min(threshold, PR_MIN_SIMILARITY)):
        a, b = items[pair.a], items[pair.b]
        if frozenset((a.key, b.key)) in linked:
            continue
        shared_files = _open_prs_share_files(a, b)
        if shared_files:
            gaps.append(_pr_gap(index, pair, a, b, shared_files=shared_files, threshold=threshold))
            continue
        if pair.score < threshold or pair.rank > MAX_NEIGHBOUR_RANK:
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
