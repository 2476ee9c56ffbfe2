"""Screenshot of the staff page with an answer, for the README (docs/screenshot.png).

    python -m evals.screenshot --index .htx/index [--out docs/screenshot.png]

Serves the index on a loopback port, asks one question in headless Chromium (the Debian
package, driven by playwright-python) and saves the viewport.
"""
from __future__ import annotations

import argparse
from pathlib import Path

# The same browser and flags as tests/test_browser.py.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]

DEFAULT_QUESTION = "Ai phụ trách giải thể HTX ở Vĩnh Linh?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=None, help="index directory (default: HTX_INDEX_DIR)")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshot.png"))
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--height", type=int, default=1300)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from assistant.api import Assistant
    from bots.web import BackgroundServer, create_app

    assistant = Assistant.open(index_dir=args.index)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with BackgroundServer(create_app(assistant)) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": args.height}, locale="vi-VN")
        page.goto(server.url + "/")
        page.get_by_label("Câu hỏi", exact=True).fill(args.question)
        page.get_by_role("button", name="Hỏi", exact=True).click()
        page.locator(".citation").first.wait_for()
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(args.out))
        browser.close()
    print(args.out)


if __name__ == "__main__":
    main()
