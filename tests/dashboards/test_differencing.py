"""An analyst's attacks on the Cohort page, replayed as a reviewer did them (issue 9).

Differencing: cohort B (14 people) minus cohort B limited to the sites of all but one of its
people (13) leaves one person, and n₁·mean₁ − n₂·mean₂ of a band both selections show gives
that person's pain change (dose–response) or weekly mean pain (pain by adherence band) — from
the data layer, and from the CSV downloads. Retention: a weekly share with 1–4 people
disengaged ("83 % of 6") says how many left, and a second selection says who.

Only the public query functions and the page are used, so these tests run unchanged against
the code before the fix (where they fail) and after it.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
from page_harness import (
    MIN_CELL_SIZE,
    Download,
    offered,
    open_app,
    plotly_specs,
    query,
    snapshot_file,
)
from spell_oracle import expected_spells_frame, spell_inputs

from dashboards.queries import cohort as queries
from pipelines.lib.users import User

ANALYST = User("analyst", "analyst")
EXACT = 0.005
"""A recovered value this close to the person's own is theirs (pain is shown to 0.1)."""


def lone_person(data_dir: Path) -> dict:
    """The attack's target: the only person of their cohort at their site, in a cohort of
    more than `MIN_CELL_SIZE`; the two selections that differ by them alone."""
    rows = query(
        data_dir,
        """
        with counted as (
            select cohort, site, count(*) as people from marts.participants group by cohort, site
        ),
        cells as (
            select *, sum(people) over (partition by cohort) as cohort_people from counted
        )
        select c.cohort, c.site, c.cohort_people, p.pid
        from cells as c join marts.participants as p using (cohort, site)
        where c.people = 1 and c.cohort_people > ?
        order by c.cohort, c.site
        limit 1
        """,
        [MIN_CELL_SIZE],
    )
    assert rows, "the test cohort should have a cohort with a one-person site"
    ((cohort, site, cohort_people, pid),) = rows
    sites = sorted({s for (s,) in query(data_dir, "select distinct site from marts.participants")})
    return {
        "pid": pid,
        "cohort": cohort,
        "site": site,
        "cohort_people": cohort_people,
        "whole": queries.CohortSelection(cohorts=(cohort,)),
        "without": queries.CohortSelection(
            cohorts=(cohort,), sites=tuple(s for s in sites if s != site)
        ),
    }


def recovered(
    whole: pl.DataFrame, without: pl.DataFrame, keys: list[str], value: str
) -> dict[tuple, float]:
    """n₁·mean₁ − n₂·mean₂ for every cell both selections show and that differs by one person."""
    numbers = {"n_people": pl.Float64, value: pl.Float64}  # a CSV column of nulls reads as text
    whole, without = whole.cast(numbers), without.cast(numbers)
    joined = whole.join(without, on=keys, suffix="_without").filter(
        pl.col(value).is_not_null()
        & pl.col(f"{value}_without").is_not_null()
        & (pl.col("n_people") - pl.col("n_people_without") == 1)
    )
    return {
        tuple(row[k] for k in keys): row["n_people"] * row[value]
        - row["n_people_without"] * row[f"{value}_without"]
        for row in joined.iter_rows(named=True)
    }


def own_values(data_dir: Path, pid: str) -> dict[str, object]:
    ((pain_change,),) = query(
        data_dir, "select pain_change from marts.outcomes where pid = ?", [pid]
    )
    weekly = dict(
        query(
            data_dir,
            "select week, mean_pain from marts.participant_week "
            "where pid = ? and week_complete and mean_pain is not null and checkin_days >= 3",
            [pid],
        )
    )
    return {"pain_change": pain_change, "weekly_pain": weekly}


def assert_not_recovered(
    dose: dict[tuple, float], bands: dict[tuple, float], own: dict[str, object]
) -> None:
    for band, value in dose.items():
        assert abs(value - own["pain_change"]) > EXACT, f"pain change recovered from {band}"
    for (_, week), value in bands.items():
        mean = own["weekly_pain"].get(week)
        assert mean is None or abs(value - mean) > EXACT, f"week {week} pain recovered"


def test_two_selections_never_differ_by_one_person(dashboard_dir, monkeypatch):
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(dashboard_dir))
    target = lone_person(dashboard_dir)

    whole = queries.cohort_headline(ANALYST, target["whole"])["enrolled"] or 0
    without = queries.cohort_headline(ANALYST, target["without"])["enrolled"] or 0

    difference = whole - without
    assert difference == 0 or difference >= MIN_CELL_SIZE, (
        f"{target['cohort']} ({whole}) minus it without {target['site']} ({without}) "
        f"leaves {difference} people"
    )


def test_differencing_through_the_data_layer_recovers_nobody(dashboard_dir, monkeypatch):
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(dashboard_dir))
    target = lone_person(dashboard_dir)
    own = own_values(dashboard_dir, target["pid"])
    assert own["pain_change"] is not None and own["weekly_pain"], "the target has pain data"

    dose = recovered(
        queries.dose_response(ANALYST, target["whole"]),
        queries.dose_response(ANALYST, target["without"]),
        ["band"],
        "mean_pain_change",
    )
    bands = recovered(
        queries.pain_by_adherence_band(ANALYST, target["whole"]),
        queries.pain_by_adherence_band(ANALYST, target["without"]),
        ["band", "week"],
        "mean_pain",
    )

    assert_not_recovered(dose, bands, own)


def csv_tables(at, downloads: list[Download], *panels: str) -> list[pl.DataFrame]:
    return [
        pl.read_csv(
            io.BytesIO(offered(downloads, at.download_button(key=f"csv-{panel}"))),
            infer_schema_length=None,
        )
        for panel in panels
    ]


def page_csvs(at, selection: queries.CohortSelection, downloads) -> list[pl.DataFrame] | None:
    """The dose–response and pain-by-band CSVs of a selection made with the page's filters,
    or None when the page refuses the selection (no download)."""
    at.multiselect(key="cohort_filter").set_value(list(selection.cohorts)).run()
    at.multiselect(key="site_filter").set_value(list(selection.sites)).run()
    assert not at.exception
    keys = {button.key for button in at.get("download_button")}
    if "csv-dose-response" not in keys:
        return None
    return csv_tables(at, downloads, "dose-response", "pain-by-adherence-band")


def test_differencing_the_csv_downloads_recovers_nobody(dashboard_dir, monkeypatch, downloads):
    target = lone_person(dashboard_dir)
    own = own_values(dashboard_dir, target["pid"])
    at = open_app(dashboard_dir, monkeypatch, "analyst", "cohort")

    whole = page_csvs(at, target["whole"], downloads)
    without = page_csvs(at, target["without"], downloads)

    assert whole is not None, "the whole cohort is a selection the page allows"
    if without is None:  # refused: nothing to subtract
        return
    dose = recovered(whole[0], without[0], ["band"], "mean_pain_change")
    bands = recovered(whole[1], without[1], ["band", "week"], "mean_pain")
    assert_not_recovered(dose, bands, own)


def disengaged_weeks(data_dir: Path) -> dict[int, tuple[int, int]]:
    """Week → (people disengaged before its end, people still followed at its end), everyone."""
    people, session_days, as_of = spell_inputs(snapshot_file(data_dir))
    spells = expected_spells_frame(people, session_days, as_of)
    return {
        week: (
            spells.filter(pl.col("disengaged") & (pl.col("days") < 7 * week)).height,
            spells.filter(pl.col("days") >= 7 * week).height,
        )
        for week in range(people["program_weeks"].max() + 1)
    }


def test_retention_share_with_one_to_four_disengaged_is_not_shown(
    dashboard_dir, monkeypatch, downloads
):
    weeks = disengaged_weeks(dashboard_dir)
    few = [
        week
        for week, (gone, followed) in weeks.items()
        if 0 < gone < MIN_CELL_SIZE and followed >= MIN_CELL_SIZE
    ]
    assert few, "the small cohort should have weeks with 1–4 people disengaged"
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(dashboard_dir))

    curve = queries.retention_by_week(ANALYST)
    shown = dict(zip(curve["week"], curve["still_engaged"], strict=True))
    assert [week for week in few if shown[week] is not None] == []

    at = open_app(dashboard_dir, monkeypatch, "analyst", "cohort")
    (line,) = [
        t
        for spec in plotly_specs(at)
        if "Still engaged" in str(spec["layout"].get("yaxis", {}).get("title", {}))
        for t in spec["data"]
        if t.get("name") == "still engaged"
    ]
    assert not set(few) & set(line["x"])
    (table,) = csv_tables(at, downloads, "retention")
    in_csv = dict(zip(table["week"], table["still_engaged"], strict=True))
    assert [week for week in few if in_csv[week] is not None] == []
