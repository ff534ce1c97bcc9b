"""Comparing what the detectors found with what the organisation generator planted."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from detectors.base import FINDING_KINDS
from sandbox.org import PlantedGap
from store.models import Finding


@dataclass
class KindScore:
    """Found, planted and false alarms for one kind of gap."""

    kind: str
    planted: int = 0
    found: int = 0
    false_alarms: int = 0
    missed: list[PlantedGap] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    """Summaries of the findings that match nothing planted."""


def matches(planted: PlantedGap, finding: Finding) -> bool:
    """Whether `finding` is the planted gap: same kind, and its items (or team) agree."""
    if finding.kind != planted.kind:
        return False
    if planted.keys:
        return set(planted.keys) <= set(finding.item_keys or [])
    return planted.team in (finding.teams or [])


def score(planted: Iterable[PlantedGap], findings: Iterable[Finding]) -> dict[str, KindScore]:
    """Per kind: how many planted gaps were found, and findings that match none."""
    planted_list = list(planted)
    finding_list = list(findings)
    scores = {kind: KindScore(kind) for kind in FINDING_KINDS}
    for gap in planted_list:
        entry = scores[gap.kind]
        entry.planted += 1
        if any(matches(gap, f) for f in finding_list):
            entry.found += 1
        else:
            entry.missed.append(gap)
    for finding in finding_list:
        if finding.kind in scores and not any(matches(g, finding) for g in planted_list):
            scores[finding.kind].false_alarms += 1
            scores[finding.kind].extra.append(finding.summary)
    return scores


def score_line(scores: dict[str, KindScore]) -> str:
    """One line: `found/planted (false alarms)` per kind with anything to say, and totals."""
    parts = []
    for entry in scores.values():
        if entry.planted or entry.false_alarms:
            part = f"{entry.kind} {entry.found}/{entry.planted}"
            if entry.false_alarms:
                part += f" (+{entry.false_alarms} false)"
            parts.append(part)
    found = sum(e.found for e in scores.values())
    planted = sum(e.planted for e in scores.values())
    false = sum(e.false_alarms for e in scores.values())
    alarms = "false alarm" if false == 1 else "false alarms"
    return f"found {found} of {planted} planted gaps, {false} {alarms}: " + ", ".join(parts)
