"""Check the static widgets of a built site in headless Chromium.

For every page of the site that holds a static widget (``rvt_lib.book.interact`` in the
book build), load the page, move each control of each widget to another value and
assert that the shown output changed, and that the browser logged no error.

    python scripts/check_widgets.py                     # every page under _build/html
    python scripts/check_widgets.py _build/html/book/part1_models/recurrent.html

Needs Chromium and its driver (Debian/Ubuntu: ``apt-get install chromium chromium-driver``)
and ``selenium`` (in requirements.txt). Exit status 1 if any check fails.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Console errors that do not come from the widgets, reported but not counted as failures:
# a resource on a CDN that this (offline) machine cannot reach, and sphinx-thebe declaring
# its configuration twice on notebook pages (jupyter-book 1.0.4, sphinx-thebe 0.3.1), and
# pydata-sphinx-theme resetting an unset light/dark mode on a browser's first page.
OFFLINE = ("net::ERR_NAME_NOT_RESOLVED", "net::ERR_INTERNET_DISCONNECTED")
KNOWN = ("Identifier 'THEBE_JS_URL' has already been declared",
         "Got invalid theme mode: . Resetting to auto.")


def browser():
    """A headless Chromium driven by the system's chromedriver (nothing downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver")
    if driver_path is None:
        raise SystemExit("check_widgets: chromedriver not found (apt-get install chromium-driver)")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)


def _shown(widget) -> str:
    from selenium.webdriver.common.by import By
    return "\n".join(o.get_attribute("innerHTML") for o in
                     widget.find_elements(By.CSS_SELECTOR, "[data-rvt-output]") if o.is_displayed())


def check_page(driver, page: Path) -> list[str]:
    """Problems found on one page (empty when every control changes its widget's output)."""
    from selenium.webdriver.common.by import By

    driver.get(page.resolve().as_uri())
    problems = []
    # A static widget must not need ipywidgets' manager: a page that saved widget state loads
    # it (and require.js) from a CDN, which a reader offline or behind a firewall cannot reach.
    cdn = driver.execute_script(
        "return Array.from(document.scripts).map(s => s.src).filter(s => /embed-amd|require/.test(s));")
    problems += [f"{page.name}: loads ipywidgets' manager from {src}" for src in cdn]
    for widget in driver.find_elements(By.CSS_SELECTOR, ".rvt-static-widget"):
        wid = widget.get_attribute("id")
        if not _shown(widget):
            problems.append(f"{page.name} {wid}: no output shown")
        for control in widget.find_elements(By.CSS_SELECTOR, "[data-rvt-control]"):
            n = len(control.get_attribute("data-labels").split("\u001f"))
            if n < 2:
                continue
            before, old = _shown(widget), int(control.get_attribute("value"))
            driver.execute_script("arguments[0].value = arguments[1];"
                                  "arguments[0].dispatchEvent(new Event('input'));"
                                  "arguments[0].dispatchEvent(new Event('change'));",
                                  control, (old + 1) % n)
            if _shown(widget) == before:
                problems.append(f"{page.name} {wid}: moving {control.get_attribute('aria-label')!r} "
                                "changed nothing")
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        message = entry["message"]
        if any(k in message for k in OFFLINE + KNOWN):
            print(f"  note: {page.name}: not counted: {message}")
        else:
            problems.append(f"{page.name}: console error: {message}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", type=Path)
    args = parser.parse_args(argv)
    pages = args.pages or [p for p in sorted((ROOT / "_build" / "html").rglob("*.html"))
                           if "rvt-static-widget" in p.read_text(errors="ignore")]
    if not pages:
        print("check_widgets: no page with a static widget found (build the book first)")
        return 1
    driver = browser()
    try:
        problems = []
        for page in pages:
            found = check_page(driver, page)
            print(f"{'FAIL' if found else 'ok  '} {page}")
            problems += found
    finally:
        driver.quit()
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
