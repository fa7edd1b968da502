"""The printable one-page progress report a coach shares: self-contained HTML from the page's frames.

`progress_report_html(...)` is a plain function — frames in, one HTML string out — so it can be
tested without Streamlit. The page offers it with `st.download_button`. The file has no
scripts and loads nothing (the machines are offline): inline CSS with `@media print`, charts
as inline SVG, sized to print on one A4 or US Letter page. The only identifier in it is the
pseudonymous pid.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from html import escape
from string import Template
from typing import Any

import polars as pl

from dashboards import chart_style as style
from dashboards import person_metrics
from dashboards.person_summary import PersonSummary, person_summary
from dashboards.principles import PRINCIPLES
from pipelines.lib.rules import ProgramRules, percent_text

STATE_LABELS = {"done": "done", "missed": "missed", "unknown": "no data", "upcoming": "not yet"}

CSS = Template("""
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; background: $desk; color: $text;
       font: 10pt/1.35 $font; }
.sheet { width: 186mm; margin: 8mm auto; padding: 8mm 9mm; background: $paper;
         box-shadow: 0 1px 4px $shadow; }
header { border-bottom: 2px solid $primary; padding-bottom: 3mm; margin-bottom: 3mm; }
h1 { font-size: 17pt; margin: 0 0 1mm; color: $primary; }
h2 { font-size: 10.5pt; margin: 0 0 1.5mm; text-transform: uppercase; letter-spacing: .04em;
     color: $ink; }
p { margin: 0.6mm 0; }
.muted { color: $muted; font-size: 8.5pt; }
.tiles { display: flex; gap: 2mm; margin: 3mm 0; }
.tile { flex: 1; border: 1px solid $rule; border-radius: 2mm; padding: 1.5mm 2mm; }
.tile .label { font-size: 7.5pt; color: $muted; text-transform: uppercase; }
.tile .value { font-size: 15pt; font-weight: 700; }
.row { display: flex; gap: 5mm; margin-bottom: 3mm; }
.row > section { flex: 1; min-width: 0; }
section { break-inside: avoid; }
table { border-collapse: collapse; }
.calendar td { width: 5.2mm; height: 4.2mm; border: 1px solid $paper; }
.calendar th { font-size: 7pt; font-weight: normal; color: $muted; padding-right: 1.5mm;
               text-align: right; white-space: nowrap; }
.legend { font-size: 7.5pt; color: $muted; margin-top: 1mm; }
.legend span { display: inline-block; width: 3mm; height: 3mm; vertical-align: -0.4mm;
               margin: 0 1mm 0 2mm; }
.pain-text { flex: 2; } .pain-chart { flex: 3; }
.principles { width: 100%; margin-bottom: 1mm; }
.principles th, .principles td { font-size: 7.5pt; padding: 0.6mm 0.8mm; text-align: center; }
.principles th.name { text-align: left; white-space: nowrap; font-weight: normal; }
.principles td { min-width: 6.5mm; border: 1px solid $paper; }
svg { display: block; width: 100%; height: auto; }
svg text { font: 7.5px $font; fill: $ink; }
footer { border-top: 1px solid $rule; margin-top: 3mm; padding-top: 2mm; font-size: 7.5pt;
         color: $muted; }
@page { margin: 10mm; }
@media print {
  body { background: $paper; }
  .sheet { width: auto; margin: 0; padding: 0; box-shadow: none; }
}
""").substitute(
    desk=style.DESK,
    text=style.TEXT,
    font=style.PRINT_FONT,
    paper=style.WHITE,
    shadow=style.SHADOW,
    primary=style.PRIMARY,
    ink=style.INK,
    muted=style.MUTED,
    rule=style.RULE,
)


def progress_report_html(
    person: dict[str, Any],
    panels: dict[str, Any],
    snapshot: dict[str, Any],
    generated_at: datetime,
) -> str:
    """The one-page progress report of one person, as a standalone HTML document.

    `person` is the `marts.participants` row, `panels` what `queries.person.person_panels` returns
    (its `rules` are the snapshot's program rules: the report explains its numbers with them),
    `snapshot` the `meta.snapshot` row (its `as_of` is "today"), `generated_at` when the
    report is made (printed in the footer).
    """
    as_of: date = snapshot["as_of"]
    days: pl.DataFrame = panels["days"]
    weeks: pl.DataFrame = panels["weeks"]
    principles: pl.DataFrame = panels["principles"]
    outcome: dict[str, Any] | None = panels["outcome"]
    rules: ProgramRules = panels["rules"]
    pid = str(person["pid"])
    summary = person_summary(days, weeks, outcome, as_of, rules)  # the page's headline too

    body = "\n".join(
        [
            _header(person, snapshot),
            _headline(summary, rules),
            '<div class="row">',
            _calendar(days, as_of),
            _sessions(weeks),
            "</div>",
            _pain(days, summary, as_of, rules),
            _principles(principles),
            _footer(pid, snapshot, generated_at),
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Progress report · {escape(pid)} · data as of {as_of}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n"
        f'<main class="sheet">\n{body}\n</main>\n</body>\n</html>\n'
    )


def _metric(name: str, label: str, value: str, title: str) -> str:
    return (
        f'<div class="tile" title="{escape(title)}"><div class="label">{escape(label)}</div>'
        f'<div class="value" data-metric="{name}">{escape(value)}</div></div>'
    )


def _header(person: dict[str, Any], snapshot: dict[str, Any]) -> str:
    week_now = person.get("program_week_now")
    program = (
        f"program week {week_now} of {person['program_weeks']}"
        if week_now
        else f"{person['program_weeks']}-week program"
    )
    status = str(person.get("status") or "").replace("_", " ")
    return (
        "<header>\n<h1>Progress report</h1>\n"
        f'<p>Participant <strong data-field="pid">{escape(str(person["pid"]))}</strong> · '
        f"cohort {escape(str(person['cohort']))} · {escape(str(person['site']))} · "
        f"coach {escape(str(person['coach_id']))}</p>\n"
        f'<p>Data as of <strong data-field="as_of">{snapshot["as_of"]}</strong> · '
        f"enrolled {person['enrolled_on']} · {escape(program)} · {escape(status)}</p>\n"
        "</header>"
    )


def _headline(summary: PersonSummary, rules: ProgramRules) -> str:
    threshold = percent_text(rules.adherent_share)
    tiles = [
        _metric(
            "days_done",
            "Days done",
            str(summary.days_done),
            "Days with at least one completed stretch session.",
        ),
        _metric(
            "days_missed",
            "Days missed",
            str(summary.days_missed),
            "Program days up to today without a completed stretch session.",
        ),
        _metric(
            "days_unknown",
            "Days without data",
            str(summary.days_unknown),
            "Days that cannot be judged (after a withdrawal); never counted as missed.",
        ),
        _metric(
            "current_streak",
            "Current streak",
            f"{summary.current_streak} d",
            "Consecutive days done up to the latest day.",
        ),
        _metric(
            "longest_streak",
            "Longest streak",
            f"{summary.longest_streak} d",
            "The most consecutive days done so far.",
        ),
        _metric(
            "adherent_weeks",
            "Adherent weeks",
            f"{summary.adherent_weeks} of {summary.complete_weeks}",
            f"Completed weeks with at least {threshold} of the prescribed sessions.",
        ),
    ]
    return '<div class="tiles">' + "".join(tiles) + "</div>"


def _calendar(days: pl.DataFrame, as_of: date) -> str:
    rows = []
    for week in sorted(set(days["program_week"].to_list())) if days.height else []:
        cells = []
        for row in days.filter(pl.col("program_week") == week).sort("day").iter_rows(named=True):
            state = "upcoming" if row["day"] > as_of else row["day_state"]
            cells.append(
                f'<td data-day="{row["day"]}" data-state="{state}" '
                f'style="background:{style.DAY_STATES[state]}" '
                f'title="{row["day"]:%a %d %b}: {STATE_LABELS[state]}"></td>'
            )
        rows.append(f"<tr><th>Week {week}</th>{''.join(cells)}</tr>")
    legend = "".join(
        f'<span style="background:{style.DAY_STATES[state]}"></span>{label}'
        for state, label in STATE_LABELS.items()
    )
    body = (
        f'<table class="calendar">{"".join(rows)}</table><div class="legend">{legend}</div>'
        if rows
        else "<p>No program days yet.</p>"
    )
    return (
        "<section>\n<h2>Calendar</h2>\n"
        '<p class="muted">One row per program week, one square per day.</p>\n'
        f"{body}\n</section>"
    )


def _sessions(weeks: pl.DataFrame) -> str:
    started = weeks.filter(pl.col("days_elapsed") > 0).sort("week") if weeks.height else weeks
    title = "<h2>Sessions per week</h2>\n"
    if not started.height:
        return f"<section>\n{title}<p>The program has not started yet.</p>\n</section>"
    rows = started.to_dicts()
    width, height, left, bottom, top = 300, 130, 18, 16, 12
    top_value = max(max((r["sessions"] or 0) for r in rows), max(r["prescribed"] for r in rows))
    top_value = max(top_value, 1)
    slot = (width - left) / len(rows)
    scale = (height - bottom - top) / top_value
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" '
        'aria-label="Completed stretch sessions per program week against the prescription">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
        f'stroke="{style.REFERENCE}" stroke-width="0.6"/>',
    ]
    for index, row in enumerate(rows):
        sessions = int(row["sessions"] or 0)
        x = left + index * slot
        bar_height = sessions * scale
        y = height - bottom - bar_height
        color = style.DONE if row["week_complete"] else style.IN_PROGRESS
        prescribed_y = height - bottom - row["prescribed"] * scale
        parts.append(
            f'<rect data-week="{row["week"]}" data-sessions="{sessions}" '
            f'data-prescribed="{row["prescribed"]}" x="{x + slot * 0.18:.1f}" y="{y:.1f}" '
            f'width="{slot * 0.64:.1f}" height="{bar_height:.1f}" fill="{color}"/>'
        )
        parts.append(
            f'<line x1="{x + slot * 0.08:.1f}" y1="{prescribed_y:.1f}" '
            f'x2="{x + slot * 0.92:.1f}" y2="{prescribed_y:.1f}" stroke="{style.INK}" '
            'stroke-width="1.6"/>'
        )
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{min(y, prescribed_y) - 2:.1f}" '
            f'text-anchor="middle">{sessions}/{row["prescribed"]}</text>'
        )
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{height - 5}" text-anchor="middle">'
            f"{row['week']}{'' if row['week_complete'] else '*'}</text>"
        )
    parts.append("</svg>")
    return (
        f"<section>\n{title}"
        '<p class="muted">Completed stretch sessions (bars) against the prescribed number '
        "(dark line), per program week; * = week still in progress.</p>\n"
        + "".join(parts)
        + "\n</section>"
    )


def _pain(days: pl.DataFrame, summary: PersonSummary, as_of: date, rules: ProgramRules) -> str:
    weekly = person_metrics.weekly_pain(days, as_of, rules)
    baseline, threshold = summary.pain_baseline, summary.responder_threshold
    title = "<h2>Pain</h2>\n"
    text = _pain_summary(summary, rules)
    if not weekly.height:
        return (
            f"<section>\n{title}{text}<p>No week with at least "
            f"{rules.baseline_min_checkins} pain check-ins yet.</p>\n</section>"
        )
    width, height, left, bottom, top = 300, 120, 18, 16, 6
    weeks_shown = max(weekly["program_week"].max(), 1)
    slot = (width - left) / weeks_shown

    def x_of(week: int) -> float:
        return left + (week - 0.5) * slot

    def y_of(pain: float) -> float:
        return top + (10 - pain) / 10 * (height - bottom - top)

    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Weekly mean pain">',
    ]
    for level in (0, 5, 10):
        parts.append(
            f'<line x1="{left}" y1="{y_of(level):.1f}" x2="{width}" y2="{y_of(level):.1f}" '
            f'stroke="{style.GRID}" stroke-width="0.5"/>'
            f'<text x="{left - 3}" y="{y_of(level) + 2.5:.1f}" text-anchor="end">{level}</text>'
        )
    if baseline is not None:
        parts.append(
            f'<line data-line="baseline" data-value="{baseline:.1f}" x1="{left}" '
            f'y1="{y_of(baseline):.1f}" x2="{width}" y2="{y_of(baseline):.1f}" stroke="{style.INK}" '
            'stroke-dasharray="4 2" stroke-width="1"/>'
        )
    if threshold is not None:
        parts.append(
            f'<line data-line="threshold" data-value="{threshold:.1f}" x1="{left}" '
            f'y1="{y_of(max(threshold, 0)):.1f}" x2="{width}" '
            f'y2="{y_of(max(threshold, 0)):.1f}" stroke="{style.DONE}" stroke-dasharray="1.5 1.5" '
            'stroke-width="1.2"/>'
        )
    points = [(row["program_week"], row["mean_pain"]) for row in weekly.iter_rows(named=True)]
    path = " ".join(f"{x_of(w):.1f},{y_of(p):.1f}" for w, p in points)
    parts.append(
        f'<polyline points="{path}" fill="none" stroke="{style.PAIN}" stroke-width="1.6"/>'
    )
    for week, pain in points:
        parts.append(
            f'<circle data-week="{week}" data-pain="{pain:.1f}" cx="{x_of(week):.1f}" '
            f'cy="{y_of(pain):.1f}" r="2.4" fill="{style.PAIN}"/>'
        )
    for week in range(1, weeks_shown + 1):
        parts.append(
            f'<text x="{x_of(week):.1f}" y="{height - 5}" text-anchor="middle">{week}</text>'
        )
    parts.append("</svg>")
    return (
        f'<section>\n{title}<div class="row"><div class="pain-text">{text}'
        f'<p class="muted">Weekly mean pain (0–10, weeks with ≥ {rules.baseline_min_checkins} '
        "check-ins) by program week; dashed: baseline; dotted green: responder threshold.</p>"
        '</div><div class="pain-chart">' + "".join(parts) + "</div></div>\n</section>"
    )


def _pain_summary(summary: PersonSummary, rules: ProgramRules) -> str:
    baseline, threshold = summary.pain_baseline, summary.responder_threshold
    if baseline is None or threshold is None:
        return (
            f"<p>No pain baseline yet (needs {rules.baseline_min_checkins} check-ins in week 1 "
            "or 2).</p>\n"
        )
    text = (
        f'<p>Baseline <strong data-metric="pain_baseline">{baseline:.1f}</strong> '
        f"(week {summary.pain_baseline_week})"
    )
    if summary.pain_latest is not None:
        text += (
            f' → latest <strong data-metric="pain_latest">{summary.pain_latest:.1f}</strong> '
            f"(week {summary.pain_latest_week}): "
            f'<strong data-metric="pain_change">{summary.pain_change:+.1f}</strong> points'
        )
        if summary.pain_change_pct is not None:
            text += f" ({summary.pain_change_pct:+.0%})"
    text += (
        f'. Pain responder: <strong data-metric="pain_responder">{summary.responder_text}</strong>'
        f" (weekly mean ≤ {threshold:.1f}: at least {rules.responder_pain_points:g} points and "
        f"{percent_text(rules.responder_pain_share)} below baseline).</p>\n"
    )
    return text


def _principles(principles: pl.DataFrame) -> str:
    started = (
        principles.filter(pl.col("days_elapsed") > 0).sort("week")
        if principles.height
        else principles
    )
    title = "<h2>The seven principles</h2>\n"
    if not started.height:
        return f"<section>\n{title}<p>No started week yet.</p>\n</section>"
    rows = started.to_dicts()
    head = "".join(f"<th>{row['week']}{'' if row['week_complete'] else '*'}</th>" for row in rows)
    body = []
    for column, name in PRINCIPLES.items():
        cells = []
        for row in rows:
            score = row[column]
            if score is None:
                cells.append(f'<td data-principle="{column}" data-week="{row["week"]}">–</td>')
            else:
                cells.append(
                    f'<td data-principle="{column}" data-week="{row["week"]}" '
                    f'style="background:{style.score_color(score)}">{score:.0%}</td>'
                )
        body.append(f'<tr><th class="name">{escape(name)}</th>{"".join(cells)}</tr>')
    return (
        f"<section>\n{title}"
        '<p class="muted">Weekly scores, 100 % = target met in full; – = no data that week '
        "(never counted as 0); * = week in progress.</p>\n"
        f'<table class="principles"><tr><th class="name">Week</th>{head}</tr>'
        f"{''.join(body)}</table>\n</section>"
    )


def _footer(pid: str, snapshot: dict[str, Any], generated_at: datetime) -> str:
    run = str(snapshot.get("run_id") or "")[:8]
    when = generated_at.astimezone(UTC) if generated_at.tzinfo else generated_at
    return (
        "<footer>\n"
        f"<p><strong>Privacy.</strong> This report names the participant only by the "
        f"pseudonymous ID {escape(pid)}: no name, participant number or contact details. It "
        "holds health information — share it only with the participant and their care team, "
        "keep printed copies out of sight, and do not forward it.</p>\n"
        f"<p>Data as of {snapshot['as_of']} (snapshot run {escape(run)}); generated "
        f"{when:%Y-%m-%d %H:%M} UTC by steadyback. Definitions: docs/metrics.md.</p>\n"
        "</footer>"
    )
