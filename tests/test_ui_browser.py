"""The workbench in headless Chromium (the operating system's package, driven by Selenium).

Each page must render with data, its chart must draw (and the JavaScript enhance it), the console must
stay free of errors (a CSP violation is one), a hostile title must show as text, and the browser must
request nothing outside the server on 127.0.0.1. Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest
from ui_fixture import build_ui_warehouse, running_ui

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).parent / "artifacts" / "ui"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1200,1400"]

pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                                reason="needs the OS packages chromium and chromium-driver (/usr/bin/chromium)")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("uib")
    snap = build_ui_warehouse(root / "wh.duckdb")
    with running_ui("--db", str(snap)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="newswatch-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def _visit(driver, url: str, shot: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")
    driver.get_log("performance")  # start each page with empty logs
    driver.get(url)
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")
    driver.save_screenshot(str(ARTIFACTS / f"{shot}.png"))
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == [], errors
    origin = url.split("/", 3)[:3]
    # chrome:// and chrome-untrusted:// URLs are the browser's own pages (its new-tab page loads lazily), not
    # requests of ours
    for requested in (u for u in _requested_urls(driver) if not u.startswith(("chrome://", "chrome-untrusted://"))):
        assert requested.startswith("/".join(origin) + "/") or requested.startswith("data:"), requested
        assert requested.startswith("http://127.0.0.1:") or requested.startswith("data:"), requested
    return driver.find_element(By.TAG_NAME, "main")


def test_every_page_renders_with_data_and_no_console_error(served, browser):
    sid = next(s["story_id"] for s in httpx.get(f"{served}/api/home").json()["latest_stories"] if s["article_count"] == 3)
    pages = {"home": ("/", "Spiking now"), "topics": ("/topics", "korea"), "topic": ("/topics/korea", "Top speakers"),
             "story": (f"/stories/{sid}", "Northern Wire"), "entity": ("/entities/person:kim jong un", "Appears with"),
             "quotes": ("/quotes?speaker=park", "without preconditions"), "feeds": ("/feeds", "Broken Feed"),
             "sql": ("/sql?q=SELECT+topic%2C+count(*)+AS+n+FROM+topic_matches+GROUP+BY+ALL", "korea")}
    for shot, (path, text) in pages.items():
        main = _visit(browser, served + path, shot)
        assert text in main.text, shot


def test_charts_draw_and_the_script_enhances_them(served, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    _visit(browser, served + "/topics/korea?days=30", "topic-chart")
    chart = browser.find_element(By.CSS_SELECTOR, "svg.chart")
    bars = chart.find_elements(By.CSS_SELECTOR, "rect.bar")
    assert len(bars) == 30
    assert chart.size["width"] > 300 and chart.size["height"] > 50
    assert chart.get_attribute("data-enhanced") == "1"  # app.js ran under the CSP
    assert chart.find_elements(By.CSS_SELECTOR, "rect.bar.spike")  # today's Korea spike is marked
    ActionChains(browser).move_to_element(bars[-1]).perform()
    readout = browser.find_element(By.CSS_SELECTOR, ".readout").text
    assert "stories 5" in readout, readout
    def view_box() -> str:
        return browser.execute_script("return arguments[0].getAttribute('viewBox')", chart)

    before = view_box()
    ActionChains(browser).move_to_element_with_offset(chart, -200, 0).click_and_hold() \
        .move_by_offset(200, 0).release().perform()
    assert view_box() != before and before == "0 0 640 160"  # zoomed on the dragged days
    browser.save_screenshot(str(ARTIFACTS / "topic-chart-zoomed.png"))


def test_a_hostile_title_renders_as_text(served, browser):
    from selenium.webdriver.common.by import By

    _visit(browser, served + "/", "home-hostile")
    link = next(a for a in browser.find_elements(By.CSS_SELECTOR, "#latest a") if "script" in a.text)
    assert link.text.startswith("<script>alert('x')</script><U+001B>[31mRED<U+202E>GNP.exe")
    assert browser.execute_script("return window.__xss === undefined && document.querySelectorAll('main script').length") == 0
    sid = link.get_attribute("href").rsplit("/", 1)[1]
    _visit(browser, f"{served}/stories/{sid}", "story-hostile")
    assert "<script>alert('x')</script>" in browser.find_element(By.CSS_SELECTOR, "h1.story-title").text


def test_home_dashboard_screenshot_shows_the_dashboard(served, browser):
    from selenium.webdriver.common.by import By

    _visit(browser, served + "/", "home")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Dashboard"
    assert browser.find_element(By.ID, "feed-warnings").is_displayed()
    assert (ARTIFACTS / "home.png").stat().st_size > 10_000
