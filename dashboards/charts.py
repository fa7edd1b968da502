"""Plotly figure builders for the dashboards: plain functions from frames to figures."""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go
import polars as pl

from dashboards import chart_style as style
from dashboards.chart_style import style_figure
from dashboards.disclosure import EFFECT, P_VALUE, POINTS, POINTS_CHANGE, SHARE
from pipelines.lib.rules import percent_text

# Calendar cell categories, in colour-scale order.
CALENDAR_STATES = ("upcoming", "unknown", "missed", "done")
CALENDAR_LABELS = ("not yet", "no data", "missed", "done")
CALENDAR_COLORS = tuple(style.DAY_STATES[state] for state in CALENDAR_STATES)


# --- cohort -------------------------------------------------------------------------------


def _add_band(
    figure: go.Figure, x: list, low: list, high: list, name: str, shape: str = "linear"
) -> None:
    """A shaded band between `low` and `high` (an interval): an invisible upper edge, then the
    lower edge filled up to it; hover is left to the line the band surrounds."""
    edge = {"width": 0, "shape": shape}
    figure.add_trace(
        go.Scatter(
            x=x,
            y=high,
            mode="lines",
            line=edge,
            hoverinfo="skip",
            showlegend=False,
            name=f"{name}, upper edge",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=x,
            y=low,
            mode="lines",
            line=edge,
            fill="tonexty",
            fillcolor=style.BAND,
            hoverinfo="skip",
            name=name,
        )
    )


def adherence_by_week_figure(weeks: pl.DataFrame, threshold: float) -> go.Figure:
    """Median weekly adherence with its interquartile band, and the adherent-week line.

    `weeks` is `queries.cohort.adherence_by_week(...)`; suppressed weeks are left out.
    """
    shown = weeks.filter(~pl.col("suppressed")).sort("week")
    week = shown["week"].to_list()
    n_people = shown["n_people"].to_list()
    figure = go.Figure()
    _add_band(
        figure,
        week,
        shown["q25"].to_list(),
        shown["q75"].to_list(),
        "middle half of people (25th–75th percentile)",
    )
    figure.add_trace(
        go.Scatter(
            x=week,
            y=shown["median"].to_list(),
            mode="lines+markers",
            line={"color": style.PRIMARY, "width": 3},
            marker={"size": 8},
            name="median person",
            customdata=list(
                zip(
                    n_people,
                    shown["q25"].to_list(),
                    shown["q75"].to_list(),
                    shown["adherent_share"].to_list(),
                    strict=True,
                )
            ),
            hovertemplate=(
                "Program week %{x}<br>"
                f"Median adherence %{{y:{SHARE.format}}}<br>"
                f"Middle half %{{customdata[1]:{SHARE.format}}}–%{{customdata[2]:{SHARE.format}}}"
                f"<br>Adherent (≥ {percent_text(threshold)}): "
                f"%{{customdata[3]:{SHARE.format}}} of %{{customdata[0]}} people"
                "<extra></extra>"
            ),
        )
    )
    figure.add_hline(
        y=threshold,
        line={"color": style.DONE, "dash": "dash", "width": 2},
        annotation_text=f"adherent week ({percent_text(threshold)} of prescribed)",
        annotation_position="top left",
    )
    style_figure(
        figure,
        xaxis={"title": {"text": "Program week"}, "dtick": 1},
        yaxis={"title": {"text": "Weekly adherence"}, "tickformat": ".0%", "range": [0, 1.05]},
        hovermode="closest",
    )
    return figure


COVERAGE_SERIES = {
    "checkin_share": ("daily check-in", style.PRIMARY, "solid"),
    "wear_share": ("tracker worn (tracker wearers)", style.DONE, "dash"),
    "sleep_share": ("night of sleep recorded (tracker wearers)", style.SLEEP_RECORDED, "dot"),
}
"""The data-coverage lines: column → (legend name, colour, dash)."""

# How each `models.cohort_effects` term reads in plain words: (sentence, word when the
# estimate is below 0, word when above 0). {size} is the estimate's size in pain points.
_EFFECT_WORDING = {
    "sleep_prev_night_h": (
        "An extra hour of sleep goes with {size} points {direction} pain the next day",
        "less",
        "more",
    ),
    "consistency_10pct": (
        "Doing 10 percentage points more of the prescribed sessions than usual (say 70 % "
        "instead of 60 %) goes with {size} points {direction} pain that week",
        "less",
        "more",
    ),
    "steps_1000": (
        "1,000 more steps a day than usual goes with {size} points {direction} pain that week",
        "less",
        "more",
    ),
    "consistency_10pct_between": (
        "People who do 10 percentage points more of their sessions on average have {size} "
        "points {direction} pain",
        "less",
        "more",
    ),
    "steps_1000_between": (
        "People who walk 1,000 more steps a day on average have {size} points {direction} pain",
        "less",
        "more",
    ),
    "week": ("Pain {direction} by {size} points per program week", "falls", "rises"),
}


def effect_sentence(term: str, estimate: float | None, unit: str | None = None) -> str:
    """A cohort-effects term in plain words, e.g. "An extra hour of sleep goes with 0.34 points
    less pain the next day". Falls back to the table's own unit for a term it does not know."""
    if estimate is None:
        return f"{_EFFECT_SHORT.get(term, term)}: not estimated"
    if term not in _EFFECT_WORDING:
        return f"{term}: {estimate:+.2g} ({unit or 'no unit given'})"
    sentence, below, above = _EFFECT_WORDING[term]
    return sentence.format(size=f"{abs(estimate):.2g}", direction=below if estimate < 0 else above)


_EFFECT_SHORT = {
    "sleep_prev_night_h": "Sleep the night before (same person)",
    "consistency_10pct": "Doing more of the sessions (same person)",
    "steps_1000": "Steps (same person)",
    "consistency_10pct_between": "Doing more of the sessions (between people)",
    "steps_1000_between": "Steps (between people)",
    "week": "Trend per program week",
}


def _wrap(text: str, width: int = 46) -> str:
    """The text with Plotly line breaks between words, lines at most `width` long."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return "<br>".join(lines)


def pain_by_band_figure(bands: pl.DataFrame) -> go.Figure:
    """Weekly mean pain of each adherence band with 95 % interval whiskers.

    `bands` is `queries.cohort.pain_by_adherence_band(...)`; suppressed band-weeks are left out.
    The bands are nudged apart on the x axis so their whiskers do not overlap.
    """
    shown = bands.filter(~pl.col("suppressed")).sort("band_order", "week")
    figure = go.Figure()
    for (order, name), rows in shown.group_by(["band_order", "band"], maintain_order=True):
        nudge = (order - 2) * 0.12
        weeks = rows["week"].to_list()
        means = rows["mean_pain"].to_list()
        lows, highs = rows["ci_low"].to_list(), rows["ci_high"].to_list()
        figure.add_trace(
            go.Scatter(
                x=[week + nudge for week in weeks],
                y=means,
                mode="lines+markers",
                name=f"adherence {name}",
                line={"color": style.ADHERENCE_BANDS[(order - 1) % 3], "width": 2},
                marker={"size": 7},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [high - mean for high, mean in zip(highs, means, strict=True)],
                    "arrayminus": [mean - low for low, mean in zip(lows, means, strict=True)],
                    "thickness": 1.5,
                    "width": 3,
                },
                customdata=list(zip(weeks, rows["n_people"].to_list(), lows, highs, strict=True)),
                hovertemplate=(
                    f"Adherence {name}<br>Program week %{{customdata[0]}}<br>"
                    f"Mean weekly pain %{{y:{POINTS.format}}} (95 %: "
                    f"%{{customdata[2]:{POINTS.format}}}–%{{customdata[3]:{POINTS.format}}})"
                    "<br>%{customdata[1]} people<extra></extra>"
                ),
            )
        )
    style_figure(
        figure,
        xaxis={"title": {"text": "Program week"}, "dtick": 1},
        yaxis={"title": {"text": "Mean weekly pain (0–10)"}},
        height=380,
    )
    return figure


def principles_by_group_figure(
    cells: pl.DataFrame, names: dict[str, str], min_cell: int
) -> go.Figure:
    """Mean principle scores as a heat map: rows are groups, columns the seven principles.

    `cells` is `queries.cohort.principles_by_group(...)`. A suppressed cell has no number (grey)
    and its hover says why; a cell without any score says so too.
    """
    groups = cells["group"].unique(maintain_order=True).to_list()
    principles = cells["principle"].unique(maintain_order=True).to_list()
    by_cell = {(row["group"], row["principle"]): row for row in cells.iter_rows(named=True)}
    z, text, hover = [], [], []
    for group in groups:
        z_row, text_row, hover_row = [], [], []
        for principle in principles:
            row = by_cell[(group, principle)]
            name = names.get(principle, principle)
            if row["suppressed"]:
                z_row.append(None)
                text_row.append("")
                hover_row.append(f"{group}<br>{name}<br>suppressed: fewer than {min_cell} people")
            elif row["mean_score"] is None:
                z_row.append(None)
                text_row.append("")
                hover_row.append(f"{group}<br>{name}<br>no score (no data)")
            else:
                z_row.append(row["mean_score"])
                text_row.append(f"{row['mean_score']:{SHARE.format}}")
                hover_row.append(
                    f"{group}<br>{name}<br>mean score {row['mean_score']:{SHARE.format}} "
                    f"over {row['n_people']} people's completed weeks"
                )
        z.append(z_row)
        text.append(text_row)
        hover.append(hover_row)
    x = [names.get(principle, principle) for principle in principles]
    figure = go.Figure()
    # a light grey cell under every score, so a blank (suppressed or no data) cell is visible
    figure.add_trace(
        go.Heatmap(
            z=[[0] * len(principles) for _ in groups],
            x=x,
            y=groups,
            colorscale=[[0, style.UPCOMING], [1, style.UPCOMING]],
            showscale=False,
            hoverinfo="skip",
            xgap=2,
            ygap=2,
            name="no number shown",
        )
    )
    figure.add_trace(
        go.Heatmap(
            z=z,
            x=x,
            y=groups,
            text=text,
            texttemplate="%{text}",
            textfont={"size": 12},
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            hoverongaps=True,
            colorscale=style.SCORE_COLORSCALE,
            zmin=0,
            zmax=1,
            xgap=2,
            ygap=2,
            colorbar={
                "title": {"text": "Score"},
                "tickformat": ".0%",
                "thickness": style.COLORBAR_THICKNESS,
            },
            name="mean score",
        )
    )
    style_figure(
        figure,
        legend_above=False,
        top=60,
        bottom=20,
        yaxis={"autorange": "reversed", "automargin": True},
        xaxis={"side": "top"},
        height=120 + 38 * max(1, len(groups)),
        plot_bgcolor=style.TRANSPARENT,
    )
    return figure


def dose_response_figure(bands: pl.DataFrame) -> go.Figure:
    """Mean pain change per adherence band with its 95 % interval; below 0 = less pain.

    `bands` is `queries.cohort.dose_response(...)`; bands without a mean (suppressed or empty)
    are left out.
    """
    shown = bands.filter(pl.col("mean_pain_change").is_not_null()).sort("band_order")
    rows = shown.to_dicts()
    figure = go.Figure(
        go.Scatter(
            x=[f"{row['band']}<br>{row['n_people']} people" for row in rows],
            y=[row["mean_pain_change"] for row in rows],
            mode="markers",
            name="mean change (95 % interval)",
            marker={
                "size": 14,
                "color": [style.ADHERENCE_BANDS[(row["band_order"] - 1) % 3] for row in rows],
            },
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [
                    None if row["ci_high"] is None else row["ci_high"] - row["mean_pain_change"]
                    for row in rows
                ],
                "arrayminus": [
                    None if row["ci_low"] is None else row["mean_pain_change"] - row["ci_low"]
                    for row in rows
                ],
                "thickness": 2,
                "width": 8,
            },
            customdata=[[row["band"], row["ci_low"], row["ci_high"]] for row in rows],
            hovertemplate=(
                f"Mean adherence %{{customdata[0]}}<br>pain change %{{y:{POINTS_CHANGE.format}}} "
                f"points (95 %: %{{customdata[1]:{POINTS_CHANGE.format}}} to "
                f"%{{customdata[2]:{POINTS_CHANGE.format}}})<extra></extra>"
            ),
        )
    )
    figure.add_hline(y=0, line={"color": style.REFERENCE, "width": 1})
    style_figure(
        figure,
        legend_above=False,
        top=30,
        xaxis={"title": {"text": "Mean adherence over completed weeks"}},
        yaxis={"title": {"text": "Pain change, latest − baseline (points)"}, "zeroline": False},
        height=360,
        showlegend=False,
    )
    return figure


def retention_figure(weeks: pl.DataFrame) -> go.Figure:
    """Share still engaged at the end of each program week, with its 95 % band.

    `weeks` is `queries.cohort.retention_by_week(...)`; weeks without a share (suppressed) are left
    out.
    """
    shown = weeks.filter(pl.col("still_engaged").is_not_null()).sort("week")
    week = shown["week"].to_list()
    figure = go.Figure()
    _add_band(
        figure,
        week,
        shown["ci_low"].to_list(),
        shown["ci_high"].to_list(),
        "95 % interval",
        shape="hv",
    )
    figure.add_trace(
        go.Scatter(
            x=week,
            y=shown["still_engaged"].to_list(),
            mode="lines+markers",
            line={"color": style.PRIMARY, "width": 3, "shape": "hv"},
            name="still engaged",
            customdata=list(
                zip(
                    shown["at_risk"].to_list(),
                    shown["ci_low"].to_list(),
                    shown["ci_high"].to_list(),
                    strict=True,
                )
            ),
            hovertemplate=(
                f"End of program week %{{x}}<br>Still engaged %{{y:{SHARE.format}}} "
                f"(95 %: %{{customdata[1]:{SHARE.format}}}–%{{customdata[2]:{SHARE.format}}})<br>"
                "%{customdata[0]} people still followed<extra></extra>"
            ),
        )
    )
    style_figure(
        figure,
        xaxis={"title": {"text": "Program week (0 = enrolment)"}, "dtick": 1},
        yaxis={"title": {"text": "Still engaged"}, "tickformat": ".0%", "range": [0, 1.05]},
        height=360,
    )
    return figure


def data_coverage_figure(coverage: pl.DataFrame) -> go.Figure:
    """Share of elapsed person-days with each kind of data, per program week.

    `coverage` is `queries.cohort.data_coverage(...)`; suppressed weeks are left out of each line.
    """
    figure = go.Figure()
    for column, (name, color, dash) in COVERAGE_SERIES.items():
        people = "n_people" if column == "checkin_share" else "n_tracker_people"
        shown = coverage.filter(pl.col(column).is_not_null()).sort("week")
        if shown.is_empty():
            continue
        figure.add_trace(
            go.Scatter(
                x=shown["week"].to_list(),
                y=shown[column].to_list(),
                mode="lines+markers",
                name=name,
                line={"color": color, "dash": dash, "width": 2},
                customdata=shown[people].to_list(),
                hovertemplate=(
                    f"Program week %{{x}}<br>{name}: %{{y:{SHARE.format}}} of days"
                    "<br>%{customdata} people<extra></extra>"
                ),
            )
        )
    style_figure(
        figure,
        xaxis={"title": {"text": "Program week"}, "dtick": 1},
        yaxis={"title": {"text": "Share of elapsed days"}, "tickformat": ".0%", "range": [0, 1.05]},
        height=340,
    )
    return figure


def cohort_effects_figure(effects: pl.DataFrame) -> go.Figure:
    """Forest plot of `models.cohort_effects`: each term's estimate and 95 % interval.

    `effects` is `queries.cohort.cohort_effects(...)` with a `sentence` column (`effect_sentence`),
    used as the row label. Terms without an estimate are left out.
    """
    rows = effects.filter(pl.col("estimate").is_not_null()).to_dicts()
    figure = go.Figure(
        go.Scatter(
            x=[row["estimate"] for row in rows],
            y=[
                f"{_wrap(row['sentence'])}<br><i>{row['n_people']:,} people, "
                f"{row['n_obs']:,} observations</i>"
                for row in rows
            ],
            mode="markers",
            name="estimate (95 % interval)",
            marker={"size": 12, "color": style.PRIMARY, "symbol": "square"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [row["ci_high"] - row["estimate"] for row in rows],
                "arrayminus": [row["estimate"] - row["ci_low"] for row in rows],
                "thickness": 2,
                "width": 6,
            },
            customdata=[
                [
                    row["ci_low"],
                    row["ci_high"],
                    row["n_people"],
                    row["n_obs"],
                    "the interval includes 0: no clear association"
                    if row["ci_low"] <= 0 <= row["ci_high"]
                    else "the interval excludes 0",
                    row["p_value"],
                ]
                for row in rows
            ],
            hovertemplate=(
                f"%{{x:{EFFECT.format}}} points (95 %: %{{customdata[0]:{EFFECT.format}}} to "
                f"%{{customdata[1]:{EFFECT.format}}}, p = %{{customdata[5]:{P_VALUE.format}}})<br>"
                "%{customdata[4]}<br>%{customdata[2]} people, %{customdata[3]} observations"
                "<extra></extra>"
            ),
        )
    )
    figure.add_vline(x=0, line={"color": style.REFERENCE, "width": 1})
    # 0 (no association) always in view, with a margin on both sides
    low = min([0.0, *(row["ci_low"] for row in rows)])
    high = max([0.0, *(row["ci_high"] for row in rows)])
    pad = 0.08 * (high - low or 1.0)
    style_figure(
        figure,
        legend_above=False,
        top=30,
        xaxis={
            "title": {"text": "Change in pain (0–10 points); below 0 = less pain"},
            "zeroline": False,
            "range": [low - pad, high + pad],
        },
        yaxis={"automargin": True, "autorange": "reversed"},
        height=110 + 70 * max(1, len(rows)),
        showlegend=False,
    )
    return figure


# --- person -------------------------------------------------------------------------------


def _day_hover(row: dict, state: str) -> str:
    day: date = row["day"]
    lines = [f"{day:%a %d %b %Y} · program day {row['program_day']}"]
    if state == "upcoming":
        lines.append("not yet happened")
    elif state == "unknown":
        lines.append("no data")
    else:
        sessions = row["stretch_sessions"] or 0
        minutes = row["stretch_minutes"]
        detail = f"{state} · {sessions} stretch session{'s' if sessions != 1 else ''}"
        if minutes:
            detail += f" ({minutes:.0f} min)"
        lines.append(detail)
    pain = row["pain"]
    if state != "upcoming":
        lines.append(f"pain {pain}/10" if pain is not None else "no check-in")
    return "<br>".join(lines)


def calendar_figure(days: pl.DataFrame, as_of: date) -> go.Figure:
    """One person's program as a calendar: rows are program weeks, columns the 7 days of each.

    Program weeks start on the enrolment weekday, so each column is one calendar
    weekday too; the column labels say which.
    """
    days = days.sort("day")
    weeks = sorted(set(days["program_week"].to_list()))
    week_row = {week: index for index, week in enumerate(weeks)}
    z: list[list[int | None]] = [[None] * 7 for _ in weeks]
    text: list[list[str]] = [[""] * 7 for _ in weeks]
    hover: list[list[str]] = [[""] * 7 for _ in weeks]
    weekday_of_column: list[str] = ["" for _ in range(7)]
    for row in days.iter_rows(named=True):
        state = "upcoming" if row["day"] > as_of else row["day_state"]
        r = week_row[row["program_week"]]
        c = (row["program_day"] - 1) % 7
        z[r][c] = CALENDAR_STATES.index(state)
        text[r][c] = f"{row['day']:%d %b}"
        hover[r][c] = _day_hover(row, state)
        weekday_of_column[c] = f"{row['day']:%a}"

    steps = len(CALENDAR_STATES)
    colorscale = []
    for index, color in enumerate(CALENDAR_COLORS):
        colorscale.append([index / steps, color])
        colorscale.append([(index + 1) / steps, color])
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"Day {c + 1}<br>{weekday_of_column[c]}" for c in range(7)],
            y=[f"Week {week}" for week in weeks],
            text=text,
            texttemplate="%{text}",
            textfont={"size": 10},
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            colorscale=colorscale,
            zmin=-0.5,
            zmax=steps - 0.5,
            xgap=3,
            ygap=3,
            colorbar={
                "title": {"text": "Day"},
                "tickvals": list(range(steps)),
                "ticktext": list(CALENDAR_LABELS),
                "thickness": style.COLORBAR_THICKNESS,
                "len": 0.6,
            },
        )
    )
    style_figure(
        figure,
        legend_above=False,
        top=60,
        bottom=20,
        yaxis={"autorange": "reversed", "title": None},
        xaxis={"side": "top", "title": None},
        height=max(260, 42 * len(weeks) + 90),
        plot_bgcolor=style.TRANSPARENT,
    )
    return figure


def weekly_sessions_figure(weeks: pl.DataFrame) -> go.Figure:
    """Completed stretch sessions per program week against the prescription.

    Only weeks that have started; the week in progress is drawn lighter.
    """
    started = weeks.filter(pl.col("days_elapsed") > 0).sort("week")
    complete = started["week_complete"].to_list()
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=started["week"].to_list(),
            y=started["sessions"].to_list(),
            name="sessions done",
            marker={"color": [style.DONE if done else style.IN_PROGRESS for done in complete]},
            customdata=[
                "complete" if done else f"in progress ({elapsed} of 7 days)"
                for done, elapsed in zip(complete, started["days_elapsed"].to_list(), strict=True)
            ],
            hovertemplate="Week %{x} (%{customdata})<br>%{y} sessions<extra></extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=started["week"].to_list(),
            y=started["prescribed"].to_list(),
            mode="markers",
            marker={
                "symbol": "line-ew-open",
                "size": 28,
                "color": style.INK,
                "line": {"width": 3},
            },
            name="prescribed",
            hovertemplate="Week %{x}<br>%{y} prescribed<extra></extra>",
        )
    )
    style_figure(
        figure,
        xaxis={"title": {"text": "Program week"}, "dtick": 1},
        yaxis={"title": {"text": "Stretch sessions"}, "rangemode": "tozero"},
        height=300,
        bargap=0.35,
    )
    return figure


WEAR_STATES = ("worn", "not_worn", "no_data")
WEAR_LABELS = {"worn": "tracker worn", "not_worn": "not worn", "no_data": "no tracker data"}


def _week_label(week: int, complete: bool) -> str:
    return f"Week {week}" if complete else f"Week {week} (so far)"


def discomfort_figure(discomfort: pl.DataFrame, gentle_max: int, aggressive_min: int) -> go.Figure:
    """How many completed stretch sessions were rated each discomfort level (0–10).

    `discomfort` has columns discomfort, sessions. Bars are coloured gentle (≤ gentle_max),
    in between, and aggressive (≥ aggressive_min); every level 0–10 is on the axis.
    """
    counts = dict(
        zip(discomfort["discomfort"].to_list(), discomfort["sessions"].to_list(), strict=True)
    )
    bands = (
        (f"gentle (0–{gentle_max})", range(0, gentle_max + 1), style.DONE),
        (
            f"moderate ({gentle_max + 1}–{aggressive_min - 1})",
            range(gentle_max + 1, aggressive_min),
            style.MIDDLE,
        ),
        (f"aggressive ({aggressive_min}–10)", range(aggressive_min, 11), style.MISSED),
    )
    figure = go.Figure()
    for name, ratings, color in bands:
        sessions = [counts.get(rating, 0) for rating in ratings]
        figure.add_trace(
            go.Bar(
                x=list(ratings),
                y=sessions,
                name=f"{name}: {sum(sessions)}",
                marker={"color": color},
                hovertemplate=f"Discomfort %{{x}}/10<br>%{{y}} session(s)<extra>{name}</extra>",
            )
        )
    style_figure(
        figure,
        xaxis={
            "title": {"text": "Peak discomfort during the session (0–10)"},
            "dtick": 1,
            "range": [-0.6, 10.6],
        },
        yaxis={
            "title": {"text": "Completed stretch sessions"},
            "rangemode": "tozero",
            "dtick": 1 if max(counts.values(), default=0) <= 10 else None,
        },
        height=300,
        bargap=0.15,
    )
    return figure


def _share_text(shares: list[float | None]) -> list[str]:
    """Bar labels that tell a real 0 % (a label, no bar) from nothing to count (no label)."""
    return ["" if share is None else f"{share:.0%}" for share in shares]


def breathing_stability_figure(principles: pl.DataFrame) -> go.Figure:
    """Weekly share of stretch sessions with guided breathing, and of practice days followed
    by stability work (`marts.principles.breathing` / `stability`), for started weeks."""
    started = principles.filter(pl.col("days_elapsed") > 0).sort("week")
    labels = [
        _week_label(week, complete)
        for week, complete in zip(
            started["week"].to_list(), started["week_complete"].to_list(), strict=True
        )
    ]
    figure = go.Figure()
    for share, done, out_of, name, color, what in (
        (
            "breathing",
            "breathing_sessions",
            "breathing_known_sessions",
            "stretch sessions with guided breathing",
            style.PRIMARY,
            "sessions with guided breathing",
        ),
        (
            "stability",
            "stability_days",
            "stretch_days",
            "practice days followed by stability work",
            style.STABILITY,
            "practice days with a stability follow-up",
        ),
    ):
        figure.add_trace(
            go.Bar(
                x=started["week"].to_list(),
                y=started[share].to_list(),
                name=name,
                marker={"color": color},
                text=_share_text(started[share].to_list()),
                textposition="outside",
                customdata=list(
                    zip(labels, started[done].to_list(), started[out_of].to_list(), strict=True)
                ),
                hovertemplate=(
                    f"%{{customdata[0]}}<br>%{{y:.0%}} — %{{customdata[1]}} of %{{customdata[2]}} "
                    f"{what}<extra></extra>"
                ),
            )
        )
    style_figure(
        figure,
        barmode="group",
        xaxis={"title": {"text": "Program week"}, "dtick": 1},
        yaxis={"title": {"text": "Share"}, "tickformat": ".0%", "range": [0, 1.15]},
        height=300,
    )
    return figure


def activity_sleep_figure(elapsed: pl.DataFrame) -> go.Figure:
    """Daily steps (worn days only), sleep, and a strip of the tracker's wear state per day.

    `elapsed` is the person's elapsed program days (`person_metrics.elapsed_days`). A day the
    tracker was not worn or sent nothing has no steps bar at all (never a zero) and shows in
    the strip instead; sleep is a line broken at nights without a record.
    """
    elapsed = elapsed.sort("day")
    worn = elapsed.filter(pl.col("wear_state") == "worn")
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=worn["day"].to_list(),
            y=worn["steps"].to_list(),
            name="steps (worn days)",
            marker={"color": style.STEPS},
            customdata=worn["active_minutes"].to_list(),
            hovertemplate=(
                "%{x|%a %d %b}<br>%{y:,} steps<br>%{customdata} active minutes<extra></extra>"
            ),
            yaxis="y",
        )
    )
    sleep_hours = [
        None if minutes is None else minutes / 60 for minutes in elapsed["sleep_minutes"].to_list()
    ]
    figure.add_trace(
        go.Scatter(
            x=elapsed["day"].to_list(),
            y=sleep_hours,
            name="sleep (hours)",
            mode="lines+markers",
            connectgaps=False,
            line={"color": style.SLEEP},
            marker={"size": 5},
            hovertemplate="%{x|%a %d %b}<br>slept %{y:.1f} h<extra></extra>",
            yaxis="y2",
        )
    )
    for state in WEAR_STATES:
        on_days = elapsed.filter(pl.col("wear_state") == state)
        figure.add_trace(
            go.Bar(
                x=on_days["day"].to_list(),
                y=[1] * on_days.height,
                name=WEAR_LABELS[state],
                marker={"color": style.WEAR_STATES[state]},
                hovertemplate=(
                    f"%{{x|%a %d %b}}<br>{WEAR_LABELS[state]}"
                    + ("" if state == "worn" else " — steps unknown, not zero")
                    + "<extra></extra>"
                ),
                yaxis="y3",
            )
        )
    style_figure(
        figure,
        bottom=30,
        xaxis={"type": "date", "anchor": "y3"},
        yaxis={"domain": [0.5, 1], "title": {"text": "Steps"}, "rangemode": "tozero"},
        yaxis2={"domain": [0.16, 0.44], "title": {"text": "Sleep (h)"}, "rangemode": "tozero"},
        yaxis3={"domain": [0, 0.08], "visible": False, "range": [0, 1]},
        height=440,
        bargap=0.1,
    )
    return figure


def pain_figure(
    trend: pl.DataFrame,
    weekly: pl.DataFrame,
    baseline: float | None,
    baseline_week: int | None,
    threshold: float | None,
    min_checkins: int,
) -> go.Figure:
    """Daily pain check-ins, their rolling mean, weekly means, baseline and responder threshold.

    `trend` is `person_metrics.pain_trend`, `weekly` `person_metrics.weekly_pain` (weeks with at least
    `min_checkins` check-ins). The baseline and the responder threshold
    (`person_metrics.responder_threshold`) are drawn across the whole period.
    """
    checked = trend.filter(pl.col("pain").is_not_null())
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=checked["day"].to_list(),
            y=checked["pain"].to_list(),
            mode="markers",
            name="daily check-in",
            marker={"color": style.CHECKIN_DOT, "size": 6},
            hovertemplate="%{x|%a %d %b}<br>pain %{y}/10<extra></extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=trend["day"].to_list(),
            y=trend["rolling_mean"].to_list(),
            mode="lines",
            connectgaps=False,
            name="7-day mean",
            line={"color": style.PAIN, "width": 3},
            customdata=trend["rolling_checkins"].to_list(),
            hovertemplate=(
                "%{x|%a %d %b}<br>7-day mean %{y:.1f} (%{customdata} check-ins)<extra></extra>"
            ),
        )
    )
    figure.add_trace(
        go.Scatter(
            x=weekly["week_mid"].to_list(),
            y=weekly["mean_pain"].to_list(),
            mode="markers",
            name=f"weekly mean (≥ {min_checkins} check-ins)",
            marker={
                "symbol": "diamond",
                "size": 11,
                "color": style.PRIMARY,
                "line": {"color": style.WHITE, "width": 1},
            },
            customdata=list(
                zip(weekly["program_week"].to_list(), weekly["checkin_days"].to_list(), strict=True)
            ),
            hovertemplate=(
                "Week %{customdata[0]}: mean %{y:.1f} over %{customdata[1]} check-ins"
                "<extra></extra>"
            ),
        )
    )
    span = trend["day"].to_list()
    ends = [span[0], span[-1]] if span else []
    if baseline is not None and ends:
        figure.add_trace(
            go.Scatter(
                x=ends,
                y=[baseline, baseline],
                mode="lines",
                name=f"baseline {baseline:.1f} (week {baseline_week})",
                line={"color": style.INK, "dash": "dash", "width": 2},
                hovertemplate=f"Baseline: week {baseline_week} mean {baseline:.1f}<extra></extra>",
            )
        )
    if threshold is not None and ends:
        figure.add_trace(
            go.Scatter(
                x=ends,
                y=[threshold, threshold],
                mode="lines",
                name=f"responder threshold {threshold:.1f}",
                line={"color": style.DONE, "dash": "dot", "width": 2},
                hovertemplate=(
                    f"A weekly mean at or below {threshold:.1f} makes a pain responder"
                    "<extra></extra>"
                ),
            )
        )
    style_figure(
        figure,
        xaxis={"type": "date"},
        yaxis={"title": {"text": "Pain (0–10)"}, "range": [-0.3, 10.3], "dtick": 2},
        height=340,
    )
    return figure


def _principle_detail(principle: str, row: dict) -> str:
    """The inputs behind one weekly principle score, in words, for its hover."""
    if principle == "consistency":
        return (
            f"{row['sessions'] or 0} of {row['prescribed']} sessions on "
            f"{row['days_practised'] or 0} day(s)"
        )
    if principle == "gentle":
        return (
            f"{row['gentle_sessions'] or 0} of {row['rated_sessions'] or 0} rated sessions gentle"
        )
    if principle == "breathing":
        return (
            f"{row['breathing_sessions'] or 0} of {row['breathing_known_sessions'] or 0} "
            "sessions with guided breathing"
        )
    if principle == "stability":
        return (
            f"{row['stability_days'] or 0} of {row['stretch_days'] or 0} practice days "
            "followed by stability work"
        )
    if principle == "activity":
        if not row["valid_wear_days"]:
            return "no worn tracker day"
        return f"{row['mean_steps']:,.0f} steps/day over {row['valid_wear_days']} worn day(s)"
    if principle == "sleep_recovery":
        parts = []
        if row["sleep_nights"]:
            parts.append(
                f"{row['mean_sleep_minutes'] / 60:.1f} h sleep over {row['sleep_nights']} night(s)"
            )
        if row["stress_days"]:
            parts.append(f"stress {row['mean_stress']:.1f}/10")
        return "; ".join(parts) or "no sleep or stress record"
    parts = []
    if row["confidence_days"]:
        parts.append(f"confidence {row['mean_movement_confidence']:.1f}/10")
    if row["tsk_latest"] is not None:
        parts.append(f"TSK-11 {row['tsk_latest']}")
    return "; ".join(parts) or "no rating yet"


def principles_figure(principles: pl.DataFrame, names: dict[str, str]) -> go.Figure:
    """The seven weekly principle scores as a heat map: rows principles, columns started weeks.

    Scores run 0–1 (shown as %, 100 % = target met in full); a blank cell has no score
    because its inputs are missing (unknown is never zero).
    """
    started = principles.filter(pl.col("days_elapsed") > 0).sort("week")
    rows = started.to_dicts()
    z, text, hover = [], [], []
    for column, name in names.items():
        scores = [row[column] for row in rows]
        z.append(scores)
        text.append(["" if s is None else f"{s:.0%}" for s in scores])
        hover.append(
            [
                f"{name} · {_week_label(row['week'], row['week_complete'])}<br>"
                + ("no score (no data)" if row[column] is None else f"score {row[column]:.0%}")
                + f"<br>{_principle_detail(column, row)}"
                for row in rows
            ]
        )
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"Wk {row['week']}" + ("" if row["week_complete"] else "*") for row in rows],
            y=list(names.values()),
            text=text,
            texttemplate="%{text}",
            textfont={"size": 11},
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            colorscale=style.SCORE_COLORSCALE,
            zmin=0,
            zmax=1,
            xgap=2,
            ygap=2,
            colorbar={
                "title": {"text": "Score"},
                "tickformat": ".0%",
                "thickness": style.COLORBAR_THICKNESS,
            },
        )
    )
    style_figure(
        figure,
        legend_above=False,
        top=50,
        bottom=20,
        yaxis={"autorange": "reversed", "automargin": True},
        xaxis={"side": "top"},
        height=330,
        plot_bgcolor=style.TRANSPARENT,
    )
    return figure


def effects_figure(effects: pl.DataFrame, labels: dict[str, str]) -> go.Figure:
    """The person's own estimates with their 95 % intervals, beside the cohort's.

    `effects` has term, estimate, ci_low, ci_high, n_obs, cohort_estimate, cohort_ci_low,
    cohort_ci_high. Negative = less pain.
    """
    rows = effects.to_dicts()
    names = [labels.get(row["term"], row["term"]) for row in rows]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[row["estimate"] for row in rows],
            y=names,
            mode="markers",
            name="this person (95 % interval)",
            marker={"size": 12, "color": style.PRIMARY},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [row["ci_high"] - row["estimate"] for row in rows],
                "arrayminus": [row["estimate"] - row["ci_low"] for row in rows],
                "thickness": 2,
                "width": 6,
            },
            customdata=[[row["ci_low"], row["ci_high"], row["n_obs"]] for row in rows],
            hovertemplate=(
                "%{y}<br>this person %{x:+.2f} (95 %: %{customdata[0]:+.2f} to "
                "%{customdata[1]:+.2f})<br>from %{customdata[2]} observations<extra></extra>"
            ),
        )
    )
    with_cohort = [row for row in rows if row["cohort_estimate"] is not None]
    if with_cohort:
        figure.add_trace(
            go.Scatter(
                x=[row["cohort_estimate"] for row in with_cohort],
                y=[labels.get(row["term"], row["term"]) for row in with_cohort],
                mode="markers",
                name="whole program",
                marker={
                    "size": 11,
                    "symbol": "diamond-open",
                    "color": style.INK,
                    "line": {"width": 2},
                },
                hovertemplate="%{y}<br>whole program %{x:+.2f}<extra></extra>",
            )
        )
    style_figure(
        figure,
        xaxis={
            "title": {"text": "Change in pain (0–10 points); below 0 = less pain"},
            "zeroline": True,
            "zerolinecolor": style.REFERENCE,
        },
        yaxis={"automargin": True, "autorange": "reversed"},
        height=130 + 55 * max(1, len(rows)),
    )
    return figure


# --- caseload -----------------------------------------------------------------------------


# --- data health --------------------------------------------------------------------------

COVERAGE_COLORS = {"check-in": style.PRIMARY, "steps": style.DONE, "sleep": style.SLEEP_RECORDED}
COVERAGE_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")


def coverage_series_name(measure: str, source: str) -> str:
    return f"{measure} · {source}"


def coverage_by_week_figure(coverage: pl.DataFrame) -> go.Figure:
    """Share of elapsed person-days with each data stream, per program week.

    `coverage` is `queries.data_health.coverage_by_week(...)`; suppressed weeks, and weeks of a source
    with too few people, are left out. One line per (measure, source): measures keep their
    colour, sources of the same measure differ by dash.
    """
    shown = coverage.filter(pl.col("share").is_not_null()).sort("week")
    figure = go.Figure()
    dash_of: dict[tuple[str, str], str] = {}
    for (measure, source), series in shown.group_by(["measure", "source"], maintain_order=True):
        same_measure = [key for key in dash_of if key[0] == measure]
        dash_of[(measure, source)] = COVERAGE_DASHES[len(same_measure) % len(COVERAGE_DASHES)]
        series = series.sort("week")
        figure.add_trace(
            go.Scatter(
                x=series["week"].to_list(),
                y=series["share"].to_list(),
                mode="lines+markers",
                name=coverage_series_name(measure, source),
                line={
                    "color": COVERAGE_COLORS.get(measure, style.INK),
                    "dash": dash_of[(measure, source)],
                    "width": 2,
                },
                customdata=list(
                    zip(
                        series["days_with"].to_list(),
                        series["person_days"].to_list(),
                        series["people"].to_list(),
                        strict=True,
                    )
                ),
                hovertemplate=(
                    f"{coverage_series_name(measure, source)}<br>"
                    "Program week %{x}: %{y:.0%}<br>"
                    "%{customdata[0]:,} of %{customdata[1]:,} person-days "
                    "(%{customdata[2]:,} people)<extra></extra>"
                ),
            )
        )
    style_figure(
        figure,
        xaxis={"title": {"text": "Program week"}, "dtick": 1},
        yaxis={"title": {"text": "Share of person-days"}, "tickformat": ".0%", "range": [0, 1.05]},
        height=360,
        hovermode="closest",
    )
    return figure
