"""The Cohort page for program managers, against the small cohort's published snapshot.

Every expected number is computed here from the snapshot itself — in Python over rows read
with DuckDB, not through `dashboards.queries` — so the tests hold for any valid snapshot.
Whom a selection covers is the disclosure rule's (`dashboards.disclosure.atoms` / `resolve`
on the roster's cells, tested on its own in test_disclosure.py); numbers are compared to
within the precision the page shows them at (`disclosure.SHARE`, `POINTS`, …).
Dose–response and retention are checked twice: against the pipeline's own definitions
(`pipelines.lib.statistics`) run on the selected people, and, for the whole program, against the
published `models.*` tables.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import statistics
from collections import defaultdict
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from page_harness import (
    MIN_CELL_SIZE,
    Download,
    metrics,
    offered,
    open_app,
    page_text,
    plotly_specs,
    query,
    snapshot_file,
    snapshot_rules,
)
from scipy import stats
from spell_oracle import expected_spells_frame, spell_inputs

from dashboards import disclosure
from dashboards.principles import PRINCIPLE_COLUMNS  # the seven marts.principles scores
from dashboards.queries import cohort as queries
from pipelines.lib.statistics.dose_response import adherence_band, dose_response
from pipelines.lib.statistics.retention import kaplan_meier

PANELS = (
    "headline",
    "adherence-by-week",
    "pain-by-adherence-band",
    "principles",
    "dose-response",
    "retention",
    "data-coverage",
    "cohort-effects",
)
CSV_KEYS = {
    "week",
    "day",
    "band_order",
    "band",
    "group",
    "principle",
    "principle_name",
    "suppressed",
    "tracker_suppressed",
    "share_suppressed",
}
"""CSV columns that say which cell a row is, not what it holds."""


# --- reading the snapshot independently ----------------------------------------------------


def people_count_text(count: int) -> str:
    """How the cohort page shows a head count: 1–4 people are suppressed."""
    return f"< {MIN_CELL_SIZE}" if 0 < count < MIN_CELL_SIZE else f"{count:,}"


def near(values, precision: disclosure.Precision):
    """`values` as the page shows them: equal to within half a step of `precision`."""
    return pytest.approx(values, abs=0.5 * 10**-precision.decimals + 1e-9)


def roster_cells(data_dir: Path) -> dict[str, tuple]:
    """pid → (cohort, site, enrolment month)."""
    return {
        pid: (cohort, site, f"{enrolled_on:%Y-%m}")
        for pid, cohort, site, enrolled_on in query(
            data_dir, "select pid, cohort, site, enrolled_on from marts.participants"
        )
    }


def roster_atoms(data_dir: Path) -> tuple[disclosure.Atom, ...]:
    cells: dict[tuple, int] = defaultdict(int)
    for cell in roster_cells(data_dir).values():
        cells[cell] += 1
    return disclosure.atoms(cells)


def largest_cohort(data_dir: Path) -> str:
    ((cohort,),) = query(
        data_dir,
        "select cohort from marts.participants group by cohort order by count(*) desc limit 1",
    )
    return cohort


def selected_pids(
    data_dir: Path,
    cohorts: tuple[str, ...] = (),
    sites: tuple[str, ...] = (),
    months: tuple[str, ...] = (),
) -> set[str]:
    """The pids a filter selects: the people of the atoms it covers in full (empty = all)."""
    scope = disclosure.resolve(roster_atoms(data_dir), cohorts, sites, months)
    covered = {cell[:3] for cell in scope.cells}
    return {pid for pid, cell in roster_cells(data_dir).items() if cell in covered}


def matched_pids(
    data_dir: Path,
    cohorts: tuple[str, ...] = (),
    sites: tuple[str, ...] = (),
    months: tuple[str, ...] = (),
) -> set[str]:
    """The pids the filters match, before they are resolved to whole atoms."""
    return {
        pid
        for pid, (cohort, site, month) in roster_cells(data_dir).items()
        if (not cohorts or cohort in cohorts)
        and (not sites or site in sites)
        and (not months or month in months)
    }


def mean_adherence(data_dir: Path, pids: set[str]) -> dict[str, float]:
    """Each person's mean adherence over their completed weeks."""
    by_person: dict[str, list[float]] = defaultdict(list)
    for pid, adherence in query(
        data_dir,
        "select pid, adherence from marts.participant_week "
        "where week_complete and adherence is not null",
    ):
        if pid in pids:
            by_person[pid].append(adherence)
    return {pid: sum(values) / len(values) for pid, values in by_person.items()}


def t_interval(values: list[float]) -> tuple[float, float, float]:
    mean = statistics.fmean(values)
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return mean, mean - half, mean + half


def expected_headline(data_dir: Path, pids: set[str]) -> dict[str, str]:
    """The six headline values as the page prints them."""
    people = {
        pid: status
        for pid, status in query(data_dir, "select pid, status from marts.participants")
        if pid in pids
    }
    active = {pid for pid, status in people.items() if status == "active"}
    latest: dict[str, tuple[int, float]] = {}
    for pid, week, adherence in query(
        data_dir,
        "select pid, week, adherence from marts.participant_week "
        "where week_complete and adherence is not null",
    ):
        if pid in active and (pid not in latest or week > latest[pid][0]):
            latest[pid] = (week, adherence)
    person_means = mean_adherence(data_dir, pids)
    responders = [
        responder
        for pid, responder in query(data_dir, "select pid, pain_responder from marts.outcomes")
        if pid in pids and responder is not None
    ]
    retention = [row for row in expected_retention(data_dir, pids) if row[0] > 0]

    def percent(value: float | None) -> str:
        if value is None:
            return "suppressed"
        return f"{disclosure.round_value(value, disclosure.SHARE):.0%}"

    def share(values: list[bool | float], fraction: float | None = None) -> str:
        if len(values) < MIN_CELL_SIZE:
            return "suppressed"
        if fraction is None:  # a share of people: neither side may be 1–4 people
            yes = sum(values)
            if 0 < yes < MIN_CELL_SIZE or 0 < len(values) - yes < MIN_CELL_SIZE:
                return "suppressed"
        return percent(fraction if fraction is not None else statistics.fmean(values))

    inactive = len(people) - len(active)
    return {
        "Enrolled": people_count_text(len(people)),
        "Active": "suppressed"
        if 0 < len(active) < MIN_CELL_SIZE or 0 < inactive < MIN_CELL_SIZE
        else f"{len(active):,}",
        "Adherent this week": share(
            [
                adherence >= snapshot_rules(data_dir).adherent_share
                for _, adherence in latest.values()
            ]
        ),
        "Median adherence": share(
            list(person_means.values()),
            statistics.median(person_means.values()) if person_means else None,
        ),
        "Pain responders": share(responders),
        "Retention": percent(retention[-1][2]) if retention else "suppressed",
    }


def expected_adherence_weeks(data_dir: Path, pids: set[str]) -> dict[int, list[float]]:
    weeks: dict[int, list[float]] = defaultdict(list)
    for pid, week, adherence in query(
        data_dir,
        "select pid, week, adherence from marts.participant_week "
        "where week_complete and adherence is not null",
    ):
        if pid in pids:
            weeks[week].append(adherence)
    return dict(sorted(weeks.items()))


def expected_pain_by_band(data_dir: Path, pids: set[str]) -> dict[tuple[str, int], list[float]]:
    """(band, week) → the weekly mean pains of its people (complete weeks, ≥ 3 check-ins)."""
    rules = snapshot_rules(data_dir)
    bands = {
        pid: adherence_band(value, rules) for pid, value in mean_adherence(data_dir, pids).items()
    }
    cells: dict[tuple[str, int], list[float]] = defaultdict(list)
    for pid, week, pain in query(
        data_dir,
        "select pid, week, mean_pain from marts.participant_week "
        "where week_complete and mean_pain is not null and checkin_days >= 3",
    ):
        if pid in bands:
            cells[(bands[pid], week)].append(pain)
    return cells


def expected_principles(
    data_dir: Path, pids: set[str], rows: str
) -> dict[tuple[str, str], tuple[int, float]]:
    """(group, principle) → (people with a score, mean score over completed person-weeks).

    A row is the cohort (site) of an atom, or "several cohorts" ("several sites") for people
    whose atom pools several."""
    labels = {
        (atom_cell, atom.cohort_label, atom.site_label)
        for atom in roster_atoms(data_dir)
        for atom_cell in atom.cells
    }
    row_of = {cell: (cohort, site) for cell, cohort, site in labels}
    cells = roster_cells(data_dir)
    scores: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    for pid, *values in query(
        data_dir,
        """
        select pid, consistency, gentle, breathing, stability, activity, sleep_recovery,
               confidence
        from marts.principles
        where week_complete
        """,
    ):
        if pid not in pids:
            continue
        cohort, site = row_of[cells[pid]]
        group = {"cohort": cohort, "site": site, "cohort_site": f"{cohort} · {site}"}[rows]
        for principle, value in zip(PRINCIPLE_COLUMNS, values, strict=True):
            if value is not None:
                scores[(group, principle)].append((pid, value))
                scores[(queries.ALL_SELECTED, principle)].append((pid, value))
    return {
        cell: (len({pid for pid, _ in values}), statistics.fmean(v for _, v in values))
        for cell, values in scores.items()
    }


def expected_dose_response(data_dir: Path, pids: set[str]) -> pl.DataFrame:
    """`models.dose_response`'s own definition, run on the selected people."""
    means = mean_adherence(data_dir, pids)
    people = pl.DataFrame(
        [
            (pid, means.get(pid), change)
            for pid, change in query(data_dir, "select pid, pain_change from marts.outcomes")
            if pid in pids
        ],
        schema={"pid": pl.String, "mean_adherence": pl.Float64, "pain_change": pl.Float64},
        orient="row",
    )
    return dose_response(people, snapshot_rules(data_dir))


def expected_retention(
    data_dir: Path, pids: set[str]
) -> list[tuple[int, int, float | None, float | None, float | None]]:
    """(week, at risk, still engaged, CI low, CI high) for each week with ≥ 5 people at risk,
    from `models.retention`'s own definition run on the selected people. The share and its
    interval are None when 1–4 people disengaged before the week ended."""
    people, session_days, as_of = spell_inputs(snapshot_file(data_dir), pids)
    spells = expected_spells_frame(people, session_days, as_of)
    if spells.is_empty():
        return []
    curve = kaplan_meier(spells).to_dicts()
    rows = []
    for week in range(people["program_weeks"].max() + 1):
        at_risk = spells.filter(pl.col("days") >= 7 * week).height
        if at_risk < MIN_CELL_SIZE:
            break
        before = [row for row in curve if row["days_since_enrolment"] < 7 * week]
        last = before[-1] if before else {"still_engaged": 1.0, "ci_low": 1.0, "ci_high": 1.0}
        disengaged = spells.filter(pl.col("disengaged") & (pl.col("days") < 7 * week)).height
        if 0 < disengaged < MIN_CELL_SIZE:
            rows.append((week, at_risk, None, None, None))
        else:
            rows.append((week, at_risk, last["still_engaged"], last["ci_low"], last["ci_high"]))
    return rows


def expected_coverage(data_dir: Path, pids: set[str]) -> dict[int, dict[str, object]]:
    days: dict[int, list[tuple]] = defaultdict(list)
    for row in query(
        data_dir,
        """
        select d.program_week, d.pid, p.has_wearable, d.pain is not null,
               d.wear_state = 'worn', d.sleep_minutes is not null
        from marts.participant_day as d join marts.participants as p using (pid)
        where d.day_state <> 'unknown'
        """,
    ):
        if row[1] in pids:
            days[row[0]].append(row[1:])
    out = {}
    for week, rows in sorted(days.items()):
        tracker = [row for row in rows if row[1]]
        out[week] = {
            "people": len({row[0] for row in rows}),
            "checkin": statistics.fmean(row[2] for row in rows),
            "tracker_people": len({row[0] for row in tracker}),
            "wear": statistics.fmean(row[3] for row in tracker) if tracker else None,
            "sleep": statistics.fmean(row[4] for row in tracker) if tracker else None,
        }
    return out


# --- reading the page ----------------------------------------------------------------------


def csv_of(at, downloads: list[Download], panel: str) -> tuple[str, pl.DataFrame]:
    data = offered(downloads, at.download_button(key=f"csv-{panel}"))
    return data.decode(), pl.read_csv(io.BytesIO(data), infer_schema_length=None)


def chart(at, title_words: str) -> dict:
    """The Plotly spec whose first trace or axis mentions `title_words`."""
    for spec in plotly_specs(at):
        layout = spec["layout"]
        text = " ".join(
            str(layout.get(axis, {}).get("title", {}).get("text", ""))
            for axis in ("xaxis", "yaxis")
        )
        if title_words in text:
            return spec
    raise AssertionError(f"no chart with an axis titled {title_words!r}")


def heat_map_cells(at) -> dict:
    """The principles heat map's trace of scores (the one drawn over the grey grid)."""
    (heat_map,) = [s for s in plotly_specs(at) if s["data"][0]["type"] == "heatmap"]
    return trace(heat_map, "mean score")


def trace(spec: dict, name: str) -> dict:
    return next(t for t in spec["data"] if t.get("name") == name)


def select(at, key: str, *values: str):
    widget = at.multiselect(key=key)
    for value in values:
        widget = widget.select(value)
    return widget.run()


# --- headline ------------------------------------------------------------------------------


def test_headline_from_snapshot(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")

    assert at.title[0].value == "Cohort"
    everyone = selected_pids(dashboard_dir)
    assert metrics(at) == expected_headline(dashboard_dir, everyone)
    for metric in at.metric:
        assert len(metric.proto.help) > 40, f"{metric.label} has no definition on hover"
    helps = {metric.label: metric.proto.help for metric in at.metric}
    assert "latest completed program week" in helps["Adherent this week"]
    assert "2 points and at least 30 %" in helps["Pain responders"]
    assert "14 days in a row" in helps["Retention"]


# --- adherence by week ---------------------------------------------------------------------


def test_adherence_chart_shows_median_of_weeks_with_enough_people(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")

    weeks = expected_adherence_weeks(dashboard_dir, selected_pids(dashboard_dir))
    shown = {week: values for week, values in weeks.items() if len(values) >= MIN_CELL_SIZE}
    hidden = [week for week, values in weeks.items() if len(values) < MIN_CELL_SIZE]
    assert shown, "the test cohort should have program weeks completed by enough people"

    spec = chart(at, "Weekly adherence")
    median = trace(spec, "median person")
    assert median["x"] == list(shown)
    assert median["y"] == near([statistics.median(v) for v in shown.values()], disclosure.SHARE)
    low = trace(spec, "middle half of people (25th–75th percentile)")
    assert low["fill"] == "tonexty"
    assert low["y"] == near(
        [statistics.quantiles(v, n=4, method="inclusive")[0] for v in shown.values()],
        disclosure.SHARE,
    )
    threshold_lines = [shape for shape in spec["layout"]["shapes"] if shape["type"] == "line"]
    assert [line["y0"] for line in threshold_lines] == [
        snapshot_rules(dashboard_dir).adherent_share
    ]
    text = page_text(at)
    assert f"fewer than {MIN_CELL_SIZE} people" in text
    for week in hidden:
        assert str(week) in text.split("Suppressed:")[1]


# --- pain by adherence band ----------------------------------------------------------------


def test_pain_by_band_shows_weekly_means_with_intervals(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")

    cells = expected_pain_by_band(dashboard_dir, selected_pids(dashboard_dir))
    shown = {cell: v for cell, v in cells.items() if len(v) >= MIN_CELL_SIZE}
    assert shown, "the test cohort should have band-weeks with enough people"

    spec = chart(at, "Mean weekly pain")
    drawn = {}
    for band_trace in spec["data"]:
        band = band_trace["name"].removeprefix("adherence ")
        for (week, n, low, high), mean in zip(
            band_trace["customdata"], band_trace["y"], strict=True
        ):
            drawn[(band, week)] = (n, mean, low, high)
    assert set(drawn) == set(shown)
    for cell, values in shown.items():
        mean, low, high = t_interval(values)
        assert drawn[cell][0] == len(values)
        assert drawn[cell][1:] == near((mean, low, high), disclosure.POINTS)
    hidden = len(cells) - len(shown)
    if hidden:
        assert f"{hidden} band-weeks left out" in page_text(at)


# --- the seven principles ------------------------------------------------------------------


@pytest.mark.parametrize("rows", ["cohort", "site", "cohort_site"])
def test_principles_heat_map_by_group(dashboard_dir, monkeypatch, rows):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")
    at.radio(key="principles_rows").set_value(rows).run()
    assert not at.exception

    expected = expected_principles(dashboard_dir, selected_pids(dashboard_dir), rows)
    cells = heat_map_cells(at)
    assert cells["y"][0] == queries.ALL_SELECTED
    assert set(cells["y"]) == {group for group, _ in expected}
    assert len(cells["x"]) == len(PRINCIPLE_COLUMNS)
    suppressed = 0
    for r, group in enumerate(cells["y"]):
        for c, principle in enumerate(PRINCIPLE_COLUMNS):
            n, mean = expected.get((group, principle), (0, None))
            if 0 < n < MIN_CELL_SIZE:
                suppressed += 1
                assert cells["z"][r][c] is None
                assert f"fewer than {MIN_CELL_SIZE} people" in cells["customdata"][r][c]
            elif n == 0:
                assert cells["z"][r][c] is None
            else:
                assert cells["z"][r][c] == near(mean, disclosure.SHARE)
                assert f"over {n} people" in cells["customdata"][r][c]
    if suppressed:
        assert f"{suppressed} cells left out" in page_text(at)


# --- dose-response -------------------------------------------------------------------------


def test_dose_response_equals_the_published_model_for_the_whole_program(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")

    published = query(
        dashboard_dir,
        "select band, n_people, mean_pain_change, ci_low, ci_high from models.dose_response "
        "where n_people >= ? order by band_order",
        [MIN_CELL_SIZE],
    )
    assert published, "the test cohort should have an adherence band with enough people"
    (points,) = chart(at, "Pain change")["data"]
    assert points["x"] == [f"{band}<br>{n} people" for band, n, *_ in published]
    assert points["y"] == near([mean for _, _, mean, _, _ in published], disclosure.POINTS_CHANGE)
    assert [v for row in points["customdata"] for v in row[1:]] == near(
        [v for *_, low, high in published for v in (low, high)], disclosure.POINTS_CHANGE
    )


def test_dose_response_is_recomputed_for_the_filter(dashboard_dir, monkeypatch, downloads):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")
    cohort = largest_cohort(dashboard_dir)
    select(at, "cohort_filter", cohort)

    expected = expected_dose_response(dashboard_dir, selected_pids(dashboard_dir, (cohort,)))
    _, table = csv_of(at, downloads, "dose-response")
    for row, want in zip(table.iter_rows(named=True), expected.iter_rows(named=True), strict=True):
        assert row["band"] == want["band"]
        if 0 < want["n_people"] < MIN_CELL_SIZE:
            assert row["suppressed"] and row["n_people"] is None
            assert row["mean_pain_change"] is None
        else:
            assert row["n_people"] == want["n_people"]
            assert row["mean_pain_change"] == near(want["mean_pain_change"], disclosure.POINTS)
            assert row["ci_low"] == near(want["ci_low"], disclosure.POINTS)


# --- retention -----------------------------------------------------------------------------


def test_retention_curve_follows_the_published_model(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")

    expected = [
        row for row in expected_retention(dashboard_dir, selected_pids(dashboard_dir)) if row[2]
    ]
    assert len(expected) > 1, "the test cohort should be followed beyond enrolment"
    line = trace(chart(at, "Still engaged"), "still engaged")
    assert line["x"] == [week for week, *_ in expected]
    assert line["y"] == near([still for _, _, still, _, _ in expected], disclosure.SHARE)
    assert [row[0] for row in line["customdata"]] == [at_risk for _, at_risk, *_ in expected]

    # the published models.retention (fitted by the pipeline) gives the same weekly values
    published = query(
        dashboard_dir,
        "select days_since_enrolment, still_engaged from models.retention "
        "order by days_since_enrolment",
    )
    for week, still in zip(line["x"], line["y"], strict=True):
        before = [value for day, value in published if day < 7 * week]
        assert still == near(before[-1] if before else 1.0, disclosure.SHARE)


def test_retention_is_recomputed_for_the_filter(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")
    cohort = largest_cohort(dashboard_dir)
    select(at, "cohort_filter", cohort)

    pids = selected_pids(dashboard_dir, (cohort,))
    assert len(pids) < len(selected_pids(dashboard_dir))
    expected = [row for row in expected_retention(dashboard_dir, pids) if row[2] is not None]
    assert len(expected) > 1, "the largest cohort should have enough people to draw"
    line = trace(chart(at, "Still engaged"), "still engaged")
    assert line["x"] == [week for week, *_ in expected]
    assert line["y"] == near([still for _, _, still, _, _ in expected], disclosure.SHARE)
    assert [v for row in line["customdata"] for v in row[1:]] == near(
        [v for *_, low, high in expected for v in (low, high)], disclosure.SHARE
    )


# --- data coverage -------------------------------------------------------------------------


def test_data_coverage_by_week(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")

    expected = expected_coverage(dashboard_dir, selected_pids(dashboard_dir))
    spec = chart(at, "Share of elapsed days")
    checkin = trace(spec, "daily check-in")
    shown = {w: e for w, e in expected.items() if e["people"] >= MIN_CELL_SIZE}
    assert checkin["x"] == list(shown)
    assert checkin["y"] == near([e["checkin"] for e in shown.values()], disclosure.SHARE)
    assert checkin["customdata"] == [e["people"] for e in shown.values()]
    tracker = {w: e for w, e in shown.items() if e["tracker_people"] >= MIN_CELL_SIZE}
    assert tracker, "the test cohort should have tracker wearers"
    worn = trace(spec, "tracker worn (tracker wearers)")
    assert worn["x"] == list(tracker)
    assert worn["y"] == near([e["wear"] for e in tracker.values()], disclosure.SHARE)
    # how many wear a tracker is shown only when those without one are not 1–4 either
    assert worn["customdata"] == [
        None if 0 < e["people"] - e["tracker_people"] < MIN_CELL_SIZE else e["tracker_people"]
        for e in tracker.values()
    ]
    sleep = trace(spec, "night of sleep recorded (tracker wearers)")
    assert sleep["y"] == near([e["sleep"] for e in tracker.values()], disclosure.SHARE)


# --- cohort effects ------------------------------------------------------------------------


def test_forest_plot_in_plain_words_for_the_whole_program(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")

    effects = {
        term: (estimate, low, high, n)
        for term, estimate, low, high, n in query(
            dashboard_dir,
            "select term, estimate, ci_low, ci_high, n_people from models.cohort_effects "
            "where estimate is not null",
        )
    }
    assert "sleep_prev_night_h" in effects
    (forest,) = chart(at, "Change in pain")["data"]
    labels = [label.replace("<br>", " ") for label in forest["y"]]
    assert len(labels) == len(effects)
    assert sorted(forest["x"]) == near(sorted(e for e, *_ in effects.values()), disclosure.EFFECT)

    # the page shows each estimate rounded to disclosure.EFFECT, its words included
    effects = {
        term: tuple(disclosure.round_value(v, disclosure.EFFECT) for v in values[:3]) + values[3:]
        for term, values in effects.items()
    }
    sleep, low, high, n = effects["sleep_prev_night_h"]
    (sleep_label,) = [label for label in labels if "hour of sleep" in label]
    assert sleep_label.startswith(
        f"An extra hour of sleep goes with {abs(sleep):.2g} points "
        f"{'less' if sleep < 0 else 'more'} pain the next day"
    )
    assert f"{n:,} people" in sleep_label
    row = forest["x"].index(sleep)
    assert forest["error_x"]["array"][row] == pytest.approx(high - sleep)
    assert forest["error_x"]["arrayminus"][row] == pytest.approx(sleep - low)
    week, *_ = effects["week"]
    assert any(
        label.startswith(f"Pain {'falls' if week < 0 else 'rises'} by {abs(week):.2g} points")
        for label in labels
    )
    assert "Whole program — the filters above do not apply" in page_text(at)


@pytest.mark.parametrize(
    ("term", "estimate", "sentence"),
    [
        (
            "sleep_prev_night_h",
            -0.4,
            "An extra hour of sleep goes with 0.4 points less pain the next day",
        ),
        ("steps_1000", 0.123, "1,000 more steps a day than usual goes with 0.12 points more pain"),
        ("week", -0.102, "Pain falls by 0.1 points per program week"),
        ("week", None, "Trend per program week: not estimated"),
        ("new_term", -1.5, "new_term: -1.5 (change in pain per thing)"),
    ],
)
def test_effect_sentences_read_in_plain_words(term, estimate, sentence):
    from dashboards.charts import effect_sentence

    assert effect_sentence(term, estimate, "change in pain per thing").startswith(sentence)


def test_page_without_models_says_so(dashboard_dir, tmp_path, monkeypatch):
    snapshot = snapshot_file(tmp_path)
    snapshot.parent.mkdir(parents=True)
    shutil.copy(snapshot_file(dashboard_dir), snapshot)
    connection = duckdb.connect(str(snapshot))
    try:
        connection.execute("drop table models.cohort_effects")
    finally:
        connection.close()

    at = open_app(tmp_path, monkeypatch, "program_manager", "cohort")

    assert not at.exception
    assert "The pain models have no estimates" in page_text(at)
    assert len(plotly_specs(at)) == 6, "every other panel is still drawn"


def test_forest_plot_does_not_change_with_the_filter(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")
    before = chart(at, "Change in pain")["data"]
    ((cohort,),) = query(dashboard_dir, "select min(cohort) from marts.participants")

    select(at, "cohort_filter", cohort)

    assert chart(at, "Change in pain")["data"] == before


# --- filters -------------------------------------------------------------------------------


def test_cohort_filter_narrows_the_headline(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")
    cohort = largest_cohort(dashboard_dir)

    select(at, "cohort_filter", cohort)

    assert not at.exception
    pids = selected_pids(dashboard_dir, (cohort,))
    assert len(pids) < len(selected_pids(dashboard_dir))
    assert metrics(at) == expected_headline(dashboard_dir, pids)


def test_site_and_enrolment_month_filters_narrow_every_panel(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")
    everyone_weeks = trace(chart(at, "Weekly adherence"), "median person")["customdata"]
    ((site, month),) = query(
        dashboard_dir,
        """
        select site, strftime(enrolled_on, '%Y-%m') from marts.participants
        group by all order by count(*) desc limit 1
        """,
    )

    select(at, "site_filter", site)
    select(at, "month_filter", month)

    assert not at.exception
    pids = selected_pids(dashboard_dir, sites=(site,), months=(month,))
    assert 0 < len(pids) < len(selected_pids(dashboard_dir))
    assert metrics(at) == expected_headline(dashboard_dir, pids)
    if pids != matched_pids(dashboard_dir, sites=(site,), months=(month,)):
        assert "Some people these filters match are left out" in page_text(at)
    weeks = expected_adherence_weeks(dashboard_dir, pids)
    median = trace(chart(at, "Weekly adherence"), "median person")
    assert [n for n, *_ in median["customdata"]] == [
        len(v) for v in weeks.values() if len(v) >= MIN_CELL_SIZE
    ]
    assert median["customdata"] != everyone_weeks
    coverage = expected_coverage(dashboard_dir, pids)
    checkin = trace(chart(at, "Share of elapsed days"), "daily check-in")
    assert checkin["customdata"] == [
        e["people"] for e in coverage.values() if e["people"] >= MIN_CELL_SIZE
    ]
    month_label = f"{date.fromisoformat(month + '-01'):%B %Y}"
    assert month_label in at.multiselect(key="month_filter").options


def test_filters_that_select_nobody_say_so(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")
    ((cohort, month),) = query(
        dashboard_dir,
        """
        select c.cohort, m.month
        from (select distinct cohort from marts.participants) as c
        cross join (select distinct strftime(enrolled_on, '%Y-%m') as month
                    from marts.participants) as m
        where not exists (
            select 1 from marts.participants as p
            where p.cohort = c.cohort and strftime(p.enrolled_on, '%Y-%m') = m.month
        )
        order by all limit 1
        """,
    )

    select(at, "cohort_filter", cohort)
    select(at, "month_filter", month)

    assert not at.exception
    assert "Nobody on the roster matches these filters" in at.warning[0].value
    assert not at.metric, "a refused selection shows no figure"
    assert len(plotly_specs(at)) == 1, "only the whole-program forest plot is left"
    assert [button.key for button in at.get("download_button")] == ["csv-cohort-effects"]


def test_filters_that_match_only_pooled_people_are_refused(dashboard_dir, monkeypatch):
    """A cohort × site of 1–4 people is pooled with others: selecting it alone shows nothing."""
    ((cohort, site),) = query(
        dashboard_dir,
        """
        select cohort, site from marts.participants
        group by all having count(*) < ? order by count(*), cohort, site limit 1
        """,
        [MIN_CELL_SIZE],
    )
    assert 0 < len(matched_pids(dashboard_dir, (cohort,), (site,))) < MIN_CELL_SIZE
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")

    select(at, "cohort_filter", cohort)
    select(at, "site_filter", site)

    assert not at.exception
    assert selected_pids(dashboard_dir, (cohort,), (site,)) == set()
    assert "are in groups of fewer than 5 people" in at.warning[0].value
    assert not at.metric
    assert len(plotly_specs(at)) == 1, "only the whole-program forest plot is left"
    assert [button.key for button in at.get("download_button")] == ["csv-cohort-effects"]


# --- suppression ---------------------------------------------------------------------------


def shrink_smallest_cohort(source: Path, target: Path, keep: int = 3) -> str:
    """Copy the snapshot and leave `keep` people in its smallest cohort; that cohort's name."""
    snapshot = snapshot_file(target)
    snapshot.parent.mkdir(parents=True)
    shutil.copy(snapshot_file(source), snapshot)
    connection = duckdb.connect(str(snapshot))
    try:
        (cohort,) = connection.execute(
            "select cohort from marts.participants group by cohort order by count(*), cohort"
        ).fetchone()
        connection.execute(
            "create temp table leaving as select pid from marts.participants "
            "where cohort = ? order by pid offset ?",
            [cohort, keep],
        )
        for table in (
            "participant_day",
            "participant_week",
            "principles",
            "outcomes",
            "sessions",
            "participants",
        ):
            connection.execute(f"delete from marts.{table} where pid in (select pid from leaving)")
    finally:
        connection.close()
    return cohort


def test_small_cohort_is_refused(tmp_path, dashboard_dir, monkeypatch):
    """Shrink the smallest cohort to 3 people in a copy of the snapshot, then select it: its
    people are pooled with another cohort's, so the selection shows no figure at all."""
    cohort = shrink_smallest_cohort(dashboard_dir, tmp_path)
    assert len(matched_pids(tmp_path, (cohort,))) == 3
    at = open_app(tmp_path, monkeypatch, "program_manager", "cohort")

    select(at, "cohort_filter", cohort)

    assert not at.exception
    assert selected_pids(tmp_path, (cohort,)) == set()
    assert "are in groups of fewer than 5 people" in at.warning[0].value
    assert not at.metric
    specs = plotly_specs(at)
    assert len(specs) == 1
    assert specs[0]["layout"]["xaxis"]["title"]["text"].startswith("Change in pain")
    assert [button.key for button in at.get("download_button")] == ["csv-cohort-effects"]
    # unfiltered, the 3 are counted with everyone else: nobody is dropped from the whole
    at.multiselect(key="cohort_filter").set_value([]).run()
    assert metrics(at)["Enrolled"] == f"{len(matched_pids(tmp_path)):,}"


def test_a_headline_share_with_one_to_four_on_a_side_is_suppressed(
    dashboard_dir, monkeypatch, downloads
):
    """Every share of people in the headline, and its CSV row, hides 1–4 on either side."""
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")
    expected = expected_headline(dashboard_dir, selected_pids(dashboard_dir))
    suppressed = [label for label, value in expected.items() if value == "suppressed"]
    assert suppressed, "the small cohort should have a share with 1–4 people on a side"

    shown = metrics(at)
    _, table = csv_of(at, downloads, "headline")
    for label in suppressed:
        assert shown[label] == "suppressed"
        assert dict(zip(table["measure"], table["value"], strict=True))[label] == "suppressed"


def test_principle_cells_of_few_people_are_blank(dashboard_dir, tmp_path, monkeypatch):
    """In a copy, only 3 people of one heat-map row keep their principle scores."""
    snapshot = snapshot_file(tmp_path)
    snapshot.parent.mkdir(parents=True)
    shutil.copy(snapshot_file(dashboard_dir), snapshot)
    atom = next(a for a in roster_atoms(dashboard_dir) if a.site_label != disclosure.POOLED_SITES)
    people = [pid for pid, cell in roster_cells(dashboard_dir).items() if cell in atom.cells]
    connection = duckdb.connect(str(snapshot))
    try:
        connection.execute(
            "delete from marts.principles where list_contains(?, pid)", [sorted(people)[3:]]
        )
    finally:
        connection.close()
    at = open_app(tmp_path, monkeypatch, "program_manager", "cohort")
    at.radio(key="principles_rows").set_value("site").run()

    cells = heat_map_cells(at)
    row = cells["y"].index(atom.site_label)
    assert cells["z"][row] == [None] * len(PRINCIPLE_COLUMNS)
    assert all(f"fewer than {MIN_CELL_SIZE} people" in h for h in cells["customdata"][row])
    assert all(value is not None for value in cells["z"][0][:4]), "the total row is shown"
    for column in range(len(PRINCIPLE_COLUMNS)):
        blanks = sum(cells["z"][row][column] is None for row in range(1, len(cells["y"])))
        assert blanks != 1, "a lone blank cell would be the total minus the shown cells"


# --- CSV downloads -------------------------------------------------------------------------


def test_csv_downloads_equal_what_is_shown_and_hold_no_pid(dashboard_dir, monkeypatch, downloads):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")
    pids = [pid for (pid,) in query(dashboard_dir, "select pid from marts.participants")]

    tables = {panel: csv_of(at, downloads, panel) for panel in PANELS}

    for panel, (text, table) in tables.items():
        assert "pid" not in table.columns, panel
        assert not any(pid in text for pid in pids), f"{panel} CSV names a participant"

    headline = tables["headline"][1]
    assert dict(zip(headline["measure"], headline["value"], strict=True)) == metrics(at)
    assert headline["definition"].to_list() == [m.proto.help for m in at.metric]

    adherence = tables["adherence-by-week"][1].filter(~pl.col("suppressed"))
    median = trace(chart(at, "Weekly adherence"), "median person")
    assert adherence["week"].to_list() == median["x"]
    assert adherence["median"].to_list() == median["y"]

    bands = tables["pain-by-adherence-band"][1].filter(~pl.col("suppressed"))
    drawn = [
        (t["name"].removeprefix("adherence "), week, mean)
        for t in chart(at, "Mean weekly pain")["data"]
        for (week, *_), mean in zip(t["customdata"], t["y"], strict=True)
    ]
    assert [(b, w) for b, w, _ in drawn] == list(zip(bands["band"], bands["week"], strict=True))
    assert bands["mean_pain"].to_list() == [m for *_, m in drawn]

    cells = heat_map_cells(at)
    principles = tables["principles"][1]
    z = [value for row in cells["z"] for value in row]
    assert principles["mean_score"].to_list() == z
    assert principles["group"].unique(maintain_order=True).to_list() == cells["y"]

    dose = tables["dose-response"][1].filter(pl.col("mean_pain_change").is_not_null())
    (points,) = chart(at, "Pain change")["data"]
    assert dose["mean_pain_change"].to_list() == points["y"]

    retention = tables["retention"][1].filter(pl.col("still_engaged").is_not_null())
    line = trace(chart(at, "Still engaged"), "still engaged")
    assert retention["still_engaged"].to_list() == line["y"]
    assert retention["at_risk"].to_list() == [row[0] for row in line["customdata"]]

    coverage = tables["data-coverage"][1].filter(~pl.col("suppressed"))
    checkin = trace(chart(at, "Share of elapsed days"), "daily check-in")
    assert coverage["checkin_share"].to_list() == checkin["y"]

    effects = tables["cohort-effects"][1].filter(pl.col("estimate").is_not_null())
    (forest,) = chart(at, "Change in pain")["data"]
    assert effects["estimate"].to_list() == forest["x"]
    assert [s.split(" ")[:4] for s in effects["sentence"]] == [
        label.replace("<br>", " ").split(" ")[:4] for label in forest["y"]
    ]


CSV_DECIMALS = {
    # the issue: shares to whole percent (2 decimals of a 0–1 share), pain to 0.1 point
    "adherence-by-week": {"median": 2, "q25": 2, "q75": 2, "adherent_share": 2},
    "pain-by-adherence-band": {"mean_pain": 1, "ci_low": 1, "ci_high": 1},
    "principles": {"mean_score": 2},
    "dose-response": {"mean_pain_change": 1, "ci_low": 1, "ci_high": 1},
    "retention": {"still_engaged": 2, "ci_low": 2, "ci_high": 2},
    "data-coverage": {"checkin_share": 2, "wear_share": 2, "sleep_share": 2},
    "cohort-effects": {"estimate": 2, "ci_low": 2, "ci_high": 2, "p_value": 3},
}
"""Decimals each CSV column carries; every other value column holds whole numbers or text."""
HOVER_FORMATS = {
    # axis title words → the formats its hover text uses: the same decimals as the CSV
    "Weekly adherence": {".0%"},
    "Mean weekly pain": {".1f"},
    "Pain change": {"+.1f"},
    "Still engaged": {".0%"},
    "Share of elapsed days": {".0%"},
    "Change in pain": {"+.2f", ".3f"},
}


def test_csv_numbers_carry_the_precision_the_screen_shows(dashboard_dir, monkeypatch, downloads):
    """The CSVs hold no more decimals than the charts and hover text show (whole percent,
    0.1 pain point): a download at full precision would undo the rounding."""
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")

    for panel, decimals in CSV_DECIMALS.items():
        text, table = csv_of(at, downloads, panel)
        rows = list(csv.DictReader(io.StringIO(text)))
        for column in table.columns:
            if column in CSV_KEYS or table[column].dtype == pl.String:
                continue
            places = decimals.get(column, 0)
            for row in rows:
                value = row[column]
                assert len(value.partition(".")[2]) <= places, f"{panel}.{column} = {value}"
        assert any(table[column].drop_nulls().len() for column in decimals), panel
    for words, formats in HOVER_FORMATS.items():
        hover = " ".join(t.get("hovertemplate", "") for t in chart(at, words)["data"])
        used = set(re.findall(r"%\{[^:}]+:([^}]+)\}", hover))
        assert used == formats, words
    cells = heat_map_cells(at)
    assert all(
        text == "" or re.fullmatch(r"\d+%", text) for row in cells["text"] for text in row
    ), "heat-map cells show whole percents"


# --- who may open it -----------------------------------------------------------------------


def test_analyst_can_open_the_cohort_page(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "analyst", "cohort")

    assert at.title[0].value == "Cohort"
    assert metrics(at) == expected_headline(dashboard_dir, selected_pids(dashboard_dir))
    assert len(plotly_specs(at)) == 7


@pytest.mark.parametrize("role", ["coach", "other_coach"])
def test_coach_is_denied_the_cohort_page(dashboard_dir, monkeypatch, role):
    at = open_app(dashboard_dir, monkeypatch, role, "cohort")

    assert [error.value for error in at.error] == [
        "The Cohort page is not available to a coach (your pages: Caseload, Person)."
    ]
    assert not at.metric
    assert not at.get("plotly_chart")
    assert not at.get("download_button")
    assert not at.multiselect
