"""The Gradio UI in a real headless browser: ask, see a cited answer and its source in the sources panel.

Needs Debian's chromium (`apt-get install chromium`) and the playwright Python package; the browser is
never downloaded (`playwright install` is not used). Run with `pytest -m browser`.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from tests.test_chat import build_tiny_kb

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SCREENSHOTS = Path(os.environ.get("YIJU_SCREENSHOTS", "var/screenshots"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ui_url(tmp_path_factory):
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is absent: .ci/run must apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium")
    pytest.importorskip("playwright")
    from chat.pipeline import Pipeline
    from chat.ui import build_ui, launch

    url, index = build_tiny_kb(tmp_path_factory.mktemp("chat-ui-kb"))
    pipeline = Pipeline.load(url, index, "extractive", on_stale="ignore")
    port = _free_port()
    demo = build_ui(pipeline)
    launch(demo, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_ui_answers_with_a_citation_and_shows_its_source(ui_url):
    from playwright.sync_api import expect, sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"chat-ui-{time.strftime('%Y%m%d-%H%M%S')}.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                                    args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(ui_url, wait_until="domcontentloaded", timeout=60_000)
            box = page.locator("#question textarea")
            box.wait_for(timeout=60_000)
            box.fill("阿莫西林有哪些不良反应？")
            page.locator("#send").click()
            source = page.locator("#sources .source").first
            expect(source).to_be_visible(timeout=60_000)
            expect(source).to_contain_text("阿莫西林胶囊 · 不良反应")
            expect(source).to_contain_text("来源：test")
            answer = page.locator("#chatbot").get_by_text("[1]").first
            expect(answer).to_be_visible(timeout=30_000)
            expect(page.locator("#chatbot")).to_contain_text("恶心")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(f"screenshot: {shot.resolve()}")
    assert shot.stat().st_size > 10_000
