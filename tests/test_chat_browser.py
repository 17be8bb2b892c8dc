"""The Gradio UI in a real headless browser, on the demo KB: a cited answer and its sources with their licence note,
an emergency, and an inquiry (possible conditions and one narrowing question). Each state is screenshot.

Needs Debian's chromium (`apt-get install chromium fonts-wqy-microhei fonts-noto-color-emoji`) and the playwright Python package; the
browser is never downloaded (`playwright install` is not used). Run with `pytest -m browser`.

Screenshots go to $YIJU_SCREENSHOTS (default var/screenshots) under stable names; the README's pictures are made
with `YIJU_SCREENSHOTS=docs/screenshots make test-browser`.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SCREENSHOTS = Path(os.environ.get("YIJU_SCREENSHOTS", "var/screenshots"))
VIEWPORT = {"width": 1280, "height": 900}
DEMO_LICENSE = "yiju demo data: written from public label knowledge, NOT for clinical use"  # as the Makefile's


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> str:
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is absent: .ci/run must apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium")
    return found


def build_demo_kb(folder: Path) -> tuple[str, Path]:
    """The demo KB as `make demo` ingests it, indexed with the hashing encoder (the pictures are of the UI)."""
    from typer.testing import CliRunner

    from kb.cli import app
    from retriever.index import build_index

    url = f"sqlite:///{folder / 'kb.sqlite'}"
    done = CliRunner().invoke(app, ["ingest", str(ROOT / "kb" / "demo"), "--origin", "demo", "--license", DEMO_LICENSE,
                                    "--db", url, "--no-update-index"])
    assert done.exit_code == 0, done.output
    build_index(url, folder / "index", encoder="hash", progress=False, workers=1)
    return url, folder / "index"


@pytest.fixture(scope="module")
def ui_url(tmp_path_factory):
    _chromium()
    pytest.importorskip("playwright")
    from chat.pipeline import Pipeline
    from chat.ui import build_ui, launch

    url, index = build_demo_kb(tmp_path_factory.mktemp("chat-ui-demo-kb"))
    pipeline = Pipeline.load(url, index, "extractive", on_stale="ignore", log_answers=False)
    port = _free_port()
    demo = build_ui(pipeline)
    launch(demo, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def browser(ui_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def ask(browser, ui_url):
    """ask(question) -> the page after sending it to a fresh conversation."""
    pages = []

    def ask(question: str):
        page = browser.new_page(viewport=VIEWPORT)
        pages.append(page)
        page.goto(ui_url, wait_until="domcontentloaded", timeout=60_000)
        box = page.locator("#question textarea")
        box.wait_for(timeout=60_000)
        box.fill(question)
        page.locator("#send").click()
        return page

    yield ask
    for page in pages:
        page.close()


def shot(target, name: str) -> Path:
    """A screenshot of the page (its viewport) or of one element, under a stable name."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    target.screenshot(path=str(path))
    from PIL import Image

    with Image.open(path) as image:  # flat UI colours: 256 of them look the same at a third of the size
        small = image.convert("RGB").quantize(256, dither=Image.Dither.NONE)
    small.save(path, optimize=True)
    print(f"screenshot: {path.resolve()}")
    assert path.stat().st_size > 10_000
    return path


def test_ui_answers_with_citations_and_shows_each_source_with_its_licence(ask):
    from playwright.sync_api import expect

    page = ask("阿莫西林的副作用有哪些？")
    source = page.locator("#sources .source").first
    expect(source).to_be_visible(timeout=60_000)
    expect(source).to_contain_text("[1] 阿莫西林胶囊 · 不良反应")
    expect(source).to_contain_text("来源：demo · 01_amoxicillin.txt")
    expect(source.locator(".license")).to_have_text(f"许可与用途：{DEMO_LICENSE}")
    chat = page.locator("#chatbot")
    expect(chat.get_by_text("[1]").first).to_be_visible(timeout=30_000)
    expect(chat).to_contain_text("恶心、呕吐、腹泻")
    expect(chat).to_contain_text("不能替代医生的诊断和治疗")
    shot(page, "answer.png")
    shot(page.locator("#sources"), "sources-licence.png")


def test_ui_emergency_is_unmistakable(ask):
    from playwright.sync_api import expect

    page = ask("我爸突然胸口压着痛，一直在冒冷汗")
    notice = page.locator("#chatbot h3")
    expect(notice).to_be_visible(timeout=60_000)
    expect(notice).to_contain_text("🚨 紧急提醒")
    expect(notice).to_contain_text("请立即拨打 120")
    expect(notice).to_have_css("color", "rgb(185, 28, 28)")  # red, even where no font draws the 🚨
    expect(page.locator("#sources")).to_have_text("本次回答没有引用资料（急症提醒：请先就医，不从知识库作答）。")
    shot(page, "emergency.png")


def test_ui_inquiry_lists_possible_conditions_and_asks_one_narrowing_question(ask):
    from playwright.sync_api import expect

    page = ask("最近三天拉肚子、肚子疼，没有发烧，怎么办")
    chat = page.locator("#chatbot")
    expect(chat).to_contain_text("您是否有「", timeout=60_000)
    expect(chat).to_contain_text("不是诊断")
    expect(chat.locator("strong").filter(has_text="急性胃肠炎")).to_be_visible()
    expect(page.locator("#sources .source").first).to_contain_text("· 症状")
    # The whole answer in one picture: the chat's fixed height would scroll its start out of view.
    page.add_style_tag(content="#chatbot, #chatbot * {height: auto !important; max-height: none !important;}")
    shot(chat, "inquiry.png")
