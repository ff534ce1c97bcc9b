"""What every detector shares: the snapshot it reads, the finding it returns, the registry.

A detector is a pure function `(snapshot, settings) -> list[DetectedGap]`: no I/O, no clock
(`snapshot.now` is the time), no Jira, GitHub or Slack. The runner turns gaps into stored
`Finding` rows and keeps their lifecycle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from config.settings import GapbotConfig

if TYPE_CHECKING:
    from detectors.similarity import SemanticVectors
from store.models import Link, WorkItem

Severity = Literal["low", "medium", "high"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high")

FINDING_KINDS = (
    "duplicate",
    "priority_inversion",
    "parent_child_priority",
    "focus_drift",
    "unaligned_work",
    "stale_pr",
    "blocked",
    "overdue",
    "status_drift",
    "overload",
)


@dataclass(frozen=True)
class Snapshot:
    """The store as detectors see it: items by key, links, and the time to judge by."""

    items: dict[str, WorkItem]
    links: Sequence[Link]
    now: datetime
    config: GapbotConfig
    semantic: SemanticVectors | None = None
    """Items' sentence-embedding vectors for the duplicates matcher, when configured."""


@dataclass(frozen=True)
class DetectedGap:
    """One gap a detector found.

    `facts` are the values the verdict rests on (priorities, statuses, similarity bucket):
    when they change, a dismissed finding may come back. The id depends only on the kind
    and the subject, so the same gap found again is the same finding.
    """

    kind: str
    item_keys: tuple[str, ...]
    summary: str
    explanation: str
    severity: Severity = "medium"
    score: float = 0.0
    teams: tuple[str, ...] = ()
    facts: tuple[Any, ...] = ()
    subject: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def finding_id(self) -> str:
        """A stable fingerprint of the kind and its subject (the items, or e.g. a person)."""
        return finding_id(self.kind, self.subject or "|".join(sorted(self.item_keys)))

    @property
    def facts_hash(self) -> str:
        """A short fingerprint of the facts."""
        return hashlib.sha256(repr(self.facts).encode()).hexdigest()[:16]


def finding_id(kind: str, subject: str) -> str:
    """The id of the finding of `kind` about `subject`."""
    digest = hashlib.sha256(f"{kind}:{subject}".encode()).hexdigest()[:12]
    return f"{kind[:3]}-{digest}"


Detector = Callable[[Snapshot], list[DetectedGap]]
