"""Block Kit builders: escaping, visible truncation and Slack's limits."""

from __future__ import annotations

from bot.views.findings import alert_message, gap_blocks, header
from bot.views.pages import home_view, item_results
from bot.views.text import cut, escape, link, person
from store.models import Finding, WorkItem


def _finding(n: int, *, summary: str = "", explanation: str = "") -> Finding:
    return Finding(
        id=f"dup-{n:04d}",
        kind="duplicate",
        severity="high",
        summary=summary or f"gap {n}",
        explanation=explanation,
        teams=["payments"],
        item_keys=[f"PAY-{n}"],
    )


def test_escape_defuses_mentions_and_links() -> None:
    assert escape("<!channel> & <@U123>") == "&lt;!channel&gt; &amp; &lt;@U123&gt;"
    assert link("https://x.example/a?b=1&c=2", "<!here>") == (
        "<https://x.example/a?b=1&amp;c=2|&lt;!here&gt;>"
    )
    # A URL cannot close the link early or carry its own label.
    assert link("https://evil.example|https://good.example>", "PAY-1") == (
        "<https://evil.example%7Chttps://good.example%3E|PAY-1>"
    )
    assert link("javascript:alert(1)", "PAY-1") == "PAY-1"
    assert person("U0ABC") == "<@U0ABC>"
    assert person("<!channel>") == "&lt;!channel&gt;"


def test_cut_is_visible_and_never_breaks_an_escape_or_a_link() -> None:
    assert cut("abcdef", 4) == "abc…"
    assert cut("abc", 4) == "abc"
    assert cut("ab &amp; cd", 6) == "ab…"
    assert cut("see <https://x.example|PAY-1> now", 12) == "see…"


def test_long_texts_are_cut_to_slacks_limits() -> None:
    finding = _finding(1, summary="s" * 5000, explanation="e" * 5000)
    item = WorkItem(key="PAY-1", title="t" * 5000, team="payments", url="https://j.example/PAY-1")
    blocks = [b.to_dict() for b in gap_blocks(finding, {"PAY-1": item})]
    text = blocks[0]["text"]["text"]
    assert len(text) <= 3000
    assert "…" in text
    assert len(header("h" * 400).to_dict()["text"]["text"]) == 150


def test_alert_message_stays_under_fifty_blocks() -> None:
    findings = [_finding(n) for n in range(10)]
    message = alert_message("#payments", findings, {}, more=30, command="/gaps summary")
    blocks = message.block_dicts()
    assert len(blocks) <= 50
    assert "…and 30 more" in blocks[-1]["elements"][0]["text"]
    assert message.text.startswith("40 new coordination gaps for #payments")


def test_home_and_search_results_fit_their_limits() -> None:
    findings = [_finding(n) for n in range(60)]
    view = home_view(findings, {}, total=60, command="/gaps", who="ada@example.com").to_dict()
    assert len(view["blocks"]) <= 100
    assert "…and 35 more" in view["blocks"][-1]["elements"][0]["text"]
    items = [
        (WorkItem(key=f"PAY-{n}", title="<!here> " + "x" * 300, team="payments"), 0.5)
        for n in range(60)
    ]
    message = item_results("Items like okta", items, empty_text="none")
    dicts = message.block_dicts()
    assert len(dicts) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in dicts if b["type"] == "section")
    assert "<!here>" not in str(dicts)
