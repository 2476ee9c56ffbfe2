"""The staff page in a real headless Chromium: ask, read the answer, follow a citation to the
highlighted clause. Needs the Debian `chromium` package and playwright-python (never
`playwright install`: the browser comes from apt, so it works offline)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest

from bots.web import BackgroundServer, create_app

CHROMIUM = Path(os.environ.get("HTX_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
HOW_TO_INSTALL = ("as root: `apt-get install -y chromium chromium-driver` (`make test` does this when run as root), "
                  "and `pip install -e '.[test]'` for playwright-python; do not run `playwright install`")

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    pytest.skip(f"playwright-python is not installed — {HOW_TO_INSTALL}", allow_module_level=True)
if not CHROMIUM.exists():  # pragma: no cover - depends on the machine
    pytest.skip(f"Chromium not found at {CHROMIUM} — {HOW_TO_INSTALL}", allow_module_level=True)

QUESTION = "Ai phụ trách giải thể HTX ở Vĩnh Linh?"


@pytest.fixture(scope="module")
def server(assistant):
    with BackgroundServer(create_app(assistant)) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Chromium logs every 4xx as a console error; those are expected answers, not page faults.
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    yield page
    context.close()
    assert not errors, f"the page logged errors: {errors}"


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def in_viewport(page: Page, selector: str) -> bool:
    return page.eval_on_selector(selector, """el => {
        const r = el.getBoundingClientRect();
        return r.top < window.innerHeight && r.bottom > 0;
    }""")


def test_ask_read_the_answer_and_follow_a_citation_to_the_highlighted_clause(page, server):
    expected = httpx.post(f"{server.url}/ask", json={"question": QUESTION}, timeout=120).json()
    first = expected["citations"][0]

    page.goto("/")
    page.get_by_label("Câu hỏi", exact=True).fill(QUESTION)
    page.get_by_role("button", name="Hỏi", exact=True).click()

    cards = page.locator(".citation")
    expect(cards).to_have_count(len(expected["citations"]))
    expect(page.locator("#answer-text")).to_have_text(expected["answer"])
    card = cards.first
    expect(card.locator(".doc-link")).to_have_text(first["doc_title"])
    expect(card.locator(".clause-label")).to_have_text(first["clause_label"])
    expect(card.locator(".verbatim")).to_have_text(first["text"])
    expect(card.locator(".m-issuer dd")).to_have_text(first["issuer"])
    expect(page).to_have_url(re.compile(r"\?q=Ai%20ph"))

    card.locator(".doc-link").click()
    anchor = first["anchor"]
    expect(page).to_have_url(f"{server.url}/documents/{first['doc_id']}?highlight={anchor}#{anchor}")
    clause = page.locator(f"[id='{anchor}']")
    expect(clause).to_have_class(re.compile(r"\bhl\b"))
    expect(clause).to_contain_text("Điều khoản được trích dẫn")
    assert squash(first["text"])[:120] in squash(clause.inner_text())
    assert in_viewport(page, f"[id='{anchor}']")
    expect(page.locator(".sec.hl")).to_have_count(1)
    # The outline marks the same clause.
    expect(page.locator('.outline a[aria-current="location"]')).to_have_attribute("href", f"#{anchor}")

    page.go_back()
    expect(page.locator(".citation")).to_have_count(len(expected["citations"]))


def test_a_follow_up_shows_how_it_was_understood_until_cau_hoi_moi(page):
    page.goto("/")
    box = page.get_by_label("Câu hỏi", exact=True)
    box.fill("Ai phụ trách hướng dẫn thành lập HTX ở Vĩnh Linh?")
    page.get_by_role("button", name="Hỏi", exact=True).click()
    expect(page.locator(".citation").first).to_be_visible()
    expect(page.locator("#understood")).to_be_hidden()

    box.fill("còn ở Quảng Nam thì sao?")
    page.get_by_role("button", name="Hỏi", exact=True).click()
    expect(page.locator("#understood")).to_have_text(
        "Hiểu câu hỏi là: Ai phụ trách hướng dẫn thành lập HTX ở Quảng Nam?")

    page.get_by_role("button", name="Câu hỏi mới").click()
    box.fill("còn ở Quảng Nam thì sao?")
    page.get_by_role("button", name="Hỏi", exact=True).click()
    expect(page.locator(".citation").first).to_be_visible()
    expect(page.locator("#understood")).to_be_hidden()


def test_an_example_question_is_asked_with_one_click(page):
    page.goto("/")
    example = page.locator(".example").nth(1)
    text = example.inner_text()
    example.click()
    expect(page.locator(".citation").first).to_be_visible()
    expect(page.get_by_label("Câu hỏi", exact=True)).to_have_value(text)


def test_the_server_explains_a_refused_question_on_the_page(page):
    page.goto("/")
    page.get_by_role("button", name="Hỏi", exact=True).click()
    expect(page.locator("#status")).to_have_text("Hãy nhập câu hỏi.")
    page.get_by_label("Câu hỏi", exact=True).fill("hợp tác xã " * 300)
    page.get_by_role("button", name="Hỏi", exact=True).click()
    expect(page.locator("#status")).to_contain_text("Câu hỏi quá dài")
    expect(page.locator(".citation")).to_have_count(0)


@pytest.mark.parametrize("path", ["/?q=Ở Hà Tĩnh, cơ quan nào quản lý Quỹ hỗ trợ phát triển hợp tác xã?",
                                  "/documents/ha-tinh-kh-ubnd-2022?highlight=s-Phu_luc-2.4#s-Phu_luc-2.4"])
def test_pages_fit_a_phone_screen(browser, server, path):
    context = browser.new_context(base_url=server.url, viewport={"width": 360, "height": 740}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.goto(path)
    page.wait_for_selector(".citation, .sec.hl")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    context.close()
