"""The project's errors: one root, subclassed by what the user can do about them.

The command line turns these into one line on stderr and an exit code: 2 for what the user
gave us (config, input files, credentials), 1 for anything else.
"""

from __future__ import annotations


class GapbotError(Exception):
    """Root of every error gapbot reports to a person."""

    exit_code = 1


class ConfigError(GapbotError):
    """The config file or the environment is wrong; the message names the file, line or field."""

    exit_code = 2


class InputError(GapbotError):
    """A file or argument the user gave is wrong; the message names the line and field."""

    exit_code = 2


class SourceError(GapbotError):
    """Jira, GitHub or Slack refused or failed; the message says which and what to check."""

    exit_code = 1
