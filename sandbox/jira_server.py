"""A fake Jira (Cloud or Data Center) over real HTTP, backed by a plain in-memory model.

It answers what gapbot's connector and the `jira` library ask, shaped like the real APIs
(see ../shared/fixtures/jira): `serverInfo`, `myself` (with the user's time zone), `field`,
`priority`, `project/{key}`, `issue/{key}` and search: Cloud's `/rest/api/3/search/jql`
(paged by `nextPageToken`, ADF descriptions) or Data Center's `/rest/api/2/search` (paged by
`startAt`/`total`, string descriptions, an "Epic Link" custom field).

JQL: only what gapbot sends — clauses joined by AND: `project in (A, B)`, `project = A`,
`labels = x`, `component = x`, `updated >= "yyyy-MM-dd HH:mm"` (read in the user's time zone,
as Jira does) and `ORDER BY updated ASC`. Anything else is a 400 like Jira's.

The model (`JiraModel`) is a list of plain issue dicts; tests and `gapbot demo` fill it with
`add_issue`, change it with `update_issue`, `move_issue`, `delete_issue` and `add_link`.
"""

from __future__ import annotations

import base64
import re
import threading
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sandbox.http import FakeServer, Request, Response, json_response

Deployment = Literal["Cloud", "Server"]

STATUS_CATEGORIES = {
    "new": (2, "blue-gray", "To Do"),
    "indeterminate": (4, "yellow", "In Progress"),
    "done": (3, "green", "Done"),
}
LINK_TYPES = {
    "Blocks": ("10000", "is blocked by", "blocks"),
    "Duplicate": ("10002", "is duplicated by", "duplicates"),
    "Relates": ("10003", "relates to", "relates to"),
    "Cloners": ("10001", "is cloned by", "clones"),
}
DEFAULT_PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest"]
EPIC_LINK_FIELD = "customfield_10008"
SPRINT_FIELD = "customfield_10007"


def _stable(text: str) -> int:
    """A number from text that is the same in every process (unlike hash())."""
    return zlib.crc32(text.encode())


def jira_time(value: datetime) -> str:
    """Jira's timestamp format: `2025-09-11T22:30:20.814+0000`."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def adf(text: str | None) -> dict[str, Any] | None:
    """Plain text as an Atlassian Document Format doc: one paragraph per line."""
    if text is None:
        return None
    content = []
    for line in text.split("\n"):
        paragraph: dict[str, Any] = {"type": "paragraph", "content": []}
        if line:
            paragraph["content"].append({"type": "text", "text": line})
        content.append(paragraph)
    return {"type": "doc", "version": 1, "content": content}


@dataclass
class JiraModel:
    """The fake site's data: projects, issues, links, priorities and the token's user."""

    deployment: Deployment = "Cloud"
    time_zone: str = "America/New_York"
    """The time zone of the user the token belongs to; JQL dates are read in it."""
    priorities: list[str] = field(default_factory=lambda: list(DEFAULT_PRIORITIES))
    projects: dict[str, str] = field(default_factory=dict)
    """Project key -> name."""
    issues: list[dict[str, Any]] = field(default_factory=list)
    links: list[tuple[str, str, str]] = field(default_factory=list)
    """(link type name, outward issue id, inward issue id)."""
    moved: dict[str, str] = field(default_factory=dict)
    """Old key -> issue id, for issues moved to another project."""
    epic_link_field: str = EPIC_LINK_FIELD
    email: str = "bot@example.com"
    token: str = "jira-token"
    """The API token (Cloud, with `email`) or personal access token (Data Center)."""
    version: int = 0
    """Bumped on every change; the search cache keys on it."""
    lock: threading.RLock = field(default_factory=threading.RLock)
    _next_id: int = 10000
    _next_number: dict[str, int] = field(default_factory=dict)
    _by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    _by_key: dict[str, dict[str, Any]] = field(default_factory=dict)

    def now(self) -> datetime:
        """The server's clock (UTC, millisecond precision as Jira stores)."""
        moment = datetime.now(UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def add_project(self, key: str, name: str | None = None) -> None:
        """Create a project (issues of an unknown project create it too)."""
        with self.lock:
            self.projects.setdefault(key, name or key.title())
            self.version += 1

    def add_issue(
        self,
        project: str,
        summary: str,
        *,
        key: str | None = None,
        description: str | None = "",
        status: str = "To Do",
        category: str = "new",
        priority: str | None = "Medium",
        issuetype: str = "Task",
        assignee: str | None = None,
        assignee_email: str | None = None,
        components: list[str] | None = None,
        labels: list[str] | None = None,
        parent: str | None = None,
        epic: str | None = None,
        created: datetime | None = None,
        updated: datetime | None = None,
        resolved: datetime | None = None,
        due: date | None = None,
    ) -> dict[str, Any]:
        """Add an issue and return its model dict (`key`, `id` and the rest)."""
        with self.lock:
            self.add_project(project)
            if key is None:
                number = self._next_number.get(project, 0) + 1
                key = f"{project}-{number}"
            else:
                number = int(key.rsplit("-", 1)[1])
            self._next_number[project] = max(self._next_number.get(project, 0), number)
            self._next_id += 1
            created = created or self.now()
            issue: dict[str, Any] = {
                "id": str(self._next_id),
                "key": key,
                "project": project,
                "summary": summary,
                "description": description,
                "status": status,
                "category": category,
                "priority": priority,
                "issuetype": issuetype,
                "assignee": assignee,
                "assignee_email": assignee_email,
                "components": list(components or []),
                "labels": list(labels or []),
                "parent": parent,
                "epic": epic,
                "created": created,
                "updated": updated or created,
                "resolved": resolved,
                "due": due,
            }
            self.issues.append(issue)
            self._by_id[issue["id"]] = issue
            self._by_key[key] = issue
            self.version += 1
            return issue

    def get(self, key_or_id: str) -> dict[str, Any] | None:
        """An issue by key, old key (moved) or id."""
        with self.lock:
            if key_or_id in self._by_key:
                return self._by_key[key_or_id]
            if key_or_id in self.moved:
                return self._by_id.get(self.moved[key_or_id])
            return self._by_id.get(key_or_id)

    def update_issue(self, key: str, **changes: Any) -> dict[str, Any]:
        """Change fields of an issue; `updated` moves to now unless given."""
        with self.lock:
            issue = self.get(key)
            if issue is None:
                raise KeyError(key)
            issue.update(changes)
            if "updated" not in changes:
                issue["updated"] = self.now()
            self.version += 1
            return issue

    def move_issue(self, key: str, project: str) -> dict[str, Any]:
        """Move an issue to another project: new key, same id; the old key still resolves."""
        with self.lock:
            issue = self.get(key)
            if issue is None:
                raise KeyError(key)
            self.add_project(project)
            number = self._next_number.get(project, 0) + 1
            self._next_number[project] = number
            old = issue["key"]
            del self._by_key[old]
            self.moved[old] = issue["id"]
            issue["key"] = f"{project}-{number}"
            issue["project"] = project
            issue["updated"] = self.now()
            self._by_key[issue["key"]] = issue
            for other in self.issues:
                if other["parent"] == old:
                    other["parent"] = issue["key"]
                if other["epic"] == old:
                    other["epic"] = issue["key"]
            self.version += 1
            return issue

    def delete_issue(self, key: str) -> None:
        """Delete an issue (its links go with it)."""
        with self.lock:
            issue = self.get(key)
            if issue is None:
                raise KeyError(key)
            self.issues.remove(issue)
            del self._by_key[issue["key"]]
            del self._by_id[issue["id"]]
            self.links = [link for link in self.links if issue["id"] not in link[1:]]
            self.version += 1

    def add_link(self, outward_key: str, link_type: str, inward_key: str) -> None:
        """`outward_key` <type's outward verb> `inward_key`, e.g. A blocks B (type Blocks)."""
        with self.lock:
            outward, inward = self.get(outward_key), self.get(inward_key)
            if outward is None or inward is None or link_type not in LINK_TYPES:
                raise KeyError(f"{outward_key} {link_type} {inward_key}")
            self.links.append((link_type, outward["id"], inward["id"]))
            self.version += 1


class JqlError(ValueError):
    """JQL the fake (or Jira) cannot run; the message is Jira's."""


_CLAUSE_PROJECT_IN = re.compile(r"project\s+in\s*\(([^)]*)\)", re.I)
_CLAUSE_EQ = re.compile(r"(project|labels|component)\s*=\s*\"?([^\"\s]+)\"?", re.I)
_CLAUSE_UPDATED = re.compile(r"updated\s*>=\s*\"(\d{4}-\d{2}-\d{2} \d{2}:\d{2})\"", re.I)
_ORDER = re.compile(r"\s+order\s+by\s+(\w+)\s*(asc|desc)?\s*$", re.I)
_AND = re.compile(r"\s+and\s+", re.I)


def _split_top(text: str) -> list[str]:
    """Split on AND outside parentheses."""
    parts, depth, start = [], 0, 0
    for match in re.finditer(r"[()]|\s+and\s+", text, re.I):
        token = match.group(0)
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        elif depth == 0:
            parts.append(text[start : match.start()])
            start = match.end()
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _wrapped(text: str) -> bool:
    """Whether one pair of parentheses encloses all of `text`."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for position, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and position < len(text) - 1:
            return False
    return True


def compile_jql(jql: str, model: JiraModel) -> tuple[list[Any], bool]:
    """Turn JQL into a list of predicates and whether to sort ascending by `updated`."""
    order = _ORDER.search(jql)
    where = jql[: order.start()] if order else jql
    ascending = True
    if order:
        if order.group(1).lower() != "updated":
            raise JqlError(f"Field '{order.group(1)}' is not supported by the fake for ordering.")
        ascending = (order.group(2) or "DESC").upper() == "ASC"
    predicates: list[Any] = []
    zone = ZoneInfo(model.time_zone)

    def add(clause: str) -> None:
        clause = clause.strip()
        while _wrapped(clause):
            clause = clause[1:-1].strip()
        if len(_split_top(clause)) > 1:
            for part in _split_top(clause):
                add(part)
            return
        if re.search(r"\bor\b", clause, re.I):
            raise JqlError("The fake Jira does not support OR.")
        if match := _CLAUSE_PROJECT_IN.fullmatch(clause):
            keys = [k.strip().strip('"') for k in match.group(1).split(",") if k.strip()]
            for key in keys:
                if key not in model.projects:
                    raise JqlError(f"The value '{key}' does not exist for the field 'project'.")
            wanted = set(keys)
            predicates.append(lambda issue: issue["project"] in wanted)
        elif match := _CLAUSE_EQ.fullmatch(clause):
            name, value = match.group(1).lower(), match.group(2)
            if name == "project":
                if value not in model.projects:
                    raise JqlError(f"The value '{value}' does not exist for the field 'project'.")
                predicates.append(lambda issue: issue["project"] == value)
            elif name == "labels":
                predicates.append(lambda issue: value in issue["labels"])
            else:
                predicates.append(lambda issue: value in issue["components"])
        elif match := _CLAUSE_UPDATED.fullmatch(clause):
            local = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=zone)
            since = local.astimezone(UTC)
            predicates.append(lambda issue: issue["updated"] >= since)
        elif clause:
            raise JqlError(f"Error in the JQL Query: the fake cannot read '{clause}'.")

    if where.strip():
        add(where)
    return predicates, ascending


def jira_error(status: int, *messages: str) -> Response:
    """Jira's error body: `{"errorMessages": [...], "errors": {}}`."""
    return json_response({"errorMessages": list(messages), "errors": {}}, status)


class JiraServer(FakeServer):
    """The fake Jira site on localhost; `model` is its data."""

    def __init__(self, model: JiraModel | None = None, *, max_page: int = 100) -> None:
        """Serve `model` (a new Cloud site if None); pages hold at most `max_page` issues."""
        super().__init__()
        self.model = model or JiraModel()
        self.max_page = max_page
        self._cache: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        for version in ("2", "3", "latest"):
            base = f"/rest/api/{version}"
            self.route("GET", f"{base}/serverInfo", self._server_info)
            self.route("GET", f"{base}/myself", self._auth(self._myself))
            self.route("GET", f"{base}/field", self._auth(self._fields))
            self.route("GET", f"{base}/priority", self._auth(self._priorities))
            self.route("GET", f"{base}/project/(?P<key>[^/]+)", self._auth(self._project))
            self.route("GET", f"{base}/issue/(?P<key>[^/]+)", self._auth(self._issue))
            self.route("GET", f"{base}/issueLinkType", self._auth(self._link_types))
            self.route("POST", f"{base}/issueLink", self._auth(self._create_link))
        self.route("GET", "/rest/api/2/search", self._auth(self._search_dc))
        self.route("POST", "/rest/api/2/search", self._auth(self._search_dc))
        for version in ("2", "3"):
            self.route("GET", f"/rest/api/{version}/search/jql", self._auth(self._search_cloud))
            self.route("POST", f"/rest/api/{version}/search/jql", self._auth(self._search_cloud))

    @property
    def cloud(self) -> bool:
        """Whether this is a Cloud site."""
        return self.model.deployment == "Cloud"

    def not_found(self, request: Request) -> Response:
        """Jira's 404 for an unknown resource."""
        if self.cloud and re.fullmatch(r"/rest/api/[23]/search", request.path):
            # Cloud switched the old search off (API-FACTS): 410 Gone.
            removed = "The requested API has been removed. Use /rest/api/3/search/jql."
            return jira_error(410, removed)
        return jira_error(404, "null for uri: " + request.path)

    # -- auth ---------------------------------------------------------------------------
    def _authorized(self, request: Request) -> bool:
        header = request.header("Authorization") or ""
        if self.cloud:
            expected = base64.b64encode(f"{self.model.email}:{self.model.token}".encode()).decode()
            return header == f"Basic {expected}"
        return header == f"Bearer {self.model.token}"

    def _auth(self, handler: Any) -> Any:
        def checked(request: Request) -> Response:
            if not self._authorized(request):
                return jira_error(
                    401,
                    "You are not authenticated. Authentication required to perform this operation.",
                )
            return handler(request)

        return checked

    # -- simple resources ---------------------------------------------------------------
    def _server_info(self, request: Request) -> Response:
        now = jira_time(self.model.now())
        if self.cloud:
            return json_response(
                {
                    "baseUrl": self.url,
                    "version": "1001.0.0-SNAPSHOT",
                    "versionNumbers": [1001, 0, 0],
                    "deploymentType": "Cloud",
                    "buildNumber": 100218,
                    "buildDate": "2026-10-01T08:21:48.000+0000",
                    "serverTime": now,
                    "scmInfo": "0" * 40,
                    "serverTitle": "JIRA",
                    "defaultLocale": {"locale": "en_US"},
                }
            )
        return json_response(
            {
                "baseUrl": self.url,
                "version": "9.12.15",
                "versionNumbers": [9, 12, 15],
                "deploymentType": "Server",
                "buildNumber": 9120015,
                "buildDate": "2024-11-06T00:00:00.000+0000",
                "databaseBuildNumber": 9120015,
                "serverTime": now,
                "scmInfo": "4d9c4bd7a744d02f6fd1c40b1e7bc5cff95adbdc",
                "serverTitle": "Jira",
            }
        )

    def _myself(self, request: Request) -> Response:
        version = "3" if "/api/3/" in request.path else "2"
        user = {
            "self": f"{self.url}/rest/api/{version}/user?accountId=gapbot",
            "displayName": "gapbot",
            "emailAddress": self.model.email,
            "active": True,
            "timeZone": self.model.time_zone,
            "locale": "en_US",
        }
        if self.cloud:
            user.update(
                {"accountId": "5b10a2844c20165700ede21g", "accountType": "atlassian", "key": ""}
            )
            user["name"] = ""
        else:
            user.update({"name": "gapbot", "key": "JIRAUSER10100"})
        return json_response(user)

    def _fields(self, request: Request) -> Response:
        system = [
            ("summary", "Summary", ["summary"], {"type": "string", "system": "summary"}),
            ("status", "Status", ["status"], {"type": "status", "system": "status"}),
            ("priority", "Priority", ["priority"], {"type": "priority", "system": "priority"}),
            ("issuetype", "Issue Type", ["issuetype", "type"], {"type": "issuetype"}),
            ("components", "Component/s", ["component"], {"type": "array", "items": "component"}),
            ("labels", "Labels", ["labels"], {"type": "array", "items": "string"}),
            ("updated", "Updated", ["updated", "updatedDate"], {"type": "datetime"}),
            ("parent", "Parent", ["parent"], {"type": "issuelink"}),
        ]
        fields = [
            {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": False,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": clauses,
                "schema": schema,
            }
            for fid, name, clauses, schema in system
        ]
        if not self.cloud:
            number = self.model.epic_link_field.rsplit("_", 1)[1]
            fields.append(
                {
                    "id": self.model.epic_link_field,
                    "name": "Epic Link",
                    "custom": True,
                    "orderable": True,
                    "navigable": True,
                    "searchable": True,
                    "clauseNames": [f"cf[{number}]", "Epic Link"],
                    "schema": {
                        "type": "any",
                        "custom": "com.pyxis.greenhopper.jira:gh-epic-link",
                        "customId": int(number),
                    },
                }
            )
        fields.append(
            {
                "id": SPRINT_FIELD,
                "name": "Sprint",
                "custom": True,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": ["cf[10007]", "Sprint"],
                "schema": {
                    "type": "array",
                    "items": "string",
                    "custom": "com.pyxis.greenhopper.jira:gh-sprint",
                    "customId": 10007,
                },
            }
        )
        return json_response(fields)

    def _priorities(self, request: Request) -> Response:
        return json_response(
            [
                {
                    "self": f"{self.url}/rest/api/2/priority/{n}",
                    "statusColor": "#cccccc",
                    "description": f"{name} priority",
                    "iconUrl": f"{self.url}/images/icons/priorities/{name.lower()}.svg",
                    "name": name,
                    "id": str(n),
                }
                for n, name in enumerate(self.model.priorities, start=1)
            ]
        )

    def _project(self, request: Request) -> Response:
        key = request.params["key"]
        with self.model.lock:
            name = self.model.projects.get(key)
        if name is None:
            return jira_error(404, f"No project could be found with key '{key}'.")
        return json_response(
            {
                "self": f"{self.url}/rest/api/2/project/{key}",
                "id": str(10000 + sorted(self.model.projects).index(key)),
                "key": key,
                "name": name,
                "projectTypeKey": "software",
                "simplified": False,
                "style": "classic",
            }
        )

    def _issue(self, request: Request) -> Response:
        issue = self.model.get(request.params["key"])
        if issue is None:
            return jira_error(404, "Issue does not exist or you do not have permission to see it.")
        version = "3" if "/api/3/" in request.path else "2"
        with self.model.lock:
            return json_response(self.render(issue, version, None))

    def _link_types(self, request: Request) -> Response:
        return json_response(
            {
                "issueLinkTypes": [
                    {
                        "id": type_id,
                        "name": name,
                        "inward": inward,
                        "outward": outward,
                        "self": f"{self.url}/rest/api/2/issueLinkType/{type_id}",
                    }
                    for name, (type_id, inward, outward) in LINK_TYPES.items()
                ]
            }
        )

    def _create_link(self, request: Request) -> Response:
        """`POST /rest/api/2/issueLink`: 201 with an empty body, as Jira answers.

        Jira reads the body the other way round from its names: the `inwardIssue` is the
        one that takes the type's outward verb ({"type": "Duplicate", "inwardIssue": A,
        "outwardIssue": B} makes "A duplicates B"). Both issues count as updated.
        """
        try:
            body = request.json() or {}
        except ValueError:
            return jira_error(400, "Can not deserialize the request body.")
        type_name = str((body.get("type") or {}).get("name") or "")
        first = str((body.get("inwardIssue") or {}).get("key") or "")
        second = str((body.get("outwardIssue") or {}).get("key") or "")
        if type_name not in LINK_TYPES:
            return jira_error(404, f"No issue link type with name '{type_name}' found.")
        with self.model.lock:
            issues = [self.model.get(first), self.model.get(second)]
            if any(issue is None for issue in issues):
                return jira_error(404, "Issue Does Not Exist")
            self.model.add_link(first, type_name, second)
            now = self.model.now()
            for issue in issues:
                assert issue is not None
                issue["updated"] = now
            self.model.version += 1
        return Response(status=201)

    # -- search -------------------------------------------------------------------------
    def _matching(self, jql: str) -> list[dict[str, Any]]:
        with self.model.lock:
            cached = self._cache.get(jql)
            if cached and cached[0] == self.model.version:
                return cached[1]
            predicates, ascending = compile_jql(jql, self.model)
            found = [i for i in self.model.issues if all(p(i) for p in predicates)]
            found.sort(key=lambda i: (i["updated"], int(i["id"])), reverse=not ascending)
            self._cache[jql] = (self.model.version, found)
            return found

    @staticmethod
    def _search_args(request: Request) -> dict[str, Any]:
        if request.method == "POST":
            return dict(request.json() or {})
        args: dict[str, Any] = {k: v[0] for k, v in request.query.items()}
        if "fields" in request.query:
            args["fields"] = request.query["fields"]
        return args

    @staticmethod
    def _wanted_fields(raw: Any) -> set[str] | None:
        if raw is None:
            return None
        values = raw if isinstance(raw, list) else [raw]
        names = {part.strip() for v in values for part in str(v).split(",") if part.strip()}
        return None if not names or "*all" in names else names

    def _search_cloud(self, request: Request) -> Response:
        if not self.cloud:
            return jira_error(404, "null for uri: " + request.path)
        args = self._search_args(request)
        try:
            found = self._matching(str(args.get("jql", "")))
        except JqlError as exc:
            return jira_error(400, str(exc))
        start = 0
        token = args.get("nextPageToken")
        if token:
            try:
                start = int(base64.urlsafe_b64decode(str(token)).decode().split(":", 1)[1])
            except (ValueError, IndexError):
                return jira_error(400, "The nextPageToken is invalid.")
        size = max(1, min(int(args.get("maxResults") or 50), self.max_page))
        page = found[start : start + size]
        wanted = self._wanted_fields(args.get("fields"))
        version = "3" if "/api/3/" in request.path else "2"
        with self.model.lock:
            body: dict[str, Any] = {"issues": [self.render(i, version, wanted) for i in page]}
        if start + size < len(found):
            body["nextPageToken"] = base64.urlsafe_b64encode(
                f"{self.model.version}:{start + size}".encode()
            ).decode()
            body["isLast"] = False
        else:
            body["isLast"] = True
        return json_response(body)

    def _search_dc(self, request: Request) -> Response:
        args = self._search_args(request)
        try:
            found = self._matching(str(args.get("jql", "")))
        except JqlError as exc:
            return jira_error(400, str(exc))
        start = int(args.get("startAt") or 0)
        size = max(0, min(int(args.get("maxResults") or 50), self.max_page))
        wanted = self._wanted_fields(args.get("fields"))
        page = found[start : start + size]
        with self.model.lock:
            issues = [self.render(i, "2", wanted) for i in page]
        return json_response(
            {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": size,
                "total": len(found),
                "issues": issues,
            }
        )

    # -- rendering ----------------------------------------------------------------------
    def _user(self, name: str | None, email: str | None) -> dict[str, Any] | None:
        if not name:
            return None
        login = re.sub(r"\W+", ".", name.lower())
        user: dict[str, Any] = {
            "self": f"{self.url}/rest/api/2/user?username={login}",
            "displayName": name,
            "active": True,
            "timeZone": self.model.time_zone,
        }
        if self.cloud:
            user["accountId"] = "5b10ac8d82e05b22cc7d" + format(_stable(login) % 10**6, "06d")
            user["accountType"] = "atlassian"
            if email:  # Cloud hides e-mail addresses unless the user allows them
                user["emailAddress"] = email
        else:
            user.update({"name": login, "key": login, "emailAddress": email or ""})
        return user

    def _status(self, issue: dict[str, Any]) -> dict[str, Any]:
        cat_id, color, cat_name = STATUS_CATEGORIES[issue["category"]]
        return {
            "self": f"{self.url}/rest/api/2/status/1",
            "description": "",
            "iconUrl": f"{self.url}/images/icons/statuses/generic.png",
            "name": issue["status"],
            "id": str(_stable(issue["status"]) % 10000),
            "statusCategory": {
                "self": f"{self.url}/rest/api/2/statuscategory/{cat_id}",
                "id": cat_id,
                "key": issue["category"],
                "colorName": color,
                "name": cat_name,
            },
        }

    def _priority(self, name: str | None) -> dict[str, Any] | None:
        if name is None:
            return None
        number = (self.model.priorities.index(name) + 1) if name in self.model.priorities else 99
        return {
            "self": f"{self.url}/rest/api/2/priority/{number}",
            "iconUrl": f"{self.url}/images/icons/priorities/{name.lower()}.svg",
            "name": name,
            "id": str(number),
        }

    def _issuetype(self, name: str) -> dict[str, Any]:
        subtask = name.lower() in ("sub-task", "subtask")
        data: dict[str, Any] = {
            "self": f"{self.url}/rest/api/2/issuetype/1",
            "id": str(_stable(name) % 10000),
            "description": "",
            "iconUrl": f"{self.url}/images/icons/issuetypes/{name.lower()}.svg",
            "name": name,
            "subtask": subtask,
        }
        if self.cloud:
            data["hierarchyLevel"] = -1 if subtask else (1 if name == "Epic" else 0)
        return data

    def _stub(self, key: str) -> dict[str, Any]:
        other = self.model.get(key)
        if other is None:
            return {"key": key, "self": f"{self.url}/rest/api/2/issue/{key}", "fields": {}}
        return {
            "id": other["id"],
            "key": other["key"],
            "self": f"{self.url}/rest/api/2/issue/{other['id']}",
            "fields": {
                "summary": other["summary"],
                "status": self._status(other),
                "priority": self._priority(other["priority"]),
                "issuetype": self._issuetype(other["issuetype"]),
            },
        }

    def render(
        self, issue: dict[str, Any], version: str, wanted: set[str] | None
    ) -> dict[str, Any]:
        """An issue as the REST API returns it (v2: string description, v3: ADF)."""
        links: list[dict[str, Any]] = []
        for type_name, outward_id, inward_id in self.model.links:
            if issue["id"] not in (outward_id, inward_id):
                continue
            type_id, inward, outward = LINK_TYPES[type_name]
            entry: dict[str, Any] = {
                "id": str(10000 + len(links)),
                "self": f"{self.url}/rest/api/2/issueLink/{10000 + len(links)}",
                "type": {
                    "id": type_id,
                    "name": type_name,
                    "inward": inward,
                    "outward": outward,
                    "self": f"{self.url}/rest/api/2/issueLinkType/{type_id}",
                },
            }
            if issue["id"] == outward_id:
                entry["outwardIssue"] = self._stub(self.model._by_id[inward_id]["key"])
            else:
                entry["inwardIssue"] = self._stub(self.model._by_id[outward_id]["key"])
            links.append(entry)
        description = issue["description"]
        fields: dict[str, Any] = {
            "summary": issue["summary"],
            "description": adf(description) if version == "3" else description,
            "status": self._status(issue),
            "priority": self._priority(issue["priority"]),
            "issuetype": self._issuetype(issue["issuetype"]),
            "project": {
                "self": f"{self.url}/rest/api/2/project/{issue['project']}",
                "id": str(10000 + sorted(self.model.projects).index(issue["project"])),
                "key": issue["project"],
                "name": self.model.projects[issue["project"]],
                "projectTypeKey": "software",
            },
            "assignee": self._user(issue["assignee"], issue["assignee_email"]),
            "components": [
                {"self": f"{self.url}/rest/api/2/component/1", "id": "1", "name": c}
                for c in issue["components"]
            ],
            "labels": list(issue["labels"]),
            "issuelinks": links,
            "created": jira_time(issue["created"]),
            "updated": jira_time(issue["updated"]),
            "resolutiondate": jira_time(issue["resolved"]) if issue["resolved"] else None,
            "duedate": issue["due"].isoformat() if issue["due"] else None,
        }
        if self.cloud:
            fields["statuscategorychangedate"] = jira_time(issue["updated"])
            parent = issue["parent"] or issue["epic"]
            if parent:
                fields["parent"] = self._stub(parent)
        else:
            if issue["parent"]:
                fields["parent"] = self._stub(issue["parent"])
            fields[self.model.epic_link_field] = issue["epic"]
            fields[SPRINT_FIELD] = None
        if wanted is not None:
            fields = {k: v for k, v in fields.items() if k in wanted}
        return {
            "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
            "id": issue["id"],
            "self": f"{self.url}/rest/api/{version}/issue/{issue['id']}",
            "key": issue["key"],
            "fields": fields,
        }


def hours_ago(hours: float) -> datetime:
    """A UTC time `hours` before now, for building data."""
    return datetime.now(UTC) - timedelta(hours=hours)
