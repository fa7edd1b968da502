"""How the pages look in a real Chromium without any emoji font: icons and headline figures.

Why: AppTest sees what the server sends, not what a browser draws. This machine's
Chromium has no emoji font (nor have many clinic PCs), which is where emoji icons
showed as empty boxes; and only a browser lays out a figure in its column, which is
where "Last successful run" was cut to "2026-12-02 20:33 …". The server, Chromium and
the sign-in come from test_dashboard_browser.py; the data dir is the small cohort run
once more with a recorded run history, so Data health shows its run figures too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import test_dashboard_browser as shared
from test_dashboard_browser import a_person_of, open_logged_in, settle

# the server, Chromium and the users of the page tests (served_dir is this module's own)
browser = shared.browser
dashboard_url = shared.dashboard_url
users = shared.users

pytestmark = [pytest.mark.browser, pytest.mark.pipeline]

WIDTHS = (1400, 1024)


@pytest.fixture(scope="module")
def served_dir(published_data_dir: Path, tmp_path_factory) -> Path:
    """The small cohort after one more run recorded in its Dagster instance."""
    import dagster as dg

    from pipelines.lib.layout import DataDir
    from pipelines.runner import dagster_home, run_pipeline

    data_dir = tmp_path_factory.mktemp("look") / "data"
    shutil.copytree(published_data_dir, data_dir)
    instance = dg.DagsterInstance.from_config(str(dagster_home(DataDir.at(data_dir))))
    try:
        report = run_pipeline(data_dir, instance=instance, log_level="ERROR")
    finally:
        instance.dispose()
    assert report.published, report.render()
    return data_dir


def pages_of(role: str, pid: str) -> list[str]:
    """The URL paths of the pages `role` has, a person page with `pid`."""
    return {
        "program_manager": ["cohort", f"person?pid={pid}"],
        "coach": ["caseload", f"person?pid={pid}"],
        "analyst": ["cohort", "data-health"],
    }[role]


def open_page(page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=60_000)
    settle(page)


CUT_FIGURES = """() => Array.from(document.querySelectorAll('[data-testid="stMetricValue"]'))
  .map(value => ({
    text: value.innerText,
    cut: [value, ...value.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth),
  }))"""


@pytest.mark.parametrize("role", ["program_manager", "coach", "analyst"])
def test_every_figure_fits_its_column_at_1400_and_1024_px(
    browser, dashboard_url, users, served_dir, role
):
    pid = a_person_of(served_dir, users["coach"].coach_id)
    paths = pages_of(role, pid)
    page = open_logged_in(browser, f"{dashboard_url}/{paths[0]}", users[role])
    try:
        cut: list[str] = []
        for path in paths:
            open_page(page, f"{dashboard_url}/{path}")
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 1000})
                page.wait_for_timeout(600)
                figures = page.evaluate(CUT_FIGURES)
                assert len(figures) >= 3, (path, figures)
                cut += [f"{path} at {width} px: {f['text']!r}" for f in figures if f["cut"]]
            page.set_viewport_size({"width": 1400, "height": 1000})
        assert cut == []
    finally:
        page.close()


ICONS = """() => Array.from(document.querySelectorAll(
    '[data-testid="stSidebarNav"] [data-testid="stIconMaterial"]'))
  .map(icon => ({
    name: icon.innerText,
    font: getComputedStyle(icon).fontFamily,
    width: icon.getBoundingClientRect().width,
    size: parseFloat(getComputedStyle(icon).fontSize),
  }))"""


def test_sidebar_icons_are_drawn_from_material_symbols(browser, dashboard_url, users):
    page = open_logged_in(browser, f"{dashboard_url}/cohort", users["program_manager"])
    try:
        links = page.locator('[data-testid="stSidebarNavLink"]').count()
        icons = page.evaluate(ICONS)
        assert links == 2 and len(icons) == links, icons
        for icon in icons:
            assert "Material Symbols" in icon["font"], icon
            # the icon's name is a ligature: one glyph about as wide as the font is tall
            assert 0 < icon["width"] <= 1.5 * icon["size"], icon
        assert page.evaluate("""() => Array.from(document.fonts).some(
            font => font.family.includes('Material Symbols') && font.status === 'loaded')""")
        text = page.locator("body").inner_text()
        assert not page.evaluate("(text) => /\\p{Extended_Pictographic}/u.test(text)", text)
    finally:
        page.close()
