"""Colours live in one module (`dashboards.chart_style`), and page and report draw from it.

Why: charts.py and report.py each wrote the same greens and reds as literals, so a colour
changed in one drifted from the other (a day done on the page and on paper). Now a colour
literal anywhere in dashboards/ outside chart_style.py fails here.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from dashboards import chart_style as style
from dashboards import charts, report

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
COLOR_LITERAL = re.compile(
    r"(?<![\w&])#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?(?:[0-9a-fA-F]{2})?\b"  # #rgb, #rrggbb(aa)
    r"|\b(?:rgba?|hsla?)\("  # rgb(), rgba(), hsl(), hsla()
    r"""|colou?r\w*["']?\s*[:=]\s*f?["'][A-Za-z]+["']"""  # color="green", "color": "white"
)


def test_the_pattern_finds_colour_literals_and_nothing_else():
    found = [
        'DONE_COLOR = "#2e9e5b"',
        'FAILED_ROW_STYLE = "background-color: rgba(228, 87, 46, 0.18)"',
        '"line": {"color": "white", "width": 1},',
        'color="green",',
        "stroke: #999;",
        "colorscale=[[0, '#d7301f']]",
    ]
    not_found = [
        "# --- cohort ----",
        'text.append(f"#{week}")',
        "colorscale=style.SCORE_COLORSCALE,",
        "color=style.THEME_DONE,",
        '"Sessions #3 of week"',
        "'[#+.!|~:$=]'",
    ]
    assert [bool(COLOR_LITERAL.search(line)) for line in found] == [True] * len(found)
    assert [line for line in not_found if COLOR_LITERAL.search(line)] == []


def test_no_colour_literal_outside_the_style_module():
    hits = [
        f"{path.relative_to(DASHBOARDS)}:{number}: {line.strip()}"
        for path in sorted(DASHBOARDS.rglob("*.py"))
        if path.name != "chart_style.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if COLOR_LITERAL.search(line)
    ]
    assert hits == []
    assert COLOR_LITERAL.search((DASHBOARDS / "chart_style.py").read_text())


def test_translucent_and_score_colours():
    assert style.translucent("#e4572e", 0.18) == "rgba(228, 87, 46, 0.18)"
    assert style.score_color(0) == style.SCORE_STOPS[0][1]
    assert style.score_color(0.5) == style.SCORE_STOPS[1][1]
    assert style.score_color(1) == style.SCORE_STOPS[2][1]


def two_weeks(as_of: date) -> pl.DataFrame:
    """A person's first two program weeks: done and missed days alternating, then to come."""
    days = [as_of - timedelta(days=9) + timedelta(days=n) for n in range(14)]
    return pl.DataFrame(
        {
            "day": days,
            "program_day": list(range(1, 15)),
            "program_week": [1] * 7 + [2] * 7,
            "day_state": ["done" if n % 2 else "missed" for n in range(14)],
            "stretch_sessions": [n % 2 for n in range(14)],
            "stretch_minutes": [12.0 * (n % 2) for n in range(14)],
            "pain": [None] * 14,
        },
        schema_overrides={"pain": pl.Int32},
    )


def test_a_day_done_is_the_same_colour_on_the_page_and_on_paper():
    as_of = date(2026, 3, 10)
    days = two_weeks(as_of)
    calendar = charts.calendar_figure(days, as_of)
    page_colours = {color for _, color in calendar.data[0].colorscale}
    assert page_colours == set(style.DAY_STATES.values())

    html = report._calendar(days, as_of)
    paper = dict(re.findall(r'data-state="(\w+)" style="background:([^"]+)"', html))
    assert paper == {state: style.DAY_STATES[state] for state in ("done", "missed", "upcoming")}
    assert style.DESK in report.CSS and style.PRINT_FONT in report.CSS
