"""The HTML reports as a browser shows them: a table run, a detector run and an image run
rendered by headless Chromium, every image decoded and no section empty.

Needs Playwright (the ``browser`` extra: ``pip install 'aekit[browser]'``) and a Chromium
binary: Debian's ``chromium`` package (``apt-get install chromium``), found on the PATH or
named by ``AEKIT_CHROMIUM``; Playwright's own browser download works too (``playwright
install chromium``). Skipped, saying which is missing, where either is absent.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from aekit import AutoEncoder, OutlierDetector
from aekit.data import Dataset, load_dataset
from aekit.report.detector import write_detector_report
from aekit.report.model import write_report

_BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# What the page says about itself, evaluated in the browser once it has loaded.
_INSPECT = """() => {
  const images = Array.from(document.images).map(img => ({
    alt: img.alt, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight}));
  const sections = Array.from(document.querySelectorAll("section")).map(s => {
    const heading = s.querySelector("h2");
    const body = s.innerText.replace(heading ? heading.innerText : "", "").trim();
    return {id: s.id, text: body.length, images: s.querySelectorAll("img").length,
            tables: s.querySelectorAll("table").length,
            height: s.getBoundingClientRect().height};
  });
  const errors = document.querySelectorAll(".plot-error").length;
  return {images, sections, errors, title: document.title,
          width: document.documentElement.scrollWidth};
}"""


def _chromium() -> str:
    given = os.environ.get("AEKIT_CHROMIUM")
    if given:
        return given
    found = next((shutil.which(b) for b in _BINARIES if shutil.which(b)), None)
    if found is None:
        pytest.skip("no Chromium to render the reports in: apt-get install chromium, or "
                    "set AEKIT_CHROMIUM to a Chromium/Chrome binary")
    return found


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed: pip install "
        "'aekit[browser]' (the reports are checked in headless Chromium)")
    binary = _chromium()
    with sync_api.sync_playwright() as p:
        try:
            chrome = p.chromium.launch(executable_path=binary, headless=True,
                                       args=["--no-sandbox", "--disable-gpu"])
        except Exception as err:  # noqa: BLE001 -- a binary Playwright cannot drive
            pytest.skip(f"Chromium at {binary} does not start under Playwright: {err}")
        yield chrome
        chrome.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Three report pages: a table with a categorical column, a detector, images."""
    out = tmp_path_factory.mktemp("reports")
    rng = np.random.default_rng(0)
    n = 160
    frame = pd.DataFrame({"kind": rng.choice(["a", "b", "c"], n),
                          "x": rng.normal(size=n), "y": rng.gamma(2.0, size=n)})
    frame["z"] = frame["x"] * 2 + rng.normal(0, 0.1, n)
    labels = rng.choice(["p", "q"], n)
    table = Dataset(frame.iloc[:120], frame.iloc[120:], labels[:120], labels[120:],
                    list(frame.columns), None, "table")
    est = AutoEncoder(n_components=2, max_epochs=3, random_state=0, device="cpu")
    est.fit(table.X_train)
    pages = {"table": write_report(est, table, out / "table.html")}
    X = rng.normal(size=(200, 4))
    X[:5] += 6
    det = OutlierDetector(max_epochs=3, random_state=0, device="cpu").fit(X)
    anomaly = np.zeros(200, bool)
    anomaly[:5] = True
    pages["detector"] = write_detector_report(det, X, out / "detector.html", anomaly=anomaly)
    digits = load_dataset("digits", rows=300)
    img = AutoEncoder(n_components=2, max_epochs=3, random_state=0, device="cpu")
    img.fit(digits.X_train)
    pages["images"] = write_report(img, digits, out / "images.html")
    return pages


def _render(browser, path):
    """``(what the page says about itself, screenshot PNG, script errors and failed
    requests)`` of the page at ``path`` in a 1200-pixel-wide window."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    problems = []
    page.on("pageerror", lambda err: problems.append(str(err)))
    page.on("requestfailed", lambda request: problems.append(request.url[:80]))
    page.goto(path.resolve().as_uri(), wait_until="load")
    seen = page.evaluate(_INSPECT)
    shot = page.screenshot(full_page=True)
    page.close()
    return seen, shot, problems


def _broken(seen) -> list[str]:
    return [img["alt"] for img in seen["images"]
            if not img["complete"] or img["width"] < 50 or img["height"] < 50]


def _empty(seen) -> list[str]:
    return [s["id"] for s in seen["sections"]
            if (s["text"] < 20 and not s["images"] and not s["tables"]) or s["height"] < 40]


@pytest.mark.parametrize("kind", ["table", "detector", "images"])
def test_report_renders_in_chromium(browser, reports, kind):
    seen, shot, problems = _render(browser, reports[kind])
    assert not problems, problems  # no script error, nothing fetched that failed
    assert seen["title"].endswith("aekit report")
    assert seen["images"], "no image on the page"
    assert not _broken(seen), f"images that did not decode: {_broken(seen)}"
    assert not _empty(seen), f"empty sections: {_empty(seen)}"
    assert seen["errors"] == 0, "a plot was not drawn"
    assert seen["width"] <= 1200  # nothing wider than the window: no horizontal scroll
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000


def test_the_browser_check_sees_a_broken_image_and_an_empty_section(browser, reports,
                                                                     tmp_path):
    html = reports["table"].read_text()
    start = html.index("data:image/png;base64,") + len("data:image/png;base64,")
    html = html[:start] + html[start + 40:]  # the first image's bytes damaged
    html = html.replace("</main>", '<section id="hollow"><h2>Hollow</h2></section></main>')
    damaged = tmp_path / "damaged.html"
    damaged.write_text(html)
    seen, _, _ = _render(browser, damaged)
    assert len(_broken(seen)) == 1 and _empty(seen) == ["hollow"]
