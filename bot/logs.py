"""Logging to stderr, with every secret from the environment masked wherever it appears."""

from __future__ import annotations

import logging
import os
import sys

SECRET_VARIABLES = (
    "JIRA_API_TOKEN",
    "JIRA_PAT",
    "GITHUB_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
)
MASK = "***"


def secret_values() -> list[str]:
    """The secrets set in the environment now, longest first (so none is half-masked)."""
    values = [os.environ.get(name, "") for name in SECRET_VARIABLES]
    password = _database_password()
    if password:
        values.append(password)
    return sorted((v for v in values if len(v) >= 4), key=len, reverse=True)


def _database_password() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if "://" not in url or "@" not in url:
        return ""
    credentials = url.split("://", 1)[1].rsplit("@", 1)[0]
    return credentials.split(":", 1)[1] if ":" in credentials else ""


def redact(text: str) -> str:
    """`text` with every secret value replaced by ***."""
    for value in secret_values():
        text = text.replace(value, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in the final message of every record that passes through a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, masked, and drop the arguments."""
        message = record.getMessage()
        masked = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        record.msg = masked
        record.args = None
        return True


def configure_logging(verbose: int = 0) -> None:
    """Log to stderr: warnings by default, info with -v, debug with -vv or GAPBOT_LOG_LEVEL."""
    level_name = os.environ.get("GAPBOT_LOG_LEVEL", "").upper()
    if level_name in logging.getLevelNamesMapping():
        level = logging.getLevelNamesMapping()[level_name]
    else:
        level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_gapbot", False):
            root.removeHandler(existing)
    handler._gapbot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
