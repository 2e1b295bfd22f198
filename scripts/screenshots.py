"""Full-page screenshots of the built book for looking at: every chapter at
desktop and phone width, in light and dark mode (headless system Chromium
via Playwright; nothing is downloaded).

    .venv/bin/python scripts/screenshots.py _build/html shots/
"""
from __future__ import annotations

import functools
import http.server
import shutil
import sys
import threading
from pathlib import Path

PAGES = ["book/intro", "book/01_why_cnns", "book/02_convolution",
         "book/03_layers", "book/04_opened_up", "book/05_real_world",
         "book/06_attribution", "book/references"]
VIEWS = {"desktop": 1280, "phone": 390}
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(html: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=ARGS)
        for view, width in VIEWS.items():
            for mode in ("light", "dark"):
                context = browser.new_context(
                    viewport={"width": width, "height": 900},
                    color_scheme=mode)
                page = context.new_page()
                page.add_init_script(
                    f"localStorage.setItem('theme', '{mode}');"
                    f"localStorage.setItem('mode', '{mode}');")
                for name in PAGES:
                    page.goto(f"{base}/{name}.html", wait_until="networkidle")
                    path = out / f"{Path(name).name}-{view}-{mode}.png"
                    page.screenshot(path=str(path), full_page=True)
                    print(path)
                context.close()
        browser.close()
    httpd.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
