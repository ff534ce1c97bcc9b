"""What every live connector shares: scopes, pages, the failure kinds and the retry policy.

A connector (Jira, GitHub) turns one *scope* (a Jira project or team query, a GitHub
repository) into *pages* of `ItemRecord`s, oldest change first. It sorts every failure into
one of four kinds, because the sync loop treats each differently:

- `RetryableError`: 429, 5xx, timeouts, dropped connections — wait and try again (bounded);
- `AuthError`: 401, or a 403 that is not a rate limit — stop the whole source at once;
- `ScopeNotFoundError`: 404 for a project or repository — skip that scope, go on;
- `MalformedPageError`: an answer that is not what the API documents — stop that scope.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from config.errors import SourceError
from connectors.records import ItemRecord

log = logging.getLogger(__name__)

T = TypeVar("T")


class RetryableError(SourceError):
    """A failure worth retrying; `wait` is what the server asked for (seconds), if anything."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        """Keep the message and the server's requested wait."""
        super().__init__(message)
        self.wait = wait


class AuthError(SourceError):
    """The source refused the credentials; the message names the variable to check."""


class ScopeNotFoundError(SourceError):
    """The project or repository does not exist or the token cannot see it."""


class MalformedPageError(SourceError):
    """A page that is not shaped as the API documents (cut off, not JSON, missing keys)."""


@dataclass(frozen=True)
class Scope:
    """One unit of sync with its own cursor: a Jira project or team query, a repository."""

    source: str
    name: str
    """The SyncState scope: `PAY`, `team:growth`, `acme/web`."""
    project: str = ""
    """The project or repository whose items this scope holds all of ('' for a team query)."""
    query: str = ""
    """A JQL of the team's own, for team scopes."""


@dataclass
class Page:
    """One page of items from a scope, and how to ask for the next."""

    records: list[ItemRecord]
    next_token: str | None
    max_updated: datetime | None = None
    """The newest `updated` on the page (the API orders by it, ascending)."""
    seen_keys: list[str] = field(default_factory=list)
    extra_links: list[dict[str, str]] = field(default_factory=list)
    """Link rows the records cannot express themselves (each names its origin item)."""
    truncated: bool = False
    """The scope ended early (results shifted under the pager): safe for the cursor, but not
    a complete read, so `--full` must not mark unseen items gone."""


class Connector(Protocol):
    """What the sync loop needs from a source."""

    name: str
    credential_hint: str
    retry: RetryPolicy

    def scopes(self) -> list[Scope]:
        """The configured scopes (GitHub's `owner/*` not yet expanded)."""
        ...

    def expand_scope(self, scope: Scope) -> list[Scope]:
        """The scopes a configured scope stands for (`owner/*`: every repository)."""
        ...

    def check_scope(self, scope: Scope) -> None:
        """Raise ScopeNotFoundError when the scope's project or repository is not reachable."""
        ...

    def fetch_page(self, scope: Scope, since: datetime | None, token: str | None) -> Page:
        """One page of items updated at or after `since` (all when None)."""
        ...


@dataclass
class RetryPolicy:
    """How long and how often to retry: bounded, with exponential backoff and jitter.

    A server asking to wait longer than `max_wait` (a rate-limit reset an hour away) is not
    waited for: the scope fails with a clear message and the next scheduled sync resumes.
    """

    attempts: int = 5
    """Tries in total, the first included."""
    base_delay: float = 1.0
    """Backoff after the first failure (doubling each time) when the server gives no wait."""
    max_delay: float = 30.0
    max_wait: float = 120.0
    """The longest server-requested wait (Retry-After, rate-limit reset) honoured, seconds."""
    sleep: Callable[[float], None] = time.sleep

    def call(self, what: str, function: Callable[[], T]) -> T:
        """Run `function`, retrying RetryableErrors as the policy allows; log each wait."""
        attempt = 1
        while True:
            try:
                return function()
            except RetryableError as exc:
                if attempt >= self.attempts:
                    msg = f"{what}: giving up after {attempt} attempts: {exc}"
                    raise SourceError(msg) from exc
                if exc.wait is not None:
                    if exc.wait > self.max_wait:
                        msg = (
                            f"{what}: {exc}; the server asks to wait {exc.wait:.0f}s, "
                            f"more than {self.max_wait:.0f}s: try again later"
                        )
                        raise SourceError(msg) from exc
                    delay = max(0.0, exc.wait)
                else:
                    delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
                    delay *= 0.5 + random.random() / 2  # jitter: many scopes, one server
                log.warning(
                    "%s: %s; retry %d of %d in %.1fs", what, exc, attempt, self.attempts - 1, delay
                )
                self.sleep(delay)
                attempt += 1
