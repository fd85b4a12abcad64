"""Load an HTML file in headless Chromium and report, as JSON on stdout, what the page did.

Usage: browser_check.py PAGE.html SCREENSHOT.png

The browser is Debian's Chromium (/usr/bin/chromium, which scripts/test installs with apt-get),
driven by the playwright pinned in tests/requirements.txt; playwright downloads no browser of its
own. tests/report_html.rs asserts on the output: every console message and page error, every
request the page made (a self-contained page makes one: itself) and the failed ones, the page's
text with every <details> opened, how many <script> elements it has, for each `tr[data-rule]` row
of the evidence report the size and colour of its bars, the background colours of the diff lines,
and the path of a full-page screenshot. Exit 2 with what to install when something is missing.
"""

import json
import os
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"

# Reads the report's bar chart: the count, width, height and colour of each bar, and the track's width.
BARS = """rows => rows.map(row => {
  const bar = which => {
    const element = row.querySelector('.bar.' + which);
    const box = element.getBoundingClientRect();
    return {
      count: Number(row.querySelector('.n.' + which).textContent),
      width: box.width,
      height: box.height,
      colour: getComputedStyle(element).backgroundColor,
    };
  };
  return {
    rule: row.dataset.rule,
    track: row.querySelector('.track').getBoundingClientRect().width,
    before: bar('before'),
    after: bar('after'),
  };
})"""

# The background colour of the first diff line of each kind there is.
LINE_COLOURS = """spans => Object.fromEntries(
  spans.map(span => [span.className, getComputedStyle(span).backgroundColor]))"""


def fail(message: str) -> None:
    print(f"browser_check.py: {message}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    if len(sys.argv) != 3:
        fail("usage: browser_check.py PAGE.html SCREENSHOT.png")
    page_file, screenshot = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    if not os.access(CHROMIUM, os.X_OK):
        fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium fonts-liberation`; scripts/test does it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        fail(f"playwright is not installed for {sys.executable}: run scripts/test (it installs tests/requirements.txt)")

    result = {"console": [], "page_errors": [], "requests": [], "failed_requests": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
            page.on("console", lambda m: result["console"].append({"type": m.type, "text": m.text}))
            page.on("pageerror", lambda e: result["page_errors"].append(str(e)))
            page.on("request", lambda r: result["requests"].append(r.url))
            page.on("requestfailed", lambda r: result["failed_requests"].append({"url": r.url, "error": r.failure}))
            page.goto(page_file.as_uri(), wait_until="load")
            page.eval_on_selector_all("details", "elements => elements.forEach(d => { d.open = true; })")
            result["browser"] = browser.version
            result["url"] = page.url
            result["title"] = page.title()
            result["text"] = page.inner_text("body")
            result["scripts"] = page.eval_on_selector_all("script", "elements => elements.length")
            result["bars"] = page.eval_on_selector_all("tr[data-rule]", BARS)
            result["line_colours"] = page.eval_on_selector_all("pre.diff span", LINE_COLOURS)
            page.screenshot(path=str(screenshot), full_page=True)
            result["screenshot"] = str(screenshot)
        finally:
            browser.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
