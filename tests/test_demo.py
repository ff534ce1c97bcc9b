"""`gapbot demo` end to end: the generated organisation through the whole real pipeline.

The sandbox's Jira, GitHub and Slack are real HTTP servers; sync, detection, delivery and the
report are the product's own code. What the generator planted is the answer key.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.commands.demo import check_port, prepare_folder
from bot.demo import DemoResult, run_demo
from config.errors import InputError
from detectors.base import FINDING_KINDS
from tests.cli import run_gapbot

SIZE = 0.3
"""Small enough to run in a few seconds, large enough to hold every kind of planted gap."""
DUPLICATE = "duplicate"
# Another helper is still tuning the duplicate matcher's threshold: its planted pairs must be
# found, but its false alarms are not asserted yet.
EXACT_KINDS = tuple(kind for kind in FINDING_KINDS if kind != DUPLICATE)
DEMO_FILES = {"gapbot.yaml", "demo.env", "gapbot.db", "weekly-report.html"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoResult, Path]]:
    """One in-process demo run, shared by the checks below; also its working folder."""
    folder = tmp_path_factory.mktemp("demo")
    cwd = tmp_path_factory.mktemp("cwd")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        # The demo must not use the developer's database, whatever the environment says.
        patch.setenv("DATABASE_URL", f"sqlite:///{cwd / 'elsewhere.db'}")
        yield run_demo(folder, seed=7, size=SIZE), cwd


def test_every_kind_is_planted_and_found_without_false_alarms(
    demo: tuple[DemoResult, Path],
) -> None:
    result, _ = demo
    for kind in EXACT_KINDS:
        entry = result.scores[kind]
        assert entry.planted >= 1, f"the generator planted no {kind}"
        assert entry.found == entry.planted, f"{kind}: missed {entry.missed}"
        assert entry.false_alarms == 0, f"{kind}: false alarms {entry.extra}"


def test_planted_duplicates_are_found(demo: tuple[DemoResult, Path]) -> None:
    result, _ = demo
    entry = result.scores[DUPLICATE]
    assert entry.planted >= 2
    assert entry.found == entry.planted, f"missed duplicates: {entry.missed}"


def test_report_is_html_with_an_inlined_chart(demo: tuple[DemoResult, Path]) -> None:
    result, _ = demo
    assert result.report_path == result.folder / "weekly-report.html"
    page = result.report_path.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "</html>" in page
    assert 'src="data:image/png;base64,iVBORw0KGgo' in page  # PNG signature, base64-encoded


def test_channels_got_the_alerts_and_the_report(demo: tuple[DemoResult, Path]) -> None:
    result, _ = demo
    config = result.org.config()
    for team in config["teams"]:
        messages = result.channels.get(team["slack_channel"], [])
        assert messages, f"{team['slack_channel']} received nothing"
        assert any(m.get("blocks") for m in messages)
    report = result.channels[config["slack"]["report_channel"]]
    assert report[0]["text"].startswith("Weekly gap report")
    # The chart is uploaded into the report's thread.
    assert any(m.get("files") and m.get("thread_ts") == report[0]["ts"] for m in report)
    assert result.delivery.messages_posted >= len(config["teams"])
    assert result.delivery.errors == []


def test_nothing_is_written_outside_the_folder(demo: tuple[DemoResult, Path]) -> None:
    result, cwd = demo
    assert list(cwd.iterdir()) == []
    assert {p.name for p in result.folder.iterdir()} <= DEMO_FILES | {".matplotlib"}
    assert {p.name for p in result.folder.iterdir()} >= DEMO_FILES


def test_cli_demo_ends_with_found_line_and_leaves_nothing_behind(tmp_path: Path) -> None:
    cwd, home_tmp, folder = tmp_path / "cwd", tmp_path / "tmp", tmp_path / "demo"
    cwd.mkdir()
    home_tmp.mkdir()
    done = run_gapbot(
        "demo", "--dir", str(folder), "--size", str(SIZE), cwd=cwd, env={"TMPDIR": str(home_tmp)}
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    found, planted = last.split(" planted gaps")[0].removeprefix("found ").split(" of ")
    assert last.startswith("found ")
    assert found == planted
    assert int(planted) >= len(FINDING_KINDS)
    assert "Traceback" not in done.stderr + done.stdout
    assert "Exception" not in done.stderr
    # HOME is `cwd` in run_gapbot: no matplotlib cache or anything else lands there.
    assert list(cwd.iterdir()) == []
    assert list(home_tmp.iterdir()) == []
    assert (folder / "weekly-report.html").is_file()


def test_cli_demo_refuses_an_unrelated_folder(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")
    done = run_gapbot("demo", "--dir", str(folder), cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "exists" in lines[0]
    assert str(folder) in lines[0]
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_a_file_is_refused_as_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "a-file"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="exists and is not a folder"):
        prepare_folder(path)


def test_serve_refuses_a_taken_port_before_running(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(InputError, match=f"--port {port}: cannot listen"):
            check_port(port)
    check_port(0)  # a free port is picked later: nothing to check


def test_a_previous_demo_folder_is_reused(tmp_path: Path) -> None:
    (tmp_path / "gapbot.db").write_bytes(b"old")
    (tmp_path / "gapbot.yaml").write_text("old", encoding="utf-8")
    assert prepare_folder(tmp_path) == tmp_path
    assert not (tmp_path / "gapbot.db").exists()  # a fresh store for the new run
