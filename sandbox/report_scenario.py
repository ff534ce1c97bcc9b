"""A small organisation whose weekly report is known: for the report tests and docs/.

Three teams in Europe/Berlin (payments, checkout, and a restricted security team), a dozen
work items, seven findings and twelve weeks of history. The report made at `NOW` (Monday
30 Nov 2026, 09:00 Berlin) covers the week of 23–29 Nov 2026; the figures it must show are
worked out in tests/test_reports.py beside the rows written here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from config.loader import parse_config
from config.settings import GapbotConfig
from store.db import Store
from store.models import Finding, Link, Snapshot, WeeklyKpi, WorkItem

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
REPORT_WEEK = date(2026, 11, 23)
CONFIG_YAML = """\
timezone: Europe/Berlin
slack:
  report_channel: "#eng-leads"
teams:
  - name: payments
    slack_channel: "#payments"
    jira_projects: [PAY]
    github_repos: [acme/pay]
  - name: checkout
    slack_channel: "#checkout"
    jira_projects: [CHK]
    github_repos: [acme/chk]
  - name: security
    slack_channel: "#security"
    jira_projects: [SEC]
    restricted: true
objectives:
  - key: OBJ-1
    title: Self-serve onboarding
    labels: [onboarding]
"""

# Open gaps by kind in the organisation (`*`) rows, oldest week first, ending the week
# before REPORT_WEEK. The tests read the last four; the chart shows all eleven.
ORG_OPEN_HISTORY: list[dict[str, int]] = [
    {"duplicate": 4, "stale_pr": 6, "priority_inversion": 3, "blocked": 2},
    {"duplicate": 4, "stale_pr": 7, "priority_inversion": 3, "blocked": 2},
    {"duplicate": 5, "stale_pr": 6, "priority_inversion": 2, "blocked": 3},
    {"duplicate": 5, "stale_pr": 5, "priority_inversion": 2, "blocked": 3},
    {"duplicate": 4, "stale_pr": 5, "priority_inversion": 2, "blocked": 2},
    {"duplicate": 3, "stale_pr": 4, "priority_inversion": 2, "blocked": 2},
    {"duplicate": 3, "stale_pr": 4, "priority_inversion": 1, "blocked": 1},
    {"duplicate": 2, "stale_pr": 3},
    {"duplicate": 1, "stale_pr": 3},
    {"duplicate": 2, "stale_pr": 2, "priority_inversion": 2},
    {"duplicate": 1, "priority_inversion": 1},
]
ORG_NEW_HISTORY = [3, 2, 2, 1, 1, 0, 1, 1, 0, 3, 1]
ORG_RESOLVED_HISTORY = [1, 1, 2, 2, 3, 2, 3, 4, 1, 1, 5]
KPI_HISTORY = {
    date(2026, 11, 9): {"median_hours_to_first_review": 12.0},
    date(2026, 11, 16): {
        "median_hours_to_first_review": 30.0,
        "days_blocked_by_other_teams": 2.5,
        "aligned_share": 40.0,
    },
}


def load_config() -> GapbotConfig:
    """The scenario's config."""
    return parse_config(CONFIG_YAML, "scenario.yaml")


def _t(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def _item(key: str, team: str, **extra: Any) -> WorkItem:
    values: dict[str, Any] = {
        "key": key,
        "title": f"{key} title",
        "team": team,
        "project": key.split("-", maxsplit=1)[0].split("#", maxsplit=1)[0],
        "url": f"https://example.test/browse/{key}",
        "status_category": "todo",
        "created": _t(1),
    }
    values.update(extra)
    return WorkItem(**values)


def items() -> list[WorkItem]:
    """The work items."""
    return [
        _item("OBJ-1", "unassigned", kind="epic", title="Self-serve onboarding"),
        _item("EPIC-1", "payments", kind="epic", parent="OBJ-1"),
        _item("PAY-1", "payments", status_category="in_progress", parent="EPIC-1"),
        _item("PAY-2", "payments", status_category="in_progress"),
        _item("PAY-5", "payments", status_category="done", resolved=_t(27, 23)),
        _item("PAY-7", "payments", status_category="in_progress"),
        _item("CHK-1", "checkout", status_category="in_progress", labels=["onboarding"]),
        _item("CHK-5", "checkout", status_category="in_progress", created=_t(20)),
        _item("SEC-1", "security", status_category="in_progress"),
        _item(
            "acme/pay#1",
            "payments",
            kind="pull_request",
            created=_t(24, 9),
            review_requested_at=_t(24, 10),
            first_review_at=_t(24, 20),
        ),
        _item(
            "acme/chk#2",
            "checkout",
            kind="pull_request",
            created=_t(25, 0),
            first_review_at=_t(26, 6),
        ),
        _item(
            "acme/chk#3",
            "checkout",
            kind="pull_request",
            created=_t(16),
            first_review_at=_t(18),
        ),
    ]


def links() -> list[Link]:
    """PAY-5 (payments) blocks CHK-5 (checkout)."""
    return [Link(source_key="PAY-5", target_key="CHK-5", type="blocks", origin="PAY-5")]


def _finding(fid: str, kind: str, teams: list[str], keys: list[str], **extra: Any) -> Finding:
    values: dict[str, Any] = {
        "id": fid,
        "kind": kind,
        "teams": teams,
        "item_keys": keys,
        "summary": f"{kind.replace('_', ' ')} between {' and '.join(keys)}",
        "severity": "medium",
        "score": 0.5,
        "status": "open",
        "last_seen": NOW,
    }
    values.update(extra)
    return Finding(**values)


def findings() -> list[Finding]:
    """The findings (F5 touches the restricted security team)."""
    return [
        _finding(
            "dup-f1",
            "duplicate",
            ["payments", "checkout"],
            ["PAY-1", "CHK-1"],
            first_seen=_t(24),
            score=0.91,
            severity="high",
            summary="PAY-1 and CHK-1 both rebuild the card form <!channel> & co",
        ),
        _finding(
            "pri-f2", "priority_inversion", ["payments", "checkout"], ["PAY-2", "CHK-5"],
            first_seen=_t(10),
        ),
        _finding(
            "sta-f3", "stale_pr", ["payments"], ["acme/pay#1"],
            first_seen=_t(2), status="resolved", resolved_at=_t(25),
        ),
        _finding("sta-f4", "stale_pr", ["checkout"], ["acme/chk#2"], first_seen=_t(26)),
        _finding(
            "dup-f5", "duplicate", ["payments", "security"], ["PAY-2", "SEC-1"],
            first_seen=_t(25), score=0.8,
        ),
        _finding(
            "blo-f6", "blocked", ["payments"], ["PAY-7"],
            first_seen=_t(1), status="dismissed", status_at=_t(20), status_by="ana",
        ),
        _finding("ove-f7", "overdue", ["checkout"], ["CHK-5"], first_seen=_t(30, 7)),
    ]  # fmt: skip


def history_weeks(count: int = len(ORG_OPEN_HISTORY)) -> list[date]:
    """The weeks before REPORT_WEEK that have history, oldest first."""
    return [REPORT_WEEK - timedelta(days=7 * n) for n in range(count, 0, -1)]


def snapshots() -> list[Snapshot]:
    """Snapshot rows for the organisation and for payments (one open duplicate a week)."""
    rows = []
    weeks = history_weeks()
    for week, open_counts, new, resolved in zip(
        weeks, ORG_OPEN_HISTORY, ORG_NEW_HISTORY, ORG_RESOLVED_HISTORY, strict=True
    ):
        kinds = set(open_counts) | {"duplicate"}
        for kind in sorted(kinds):
            rows.append(
                Snapshot(
                    week=week,
                    team="*",
                    kind=kind,
                    open_count=open_counts.get(kind, 0),
                    new_count=new if kind == "duplicate" else 0,
                    resolved_count=resolved if kind == "duplicate" else 0,
                )
            )
        rows.append(Snapshot(week=week, team="payments", kind="duplicate", open_count=1))
    return rows


def kpis() -> list[WeeklyKpi]:
    """WeeklyKpi history rows for the organisation."""
    return [
        WeeklyKpi(week=week, team="*", name=name, value=value)
        for week, values in KPI_HISTORY.items()
        for name, value in values.items()
    ]


def seed(store: Store) -> None:
    """Write the scenario into an empty store."""
    with store.session() as session:
        session.add_all(items())
        session.add_all(links())
        session.add_all(findings())
        session.add_all(snapshots())
        session.add_all(kpis())


def write_docs_sample(directory: str = "docs") -> None:
    """Write the scenario's weekly report (Markdown and chart) into `directory`."""
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from bot.reports import build_weekly_report, report_markdown  # noqa: PLC0415

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        store = Store(f"sqlite:///{scratch}/scenario.db")
        seed(store)
        report = build_weekly_report(store, load_config(), NOW, channel="#eng-leads")
        store.dispose()
    chart = target / "weekly-report-chart.png"
    chart.write_bytes(report.chart_png())
    (target / "weekly-report-sample.md").write_text(
        report_markdown(report, chart_path=chart.name), encoding="utf-8"
    )


if __name__ == "__main__":
    write_docs_sample()
