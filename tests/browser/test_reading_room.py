"""The reading room, /docs and /redoc in a real browser: Debian's chromium, headless, driven
by selenium through its chromedriver, against a real `archive serve` on the suite's database
(SQLite, or PostgreSQL with ARCHIVE_TEST_DATABASE_URL).

Nothing may come from outside: the browser resolves no host but 127.0.0.1, and every request
it makes is read back from its network log after each test; one to any other host fails the
test (`test_the_guard_sees_a_request_to_another_host` shows that it would).

Without /usr/bin/chromium and /usr/bin/chromedriver these tests are skipped, except under CI
(CI=true), where .ci/run installs them and a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from sqlalchemy import Engine

CHROMIUM = Path(os.environ.get("ARCHIVE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("ARCHIVE_CHROMEDRIVER", "/usr/bin/chromedriver"))

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    if os.environ.get("CI"):
        raise RuntimeError(f"CI needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium)")
    pytest.skip(
        "no Debian chromium/chromedriver (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow
WAIT = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, engine: Engine
) -> Iterator[str]:
    """`archive serve` on the suite's database (migrated, holding the corpus: the `engine`
    fixture saw to it; tests roll back whatever they write, so it holds just the corpus)."""
    tmp = tmp_path_factory.mktemp("browser")
    port = _free_port()
    archive = Path(sys.executable).with_name("archive")
    log = (tmp / "serve.log").open("w")
    process = subprocess.Popen(
        [str(archive), "serve", "--database-url", database_url, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp / "serve.log").read_text())
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        # No name resolves but the local server's: nothing can reach another host.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(WAIT)
    yield driver
    driver.quit()


def requested(driver: WebDriver) -> list[str]:
    """Every URL the browser asked for since the last call."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def foreign(urls: list[str], base: str) -> list[str]:
    home = urlsplit(base).netloc
    return [
        u
        for u in urls
        if urlsplit(u).scheme not in ("data", "blob", "about")
        and not (urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc == home)
    ]


@pytest.fixture
def page(browser: WebDriver, server: str) -> Iterator[WebDriver]:
    """The browser, checked after the test: it asked nothing of any other host, and the
    pages logged no error."""
    requested(browser)
    browser.get_log("browser")
    yield browser
    elsewhere = foreign(requested(browser), server)
    assert not elsewhere, f"requests to other hosts: {elsewhere}"
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def wait_for(driver: WebDriver, css: str) -> object:
    return WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def wait_text(driver: WebDriver, css: str, text: str) -> None:
    """Until some element matching `css` shows `text`."""
    WebDriverWait(driver, WAIT).until(
        lambda d: any(text in e.text for e in d.find_elements(By.CSS_SELECTOR, css))
    )


def test_a_linked_lookup_shows_the_source_s_words_and_speaker(page: WebDriver, server: str) -> None:
    typed = "If you dont obtain confesions from the doctors we will shorten you by head"
    page.get(f"{server}/?quote={quote(typed)}")
    wait_for(page, "li.match")
    first = page.find_element(By.CSS_SELECTOR, "li.match")
    marked = first.find_element(By.CSS_SELECTOR, "blockquote mark").text
    assert (
        marked == "If you do not obtain confessions from the doctors we will shorten you by a head"
    )
    context = first.find_element(By.CSS_SELECTOR, "blockquote").text
    assert len(context) > len(marked) + 100  # the passage around it, not the words alone
    # Stalin's words, inside a passage of Khrushchev's speech: Stalin is who is quoted
    speaker = first.find_element(By.CSS_SELECTOR, ".speaker strong").text
    assert speaker == "Joseph Stalin"
    assert "Nikita Khrushchev" in first.find_element(By.CSS_SELECTOR, ".speaker").text
    assert "The Secret Speech" in first.find_element(By.CSS_SELECTOR, ".meta").text
    claims = first.find_elements(By.CSS_SELECTOR, ".claims a")
    assert any("doctors" in c.text.lower() for c in claims), [c.text for c in claims]
    assert page.find_element(By.ID, "quote").get_attribute("value") == typed


def test_the_lookup_form_is_usable_from_the_keyboard(page: WebDriver, server: str) -> None:
    page.get(f"{server}/")
    box = page.find_element(By.ID, "quote")
    label = page.find_element(By.CSS_SELECTOR, "label[for=quote]")
    assert "quotation" in label.text.lower()
    box.send_keys("God knows what we are supposed to think")
    box.send_keys(Keys.TAB)
    page.switch_to.active_element.send_keys(Keys.ENTER)  # the "Look it up" button
    wait_for(page, "li.match")
    assert "quote=God+knows" in page.current_url  # the address carries the lookup
    assert "Sergei Mezentsev" in page.find_element(By.CSS_SELECTOR, "li.match .speaker").text


def test_a_linked_claim_shows_the_contradicting_source(page: WebDriver, server: str) -> None:
    page.get(f"{server}/?claim=speech-date-25-february")
    wait_for(page, ".stance-contradicts article")
    assert (
        page.find_element(By.TAG_NAME, "h1").text == "The speech was delivered on 25 February 1956."
    )
    against = page.find_element(By.CSS_SELECTOR, ".stance-contradicts article")
    assert "On February 24, 1956" in against.find_element(By.TAG_NAME, "blockquote").text
    assert "Khrushchev’s Secret Speech" in against.text and "Lewis Siegelbaum" in against.text
    supports = page.find_elements(By.CSS_SELECTOR, ".stance-supports article")
    assert len(supports) == 3
    assert "contested" in page.find_element(By.CSS_SELECTOR, ".badges").text
    shared = page.find_element(By.CSS_SELECTOR, ".share a").get_attribute("href")
    assert shared == f"{server}/?claim=speech-date-25-february"
    assert page.find_elements(By.CSS_SELECTOR, ".tensions li")


def test_the_disputed_claims_lead_to_both_sides(page: WebDriver, server: str) -> None:
    page.get(f"{server}/?view=disputed")
    wait_for(page, ".claim-list li")
    listed = page.find_element(By.CSS_SELECTOR, ".claim-list").text
    for statement in (
        "The speech was delivered on 25 February 1956.",
        "The text reached the West through Poland and Israeli intelligence.",
        "Molotov, Voroshilov and Kaganovich opposed",
    ):
        assert statement in listed
    route = page.find_element(By.PARTIAL_LINK_TEXT, "through Poland and Israeli intelligence")
    route.send_keys(Keys.ENTER)
    wait_for(page, ".stance-qualifies article")
    assert "claim=text-via-poland-israeli-intelligence" in page.current_url
    qualifying = page.find_element(By.CSS_SELECTOR, ".stance-qualifies").text
    assert "East European sources" in qualifying
    assert "disputed" in page.find_element(By.CSS_SELECTOR, ".badges").text
    assert page.find_elements(By.CSS_SELECTOR, ".stance-supports article")


def test_a_document_opens_with_its_spans_marked(page: WebDriver, server: str) -> None:
    page.get(f"{server}/?document=siegelbaum-secret-speech&span=siegelbaum-february-24")
    wait_for(page, ".text mark.chosen")
    chosen = " ".join(m.text for m in page.find_elements(By.CSS_SELECTOR, ".text mark.chosen"))
    assert chosen.startswith("On February 24, 1956")
    assert len(page.find_elements(By.CSS_SELECTOR, ".text mark")) >= 10


def test_legible_on_a_phone(page: WebDriver, server: str) -> None:
    page.set_window_size(390, 844)
    try:
        page.get(f"{server}/?claim=molotov-voroshilov-kaganovich-opposed")
        wait_for(page, ".stance-qualifies article")
        overflow = page.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, "the page scrolls sideways on a phone"
        columns = [
            page.find_element(By.CSS_SELECTOR, f".stance-{s}").rect
            for s in ("supports", "contradicts", "qualifies")
        ]
        assert columns[0]["y"] < columns[1]["y"] < columns[2]["y"]  # stacked, not squeezed
        size = page.execute_script(
            "return parseFloat(getComputedStyle(document.querySelector('blockquote')).fontSize)"
        )
        assert size >= 15
    finally:
        page.set_window_size(1280, 1000)


@pytest.mark.parametrize(
    ("path", "css", "text"),
    [
        ("/docs", ".swagger-ui .opblock-summary-path", "/v1/documents"),
        ("/redoc", "h1", "Secret Speech archive"),
    ],
)
def test_the_api_reference_renders_with_no_network(
    page: WebDriver, server: str, path: str, css: str, text: str
) -> None:
    page.get(f"{server}{path}")
    wait_text(page, css, text)


def test_a_missing_claim_says_so(page: WebDriver, server: str) -> None:
    page.get(f"{server}/?claim=no-such-claim")
    wait_text(page, "[role=alert]", "Not found")
    assert "no-such-claim" in page.find_element(By.CSS_SELECTOR, "[role=alert]").text
    logged = [e["message"] for e in page.get_log("browser") if e["level"] == "SEVERE"]
    assert all("404" in m for m in logged), logged  # the API's answer, as expected


def test_the_guard_sees_a_request_to_another_host(browser: WebDriver, server: str) -> None:
    requested(browser)
    html = '<img src="http://cdn.example.com/pixel.png"><p>x</p>'
    browser.get("data:text/html;charset=utf-8," + quote(html))
    time.sleep(0.5)
    assert foreign(requested(browser), server) == ["http://cdn.example.com/pixel.png"]
    browser.get_log("browser")  # the failed load is expected here
