"""The slash command's counts and orderings in SQL, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from bot.access import Audience
from bot.slash import SlashCommands
from sandbox.slack_server import FakeSlack
from store.db import Store
from tests.slack_support import add_finding, all_text, make_settings, seed_org


def _text(message: object) -> str:
    return all_text(message.block_dicts())  # type: ignore[attr-defined]


def test_summary_and_groups_count_and_order_in_sql(store: Store) -> None:
    seed_org(store)
    add_finding(store, "low-one", ["PAY-1"], ["payments"], kind="overdue", severity="low")
    add_finding(store, "dup-pay", ["PAY-1", "PAY-3"], ["payments"], severity="medium")
    with FakeSlack() as slack:  # only its URL goes into the settings: nothing is sent
        settings = make_settings(slack)
    commands = SlashCommands(store, settings)
    payments = Audience(channel_name="payments", channel_id="C1")
    security = Audience(channel_name="security", channel_id="C2")

    text = _text(commands.summary([], payments))
    assert "4 open gaps" in text  # dup-sec (restricted security) is not counted here
    assert "Duplicated effort: *2*" in text
    assert "dup-sec" not in text
    # Most severe first: the two high gaps, then medium, then low.
    order = [text.index(f) for f in ("dup-okta", "pri-hostile", "dup-pay", "low-one")]
    assert order[2] > max(order[:2])
    assert order[3] > order[2]

    assert "5 open gaps" in _text(commands.summary([], security))
    assert "3 open gaps for platform" not in _text(commands.summary(["platform"], payments))
    assert "2 open gaps for platform" in _text(commands.summary(["platform"], payments))
    assert "Duplicated effort: 2 open" in _text(commands.group("dupes", [], payments))
    assert "Duplicated effort: 3 open" in _text(commands.group("dupes", [], security))
    assert "0 open gaps" in _text(commands.summary(["security"], Audience.private()))
