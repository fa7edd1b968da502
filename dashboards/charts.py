"""Plotly figure builders for the dashboards: plain functions from frames to figures."""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go
import polars as pl

DONE_COLOR = "#2e9e5b"
MISSED_COLOR = "#e4572e"
UNKNOWN_COLOR = "#9aa0a6"
UPCOMING_COLOR = "#e8eaed"
MEDIAN_COLOR = "#1f5fa8"
BAND_COLOR = "rgba(31, 95, 168, 0.18)"
PRESCRIBED_COLOR = "#444444"

# Calendar cell categories, in colour-scale order.
CALENDAR_STATES = ("upcoming", "unknown", "missed", "done")
CALENDAR_LABELS = ("not yet", "no data", "missed", "done")
CALENDAR_COLORS = (UPCOMING_COLOR, UNKNOWN_COLOR, MISSED_COLOR, DONE_COLOR)


# --- cohort -------------------------------------------------------------------------------


def adherence_by_week_figure(weeks: pl.DataFrame, threshold: float) -> go.Figure:
    """Median weekly adherence with its interquartile band, and the adherent-week line.

    `weeks` is `queries.adherence_by_week(...)`; suppressed weeks are left out.
    """
    shown = weeks.filter(~pl.col("suppressed")).sort("week")
    week = shown["week"].to_list()
    n_people = shown["n_people"].to_list()
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=week,
            y=shown["q75"].to_list(),
            mode="lines",
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
            name="75th percentile",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=week,
            y=shown["q25"].to_list(),
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=BAND_COLOR,
            hoverinfo="skip",
            name="middle half of people (25th–75th percentile)",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=week,
            y=shown["median"].to_list(),
            mode="lines+markers",
            line={"color": MEDIAN_COLOR, "width": 3},
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
                "Median adherence %{y:.0%}<br>"
                "Middle half %{customdata[1]:.0%}–%{customdata[2]:.0%}<br>"
                f"Adherent (≥ {threshold:.0%}): "
                "%{customdata[3]:.0%} of %{customdata[0]} people"
                "<extra></extra>"
            ),
        )
    )
    figure.add_hline(
        y=threshold,
        line={"color": DONE_COLOR, "dash": "dash", "width": 2},
        annotation_text=f"adherent week ({threshold:.0%} of prescribed)",
        annotation_position="top left",
    )
    figure.update_layout(
        xaxis={"title": {"text": "Program week"}, "dtick": 1},
        yaxis={"title": {"text": "Weekly adherence"}, "tickformat": ".0%", "range": [0, 1.05]},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        margin={"t": 40, "b": 40},
        hovermode="closest",
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
                "thickness": 14,
                "len": 0.6,
            },
        )
    )
    figure.update_layout(
        yaxis={"autorange": "reversed", "title": None},
        xaxis={"side": "top", "title": None},
        height=max(260, 42 * len(weeks) + 90),
        margin={"t": 60, "b": 20},
        plot_bgcolor="rgba(0,0,0,0)",
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
            marker={
                "color": [DONE_COLOR if done else "rgba(46, 158, 91, 0.4)" for done in complete]
            },
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
                "color": PRESCRIBED_COLOR,
                "line": {"width": 3},
            },
            name="prescribed",
            hovertemplate="Week %{x}<br>%{y} prescribed<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={"title": {"text": "Program week"}, "dtick": 1},
        yaxis={"title": {"text": "Stretch sessions"}, "rangemode": "tozero"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        height=300,
        margin={"t": 40, "b": 40},
        bargap=0.35,
    )
    return figure


# --- caseload -----------------------------------------------------------------------------


# --- data health --------------------------------------------------------------------------
