"""The config file: the template validates, and each kind of mistake is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.commands.setup import template_text
from config.docs import iter_settings, settings_table
from config.errors import ConfigError
from config.loader import load_settings, parse_config
from config.settings import Environment, GapbotConfig, TeamMap
from tests.cli import REPO_ROOT, run_gapbot

GOOD = """\
timezone: Europe/Berlin
teams:
  - name: payments
    slack_channel: "#payments"
    jira_projects: [PAY]
    github_repos: [acme/payments-api]
  - name: platform
    jira_projects: [CORE]
    github_repos: ["acme-platform/*"]
    jira_components: [Auth]
"""


def test_template_is_a_valid_config() -> None:
    config = parse_config(template_text("gapbot.yaml"))
    assert [t.name for t in config.teams] == ["payments", "platform"]
    assert config.detectors.stale_pr.review_wait_hours == 48


def test_defaults_fill_everything_but_teams() -> None:
    config = parse_config(GOOD)
    assert config.schedule.sync == "*/15 * * * *"
    assert config.detectors.duplicates.scope == "cross_team"
    assert config.zone.key == "Europe/Berlin"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("teams: [\n  {name: a\n", "gapbot.yaml:3: invalid YAML"),
        (GOOD + "colour: blue\n", "gapbot.yaml:11: colour: unknown key"),
        (
            GOOD.replace("timezone: Europe/Berlin", "timezone: Mars/Olympus"),
            "gapbot.yaml:1: timezone:",
        ),
        (
            GOOD + "detectors:\n  stale_pr: {review_wait_hours: soon}\n",
            "gapbot.yaml:12: detectors.stale_pr.review_wait_hours: Input should be a valid integer",
        ),
        (
            "teams:\n  - name: lonely\n    slack_channel: '#x'\n",
            "gapbot.yaml:2: teams[0]: team 'lonely' names no source",
        ),
        (
            GOOD.replace("jira_projects: [CORE]", "jira_projects: [CORE, PAY]"),
            "Jira project 'PAY' is owned by two teams: 'payments' and 'platform'",
        ),
        ("timezone: UTC\n", "gapbot.yaml:1: teams: required but missing"),
        (
            GOOD + "schedule:\n  sync: every minute\n",
            "gapbot.yaml:12: schedule.sync: 'every minute' is not a cron",
        ),
        ("- just\n- a list\n", "gapbot.yaml:1: the file must be a mapping"),
    ],
    ids=[
        "yaml-syntax",
        "unknown-key",
        "bad-timezone",
        "wrong-type",
        "team-without-source",
        "two-owners",
        "missing-teams",
        "bad-cron",
        "not-a-mapping",
    ],
)
def test_bad_config_is_one_line_naming_where(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_bad_config_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "gapbot.yaml").write_text(GOOD + "colour: blue\n")
    (tmp_path / "items.jsonl").write_text('{"key": "PAY-1", "title": "Fix login"}\n')
    db = tmp_path / "gapbot.db"
    result = run_gapbot(
        "import", "items.jsonl", cwd=tmp_path, env={"DATABASE_URL": f"sqlite:///{db}"}
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["gapbot: error: gapbot.yaml:11: colour: unknown key"]
    assert "Traceback" not in result.stderr
    assert not db.exists()


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    result = run_gapbot("--config", "nope.yaml", "items", cwd=tmp_path)
    # `items` needs no config, so it works without one...
    assert result.returncode == 0, result.stderr
    with pytest.raises(ConfigError, match=r"nope.yaml: no such config file"):
        load_settings(tmp_path / "nope.yaml")


def test_environment_overrides_urls_and_keeps_secrets_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "gapbot.yaml"
    path.write_text(GOOD + "jira:\n  url: https://file.example.net/\n")
    monkeypatch.setenv("JIRA_URL", "https://env.example.net/")
    monkeypatch.setenv("JIRA_API_TOKEN", "tok-123456")
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example.net/api/v3")
    settings = load_settings(path)
    assert settings.jira_url == "https://env.example.net"
    assert settings.github_api_url == "https://ghe.example.net/api/v3"
    assert "tok-123456" not in repr(settings.env)
    assert settings.env.jira_api_token.get_secret_value() == "tok-123456"


def test_secrets_in_the_file_are_unknown_keys() -> None:
    with pytest.raises(ConfigError, match=r"jira.api_token: unknown key"):
        parse_config(GOOD + "jira:\n  api_token: abc\n")


def test_team_map_components_and_labels_override_projects() -> None:
    team_map = TeamMap(parse_config(GOOD).teams)
    assert team_map.owner(project="PAY") == "payments"
    assert team_map.owner(project="PAY", components=["auth"]) == "platform"
    assert team_map.owner(project="acme-platform/anything") == "platform"
    assert team_map.owner(project="acme/payments-api") == "payments"
    assert team_map.owner(project="OTHER") == "unassigned"


def test_every_setting_is_documented_and_the_readme_table_is_current() -> None:
    for name, info in iter_settings():
        assert info.description, f"setting {name} has no description"
    for name, info in Environment.model_fields.items():
        assert info.description, f"environment variable {name.upper()} has no description"
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme, "README's settings table is stale: python -m config.docs"


def test_design_example_config_is_valid() -> None:
    design_example = """\
timezone: Europe/Berlin
jira:
  url: https://acme.atlassian.net
  jql: ""
github:
  api_url: https://api.github.com
slack:
  report_channel: "#eng-leads"
teams:
  - name: payments
    slack_channel: "#payments"
    jira_projects: [PAY]
    github_repos: [acme/payments-api, acme/checkout-web]
    jira_components: []
    labels: []
    restricted: false
objectives:
  - key: OBJ-1
    title: Self-serve onboarding
schedule:
  sync: "*/15 * * * *"
  digest: "0 9 * * MON-FRI"
  weekly_report: "0 9 * * MON"
detectors:
  duplicates: {scope: cross_team}
  stale_pr: {review_wait_hours: 48}
"""
    config = parse_config(design_example)
    assert isinstance(config, GapbotConfig)
    assert config.objectives[0].key == "OBJ-1"
