"""The demo in a real headless Chromium: what a newcomer clicks, with no console errors.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them the test
skips with that reason, except in CI (CI=true), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _require_browser() -> None:
    if CHROMIUM and CHROMEDRIVER:
        return
    reason = "headless Chromium not installed (apt-get install chromium chromium-driver)"
    if os.environ.get("CI"):
        pytest.fail(reason + ": CI must run the browser test")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo_server(tmp_path):
    _require_browser()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "PULSEBRIDGE_", "DATABASE_URL"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "demo", "--port", str(port), "--database-url", f"sqlite:///{tmp_path}/demo.db"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}/playground"
    for _ in range(150):
        try:
            urllib.request.urlopen(url, timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("demo exited: " + proc.stderr.read())
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def browser():
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait_until(predicate, timeout=10.0, browser=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    if browser is not None:
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "failure.png"))
        raise AssertionError(f"condition not met in time; page text: {browser.find_element('tag name', 'body').text[:2000]}; console: {browser.get_log('browser')}")
    raise AssertionError("condition not met in time")


def click_job(browser, label_part: str) -> str:
    """Click the time-travel button whose label holds `label_part`; returns the label. The page
    re-renders its job list when its state changes, so a button found a moment ago can be gone
    (stale) by the time it is read or clicked: then look again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    def attempt() -> str | None:
        try:
            for button in browser.find_elements(By.CSS_SELECTOR, "#jobs button"):
                label = button.text
                if label_part in label:
                    button.click()
                    return label
        except StaleElementReferenceException:
            return None
        return None

    return wait_until(attempt, browser=browser)


def posts_text(browser) -> str:
    return "\n".join(post_texts(browser))


def post_texts(browser) -> list[str]:
    """The shown posts' texts, read in one script: the page re-renders its posts when a new one
    arrives, so elements found first and read one by one can be gone (stale) half-way through."""
    return browser.execute_script("return Array.from(document.querySelectorAll('#posts .post'), p => p.innerText.trim())")


def act_as(browser, handle: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, "who")).select_by_value(handle)
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, f'#convs button[data-conv="dm:{handle}"]'), browser=browser)


def open_conversation(browser, conv: str) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, f'#convs button[data-conv="{conv}"]').click()
    wait_until(lambda: browser.find_element(By.CSS_SELECTOR, f'#convs button[data-conv="{conv}"]').get_attribute("class").startswith("active"), browser=browser)


def type_command(browser, text: str) -> None:
    from selenium.webdriver.common.by import By

    box = browser.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text + "\n")


def screenshot(browser, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / name))


def test_newcomer_tries_the_product_in_the_browser(demo_server, browser):
    from selenium.webdriver.common.by import By

    browser.get(demo_server)
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#who option"), browser=browser)
    assert "Welcome to the demo company" in browser.find_element(By.ID, "welcome").text

    # A lead gives kudos; the page shows the bot's private answer.
    act_as(browser, "ana")
    type_command(browser, "/kudos @bob for walking me through the <b>demo</b> #kindness")
    wait_until(lambda: "Kudos sent to" in posts_text(browser), browser=browser)
    assert "walking me through the <b>demo</b>" in posts_text(browser)  # shown as typed, not as markup

    # A customer's praise goes through the signed webhook and lands in her DM.
    browser.find_element(By.ID, "sample-feedback").click()
    wait_until(lambda: "Customer kudos!" in posts_text(browser), browser=browser)

    # Time travel: this week's recognition digest for her team, built from the seeded month, now. The
    # button says where it goes; the step must add a post, not pass on text that was already on the page.
    before = post_texts(browser)
    assert not any("Quiet contributors" in p for p in before)
    label = click_job(browser, "support's weekly recognition digest")
    assert "its leads get it by DM" in label
    wait_until(lambda: len(post_texts(browser)) == len(before) + 1, browser=browser)
    newest = post_texts(browser)[-1]
    assert "Acme Corp" in newest and "Quiet contributors" in newest
    wait_until(lambda: browser.find_element(By.ID, "status").text.startswith("Done: Send support's weekly recognition digest"), browser=browser)
    screenshot(browser, "playground-lead.png")

    # Time travel again: the team's next scheduled pulse goes out now.
    click_job(browser, "support's next pulse")
    wait_until(lambda: browser.find_element(By.ID, "status").text.startswith("Done: Send support's next pulse now"), browser=browser)

    # The recipient sees the kudos and the pulse in his DM, and answers the pulse with one click.
    act_as(browser, "bob")
    wait_until(lambda: "gave you kudos" in posts_text(browser) and "Quick pulse" in posts_text(browser), browser=browser)
    answer = browser.find_elements(By.CSS_SELECTOR, '#posts button.action[data-action-id^="pulse.answer:"]')[-1]
    answer.click()
    wait_until(lambda: "Your answer" in posts_text(browser), browser=browser)
    screenshot(browser, "playground-pulse.png")

    # The lead reads pulse results: numbers for the seeded (closed) weeks, while the open pulse Bob
    # alone has answered shows only that fewer than the minimum have answered.
    act_as(browser, "ana")
    type_command(browser, "/pulse results")
    wait_until(lambda: "Pulse · Customer Support" in posts_text(browser) and "Average" in posts_text(browser), browser=browser)
    assert "fewer than 4 people have answered so far" in posts_text(browser)

    # ...and opens /teamhealth: engagement, recognition and customers for her team, with goals.
    type_command(browser, "/teamhealth")
    wait_until(lambda: "Team health: Customer Support" in posts_text(browser), browser=browser)
    assert "Engagement" in posts_text(browser) and "Customers notice us" in posts_text(browser)
    screenshot(browser, "playground-teamhealth.png")
    open_conversation(browser, "team:support")
    wait_until(lambda: "recognised" in posts_text(browser) and "Customer kudos for" in posts_text(browser), browser=browser)
    screenshot(browser, "playground-channel.png")

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_a_phone_sized_window_shows_everything_without_sideways_scrolling(demo_server, browser):
    from selenium.webdriver.common.by import By

    browser.set_window_size(360, 780)
    browser.get(demo_server.removesuffix("playground"))  # "/" goes to the playground
    assert browser.current_url.endswith("/playground")
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#who option"), browser=browser)
    act_as(browser, "ana")
    type_command(browser, "/kudos @bob for testing on a phone #craft")
    wait_until(lambda: "Kudos sent to" in posts_text(browser), browser=browser)
    width = browser.execute_script("return window.innerWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    box = browser.execute_script("""
        const r = (id) => document.getElementById(id).getBoundingClientRect();
        return {welcome: r("welcome"), posts: r("posts"), text: r("text"), jobs: r("jobs")};""")
    assert box["welcome"]["bottom"] <= box["posts"]["top"] + 1  # the introduction sits above the messages, never over them
    for name in ("posts", "text", "jobs"):
        assert box[name]["width"] > 0 and box[name]["left"] >= 0 and box[name]["right"] <= width + 1, (name, box)
    screenshot(browser, "playground-360.png")
