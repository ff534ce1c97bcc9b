"""A generated organisation for the sandbox: teams, Jira projects, GitHub repositories, history.

`generate_org(seed, size)` builds a company of five teams, six Jira projects and five GitHub
repositories with twelve weeks of history, reproducible from the seed, and fills the fake
Jira and GitHub models with it. Into the ordinary work it plants one gap of every kind the
detectors know, each recorded with its answer (`Organisation.planted`), plus realistic noise
that must *not* be flagged: near-duplicates that are different work, links that look like
inversions but are fine (one level apart, or the blocker already in progress), slow pull
requests that are drafts.

Background work is generated so that it carries no gap by construction (active high-priority
work, reviews within a day, merged pull requests only for done tickets, due dates ahead,
children ranked near their parents, at most a few items in progress per person), so what the
detectors find beyond the planted gaps is a false alarm.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox.github_server import GitHubModel
from sandbox.jira_server import JiraModel

PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest"]
HISTORY_DAYS = 84


@dataclass(frozen=True)
class TeamSpec:
    """One generated team and what it owns."""

    name: str
    channel: str
    projects: tuple[str, ...]
    repo: str
    subjects: tuple[str, ...]


TEAMS = (
    TeamSpec(
        "payments",
        "#payments",
        ("PAY",),
        "acme/payments-api",
        (
            "refund flow",
            "payout scheduler",
            "invoice PDF renderer",
            "currency rounding",
            "card vault",
            "3-D Secure challenge",
            "settlement report",
            "chargeback webhook",
            "ledger reconciliation",
            "VAT calculation",
        ),
    ),
    TeamSpec(
        "platform",
        "#platform",
        ("CORE",),
        "acme/platform",
        (
            "service mesh",
            "feature flag service",
            "Kafka consumer group",
            "Postgres failover",
            "build cache",
            "secrets rotation",
            "Terraform modules",
            "tracing exporter",
            "container base image",
            "deploy pipeline",
        ),
    ),
    TeamSpec(
        "mobile",
        "#mobile",
        ("MOB",),
        "acme/mobile-app",
        (
            "push notification opt-in",
            "biometric unlock",
            "App Store screenshots",
            "crash reporter",
            "deep link router",
            "tablet layout",
            "in-app review prompt",
            "Android widget",
            "image picker",
            "accessibility labels",
        ),
    ),
    TeamSpec(
        "growth",
        "#growth",
        ("GRO", "ONB"),
        "acme/web",
        (
            "signup funnel",
            "referral credits",
            "pricing page experiment",
            "welcome email sequence",
            "trial expiry banner",
            "onboarding checklist",
            "landing page hero",
            "UTM attribution",
            "newsletter preferences",
            "product tour",
        ),
    ),
    TeamSpec(
        "data",
        "#data",
        ("DATA",),
        "acme/data-pipeline",
        (
            "nightly ETL job",
            "dbt models",
            "warehouse partitioning",
            "churn dashboard",
            "event schema registry",
            "Airflow DAG retries",
            "GDPR deletion job",
            "revenue cohort table",
            "Looker explores",
            "late-arriving events",
        ),
    ),
)
ACTIONS = (
    (
        "Add retries to the {s}",
        "The {s} gives up on the first transient error. Retry with backoff.",
    ),
    ("Fix timeout in {s}", "Requests to the {s} time out under load since the last release."),
    (
        "Log {s} failures with request ids",
        "Support cannot trace {s} failures; add structured logs.",
    ),
    (
        "Migrate {s} to the v2 API",
        "The v1 API behind the {s} is deprecated at the end of the quarter.",
    ),
    ("Document {s} edge cases", "Write down how the {s} behaves in the odd cases we keep hitting."),
    ("Speed up {s} queries", "The {s} is slow for the largest customers; profile and fix."),
    ("Remove dead code from {s}", "Old branches in the {s} are never taken any more."),
    ("Add metrics for {s}", "We have no dashboard for the {s}; expose counters and latencies."),
    ("Upgrade dependencies of {s}", "Several libraries used by the {s} are two majors behind."),
    ("Write integration tests for {s}", "The {s} has no end-to-end coverage."),
)
FIRST_NAMES = (
    "Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kira",
    "Luca", "Maya", "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Vik",
)  # fmt: skip
LAST_NAMES = ("Silva", "Meyer", "Okafor", "Tanaka", "Novak", "Haddad", "Larsen", "Costa", "Iyer")
OBJECTIVES = (
    {"key": "OBJ-1", "title": "Self-serve onboarding", "labels": ["onboarding"]},
    {"key": "OBJ-2", "title": "Reliable payments", "labels": ["reliability"]},
)
OBJECTIVE_LABELS = ("onboarding", "reliability")


@dataclass(frozen=True)
class PlantedGap:
    """A gap put into the organisation on purpose, and how to recognise its finding."""

    kind: str
    keys: tuple[str, ...]
    """Items the finding must touch (all of them); empty for team-level gaps."""
    team: str = ""
    """For team-level gaps (focus drift, unaligned work): the team the finding names."""
    note: str = ""


@dataclass
class Organisation:
    """The generated company, its fake Jira and GitHub data, and the planted answers."""

    seed: int
    now: datetime
    jira: JiraModel
    github: GitHubModel
    people: dict[str, str] = field(default_factory=dict)
    """Display name -> e-mail."""
    planted: list[PlantedGap] = field(default_factory=list)

    def config(self, *, timezone: str = "UTC") -> dict[str, Any]:
        """The gapbot.yaml content for this organisation (URLs come from the environment)."""
        return {
            "timezone": timezone,
            # The sandbox posts at any hour, so the demo shows alerts whenever it runs.
            "slack": {
                "report_channel": "#eng-leads",
                "working_hours": "00:00-24:00",
                "working_days": ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"],
            },
            "teams": [
                {
                    "name": team.name,
                    "slack_channel": team.channel,
                    "jira_projects": list(team.projects),
                    "github_repos": [team.repo],
                }
                for team in TEAMS
            ],
            "objectives": [dict(o) for o in OBJECTIVES],
        }

    def item_count(self) -> int:
        """How many tickets, issues and pull requests the organisation holds."""
        github = sum(len(repo["items"]) for repo in self.github.repos.values())
        return len(self.jira.issues) + github


class _Builder:
    """Generates the organisation step by step with one random source."""

    def __init__(self, seed: int, size: float, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.size = size
        self.now = now
        self.jira = JiraModel(deployment="Cloud", time_zone="UTC")
        self.github = GitHubModel()
        self.org = Organisation(seed=seed, now=now, jira=self.jira, github=self.github)
        self.team_people: dict[str, list[str]] = {}
        self.in_progress: dict[str, int] = {}
        self.open_tickets: dict[str, list[dict[str, Any]]] = {}
        self.done_tickets: dict[str, list[dict[str, Any]]] = {}

    def ago(self, days: float, hours: float = 0) -> datetime:
        return self.now - timedelta(days=days, hours=hours)

    # People -----------------------------------------------------------------------------

    def make_people(self) -> None:
        per_team = max(4, round(4 * self.size))
        used: set[str] = set()
        for team in TEAMS:
            names: list[str] = []
            while len(names) < per_team:
                name = f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"
                if name in used:
                    if len(used) >= len(FIRST_NAMES) * len(LAST_NAMES):
                        name = f"{name} {len(used)}"
                    else:
                        continue
                used.add(name)
                names.append(name)
                self.org.people[name] = name.lower().replace(" ", ".") + "@acme.example"
            self.team_people[team.name] = names

    def pick_assignee(self, team: TeamSpec, category: str) -> str:
        people = self.team_people[team.name]
        if category != "indeterminate":
            return self.rng.choice(people)
        # Spread in-progress work so nobody in the background is overloaded.
        name = min(people, key=lambda p: (self.in_progress.get(p, 0), self.rng.random()))
        self.in_progress[name] = self.in_progress.get(name, 0) + 1
        return name

    # Jira -------------------------------------------------------------------------------

    def add_ticket(
        self,
        team: TeamSpec,
        project: str,
        summary: str,
        description: str,
        *,
        category: str,
        priority: str,
        created: datetime,
        updated: datetime | None = None,
        assignee: str | None = None,
        labels: list[str] | None = None,
        issuetype: str = "Story",
        parent: str | None = None,
        due: date | None = None,
        background: bool = True,
    ) -> dict[str, Any]:
        status = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}[category]
        if assignee is None and issuetype != "Epic":
            assignee = self.pick_assignee(team, category)
        if labels is None:
            labels = []
            # Background work in progress serves an objective, except the data team's,
            # which is the planted unaligned work.
            if category == "indeterminate" and team.name != "data":
                labels.append(self.rng.choice(OBJECTIVE_LABELS))
        resolved = None
        if category == "done":
            resolved = updated or created + timedelta(days=self.rng.uniform(1, 10))
            resolved = min(resolved, self.ago(0, 1))
            updated = resolved
        elif updated is None:
            # Background open work is active: touched in the last few days.
            updated = max(created, self.ago(self.rng.uniform(0, 4)))
        issue = self.jira.add_issue(
            project,
            summary,
            description=description,
            status=status,
            category=category,
            priority=priority,
            issuetype=issuetype,
            assignee=assignee,
            assignee_email=self.org.people.get(assignee or ""),
            labels=labels,
            parent=parent,
            created=created,
            updated=updated,
            resolved=resolved,
            due=due,
        )
        if background and issuetype != "Epic":
            bucket = self.done_tickets if category == "done" else self.open_tickets
            if category != "new":
                bucket.setdefault(team.name, []).append(issue)
        return issue

    def background_jira(self) -> None:
        per_project = max(6, round(40 * self.size))
        for team in TEAMS:
            for project in team.projects:
                epics = [
                    self.add_ticket(
                        team,
                        project,
                        f"{project} {half} half: {self.rng.choice(team.subjects)} overhaul",
                        "Umbrella for this half's work.",
                        category="indeterminate",
                        priority="Medium",
                        created=self.ago(HISTORY_DAYS),
                        issuetype="Epic",
                        labels=[] if team.name == "data" else [self.rng.choice(OBJECTIVE_LABELS)],
                    )
                    for half in ("First", "Second")
                ]
                for _ in range(per_project):
                    subject = self.rng.choice(team.subjects)
                    title, body = self.rng.choice(ACTIONS)
                    roll = self.rng.random()
                    category = "done" if roll < 0.45 else "indeterminate" if roll < 0.65 else "new"
                    priority = self.rng.choices(PRIORITIES[1:4], weights=(2, 5, 3))[0]
                    created = self.ago(self.rng.uniform(1, HISTORY_DAYS))
                    due = None
                    if category != "done" and self.rng.random() < 0.3:
                        due = (self.now + timedelta(days=self.rng.randint(5, 40))).date()
                    parent = self.rng.choice(epics)["key"] if self.rng.random() < 0.5 else None
                    self.add_ticket(
                        team,
                        project,
                        title.format(s=subject),
                        body.format(s=subject),
                        category=category,
                        priority=priority,
                        created=created,
                        parent=parent,
                        due=due,
                        issuetype=self.rng.choice(("Story", "Task", "Bug")),
                    )

    # GitHub -----------------------------------------------------------------------------

    def add_pull(
        self,
        team: TeamSpec,
        ticket: dict[str, Any] | None,
        title: str,
        *,
        created: datetime,
        merged_at: datetime | None = None,
        draft: bool = False,
        reviewed_after: timedelta | None = None,
        files: list[str] | None = None,
        body: str = "",
    ) -> dict[str, Any]:
        login = self.rng.choice(self.team_people[team.name]).split()[0].lower()
        reviewer = self.rng.choice(self.team_people[team.name]).split()[0].lower()
        reviews = []
        if reviewed_after is not None:
            reviews.append(
                {"user": reviewer, "state": "APPROVED", "submitted_at": created + reviewed_after}
            )
        head = f"{ticket['key'].lower()}-work" if ticket else f"fix-{self.rng.randrange(1000)}"
        prefix = f"{ticket['key']}: " if ticket else ""
        updated = max(created, merged_at or created, created + (reviewed_after or timedelta(0)))
        return self.github.add_pull(
            team.repo,
            prefix + title,
            body=body or (f"Implements {ticket['key']}." if ticket else ""),
            head=head,
            draft=draft,
            merged_at=merged_at,
            requested_reviewers=[] if reviews else [reviewer],
            reviews=reviews,
            files=files or [f"src/{title.rsplit(maxsplit=1)[-1].lower()}.py", "tests/test_app.py"],
            user=login,
            created=created,
            updated=updated,
        )

    def background_github(self) -> None:
        per_repo = max(4, round(25 * self.size))
        for team in TEAMS:
            self.github.add_repo(team.repo)
            done = list(self.done_tickets.get(team.name, []))
            active = [
                t for t in self.open_tickets.get(team.name, []) if t["category"] == "indeterminate"
            ]
            self.rng.shuffle(done)
            self.rng.shuffle(active)
            for n in range(per_repo):
                if n % 3 != 2 and done:
                    ticket = done.pop()
                    merged = ticket["resolved"] - timedelta(hours=self.rng.uniform(1, 20))
                    created = merged - timedelta(days=self.rng.uniform(0.5, 3))
                    self.add_pull(
                        team,
                        ticket,
                        ticket["summary"],
                        created=created,
                        merged_at=merged,
                        reviewed_after=timedelta(hours=self.rng.uniform(1, 6)),
                    )
                elif active:
                    ticket = active.pop()
                    created = self.ago(self.rng.uniform(0.2, 5))
                    self.add_pull(
                        team,
                        ticket,
                        ticket["summary"],
                        created=created,
                        reviewed_after=timedelta(hours=self.rng.uniform(1, 4)),
                    )
            for _ in range(max(2, round(10 * self.size))):
                subject = self.rng.choice(team.subjects)
                created = self.ago(self.rng.uniform(1, HISTORY_DAYS))
                closed = self.rng.random() < 0.5
                self.github.add_issue(
                    team.repo,
                    f"{subject.capitalize()} shows a blank screen for some users",
                    body=f"Reported by support: the {subject} sometimes renders nothing.",
                    state="closed" if closed else "open",
                    created=created,
                    updated=created + timedelta(days=1) if closed else max(created, self.ago(2)),
                    closed=created + timedelta(days=1) if closed else None,
                )

    # Planted gaps -----------------------------------------------------------------------

    def team(self, name: str) -> TeamSpec:
        return next(t for t in TEAMS if t.name == name)

    def plant(self, kind: str, keys: tuple[str, ...] = (), team: str = "", note: str = "") -> None:
        self.org.planted.append(PlantedGap(kind=kind, keys=keys, team=team, note=note))

    def plant_duplicates(self) -> None:
        platform, growth = self.team("platform"), self.team("growth")
        payments, mobile, data = self.team("payments"), self.team("mobile"), self.team("data")
        a = self.add_ticket(
            platform, "CORE", "Add Okta SSO login for the admin console",
            "Enterprise customers want to sign in to the admin console with Okta. "
            "Implement SAML SSO with Okta as the identity provider.",
            category="indeterminate", priority="High", created=self.ago(6), background=False,
        )  # fmt: skip
        b = self.add_ticket(
            growth, "ONB", "Support Okta single sign-on (SSO) for admin console users",
            "Big accounts ask for Okta SSO when their admins log in to the console. "
            "Add SAML login through Okta.",
            category="new", priority="Medium", created=self.ago(3), labels=["onboarding"],
            background=False,
        )  # fmt: skip
        self.plant("duplicate", (a["key"], b["key"]), note="two teams build Okta SSO")
        c = self.add_ticket(
            payments, "PAY", "Rate limit the public refunds API per merchant",
            "A single merchant can flood the refunds endpoint. Add a per-merchant rate limit "
            "with 429 responses and a Retry-After header.",
            category="new", priority="Medium", created=self.ago(9), background=False,
        )  # fmt: skip
        d = self.add_ticket(
            platform, "CORE", "Per-merchant rate limiting on public API endpoints (refunds first)",
            "Introduce a per-merchant rate limit in the API gateway, answering 429 with "
            "Retry-After; the refunds endpoint is the first to need it.",
            category="indeterminate", priority="Medium", created=self.ago(4), background=False,
        )  # fmt: skip
        self.plant("duplicate", (c["key"], d["key"]), note="rate limiting built twice")
        e = self.add_ticket(
            data, "DATA", "Export merchant order history as CSV",
            "Merchants want to download their full order history as a CSV file from the "
            "dashboard, with dates, amounts and status.",
            category="done", priority="Medium", created=self.ago(20), updated=self.ago(8),
            background=False,
        )  # fmt: skip
        f = self.add_ticket(
            payments, "PAY", "CSV export of the merchant order history",
            "Let merchants download their order history (dates, amounts, status) as a CSV "
            "file from the dashboard.",
            category="new", priority="Medium", created=self.ago(2), background=False,
        )  # fmt: skip
        self.plant("duplicate", (e["key"], f["key"]), note="already solved by the data team")
        g = self.add_ticket(
            mobile, "MOB", "Dark mode toggle in the app settings screen",
            "Users want to switch between light and dark mode from the settings screen.",
            category="new", priority="Medium", created=self.ago(5), background=False,
        )  # fmt: skip
        pr = self.add_pull(
            growth, None, "Add a dark mode toggle to the settings screen",
            created=self.ago(1), reviewed_after=timedelta(hours=2),
            files=["web/settings/theme.tsx", "web/settings/page.tsx"],
            body="Adds a light/dark mode switch on the settings screen.",
        )  # fmt: skip
        self.plant(
            "duplicate",
            (g["key"], f"{growth.repo}#{pr['number']}"),
            note="a pull request of one team does another team's ticket",
        )
        # Noise: the same subject, different work.
        self.add_ticket(
            payments, "PAY", "Okta SSO: show the last admin login time on the audit page",
            "Auditors want the time of each admin's last login on the audit page.",
            category="new", priority="Low", created=self.ago(4), background=False,
        )  # fmt: skip
        self.add_ticket(
            mobile, "MOB", "Crash reporter: upload symbols for release builds",
            "Stack traces from release builds are unreadable without symbols.",
            category="new", priority="Medium", created=self.ago(3), background=False,
        )  # fmt: skip

    def plant_priorities(self) -> None:
        payments, platform = self.team("payments"), self.team("platform")
        mobile, data, growth = self.team("mobile"), self.team("data"), self.team("growth")
        waiting = self.add_ticket(
            payments, "PAY", "Launch instant payouts for marketplace sellers",
            "Sellers get their money the same day.", category="indeterminate",
            priority="Highest", created=self.ago(3), labels=["reliability"], background=False,
        )  # fmt: skip
        blocker = self.add_ticket(
            platform, "CORE", "Raise the payout queue's message size limit",
            "Instant payouts need bigger messages on the queue.", category="new",
            priority="Low", created=self.ago(3), background=False,
        )  # fmt: skip
        self.jira.add_link(blocker["key"], "Blocks", waiting["key"])
        self.plant("priority_inversion", (waiting["key"], blocker["key"]))
        # Noise: one level apart, and a low blocker that is already being worked on.
        near = self.add_ticket(
            mobile, "MOB", "Show payout status in the seller app",
            "Sellers ask where their money is.", category="indeterminate", priority="High",
            created=self.ago(2), labels=["reliability"], background=False,
        )  # fmt: skip
        near_blocker = self.add_ticket(
            data, "DATA", "Expose payout events to the mobile API",
            "The app needs payout events.", category="new", priority="Medium",
            created=self.ago(2), background=False,
        )  # fmt: skip
        self.jira.add_link(near_blocker["key"], "Blocks", near["key"])
        busy = self.add_ticket(
            growth, "GRO", "Referral payouts in the seller dashboard",
            "Referral credits paid out with sellers' payouts.", category="indeterminate",
            priority="Highest", created=self.ago(2), labels=["onboarding"], background=False,
        )  # fmt: skip
        busy_blocker = self.add_ticket(
            platform, "CORE", "Idempotency keys for the payouts queue",
            "Avoid double payouts on retries.", category="indeterminate", priority="Low",
            created=self.ago(2), labels=["reliability"], background=False,
        )  # fmt: skip
        self.jira.add_link(busy_blocker["key"], "Blocks", busy["key"])

        epic = self.add_ticket(
            mobile, "MOB", "Tap to pay on iPhone", "Accept card payments on the phone.",
            category="indeterminate", priority="Highest", created=self.ago(30),
            issuetype="Epic", labels=["reliability"], background=False,
        )  # fmt: skip
        for title in ("NFC entitlement request", "Card reader UI", "Receipt screen"):
            self.add_ticket(
                mobile, "MOB", f"Tap to pay: {title}", f"{title} for tap to pay.",
                category="new", priority="Low", created=self.ago(29), parent=epic["key"],
                background=False,
            )  # fmt: skip
        self.plant("parent_child_priority", (epic["key"],))

        for title in ("Fix signup for SSO-only domains", "Stop duplicate welcome emails"):
            self.add_ticket(
                growth, "GRO", title, "Customers are affected every day.", category="new",
                priority="Highest", created=self.ago(25), updated=self.ago(12),
                labels=["onboarding"], background=False,
            )  # fmt: skip
        self.plant("focus_drift", team="growth")
        # The data team's in-progress work serves no objective (see add_ticket); make sure
        # there is enough of it.
        for title in (
            "Rebuild the dbt docs site",
            "Try DuckDB for ad-hoc queries",
            "Tidy Looker folders",
        ):
            self.add_ticket(
                data, "DATA", title, "Housekeeping.", category="indeterminate",
                priority="Medium", created=self.ago(6), labels=[], background=False,
            )  # fmt: skip
        self.plant("unaligned_work", team="data")

    def plant_delivery(self) -> None:
        payments, platform = self.team("payments"), self.team("platform")
        data, growth = self.team("data"), self.team("growth")
        ticket = self.add_ticket(
            payments, "PAY", "Retry failed SEPA payouts automatically",
            "Failed SEPA payouts need a manual retry today.", category="indeterminate",
            priority="High", created=self.ago(10), labels=["reliability"], background=False,
        )  # fmt: skip
        pr = self.add_pull(
            payments, ticket, "Retry failed SEPA payouts automatically", created=self.ago(6),
            files=["payouts/sepa.py", "payouts/retry.py"],
        )  # fmt: skip
        self.plant("stale_pr", (f"{payments.repo}#{pr['number']}",))
        # Noise: a slow pull request that is a draft.
        draft_ticket = self.add_ticket(
            payments, "PAY", "Spike: payouts in Brazilian real",
            "Explore BRL payouts.", category="indeterminate", priority="Low",
            created=self.ago(12), labels=["reliability"], background=False,
        )  # fmt: skip
        self.add_pull(
            payments, draft_ticket, "Spike: payouts in Brazilian real", created=self.ago(8),
            draft=True,
        )  # fmt: skip

        blocked = self.add_ticket(
            data, "DATA", "Load payout events into the warehouse",
            "Finance needs payout events in the warehouse.", category="indeterminate",
            priority="Medium", created=self.ago(12), labels=[], background=False,
        )  # fmt: skip
        by = self.add_ticket(
            payments, "PAY", "Publish payout events to Kafka",
            "Other teams need payout events.", category="new", priority="Medium",
            created=self.ago(12), background=False,
        )  # fmt: skip
        self.jira.add_link(by["key"], "Blocks", blocked["key"])
        self.plant("blocked", (blocked["key"], by["key"]))

        late = self.add_ticket(
            growth, "ONB", "Self-serve plan upgrade in the billing page",
            "Customers cannot upgrade without talking to sales.", category="indeterminate",
            priority="High", created=self.ago(30), labels=["onboarding"],
            due=(self.now - timedelta(days=9)).date(), background=False,
        )  # fmt: skip
        self.plant("overdue", (late["key"],))

        drifting = self.add_ticket(
            platform, "CORE", "Rotate database credentials every 30 days",
            "Compliance asks for regular rotation.", category="indeterminate",
            priority="Medium", created=self.ago(15), labels=["reliability"], background=False,
        )  # fmt: skip
        merged = self.add_pull(
            platform, drifting, "Rotate database credentials every 30 days",
            created=self.ago(8), merged_at=self.ago(6), reviewed_after=timedelta(hours=3),
        )  # fmt: skip
        self.plant("status_drift", (f"{platform.repo}#{merged['number']}", drifting["key"]))

    def plant_overload(self) -> None:
        payments, platform = self.team("payments"), self.team("platform")
        name = "Sam Rivera"
        self.org.people[name] = "sam.rivera@acme.example"
        keys = []
        for n, (team, project) in enumerate(
            [(payments, "PAY")] * 4 + [(platform, "CORE")] * 3, start=1
        ):
            issue = self.add_ticket(
                team, project, f"Support rotation task {n} for {team.name}",
                "On-call follow-up.", category="indeterminate", priority="Medium",
                created=self.ago(5), assignee=name, labels=["reliability"], background=False,
            )  # fmt: skip
            keys.append(issue["key"])
        self.plant("overload", tuple(keys), note=f"{name} holds 7 items in progress")


def generate_org(seed: int = 7, size: float = 1.0, now: datetime | None = None) -> Organisation:
    """Build the sandbox organisation; the same seed and size give the same company."""
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    builder = _Builder(seed, size, moment)
    builder.make_people()
    builder.background_jira()
    builder.plant_duplicates()
    builder.plant_priorities()
    builder.plant_delivery()
    builder.plant_overload()
    builder.background_github()
    return builder.org
