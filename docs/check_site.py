"""Check the built documentation site: self-contained, and the formulas render.

1. Static check of every HTML and CSS file under ``docs/_build/html``: no script,
   stylesheet, image, font or frame is loaded from another host (links that a
   reader may follow are fine).
2. In a real headless Chromium (Debian's ``chromium``, driven by Playwright
   through its executable path; Playwright's own browser downloads are not
   used), opened from ``file://`` as a reader would open the site offline:

   * the API page of one loss: its formula is rendered by MathJax (``mjx-container``
     elements with a visible size inside the docstring, no ``mjx-merror``);
   * every page in ``PAGES``: no console error, no uncaught exception, no failed
     request, and no request to anything but ``file://`` (such requests are
     blocked and reported).

Usage: ``python docs/check_site.py [--site DIR] [--chromium PATH] [--screenshot PNG]``.
Exit status 0 when every check passes; each failure is printed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
FORMULA_PAGE = "api/lossjax.huber_loss.html"
PAGES = [
    FORMULA_PAGE,
    "index.html",
    "guide/choosing_a_loss.html",
    "conventions.html",
    "gallery/notebooks/choosing_a_loss.html",
]

# Attributes that make the browser fetch something while the page loads.
_FETCHING = re.compile(
    r"<(script|link|img|iframe|source|video|audio|embed)\b[^>]*?\b(src|href|srcset|data)\s*=\s*"
    r"[\"']?\s*((?:https?:)?//[^\"' >]+)",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"(?:url\(\s*[\"']?|@import\s+[\"'])\s*((?:https?:)?//[^\"')\s]+)", re.I)
_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)


def static_external_loads(site: Path) -> list[str]:
    """Every place where a built page or stylesheet would load something from another host."""
    problems = []
    for path in sorted(site.rglob("*")):
        if path.suffix not in (".html", ".css") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        hits = []
        if path.suffix == ".html":
            for match in _FETCHING.finditer(text):
                tag = match.group(0)
                if match.group(1).lower() == "link":
                    full = next(t for t in _LINK_TAG.finditer(text, match.start())).group(0)
                    rel = re.search(r"rel\s*=\s*[\"']?([^\"'>]+)", full, re.I)
                    # <link rel="canonical"> and friends only name a page; they fetch nothing.
                    if rel and not re.search(
                        r"stylesheet|preload|prefetch|icon|modulepreload|manifest", rel.group(1)
                    ):
                        continue
                    tag = full
                hits.append(tag[:160])
        hits += [m.group(0)[:160] for m in _CSS_URL.finditer(text)]
        problems += [f"{path.relative_to(site)}: {hit}" for hit in hits]
    return problems


def find_chromium(explicit: str | None) -> str:
    for candidate in (explicit, os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    raise SystemExit(
        "lossjax: no Chromium found; install Debian's package (apt-get install -y chromium) "
        "or pass --chromium PATH"
    )


def browser_checks(site: Path, chromium: str, screenshot: Path | None) -> list[str]:
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        try:
            for page_path in PAGES:
                if not (site / page_path).is_file():
                    problems.append(f"{page_path}: not built")
                    continue
                problems += _check_page(browser, site, page_path, screenshot)
        finally:
            browser.close()
    return problems


def _check_page(browser, site: Path, page_path: str, screenshot: Path | None) -> list[str]:
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    def on_request(route):
        url = route.request.url
        if url.startswith(("file://", "data:", "blob:", "about:")):
            route.continue_()
        else:
            problems.append(f"{page_path}: external request blocked: {url}")
            route.abort()

    context.route("**/*", on_request)
    page.on(
        "console",
        lambda m: (
            problems.append(f"{page_path}: console {m.type}: {m.text}")
            if m.type in ("error", "assert")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"{page_path}: uncaught exception: {e}"))
    page.on(
        "requestfailed",
        lambda r: (
            problems.append(f"{page_path}: request failed: {r.url} ({r.failure})")
            if not r.url.startswith(("http:", "https:"))  # those were blocked above, reported
            else None
        ),
    )
    url = (site / page_path).resolve().as_uri()
    page.goto(url, wait_until="load")

    if page_path == FORMULA_PAGE:
        problems += _check_formula(page, page_path)
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=False)
    else:
        page.wait_for_load_state("networkidle")
        if page.locator(".math").count():
            try:
                page.wait_for_function(
                    "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                    timeout=20_000,
                )
                page.evaluate("() => MathJax.startup.promise")
            except Exception as error:  # reported as a failed check
                problems.append(f"{page_path}: MathJax did not start: {error}")
    page.wait_for_timeout(200)  # late console messages
    context.close()
    return problems


def _check_formula(page, page_path: str) -> list[str]:
    """The docstring's display formula and inline math are typeset by MathJax."""
    problems = []
    try:
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000
        )
        page.evaluate("() => MathJax.startup.promise")
        page.wait_for_selector("dl.py.function dd mjx-container", timeout=20_000)
    except Exception as error:  # reported as a failed check
        return [f"{page_path}: MathJax did not typeset the formula: {error}"]
    stats = page.evaluate(
        """() => {
            const body = document.querySelector("dl.py.function dd");
            const boxes = [...body.querySelectorAll("mjx-container")].map(
                (m) => m.getBoundingClientRect());
            return {
                total: boxes.length,
                display: body.querySelectorAll("mjx-container[display='true']").length,
                visible: boxes.filter((b) => b.width > 4 && b.height > 4).length,
                errors: document.querySelectorAll("mjx-merror").length,
                raw: /\\\\begin\\{cases\\}/.test(body.innerText),
            };
        }"""
    )
    if stats["display"] < 1:
        problems.append(f"{page_path}: no display formula rendered ({stats})")
    if stats["visible"] != stats["total"] or stats["total"] < 2:
        problems.append(f"{page_path}: formulas not all visible ({stats})")
    if stats["errors"]:
        problems.append(f"{page_path}: MathJax reported {stats['errors']} TeX error(s)")
    if stats["raw"]:
        problems.append(f"{page_path}: raw TeX still shown on the page")
    print(
        f"check_site: {page_path}: {stats['total']} formulas typeset "
        f"({stats['display']} displayed), all visible"
    )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=DOCS / "_build" / "html")
    parser.add_argument("--chromium", help="path of the Chromium executable")
    parser.add_argument("--screenshot", type=Path, default=DOCS / "_build" / "check_site.png")
    args = parser.parse_args(argv)

    site = args.site.resolve()
    if not (site / "index.html").is_file():
        print(f"lossjax: no site at {site}; build it with `bash docs/build.sh`", file=sys.stderr)
        return 1
    problems = static_external_loads(site)
    print(f"check_site: static scan of {site}: {len(problems)} external load(s)")
    problems += browser_checks(site, find_chromium(args.chromium), args.screenshot)
    for problem in problems:
        print(f"check_site: FAIL {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"check_site: OK ({len(PAGES)} pages in Chromium, no console errors, nothing external)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
