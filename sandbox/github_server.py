"""A fake GitHub REST API over real HTTP, backed by a plain in-memory model.

It answers what gapbot's connector and PyGithub ask, shaped like the real API (see
../shared/fixtures/github): `/user`, `/rate_limit`, `/repos/{o}/{r}`, `/orgs/{org}/repos`,
`/repos/{o}/{r}/issues` (issues *and* pull requests, `state`, `since`, `sort=updated`,
`direction`, `per_page`/`page`, paged by the `Link` header whose next/last URLs use the
`/repositories/{id}/...` form as GitHub's do), `/pulls/{n}`, `/pulls/{n}/reviews` and
`/pulls/{n}/files`. Every response carries `X-RateLimit-*` headers; a wrong token gets 401
"Bad credentials", an unknown repository 404 "Not Found". `primary_rate_limit()` and
`secondary_rate_limit()` build the two kinds of rate-limit fault.

The model (`GitHubModel`) is plain dicts: tests and `gapbot demo` fill it with `add_repo`,
`add_issue` and `add_pull`, and change it with `update`.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sandbox.http import FakeServer, Fault, Request, Response, json_response

DOCS = "https://docs.github.com/rest"
RATE_LIMIT = 5000


def gh_time(value: datetime | None) -> str | None:
    """GitHub's timestamp format: `2024-09-17T11:00:14Z`."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class GitHubModel:
    """The fake GitHub's data: repositories with their issues and pull requests."""

    token: str = "gh-token"
    login: str = "gapbot"
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)
    """full_name (lower case) -> {"id", "full_name", "private", "items": {number: item}}."""
    lock: threading.RLock = field(default_factory=threading.RLock)
    _next_id: int = 1000

    def add_repo(self, full_name: str, *, private: bool = False) -> dict[str, Any]:
        """Create a repository `owner/name`."""
        with self.lock:
            key = full_name.lower()
            if key not in self.repos:
                self._next_id += 1
                self.repos[key] = {
                    "id": self._next_id,
                    "full_name": full_name,
                    "private": private,
                    "items": {},
                    "sorted": None,
                }
            return self.repos[key]

    def repo(self, full_name: str) -> dict[str, Any] | None:
        """A repository by full name (case-insensitive)."""
        return self.repos.get(full_name.lower())

    def repo_by_id(self, repo_id: int) -> dict[str, Any] | None:
        """A repository by numeric id."""
        return next((r for r in self.repos.values() if r["id"] == repo_id), None)

    def add_issue(
        self,
        full_name: str,
        title: str,
        *,
        body: str | None = "",
        state: str = "open",
        user: str = "octocat",
        assignee: str | None = None,
        labels: list[str] | None = None,
        created: datetime | None = None,
        updated: datetime | None = None,
        closed: datetime | None = None,
        number: int | None = None,
    ) -> dict[str, Any]:
        """Add a plain issue; returns its model dict."""
        with self.lock:
            repo = self.add_repo(full_name)
            number = number or (max(repo["items"], default=0) + 1)
            self._next_id += 1
            created = (created or _now()).replace(microsecond=0)
            item: dict[str, Any] = {
                "id": self._next_id,
                "number": number,
                "title": title,
                "body": body,
                "state": state,
                "user": user,
                "assignee": assignee,
                "labels": list(labels or []),
                "created": created,
                "updated": (updated or created).replace(microsecond=0),
                "closed": closed,
                "pull": None,
            }
            repo["items"][number] = item
            repo["sorted"] = None
            return item

    def add_pull(
        self,
        full_name: str,
        title: str,
        *,
        head: str = "feature",
        base: str = "main",
        draft: bool = False,
        merged_at: datetime | None = None,
        requested_reviewers: list[str] | None = None,
        reviews: list[dict[str, Any]] | None = None,
        files: list[str] | None = None,
        **issue_fields: Any,
    ) -> dict[str, Any]:
        """Add a pull request (an issue with pull-request details).

        `reviews` items are `{"user": login, "state": "APPROVED", "submitted_at": datetime}`.
        """
        if merged_at is not None:
            issue_fields.setdefault("state", "closed")
            issue_fields.setdefault("closed", merged_at)
        item = self.add_issue(full_name, title, **issue_fields)
        item["pull"] = {
            "head": head,
            "base": base,
            "draft": draft,
            "merged_at": merged_at,
            "requested_reviewers": list(requested_reviewers or []),
            "reviews": list(reviews or []),
            "files": list(files or []),
        }
        return item

    def update(self, full_name: str, number: int, **changes: Any) -> dict[str, Any]:
        """Change an issue or pull request; `updated` moves to now unless given.

        Pull-request detail keys (`draft`, `merged_at`, `reviews`, ...) go to the PR part.
        """
        with self.lock:
            repo = self.repo(full_name)
            if repo is None:
                raise KeyError(full_name)
            item = repo["items"][number]
            for name, value in changes.items():
                if item["pull"] is not None and name in item["pull"]:
                    item["pull"][name] = value
                else:
                    item[name] = value
            if "updated" not in changes:
                item["updated"] = max(_now(), item["updated"])
            repo["sorted"] = None
            return item

    def delete(self, full_name: str, number: int) -> None:
        """Delete an issue (GitHub lets admins do that)."""
        with self.lock:
            repo = self.repos[full_name.lower()]
            del repo["items"][number]
            repo["sorted"] = None


def primary_rate_limit(reset_in: float = 1, **where: Any) -> Fault:
    """A fault: 403 with X-RateLimit-Remaining 0 and a Reset `reset_in` seconds ahead."""
    reset = int(time.time() + reset_in)
    return Fault(
        status=403,
        body={
            "message": "API rate limit exceeded for user ID 1.",
            "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
        },
        headers={
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Used": str(RATE_LIMIT),
            "X-RateLimit-Resource": "core",
        },
        **where,
    )


def secondary_rate_limit(retry_after: int = 1, **where: Any) -> Fault:
    """A fault: 403 with Retry-After and the secondary-limit message, no X-RateLimit headers."""
    return Fault(
        status=403,
        body={
            "message": "You have exceeded a secondary rate limit. "
            "Please wait a few minutes before you try again.",
            "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
        },
        headers={"Retry-After": str(retry_after)},
        **where,
    )


def github_error(status: int, message: str, **extra: Any) -> Response:
    """GitHub's error body: message, documentation_url and the status as a string."""
    return json_response(
        {"message": message, "documentation_url": DOCS, "status": str(status), **extra}, status
    )


class GitHubServer(FakeServer):
    """The fake GitHub API on localhost; `model` is its data."""

    def __init__(self, model: GitHubModel | None = None) -> None:
        """Serve `model` (an empty one if None)."""
        super().__init__()
        self.model = model or GitHubModel()
        self._used = 0
        self._reset = int(time.time()) + 3600
        repo = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
        by_id = r"/repositories/(?P<repo_id>\d+)"
        self.route("GET", "/user", self._auth(self._user))
        self.route("GET", "/rate_limit", self._auth(self._rate_limit))
        self.route("GET", "/orgs/(?P<org>[^/]+)/repos", self._auth(self._org_repos))
        self.route("GET", repo, self._auth(self._repo))
        for prefix in (repo, by_id):
            self.route("GET", f"{prefix}/issues", self._auth(self._issues))
        self.route("GET", rf"{repo}/issues/(?P<number>\d+)", self._auth(self._issue))
        self.route("GET", rf"{repo}/pulls/(?P<number>\d+)", self._auth(self._pull))
        for prefix in (repo, by_id):
            self.route("GET", rf"{prefix}/pulls/(?P<number>\d+)/reviews", self._auth(self._reviews))
            self.route("GET", rf"{prefix}/pulls/(?P<number>\d+)/files", self._auth(self._files))

    def not_found(self, request: Request) -> Response:
        """GitHub's 404."""
        return github_error(404, "Not Found")

    def decorate(self, request: Request, response: Response) -> Response:
        """Add the X-RateLimit headers every GitHub response carries (not secondary limits)."""
        if "Retry-After" in response.headers or "X-RateLimit-Remaining" in response.headers:
            return response
        with self.model.lock:
            self._used += 1
            used = self._used
        response.headers.update(
            {
                "X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": str(max(0, RATE_LIMIT - used)),
                "X-RateLimit-Reset": str(self._reset),
                "X-RateLimit-Used": str(used),
                "X-RateLimit-Resource": "core",
                "X-GitHub-Media-Type": "github.v3; format=json",
            }
        )
        return response

    # -- helpers ------------------------------------------------------------------------
    def _auth(self, handler: Any) -> Any:
        def checked(request: Request) -> Response:
            header = request.header("Authorization") or ""
            scheme, _, token = header.partition(" ")
            if scheme.lower() not in ("token", "bearer") or token != self.model.token:
                return github_error(401, "Bad credentials")
            return handler(request)

        return checked

    def _find_repo(self, request: Request) -> dict[str, Any] | None:
        if "repo_id" in request.params:
            return self.model.repo_by_id(int(request.params["repo_id"]))
        return self.model.repo(f"{request.params['owner']}/{request.params['name']}")

    def _user_json(self, login: str | None) -> dict[str, Any] | None:
        if not login:
            return None
        return {
            "login": login,
            "id": 1000 + sum(map(ord, login)),
            "node_id": "MDQ6VXNlcjE=",
            "avatar_url": f"{self.url}/avatars/{login}",
            "url": f"{self.url}/users/{login}",
            "html_url": f"https://github.example/{login}",
            "type": "User",
            "site_admin": False,
        }

    def _repo_json(self, repo: dict[str, Any]) -> dict[str, Any]:
        owner, name = repo["full_name"].split("/", 1)
        return {
            "id": repo["id"],
            "node_id": "MDEwOlJlcG9zaXRvcnkx",
            "name": name,
            "full_name": repo["full_name"],
            "private": repo["private"],
            "owner": self._user_json(owner),
            "html_url": f"https://github.example/{repo['full_name']}",
            "description": None,
            "fork": False,
            "url": f"{self.url}/repos/{repo['full_name']}",
            "issues_url": f"{self.url}/repos/{repo['full_name']}/issues{{/number}}",
            "pulls_url": f"{self.url}/repos/{repo['full_name']}/pulls{{/number}}",
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "pushed_at": "2026-01-01T00:00:00Z",
            "default_branch": "main",
            "archived": False,
            "disabled": False,
            "visibility": "private" if repo["private"] else "public",
            "has_issues": True,
            "open_issues_count": sum(1 for i in repo["items"].values() if i["state"] == "open"),
        }

    def _labels(self, names: list[str]) -> list[dict[str, Any]]:
        return [
            {
                "id": 100 + n,
                "node_id": "MDU6TGFiZWwx",
                "url": f"{self.url}/labels/{name}",
                "name": name,
                "color": "ededed",
                "default": False,
                "description": None,
            }
            for n, name in enumerate(names)
        ]

    def issue_json(self, repo: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        """An item as `/issues` lists it (a PR carries `pull_request`)."""
        base = f"{self.url}/repos/{repo['full_name']}"
        data: dict[str, Any] = {
            "url": f"{base}/issues/{item['number']}",
            "repository_url": base,
            "labels_url": f"{base}/issues/{item['number']}/labels{{/name}}",
            "comments_url": f"{base}/issues/{item['number']}/comments",
            "events_url": f"{base}/issues/{item['number']}/events",
            "html_url": f"https://github.example/{repo['full_name']}/issues/{item['number']}",
            "id": item["id"],
            "node_id": "I_kwDOADYVqs6",
            "number": item["number"],
            "title": item["title"],
            "user": self._user_json(item["user"]),
            "labels": self._labels(item["labels"]),
            "state": item["state"],
            "locked": False,
            "assignee": self._user_json(item["assignee"]),
            "assignees": [self._user_json(item["assignee"])] if item["assignee"] else [],
            "milestone": None,
            "comments": 0,
            "created_at": gh_time(item["created"]),
            "updated_at": gh_time(item["updated"]),
            "closed_at": gh_time(item["closed"]),
            "author_association": "MEMBER",
            "active_lock_reason": None,
            "body": item["body"],
            "closed_by": None,
            "state_reason": "completed" if item["state"] == "closed" else None,
        }
        pull = item["pull"]
        if pull is not None:
            data["html_url"] = f"https://github.example/{repo['full_name']}/pull/{item['number']}"
            data["draft"] = pull["draft"]
            data["pull_request"] = {
                "url": f"{base}/pulls/{item['number']}",
                "html_url": data["html_url"],
                "diff_url": data["html_url"] + ".diff",
                "patch_url": data["html_url"] + ".patch",
                "merged_at": gh_time(pull["merged_at"]),
            }
        return data

    def _ref(self, repo: dict[str, Any], ref: str) -> dict[str, Any]:
        owner = repo["full_name"].split("/", 1)[0]
        return {
            "label": f"{owner}:{ref}",
            "ref": ref,
            "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            "user": self._user_json(owner),
            "repo": self._repo_json(repo),
        }

    def pull_json(self, repo: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        """A pull request as `/pulls/{n}` returns it."""
        pull = item["pull"]
        issue = self.issue_json(repo, item)
        base = f"{self.url}/repos/{repo['full_name']}"
        number = item["number"]
        data = {
            key: issue[key]
            for key in (
                "id",
                "node_id",
                "html_url",
                "number",
                "state",
                "locked",
                "title",
                "user",
                "body",
                "labels",
                "milestone",
                "active_lock_reason",
                "created_at",
                "updated_at",
                "closed_at",
                "assignee",
                "assignees",
                "author_association",
                "comments",
            )
        }
        data.update(
            {
                "url": f"{base}/pulls/{number}",
                "diff_url": issue["html_url"] + ".diff",
                "patch_url": issue["html_url"] + ".patch",
                "issue_url": f"{base}/issues/{number}",
                "commits_url": f"{base}/pulls/{number}/commits",
                "review_comments_url": f"{base}/pulls/{number}/comments",
                "review_comment_url": f"{base}/pulls/comments{{/number}}",
                "comments_url": f"{base}/issues/{number}/comments",
                "statuses_url": f"{base}/statuses/6dcb09b5b57875f334f61aebed695e2e4193db5e",
                "merged_at": gh_time(pull["merged_at"]),
                "merge_commit_sha": None,
                "requested_reviewers": [self._user_json(u) for u in pull["requested_reviewers"]],
                "requested_teams": [],
                "head": self._ref(repo, pull["head"]),
                "base": self._ref(repo, pull["base"]),
                "_links": {"self": {"href": f"{base}/pulls/{number}"}},
                "auto_merge": None,
                "draft": pull["draft"],
                "merged": pull["merged_at"] is not None,
                "mergeable": None if pull["merged_at"] else True,
                "rebaseable": True,
                "mergeable_state": "clean",
                "merged_by": None,
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": 1,
                "additions": 10,
                "deletions": 2,
                "changed_files": len(pull["files"]),
            }
        )
        return data

    def _paged(self, request: Request, items: list[Any], base_path: str) -> Response:
        try:
            per_page = max(1, min(int(request.arg("per_page", "30") or 30), 100))
            page = max(1, int(request.arg("page", "1") or 1))
        except ValueError:
            return github_error(422, "Validation Failed")
        pages = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        query = {k: v[0] for k, v in request.query.items() if k != "page"}

        def link(number: int, rel: str) -> str:
            return f'<{self.url}{base_path}?{urlencode({**query, "page": number})}>; rel="{rel}"'

        rels = []
        if page > 1:
            rels += [link(page - 1, "prev"), link(1, "first")]
        if page < pages:
            rels += [link(page + 1, "next"), link(pages, "last")]
        if rels:
            headers["Link"] = ", ".join(rels)
        return json_response(chunk, headers=headers)

    # -- endpoints ----------------------------------------------------------------------
    def _user(self, request: Request) -> Response:
        data = self._user_json(self.model.login) or {}
        data.update({"name": "gapbot", "created_at": "2020-01-01T00:00:00Z"})
        return json_response(data)

    def _rate_limit(self, request: Request) -> Response:
        core = {
            "limit": RATE_LIMIT,
            "used": self._used,
            "remaining": RATE_LIMIT - self._used,
            "reset": self._reset,
        }
        search = {"limit": 30, "used": 0, "remaining": 30, "reset": self._reset}
        return json_response({"resources": {"core": core, "search": search}, "rate": core})

    def _org_repos(self, request: Request) -> Response:
        org = request.params["org"].lower()
        with self.model.lock:
            repos = [
                self._repo_json(r)
                for name, r in sorted(self.model.repos.items())
                if name.split("/", 1)[0] == org
            ]
        if not repos:
            return github_error(404, "Not Found")
        return self._paged(request, repos, request.path)

    def _repo(self, request: Request) -> Response:
        repo = self._find_repo(request)
        if repo is None:
            return github_error(404, "Not Found")
        return json_response(self._repo_json(repo))

    def _issues(self, request: Request) -> Response:
        repo = self._find_repo(request)
        if repo is None:
            return github_error(404, "Not Found")
        state = request.arg("state", "open")
        since_text = request.arg("since")
        since = None
        if since_text:
            try:
                since = datetime.fromisoformat(since_text.replace("Z", "+00:00"))
            except ValueError:
                return github_error(422, "Validation Failed")
        sort = request.arg("sort", "created")
        direction = request.arg("direction", "desc")
        with self.model.lock:
            items = [
                i
                for i in repo["items"].values()
                if (state == "all" or i["state"] == state)
                and (since is None or i["updated"] >= since)
            ]
            sort_key = "updated" if sort == "updated" else "created"
            items.sort(key=lambda i: (i[sort_key], i["number"]), reverse=direction != "asc")
            payload = [self.issue_json(repo, i) for i in items]
        return self._paged(request, payload, f"/repositories/{repo['id']}/issues")

    def _item(self, request: Request) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        repo = self._find_repo(request)
        if repo is None:
            return None, None
        return repo, repo["items"].get(int(request.params["number"]))

    def _issue(self, request: Request) -> Response:
        repo, item = self._item(request)
        if repo is None or item is None:
            return github_error(404, "Not Found")
        with self.model.lock:
            return json_response(self.issue_json(repo, item))

    def _pull(self, request: Request) -> Response:
        repo, item = self._item(request)
        if repo is None or item is None or item["pull"] is None:
            return github_error(404, "Not Found")
        with self.model.lock:
            return json_response(self.pull_json(repo, item))

    def _reviews(self, request: Request) -> Response:
        repo, item = self._item(request)
        if repo is None or item is None or item["pull"] is None:
            return github_error(404, "Not Found")
        base = f"{self.url}/repos/{repo['full_name']}/pulls/{item['number']}"
        reviews = [
            {
                "id": 80 + n,
                "node_id": "MDE3OlB1bGxSZXF1ZXN0UmV2aWV3ODA=",
                "user": self._user_json(review["user"]),
                "body": review.get("body", ""),
                "state": review["state"],
                "html_url": f"https://github.example/{repo['full_name']}/pull/{item['number']}",
                "pull_request_url": base,
                "_links": {"html": {"href": base}, "pull_request": {"href": base}},
                "submitted_at": gh_time(review.get("submitted_at")),
                "commit_id": "ecdd80bb57125d7ba9641ffaa4d7d2c19d3f3091",
                "author_association": "MEMBER",
            }
            for n, review in enumerate(item["pull"]["reviews"])
        ]
        return self._paged(request, reviews, request.path)

    def _files(self, request: Request) -> Response:
        repo, item = self._item(request)
        if repo is None or item is None or item["pull"] is None:
            return github_error(404, "Not Found")
        # GitHub lists at most 3,000 files of a pull request.
        files = [
            {
                "sha": "bbcd538c8e72b8c175046e27cc8f907076331401",
                "filename": name,
                "status": "modified",
                "additions": 1,
                "deletions": 1,
                "changes": 2,
                "blob_url": f"https://github.example/{repo['full_name']}/blob/main/{name}",
                "raw_url": f"https://github.example/{repo['full_name']}/raw/main/{name}",
                "contents_url": f"{self.url}/repos/{repo['full_name']}/contents/{name}",
                "patch": "@@ -1 +1 @@",
            }
            for name in item["pull"]["files"][:3000]
        ]
        return self._paged(request, files, request.path)


def repo_path_pattern() -> re.Pattern[str]:
    """Matches an issues-listing path of either form, for faults aimed at listings."""
    return re.compile(r"/(repos/[^/]+/[^/]+|repositories/\d+)/issues$")
