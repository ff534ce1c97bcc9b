"""Jira Cloud and Data Center, through the `jira` library, as pages of ItemRecords.

Cloud or Data Center is told by `/rest/api/2/serverInfo` (`deploymentType`). Cloud searches
with `/rest/api/3/search/jql` (`enhanced_search_issues`, paged by `nextPageToken`, ADF
descriptions); Data Center with `/rest/api/2/search` (`search_issues`, paged by `startAt`).
Both are asked for JSON (`json_result=True`): one request per page, no per-issue objects.

Incremental queries use `updated >= "yyyy-MM-dd HH:mm"`, which Jira reads in the time zone of
the token's user (`/myself`), at minute precision: the cursor is converted to that zone and
floored to the minute, so the query can only reach further back, never skip.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from dateutil import parser as date_parser
from jira import JIRA, JIRAError

from config.errors import ConfigError, SourceError
from config.settings import Settings
from connectors.base import (
    AuthError,
    MalformedPageError,
    Page,
    RetryableError,
    RetryPolicy,
    Scope,
    ScopeNotFoundError,
)
from connectors.normalize import category_from_jira, rank_from_scheme
from connectors.records import ItemRecord, LinkRecord

log = logging.getLogger(__name__)

PAGE_SIZE = 100
ANCHOR_ISSUES = 5
"""Issues of the previous Data Center page read again, to notice offsets that shifted."""
REQUEST_TIMEOUT = 30.0
BASE_FIELDS = (
    "summary",
    "description",
    "status",
    "priority",
    "issuetype",
    "project",
    "assignee",
    "components",
    "labels",
    "issuelinks",
    "parent",
    "created",
    "updated",
    "resolutiondate",
    "duedate",
)
KIND_BY_TYPE = {
    "epic": "epic",
    "story": "story",
    "task": "task",
    "bug": "bug",
    "sub-task": "subtask",
    "subtask": "subtask",
}
# Jira link type name -> gapbot link type, read in the outward direction (A blocks B).
LINK_TYPE_MAP = {"blocks": "blocks", "duplicate": "duplicates", "relates": "relates"}


def adf_to_text(node: Any) -> str:
    """Plain text from an Atlassian Document Format tree (Cloud's v3 descriptions)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_to_text(child) for child in node)
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    attrs = node.get("attrs") or {}
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status", "date"):
        return str(attrs.get("text") or attrs.get("shortName") or attrs.get("timestamp") or "")
    if kind in ("inlineCard", "blockCard"):
        return str(attrs.get("url", ""))
    inner = adf_to_text(node.get("content") or [])
    if kind == "listItem":
        return "- " + inner.strip() + "\n"
    if kind in ("paragraph", "heading", "codeBlock", "blockquote", "rule", "panel"):
        return inner + "\n"
    if kind == "doc":
        return inner.strip("\n")
    return inner


def parse_jira_time(value: str | None) -> datetime | None:
    """`2025-09-11T22:30:20.814+0200` (Jira's format) as an aware datetime."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)  # 3.11 reads Jira's "+0200" offsets
    except ValueError:
        return date_parser.isoparse(value)


def _anchor(issue: dict[str, Any]) -> str:
    """An issue's place in an `updated`-ordered result: its key and its `updated`."""
    return f"{issue.get('key')}@{(issue.get('fields') or {}).get('updated')}"


def _retry_after(response: Any) -> float | None:
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class JiraConnector:
    """Reads the configured Jira projects (or team queries) page by page."""

    name = "jira"

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        page_size: int = PAGE_SIZE,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        """Prepare a connector; nothing is requested until the first call that needs it."""
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.page_size = page_size
        self.timeout = timeout
        env = settings.env
        self.pat = env.jira_pat.get_secret_value()
        self.email = env.jira_email
        self.api_token = env.jira_api_token.get_secret_value()
        self.credential_hint = "JIRA_PAT" if self.pat else "JIRA_API_TOKEN and JIRA_EMAIL"
        self._client: JIRA | None = None
        self.cloud = False
        self.zone = ZoneInfo("UTC")
        self.priority_order: list[str] = []
        self.epic_link_field: str | None = None
        self.user = ""

    # -- configuration ------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        """Whether any team reads Jira (a missing URL is then an error, not a silent skip)."""
        return bool(self.scopes())

    def scopes(self) -> list[Scope]:
        """One scope per configured project, and one per team with a JQL of its own."""
        found: dict[str, Scope] = {}
        for team in self.settings.config.teams:
            for key in team.jira_projects:
                found.setdefault(key, Scope("jira", key, project=key))
            if team.jql:
                name = f"team:{team.name}"
                found[name] = Scope("jira", name, query=team.jql)
        return list(found.values())

    def expand_scope(self, scope: Scope) -> list[Scope]:
        """Jira scopes need no expansion."""
        return [scope]

    # -- the client ---------------------------------------------------------------------
    def _call(self, what: str, function: Any) -> Any:
        """Run one client call, sorting its failures into the kinds the sync loop knows."""
        try:
            return function()
        except JIRAError as exc:
            raise self._translate(what, exc) from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            msg = f"Jira {what}: {type(exc).__name__} talking to {self.settings.jira_url}"
            raise RetryableError(msg) from None
        except ValueError as exc:  # the body was not JSON (json.JSONDecodeError is one)
            msg = f"Jira {what}: the answer is not valid JSON ({exc})"
            raise MalformedPageError(msg) from None

    def _translate(self, what: str, exc: JIRAError) -> SourceError:
        status = exc.status_code
        text = (exc.text or "").strip().splitlines()[0] if exc.text else ""
        detail = f"HTTP {status}" + (f": {text}" if text else "")
        if status == 429 or (status is not None and status >= 500):
            return RetryableError(f"Jira {what}: {detail}", _retry_after(exc.response))
        if status == 401:
            msg = f"Jira refused the credentials ({detail}): check {self.credential_hint}"
            return AuthError(msg)
        if status == 403:
            msg = f"Jira denied access ({detail}): check {self.credential_hint} and its permissions"
            return AuthError(msg)
        if status == 404:
            return ScopeNotFoundError(f"Jira {what}: {detail}")
        if status is None:
            return RetryableError(f"Jira {what}: {exc}")
        return SourceError(f"Jira {what}: {detail}")

    def client(self) -> JIRA:
        """The connected client (serverInfo, the user's time zone, priorities, fields)."""
        if self._client is None:
            self._client = self.retry.call(
                "Jira connect", lambda: self._call("connect", self._connect)
            )
        return self._client

    def _connect(self) -> JIRA:
        url = self.settings.jira_url
        if not url:
            msg = "Jira: teams name Jira projects but jira.url (or JIRA_URL) is not set"
            raise ConfigError(msg)
        auth: dict[str, Any]
        if self.pat:
            auth = {"token_auth": self.pat}
        elif self.email and self.api_token:
            auth = {"basic_auth": (self.email, self.api_token)}
        else:
            msg = (
                "Jira credentials are not set: JIRA_EMAIL and JIRA_API_TOKEN (Cloud) "
                "or JIRA_PAT (Data Center)"
            )
            raise AuthError(msg)
        common: dict[str, Any] = {"max_retries": 0, "timeout": self.timeout, **auth}
        client = JIRA(server=url, **common)
        if client.deploymentType == "Cloud":
            # Cloud's descriptions come as ADF from v3, and its search lives under v3.
            client.close()
            client = JIRA(server=url, options={"rest_api_version": "3"}, **common)
            self.cloud = True
        myself = client.myself()
        self.user = str(myself.get("displayName") or myself.get("name") or "")
        try:
            self.zone = ZoneInfo(str(myself.get("timeZone") or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("Jira user time zone %r unknown; using UTC", myself.get("timeZone"))
        self.priority_order = [p.name for p in client.priorities()]
        if not self.cloud:
            # Data Center links stories to epics through a custom field; its id differs per site.
            for fld in client.fields():
                if fld.get("name") == "Epic Link" or (fld.get("schema") or {}).get("custom") == (
                    "com.pyxis.greenhopper.jira:gh-epic-link"
                ):
                    self.epic_link_field = str(fld["id"])
                    break
        return client

    def fields(self) -> list[str]:
        """The fields asked for: only those the records use."""
        fields = list(BASE_FIELDS)
        if self.epic_link_field:
            fields.append(self.epic_link_field)
        return fields

    # -- scopes and pages ---------------------------------------------------------------
    def check_scope(self, scope: Scope) -> None:
        """A 404 for an unknown or invisible project becomes ScopeNotFoundError."""
        client = self.client()
        if not scope.project:
            return
        try:
            self._call(f"project {scope.project}", lambda: client.project(scope.project))
        except ScopeNotFoundError:
            who = self.user or "this account"
            msg = f"Jira project {scope.project} not found, or not visible to {who}"
            raise ScopeNotFoundError(msg) from None

    def check_query(self, scope: Scope) -> None:
        """Run a team's query for one issue key, so a bad JQL shows up with Jira's words."""
        client = self.client()
        jql = self.jql(scope, None)
        what = f"query of {scope.name}"
        if self.cloud:
            self._call(
                what,
                lambda: client.enhanced_search_issues(
                    jql, maxResults=1, fields=["key"], json_result=True
                ),
            )
        else:
            self._call(
                what,
                lambda: client.search_issues(jql, maxResults=1, fields=["key"], json_result=True),
            )

    def jql(self, scope: Scope, since: datetime | None) -> str:
        """The scope's query, from `since` (in the user's zone, floored to the minute)."""
        parts = [f"project in ({scope.project})" if scope.project else f"({scope.query})"]
        extra = self.settings.config.jira.jql.strip()
        if extra:
            parts.append(f"({extra})")
        if since is not None:
            local = since.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")
            parts.append(f'updated >= "{local}"')
        return " AND ".join(parts) + " ORDER BY updated ASC"

    def fetch_page(self, scope: Scope, since: datetime | None, token: str | None) -> Page:
        """One page of the scope's issues updated at or after `since`."""
        client = self.client()
        jql = self.jql(scope, since)
        what = f"search {scope.name}"
        if self.cloud:
            data = self._call(
                what,
                lambda: client.enhanced_search_issues(
                    jql,
                    nextPageToken=token,
                    maxResults=self.page_size,
                    fields=self.fields(),
                    json_result=True,
                ),
            )
            issues = self._issues_of(data, what)
            next_token = None if data.get("isLast", True) else data.get("nextPageToken")
            if not data.get("isLast", True) and not next_token:
                msg = f"Jira {what}: isLast is false but there is no nextPageToken"
                raise MalformedPageError(msg)
        else:
            issues, next_token, truncated = self._offset_page(client, jql, what, token)
            if truncated:
                log.info("Jira %s: results shifted during the sync; the next sync goes on", what)
                return Page(records=[], next_token=None, truncated=True)
        records = [self.record(issue) for issue in issues]
        return Page(
            records=records,
            extra_links=[row for issue in issues for row in self.duplicated_links(issue)],
            next_token=next_token,
            max_updated=max((r.updated for r in records if r.updated), default=None),
            seen_keys=[r.key for r in records],
        )

    def _offset_page(
        self, client: JIRA, jql: str, what: str, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None, bool]:
        """A Data Center page by `startAt`, re-reading the previous page's last few issues.

        Offsets shift when an issue already read is updated (it moves to the end) or deleted
        during the sync, and the first unread issue would slip below the offset. Re-reading
        ANCHOR_ISSUES issues and starting after the last of them still in place (same key,
        same `updated`: an anchor that changed has moved to the end) catches that. When none
        is found, the page ends the scope early (`truncated`): every issue not yet read sorts
        at or after the committed cursor, so the next sync reads it.
        """
        state: dict[str, Any] = json.loads(token) if token else {"start": 0, "tail": []}
        start, tail = int(state["start"]), list(state["tail"])
        ask = max(0, start - len(tail))
        data = self._call(
            what,
            lambda: client.search_issues(
                jql,
                startAt=ask,
                maxResults=self.page_size + (start - ask),
                fields=self.fields(),
                json_result=True,
            ),
        )
        issues = self._issues_of(data, what)
        total = data.get("total")
        if not isinstance(total, int):
            msg = f"Jira {what}: the page has no total"
            raise MalformedPageError(msg)
        fresh = issues
        if tail:
            anchors = [n for n, issue in enumerate(issues) if _anchor(issue) in tail]
            if not anchors:
                return [], None, True
            fresh = issues[anchors[-1] + 1 :]
        end = ask + len(issues)
        next_token = None
        if issues and end < total:
            new_tail = [_anchor(issue) for issue in issues[-ANCHOR_ISSUES:]]
            next_token = json.dumps({"start": end, "tail": new_tail})
        return fresh, next_token, False

    @staticmethod
    def _issues_of(data: Any, what: str) -> list[dict[str, Any]]:
        if not isinstance(data, dict) or not isinstance(data.get("issues"), list):
            msg = f"Jira {what}: the page has no issues list"
            raise MalformedPageError(msg)
        for issue in data["issues"]:
            if not isinstance(issue, dict) or "key" not in issue or "fields" not in issue:
                msg = f"Jira {what}: an issue on the page has no key or fields"
                raise MalformedPageError(msg)
        return list(data["issues"])

    # -- one issue ----------------------------------------------------------------------
    @staticmethod
    def duplicated_links(issue: dict[str, Any]) -> list[dict[str, str]]:
        """Inward "is duplicated by" links as rows `other duplicates this`.

        ItemRecord's links start at the item (or, for blocked_by, are turned around); this
        direction has no such word, and the duplicate may sit in a project gapbot does not
        read, so the row is declared here, with this issue as its origin.
        """
        rows = []
        for entry in (issue.get("fields") or {}).get("issuelinks") or []:
            name = str((entry.get("type") or {}).get("name", "")).lower()
            if LINK_TYPE_MAP.get(name) == "duplicates" and "inwardIssue" in entry:
                rows.append(
                    {
                        "source_key": str(entry["inwardIssue"]["key"]),
                        "target_key": str(issue["key"]),
                        "type": "duplicates",
                        "origin": str(issue["key"]),
                    }
                )
        return rows

    def record(self, issue: dict[str, Any]) -> ItemRecord:
        """An issue (REST JSON, v2 or v3) as an ItemRecord."""
        fields = issue["fields"]
        key = str(issue["key"])
        issuetype = (fields.get("issuetype") or {}).get("name") or ""
        status = fields.get("status") or {}
        priority = (fields.get("priority") or {}).get("name") or ""
        assignee = fields.get("assignee") or {}
        description = fields.get("description")
        if isinstance(description, dict):
            description = adf_to_text(description)
        parent = (fields.get("parent") or {}).get("key")
        if not parent and self.epic_link_field:
            epic = fields.get(self.epic_link_field)
            parent = epic if isinstance(epic, str) and epic else None
        links: list[LinkRecord] = []
        for entry in fields.get("issuelinks") or []:
            kind = LINK_TYPE_MAP.get(str((entry.get("type") or {}).get("name", "")).lower())
            if "outwardIssue" in entry:
                target = entry["outwardIssue"]["key"]
                links.append(LinkRecord(type=kind or "relates", target=target))
            elif "inwardIssue" in entry:
                other = entry["inwardIssue"]["key"]
                if kind == "blocks":
                    links.append(LinkRecord(type="blocked_by", target=other))
                elif kind in (None, "relates"):
                    links.append(LinkRecord(type="relates", target=other))
                # "is duplicated by": `duplicated_links` turns it around (other -> this).
        due = fields.get("duedate")
        return ItemRecord(
            key=key,
            external_id=str(issue.get("id") or "") or None,
            source="jira",
            kind=KIND_BY_TYPE.get(issuetype.lower(), "issue"),
            issue_type=issuetype,
            title=str(fields.get("summary") or "").strip() or "(no summary)",
            body=str(description or ""),
            url=f"{self.settings.jira_url}/browse/{key}",
            project=str((fields.get("project") or {}).get("key") or ""),
            status=str(status.get("name") or ""),
            status_category=category_from_jira((status.get("statusCategory") or {}).get("key")),
            priority=priority,
            priority_rank=rank_from_scheme(priority, self.priority_order),
            assignee=str(assignee.get("displayName") or ""),
            assignee_email=str(assignee.get("emailAddress") or ""),
            components=[str(c.get("name")) for c in fields.get("components") or []],
            labels=[str(label) for label in fields.get("labels") or []],
            created=parse_jira_time(fields.get("created")),
            updated=parse_jira_time(fields.get("updated")),
            resolved=parse_jira_time(fields.get("resolutiondate")),
            due=date.fromisoformat(due) if due else None,
            parent=parent,
            links=links,
        )
