"""GitHub (and GitHub Enterprise Server), through PyGithub, as pages of ItemRecords.

The issues listing (`state=all&since=...&sort=updated&direction=asc`) returns issues and pull
requests together; it is read through PyGithub's requester one page at a time, following the
`Link` header, so the cursor can be committed after each page. Listed issues are used as
listed: PyGithub would re-fetch each listed object on first access to a missing attribute
(API-FACTS), so pull-request details are fetched only for pull requests, with
`Repository.get_pull` and the PR's own reviews and files listings.

Links from text: keys of the configured Jira projects in a PR's title, branch or body become
`implements` links (`relates` for plain issues); `fixes #12` / `closes owner/repo#12` link to
those issues.
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from github import Auth, Github, GithubException
from github.Repository import Repository

from config.errors import SourceError
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
from connectors.records import ItemRecord, LinkRecord

log = logging.getLogger(__name__)

PAGE_SIZE = 100
REQUEST_TIMEOUT = 30
CLOSING_WORDS = r"(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)"
_CLOSES = re.compile(
    rf"\b{CLOSING_WORDS}:?\s+(?:(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+))?#(?P<number>\d+)\b",
    re.IGNORECASE,
)
_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


def parse_gh_time(value: str | None) -> datetime | None:
    """`2024-09-17T11:00:14Z` as an aware datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value)


def _anchor(raw: dict[str, Any]) -> str:
    """A listed item's place in an `updated`-ordered listing: its number and `updated_at`."""
    return f"{raw.get('number')}@{raw.get('updated_at')}"


def _header(headers: dict[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


class GitHubConnector:
    """Reads the configured repositories page by page."""

    name = "github"
    credential_hint = "GITHUB_TOKEN"

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        page_size: int = PAGE_SIZE,
        timeout: int = REQUEST_TIMEOUT,
    ) -> None:
        """Prepare a connector; nothing is requested until the first call that needs it."""
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.page_size = page_size
        self.timeout = timeout
        self.token = settings.env.github_token.get_secret_value()
        self.max_files = settings.config.github.max_files_per_pr
        self._client: Github | None = None
        self._repos: dict[str, Repository] = {}
        projects = sorted(
            {key for team in settings.config.teams for key in team.jira_projects},
            key=len,
            reverse=True,
        )
        self._jira_keys = (
            re.compile(rf"(?<![A-Za-z0-9])({'|'.join(projects)})-(\d+)(?![0-9])", re.IGNORECASE)
            if projects
            else None
        )

    # -- configuration ------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        """Whether any team owns a repository."""
        return bool(self.scopes())

    def scopes(self) -> list[Scope]:
        """One scope per configured repository; `owner/*` stays a pattern until expanded."""
        found: dict[str, Scope] = {}
        for team in self.settings.config.teams:
            for repo in team.github_repos:
                found.setdefault(repo.lower(), Scope("github", repo, project=repo))
        return list(found.values())

    def client(self) -> Github:
        """The PyGithub client: no retries or spacing of its own (the sync loop's policy rules)."""
        if self._client is None:
            if not self.token:
                msg = "GitHub credentials are not set: GITHUB_TOKEN"
                raise AuthError(msg)
            self._client = Github(
                base_url=self.settings.github_api_url,
                auth=Auth.Token(self.token),
                retry=None,
                seconds_between_requests=None,
                seconds_between_writes=None,
                timeout=self.timeout,
                per_page=self.page_size,
            )
        return self._client

    def close(self) -> None:
        """Close the HTTP connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _call(self, what: str, function: Any) -> Any:
        """Run one client call, sorting its failures into the kinds the sync loop knows."""
        try:
            return function()
        except GithubException as exc:
            raise self._translate(what, exc) from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            msg = f"GitHub {what}: {type(exc).__name__} talking to {self.settings.github_api_url}"
            raise RetryableError(msg) from None
        except ValueError as exc:  # PyGithub raises json's error for a cut-off body
            msg = f"GitHub {what}: the answer is not valid JSON ({exc})"
            raise MalformedPageError(msg) from None

    def _translate(self, what: str, exc: GithubException) -> SourceError:
        status = exc.status
        message = ""
        if isinstance(exc.data, dict):
            message = str(exc.data.get("message") or "")
        detail = f"HTTP {status}" + (f": {message}" if message else "")
        headers = exc.headers or {}
        retry_after = _header(headers, "Retry-After")
        remaining = _header(headers, "X-RateLimit-Remaining")
        if status in (403, 429) and retry_after is not None:
            # Secondary rate limit: wait as Retry-After says.
            return RetryableError(f"GitHub {what}: {detail}", float(retry_after))
        if status in (403, 429) and remaining == "0":
            # Primary rate limit: wait until the reset (epoch seconds), plus a second of slack.
            reset = float(_header(headers, "X-RateLimit-Reset") or time.time())
            return RetryableError(f"GitHub {what}: {detail}", max(0.0, reset - time.time()) + 1)
        if status == 429 or status >= 500:
            return RetryableError(f"GitHub {what}: {detail}")
        if status == 401:
            return AuthError(f"GitHub refused the credentials ({detail}): check GITHUB_TOKEN")
        if status == 403:
            return AuthError(f"GitHub denied access ({detail}): check GITHUB_TOKEN and its scopes")
        if status == 404:
            return ScopeNotFoundError(f"GitHub {what}: {detail}")
        return SourceError(f"GitHub {what}: {detail}")

    # -- scopes -------------------------------------------------------------------------
    def expand_scope(self, scope: Scope) -> list[Scope]:
        """`owner/*` becomes one scope per repository of the organisation."""
        if not scope.name.endswith("/*"):
            return [scope]
        org = scope.name[:-2]
        client = self.client()
        try:
            names = self._call(
                f"repositories of {org}",
                lambda: [r.full_name for r in client.get_organization(org).get_repos()],
            )
        except ScopeNotFoundError:
            msg = f"GitHub organisation {org} not found, or not visible to GITHUB_TOKEN"
            raise ScopeNotFoundError(msg) from None
        return [Scope("github", name, project=name) for name in names]

    def check_scope(self, scope: Scope) -> None:
        """A 404 for an unknown or invisible repository becomes ScopeNotFoundError."""
        self._repo(scope.name)

    def _repo(self, full_name: str) -> Repository:
        if full_name not in self._repos:
            client = self.client()
            try:
                self._repos[full_name] = self._call(
                    f"repository {full_name}", lambda: client.get_repo(full_name)
                )
            except ScopeNotFoundError:
                msg = f"GitHub repository {full_name} not found, or not visible to GITHUB_TOKEN"
                raise ScopeNotFoundError(msg) from None
        return self._repos[full_name]

    # -- pages --------------------------------------------------------------------------
    def fetch_page(self, scope: Scope, since: datetime | None, token: str | None) -> Page:
        """One page of the repository's issues and PRs updated at or after `since`.

        Pages are keyed by time, not by page number: each next page asks again `since` the
        last item's `updated_at` (less a second, whether GitHub's `since` is inclusive or
        not) and drops the items already read. Numbered pages shift when an item already read
        is updated during the sync (it moves to the end), which would skip the first unread
        one; a time key cannot. Only when a whole page shares one timestamp does the next
        page follow the page number.
        """
        requester = self.client().requester
        what = f"issues of {scope.name}"
        state: dict[str, Any] = json.loads(token) if token else {}
        since_text = state.get("since") or (
            since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if since else None
        )
        skip = set(state.get("skip", []))
        page_number = int(state.get("page", 1))
        params: dict[str, Any] = {
            "state": "all",
            "sort": "updated",
            "direction": "asc",
            "per_page": self.page_size,
        }
        if since_text:
            params["since"] = since_text
        if page_number > 1:
            params["page"] = page_number
        url = f"/repos/{scope.name}/issues"
        headers, data = self._call(what, lambda: requester.requestJsonAndCheck("GET", url, params))
        if not isinstance(data, list) or not all(
            isinstance(i, dict) and "number" in i and "updated_at" in i for i in data
        ):
            msg = f"GitHub {what}: the page is not a list of issues"
            raise MalformedPageError(msg)
        fresh = [raw for raw in data if _anchor(raw) not in skip]
        next_token = None
        if _NEXT_LINK.search(_header(headers, "Link") or ""):
            last = parse_gh_time(data[-1]["updated_at"]) if data else None
            if last is None:
                msg = f"GitHub {what}: a page with a next link has no items with updated_at"
                raise MalformedPageError(msg)
            key_since = (last - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            if since_text is None or key_since > since_text:
                anchors = [_anchor(raw) for raw in data if str(raw["updated_at"]) >= key_since]
                next_token = json.dumps({"since": key_since, "skip": anchors})
            else:
                # A whole page within one second: go on by page number for that second.
                anchors = sorted(skip | {_anchor(raw) for raw in data})
                next_token = json.dumps(
                    {"since": since_text, "skip": anchors, "page": page_number + 1}
                )
        records = [self.record(scope.name, raw) for raw in fresh]
        return Page(
            records=records,
            next_token=next_token,
            max_updated=max((r.updated for r in records if r.updated), default=None),
            seen_keys=[r.key for r in records],
        )

    def _pull_details(self, full_name: str, number: int) -> dict[str, Any]:
        repo = self._repo(full_name)
        what = f"pull request {full_name}#{number}"

        def read() -> dict[str, Any]:
            pull = repo.get_pull(number)
            reviews = [
                (r.state, r.submitted_at)
                for r in pull.get_reviews()
                if r.state != "PENDING" and r.submitted_at is not None
            ]
            files: list[str] = []
            if self.max_files:
                for changed in pull.get_files():
                    files.append(changed.filename)
                    if len(files) >= self.max_files:
                        break
            return {
                "draft": bool(pull.draft),
                "merged": bool(pull.merged),
                "merged_at": pull.merged_at,
                "head_branch": pull.head.ref,
                "requested": [u.login for u in pull.requested_reviewers],
                "reviews": reviews,
                "files": files,
            }

        return self._call(what, read)

    def record(self, full_name: str, raw: dict[str, Any]) -> ItemRecord:
        """A listed issue or pull request as an ItemRecord (PR details fetched here)."""
        number = int(raw["number"])
        key = f"{full_name}#{number}"
        is_pull = "pull_request" in raw
        title = str(raw.get("title") or "").strip() or "(no title)"
        body = str(raw.get("body") or "")
        state = str(raw.get("state") or "open")
        extra: dict[str, Any] = {}
        head = ""
        status = state
        category = "done" if state == "closed" else ("in_progress" if is_pull else "todo")
        if is_pull:
            details = self.retry.call(
                f"pull request {key}", lambda: self._pull_details(full_name, number)
            )
            head = details["head_branch"]
            reviews = details["reviews"]
            first_review = min((at for _, at in reviews), default=None)
            latest = max(reviews, key=lambda r: r[1])[0].lower() if reviews else ""
            review_state = latest or ("requested" if details["requested"] else "")
            if details["merged"]:
                status, category = "merged", "done"
            elif details["draft"] and state == "open":
                status = "draft"
            created = parse_gh_time(raw.get("created_at"))
            extra = {
                "draft": details["draft"],
                "merged": details["merged"],
                "merged_at": details["merged_at"],
                "head_branch": head,
                "files": details["files"],
                "first_review_at": first_review,
                "review_state": review_state,
                # The API has no "review requested at" without the timeline; a PR that is not
                # a draft and has reviewers or reviews was asked for review when it was opened.
                "review_requested_at": created
                if not details["draft"] and (details["requested"] or reviews)
                else None,
            }
        mentions, links = self._text_links(full_name, is_pull, title, head, body)
        assignee = raw.get("assignee") or {}
        return ItemRecord(
            key=key,
            external_id=str(raw.get("id") or "") or None,
            source="github",
            kind="pull_request" if is_pull else "issue",
            title=title,
            body=body,
            url=str(raw.get("html_url") or ""),
            project=full_name,
            status=status,
            status_category=category,
            assignee=str(assignee.get("login") or ""),
            labels=[str(label.get("name")) for label in raw.get("labels") or []],
            created=parse_gh_time(raw.get("created_at")),
            updated=parse_gh_time(raw.get("updated_at")),
            resolved=parse_gh_time(raw.get("closed_at")),
            mentions=mentions,
            links=links,
            **extra,
        )

    def _text_links(
        self, full_name: str, is_pull: bool, title: str, branch: str, body: str
    ) -> tuple[list[str], list[LinkRecord]]:
        link_type = "implements" if is_pull else "relates"
        mentions: list[str] = []
        if self._jira_keys is not None:
            for text in (title, branch, body):
                for match in self._jira_keys.finditer(text):
                    found = f"{match.group(1).upper()}-{int(match.group(2))}"
                    if found not in mentions:
                        mentions.append(found)
        targets = list(mentions)
        for match in _CLOSES.finditer(f"{title}\n{body}"):
            repo = match.group("repo") or full_name
            target = f"{repo}#{int(match.group('number'))}"
            if target not in targets and target != f"{full_name}#":
                targets.append(target)
        return mentions, [LinkRecord(type=link_type, target=t) for t in targets]
