"""`gapbot demo --serve` in a real headless browser (Debian's chromium through Selenium).

The demo runs as a user runs it, in a subprocess; the browser opens its web page, clicks the
alert buttons and types a slash command. The page turns those into signed Slack payloads for
the real app, which writes the store and updates the messages through the fake Slack's Web
API; the test sees the message change on the page and reads the store afterwards.

Without chromium and its driver the test is skipped, except with CI=true, where it fails.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.db import Store
from store.findings import get_finding
from tests.cli import REPO_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1200,1400",
)
STARTUP_SECONDS = 90
WAIT_SECONDS = 15
SNOOZE = "gapbot_snooze"
DISMISS = "gapbot_dismiss"
PAGE_LINE = "Sandbox Slack page: "

pytestmark = pytest.mark.slow


def _browser_problem() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A headless chromium driven through Debian's chromedriver."""
    problem = _browser_problem()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the browser test cannot run: {problem}")
        pytest.skip(problem)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    # Its profile stays in the test's folder, not in the home folder.
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium'}")
    # The driver path is given, so Selenium Manager (which would download drivers) never runs.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def served_demo(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    """`gapbot demo --serve` in a subprocess; yields the page URL, the folder, the process."""
    folder = tmp_path / "demo"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
        "LANG": "C.UTF-8",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--serve", "--size", "0.3", "--dir", str(folder)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    stderr_lines: list[str] = []

    def read_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    def read_stderr() -> None:
        assert process.stderr is not None
        stderr_lines.extend(process.stderr)

    readers = [
        threading.Thread(target=read_stdout, daemon=True),
        threading.Thread(target=read_stderr, daemon=True),
    ]
    for reader in readers:
        reader.start()
    url = ""
    try:
        while not url:
            try:
                line = lines.get(timeout=STARTUP_SECONDS)
            except queue.Empty:
                pytest.fail("gapbot demo --serve did not print its page's URL")
            if line.startswith(PAGE_LINE):
                url = line[len(PAGE_LINE) :].split()[0]
            elif process.poll() is not None and lines.empty():
                pytest.fail(f"gapbot demo --serve exited: {''.join(stderr_lines)}")
        yield url, folder, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for reader in readers:
            reader.join(timeout=5)
    # Ctrl-C is how a person stops it: that must end cleanly, without a traceback.
    assert process.returncode == 0, "".join(stderr_lines)
    assert "Traceback" not in "".join(stderr_lines)


def _finding(folder: Path, finding_id: str) -> tuple[str, str, str]:
    store = Store(f"sqlite:///{folder / 'gapbot.db'}")
    try:
        with store.session() as session:
            finding = get_finding(session, finding_id)
            assert finding is not None
            return finding.status, finding.status_by or "", finding.status_reason or ""
    finally:
        store.dispose()


def test_buttons_and_slash_command_in_a_real_browser(
    served_demo: tuple[str, Path, subprocess.Popen[str]], browser: Any
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, folder, _process = served_demo
    browser.get(url)
    # The page swaps in fresh HTML when something changed: elements found before may go stale.
    wait = WebDriverWait(
        browser, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,)
    )

    def channels_html() -> str:
        return str(browser.execute_script("return document.getElementById('channels').innerHTML"))

    def message_text(finding_id: str) -> str:
        return str(
            browser.execute_script(
                'const b = document.querySelector(`[data-block-id="gap:${arguments[0]}:text"]`);'
                "return b ? b.closest('.message').innerText : '';",
                finding_id,
            )
        )

    def channel_buttons(action: str) -> list[Any]:
        return browser.find_elements(
            By.CSS_SELECTOR, f'button[data-action-id="{action}"][data-ephemeral=""]'
        )

    # Snooze: the alert's buttons give way to "Snoozed by @sam.rivera" on the page.
    snooze = channel_buttons(SNOOZE)[0]
    assert snooze.text == "Snooze 7 days"
    snoozed_id = snooze.get_attribute("data-value")
    assert _finding(folder, snoozed_id)[0] == "open"
    snooze.click()
    wait.until(
        lambda d: (
            not d.find_elements(
                By.CSS_SELECTOR, f'button[data-action-id="{SNOOZE}"][data-value="{snoozed_id}"]'
            )
        )
    )
    text = wait.until(lambda _d: message_text(snoozed_id))
    assert "Snoozed by @sam.rivera" in text
    assert "(edited)" in text
    status, by, _ = _finding(folder, snoozed_id)
    assert (status, by) == ("snoozed", "U0DEMOUSR")

    # Not a gap: the app opens its modal; the reason typed there reaches the store.
    dismiss = next(
        b for b in channel_buttons(DISMISS) if b.get_attribute("data-value") != snoozed_id
    )
    dismissed_id = dismiss.get_attribute("data-value")
    dismiss.click()
    reason_box = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#modal-wrap textarea"))
    assert "Not a gap" in browser.find_element(By.ID, "modal-wrap").text
    reason = "Different work <b>really</b> & not the same"
    reason_box.send_keys(reason)
    browser.find_element(By.CSS_SELECTOR, "#modal-wrap button[type=submit]").click()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#modal-wrap form"))
    wait.until(
        lambda d: (
            not d.find_elements(
                By.CSS_SELECTOR, f'button[data-action-id="{DISMISS}"][data-value="{dismissed_id}"]'
            )
        )
    )
    text = wait.until(lambda _d: message_text(dismissed_id))
    assert "Not a gap, said @sam.rivera" in text
    # The reason is shown as typed: escaped, never as markup.
    assert reason in text
    assert "&lt;b&gt;really&lt;/b&gt; &amp; not" in channels_html()
    assert "<b>really" not in channels_html()
    assert _finding(folder, dismissed_id) == ("dismissed", "U0DEMOUSR", reason)

    # A slash command: its answer shows as "Only visible to you" in the chosen channel.
    box = browser.find_element(By.ID, "command-text")
    box.send_keys("/gaps summary")
    browser.find_element(By.CSS_SELECTOR, "#command button[type=submit]").click()
    answer = wait.until(
        lambda d: (
            "open gaps" in d.find_element(By.CSS_SELECTOR, ".ephemeral").text
            and d.find_element(By.CSS_SELECTOR, ".ephemeral").text
        )
    )
    assert "Only visible to you" in answer
