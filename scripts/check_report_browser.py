#!/usr/bin/env python3
"""Opens a dlsweep report.html in headless Chromium and prints what rendered, as JSON.

Usage: check_report_browser.py REPORT_HTML_OR_URL

A path is opened as a file; an http:// address (the live view of a running sweep) as is.

Prints one JSON object: the bounding box of every <svg>, the number of drawn shapes, its
texts and those whose box is not inside the drawing (a tick label or legend entry cut off),
the number of scripts, the browser console entries (a resource that fails to load, e.g. anything
from a network when offline, is a SEVERE entry) and the page title. Exit status 3
when Chromium, chromedriver or selenium is missing (the message says which), 0 otherwise:
the caller judges the figures. Uses Debian's /usr/bin/chromedriver, never Selenium Manager
(which would download a driver).
"""
import json
import os
import shutil
import sys
import tempfile


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    target = sys.argv[1]
    page = target if target.startswith("http://") else "file://" + os.path.abspath(target)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        print(f"missing: selenium ({error}); bash scripts/setup.sh installs it", file=sys.stderr)
        return 3
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    browser = shutil.which("chromium") or "/usr/bin/chromium"
    for name, path in (("chromium-driver", driver_path), ("chromium", browser)):
        if not os.path.exists(path):
            print(f"missing: {name} ({path}); bash scripts/setup.sh installs it", file=sys.stderr)
            return 3
    profile = tempfile.mkdtemp(prefix="dlsweep-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", f"--user-data-dir={profile}", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.get(page)
        figures = driver.execute_script("""
            const boxes = Array.from(document.querySelectorAll('svg')).map(svg => {
                const r = svg.getBoundingClientRect();
                const section = svg.closest('section');
                // Every text (tick labels, legend entries, titles) must lie inside its drawing.
                const texts = Array.from(svg.querySelectorAll('text'));
                const outside = texts.map(t => ({text: t.textContent, box: t.getBoundingClientRect()}))
                    .filter(t => t.box.left < r.left - 0.5 || t.box.right > r.right + 0.5
                                 || t.box.top < r.top - 0.5 || t.box.bottom > r.bottom + 0.5)
                    .map(t => ({text: t.text, left: t.box.left - r.left, right: t.box.right - r.left,
                                top: t.box.top - r.top, bottom: t.box.bottom - r.top}));
                return {section: section ? section.id : null, width: r.width, height: r.height,
                        texts: texts.map(t => t.textContent), outside: outside,
                        shapes: svg.querySelectorAll('rect, polyline, polygon, circle, line').length,
                        drawnShapes: Array.from(svg.querySelectorAll('rect, polyline, polygon, circle, line'))
                            .filter(e => { const b = e.getBBox(); return b.width > 0 || b.height > 0; }).length};
            });
            return {title: document.title, readyState: document.readyState, svgs: boxes,
                    scripts: document.scripts.length};
        """)
        figures["console"] = driver.get_log("browser")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
