"""The duplicates detector: scope, states, links, facts, pull requests and files."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from config.settings import GapbotConfig
from detectors.base import DetectedGap, Snapshot
from detectors.duplicates import detect_duplicates, template_alike
from detectors.similarity import TitleIdf
from store.models import Link, WorkItem
from tests.similarity_corpus import NOW, work_items

TEAMS = [
    {"name": name, "jira_projects": [project]}
    for name, project in (
        ("payments", "PAY"),
        ("identity", "ID"),
        ("web", "WEB"),
        ("data", "DATA"),
    )
]


def run(
    items: dict[str, WorkItem], links: list[Link] | None = None, **settings: Any
) -> list[DetectedGap]:
    config = GapbotConfig.model_validate({"teams": TEAMS, "detectors": {"duplicates": settings}})
    return detect_duplicates(Snapshot(items=items, links=links or [], now=NOW, config=config))


def pairs(gaps: list[DetectedGap]) -> set[frozenset[str]]:
    return {frozenset(g.item_keys) for g in gaps}


def test_cross_team_pair_is_flagged_with_its_shared_words() -> None:
    gaps = run(work_items())
    assert pairs(gaps) == {frozenset({"PAY-1", "ID-7"})}
    gap = gaps[0]
    assert gap.kind == "duplicate"
    assert gap.teams == ("identity", "payments")
    assert '"okta sso login"' in gap.explanation
    assert '"saml"' in gap.explanation
    assert "may be the same work" in gap.summary
    assert gap.severity in {"medium", "high"}
    assert 0 < gap.score <= 1


def test_scope_any_also_flags_same_team_pairs() -> None:
    assert frozenset({"DATA-5", "DATA-8"}) in pairs(run(work_items(), scope="any"))
    assert frozenset({"DATA-5", "DATA-8"}) not in pairs(run(work_items()))


def test_threshold_and_enabled_settings() -> None:
    assert run(work_items(), threshold=1.0) == []
    assert run(work_items(), enabled=False) == []


def test_linked_pairs_are_not_flagged() -> None:
    for link_type in ("duplicates", "relates", "blocks", "parent"):
        link = Link(source_key="ID-7", target_key="PAY-1", type=link_type)
        assert run(work_items(), [link]) == [], link_type


def test_recently_done_item_is_already_solved_and_old_one_is_not() -> None:
    recent = {"status_category": "done", "resolved": NOW - timedelta(days=5)}
    gaps = run(work_items(**{"ID-7": recent}))
    assert len(gaps) == 1
    assert "already solved by ID-7" in gaps[0].summary
    old = {"status_category": "done", "resolved": NOW - timedelta(days=60)}
    assert run(work_items(**{"ID-7": old})) == []
    assert run(work_items(**{"ID-7": old}), recent_done_days=90) != []
    assert run(work_items(**{"ID-7": recent, "PAY-1": recent})) == []


def test_facts_change_only_when_a_title_changes_substantially() -> None:
    first = run(work_items())[0]
    trivial = run(work_items(**{"ID-7": {"title": "saml - okta SSO LOGIN broken after redirects"}}))
    assert trivial[0].finding_id == first.finding_id
    assert trivial[0].facts == first.facts
    body_only = run(work_items(**{"ID-7": {"body": "Okta SSO error page after the redirect."}}))
    assert body_only[0].facts == first.facts
    changed = run(work_items(**{"ID-7": {"title": "SAML: Okta SSO login broken on mobile"}}))
    assert changed[0].finding_id == first.finding_id
    assert changed[0].facts != first.facts


def _pr(key: str, team: str, title: str, files: list[str], **extra: Any) -> WorkItem:
    return WorkItem(
        key=key,
        team=team,
        title=title,
        source="github",
        kind="pull_request",
        project=key.split("#", maxsplit=1)[0],
        status_category="in_progress",
        files=files,
        **extra,
    )


def test_open_pull_requests_with_matching_titles_and_shared_files() -> None:
    items = work_items()
    items["acme/web#1"] = _pr(
        "acme/web#1", "web", "Upgrade lodash to 4.17.21", ["package.json", "yarn.lock"]
    )
    items["acme/admin#2"] = _pr(
        "acme/admin#2", "web", "Upgrade lodash to 4.17.21", ["package.json", "src/a.js"]
    )
    gaps = [g for g in run(items) if "acme/web#1" in g.item_keys]
    assert len(gaps) == 1  # same team, but the files overlap
    assert "package.json" in gaps[0].explanation
    assert gaps[0].extra["shared_files"] == ["package.json"]
    items["acme/admin#2"] = _pr(
        "acme/admin#2", "web", "Upgrade lodash to 4.17.21", ["docs/index.md"]
    )
    assert [g for g in run(items) if "acme/web#1" in g.item_keys] == []
    items["acme/admin#2"] = _pr(
        "acme/admin#2", "web", "Upgrade lodash to 4.17.21", ["package.json"], merged=True
    )
    assert [g for g in run(items) if "acme/web#1" in g.item_keys] == []


def test_pull_request_and_another_teams_ticket() -> None:
    items = work_items()
    items["acme/web#9"] = _pr(
        "acme/web#9", "web", "Warehouse nightly export: fix job timeout", ["etl/export.py"]
    )
    flagged = pairs(run(items))
    assert (
        frozenset({"acme/web#9", "DATA-5"}) in flagged
        or frozenset({"acme/web#9", "DATA-8"}) in flagged
    )
    # A pull request that mentions the ticket implements it: not a duplicate.
    items["acme/web#9"] = _pr(
        "acme/web#9",
        "web",
        "Warehouse nightly export: fix job timeout",
        ["etl/export.py"],
        mentions=["DATA-5", "DATA-8"],
    )
    flagged = pairs(run(items))
    assert not any("acme/web#9" in pair for pair in flagged)


def test_template_alike_titles() -> None:
    # Word-level stems and idf as the detector computes them; a typical word's idf of 2.0.
    idf = TitleIdf(idf={"timeout": 1.5, "trac": 3.0, "export": 3.0, "imag": 3.0}, median=2.0)
    assert template_alike(["timeout", "trac", "export"], ["timeout", "imag", "picker"], idf)
    # Same frame, slots that are spelling variants or glued: a rewording.
    assert not template_alike(["navbar", "toggler", "color"], ["navbartoggler", "color"], idf)
    assert not template_alike(["timeout", "trac", "export"], ["timeout", "trac", "exporter"], idf)
    # Reordered, inserted or dropped words: a rewording too.
    assert not template_alike(["timeout", "trac", "export"], ["trac", "export", "timeout"], idf)
    assert not template_alike(["timeout", "trac"], ["timeout", "trac", "export"], idf)
    # The titles differ only in common words (below a typical title word's idf): a rewording.
    common = TitleIdf(idf={"updat": 1.0, "typo": 1.5, "readm": 5.0}, median=2.0)
    assert not template_alike(["updat", "readm"], ["typo", "readm"], common)
    # Nothing in common: no frame, no template.
    assert not template_alike(["okta", "sso"], ["csv", "export"], idf)


def test_template_filled_twice_across_teams_is_not_flagged() -> None:
    items = work_items()
    subjects = ("tracing exporter", "image picker", "ledger reconciliation", "card vault")
    teams = (("payments", "PAY"), ("identity", "ID"), ("web", "WEB"), ("data", "DATA"))
    for n, (subject, (team, project)) in enumerate(zip(subjects, teams, strict=True)):
        key = f"{project}-{100 + n}"
        items[key] = WorkItem(
            key=key,
            source="jira",
            kind="issue",
            title=f"Second half: {subject} overhaul",
            body="Umbrella for this half's work.",
            team=team,
            project=project,
            status_category="in_progress",
        )
    flagged = pairs(run(items))
    assert not any(key.endswith(("-100", "-101", "-102", "-103")) for p in flagged for key in p)
    assert frozenset({"PAY-1", "ID-7"}) in flagged


def test_only_mutual_nearest_neighbours_are_flagged() -> None:
    items = work_items()
    # Same subject, different work: close to PAY-1, but PAY-1's best match is ID-7.
    items["WEB-50"] = WorkItem(
        key="WEB-50",
        source="jira",
        kind="issue",
        title="Okta SSO login: show the last login time on the audit page",
        body="Auditors want each admin's last Okta login time.",
        team="web",
        project="WEB",
        status_category="todo",
    )
    flagged = pairs(run(items))
    assert frozenset({"PAY-1", "ID-7"}) in flagged
    assert not any("WEB-50" in pair for pair in flagged)


def test_pull_requests_implementing_different_tickets_are_not_flagged() -> None:
    items = work_items()
    items["acme/web#1"] = _pr(
        "acme/web#1", "web", "Upgrade lodash to 4.17.21", ["package.json", "yarn.lock"]
    )
    items["acme/admin#2"] = _pr(
        "acme/admin#2", "web", "Upgrade lodash to 4.17.21", ["package.json", "src/a.js"]
    )
    different = [
        Link(source_key="acme/web#1", target_key="WEB-1", type="implements"),
        Link(source_key="acme/admin#2", target_key="WEB-2", type="implements"),
    ]
    assert [g for g in run(items, different) if "acme/web#1" in g.item_keys] == []
    same = [
        Link(source_key="acme/web#1", target_key="WEB-1", type="implements"),
        Link(source_key="acme/admin#2", target_key="WEB-1", type="implements"),
    ]
    assert len([g for g in run(items, same) if "acme/web#1" in g.item_keys]) == 1
