"""The dashboards' look in one place: the palette, its meanings, fonts and figure layout.

Both the Plotly figures (`dashboards.charts`) and the printable report (`dashboards.report`)
take every colour from here, so a day done is the same green on the page and on paper, and
a colour is changed once. No other module of dashboards/ writes a colour
(tests/dashboards/test_chart_style.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the sign-in page uses the palette (icons) without loading Plotly
    import plotly.graph_objects as go

# --- the palette, by meaning ------------------------------------------------------------------

DONE = "#2e9e5b"  # a day practised, the adherent-week line, gentle sessions, the responder line
MISSED = "#e4572e"  # a day missed, aggressive sessions, a tracker not worn, a failed run
UNKNOWN = "#9aa0a6"  # no data (never zero)
UPCOMING = "#e8eaed"  # not yet happened; the ground under blank heat-map cells
MIDDLE = "#f2a541"  # between the two: moderate discomfort, the middle adherence band
PRIMARY = "#1f5fa8"  # the median person, estimates, weekly pain means, check-ins, headings
INK = "#444444"  # the prescription, the pain baseline, the whole program's estimate
REFERENCE = "#999999"  # zero lines and axes
STABILITY = "#8e5bb5"
STEPS = "#2a7f9e"
SLEEP = "#5b4b9a"
SLEEP_RECORDED = "#7b4fa8"  # nights with sleep, in coverage charts
PAIN = "#c0392b"
WORN = "#9ccfe0"
WHITE = "#ffffff"
TRANSPARENT = "rgba(0,0,0,0)"

# Principle scores from 0 (red) through 0.5 (pale orange) to 1 (green), as heat maps colour them.
SCORE_STOPS = ((0, "#d7301f"), (0.5, "#fdd49e"), (1, "#1a9850"))

# The printed report's paper and text.
TEXT = "#1f2328"
MUTED = "#5f6368"
RULE = "#dadce0"  # borders and rules
GRID = "#e0e0e0"
DESK = "#f3f4f6"  # around the sheet on screen
PRINT_FONT = '"Helvetica Neue", Arial, sans-serif'


def _rgb(color: str) -> tuple[int, int, int]:
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return red, green, blue


def translucent(color: str, alpha: float) -> str:
    """`color` (#rrggbb) at opacity `alpha`, as CSS/Plotly rgba()."""
    red, green, blue = _rgb(color)
    return f"rgba({red}, {green}, {blue}, {alpha:g})"


BAND = translucent(PRIMARY, 0.18)  # intervals around the median line and estimates
IN_PROGRESS = translucent(DONE, 0.4)  # the week still in progress
CHECKIN_DOT = translucent(PAIN, 0.45)  # single daily pain check-ins under their mean
SHADOW = translucent("#000000", 0.15)
FAILED_ROW_STYLE = f"background-color: {translucent(MISSED, 0.18)}"  # a failed row in a table

DAY_STATES = {"done": DONE, "missed": MISSED, "unknown": UNKNOWN, "upcoming": UPCOMING}
"""A program day's state → its colour (calendars on the page and in the report)."""
ADHERENCE_BANDS = (MISSED, MIDDLE, DONE)
"""Adherence bands, lowest to highest (band_order 1, 2, 3; `dose_response.bands`)."""
WEAR_STATES = {"worn": WORN, "not_worn": MISSED, "no_data": UNKNOWN}
SCORE_COLORSCALE = [[stop, color] for stop, color in SCORE_STOPS]

# What Streamlit draws itself (tags, a table's bar and line charts) takes its theme's colour names.
THEME_DONE = "green"
THEME_PRIMARY = "blue"
SEVERITY_THEME = {"alert": "red", "warning": "orange", "info": "blue"}
"""A flag's severity → the theme colour of its icon and tag, most urgent first."""
RISK_BAND_THEME = {"high": "red", "raised": "orange", "low": "gray"}
"""An early-warning band → the theme colour of its tag (the bands' order is
`pipelines.lib.statistics.early_warning.BANDS`)."""


def score_color(score: float) -> str:
    """The heat maps' colour of a principle score (0–1), interpolated between SCORE_STOPS."""
    for (low, low_color), (high, high_color) in zip(SCORE_STOPS, SCORE_STOPS[1:], strict=False):
        if score <= high:
            t = (score - low) / (high - low)
            rgb = [
                round(a + (b - a) * t)
                for a, b in zip(_rgb(low_color), _rgb(high_color), strict=True)
            ]
            return "#{:02x}{:02x}{:02x}".format(*rgb)
    return SCORE_STOPS[-1][1]


# --- figure layout ----------------------------------------------------------------------------

LEGEND_ABOVE = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0}
COLORBAR_THICKNESS = 14


def style_figure(
    figure: go.Figure, *, legend_above: bool = True, top: int = 40, bottom: int = 40, **layout
) -> go.Figure:
    """The dashboards' layout on `figure`: a horizontal legend above the plot (unless
    `legend_above` is False), `top`/`bottom` margins in px, then any other `layout`."""
    if legend_above:
        layout = {"legend": LEGEND_ABOVE, **layout}
    figure.update_layout(margin={"t": top, "b": bottom}, **layout)
    return figure
