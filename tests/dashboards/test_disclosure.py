"""Query-set-size control for the cohort views (`dashboards.disclosure`).

The guarantee: any two selections the Cohort page allows cover the same people or differ by
at least `MIN_CELL_SIZE` of them, so subtracting one view from another never isolates fewer
than five people. The rule is tested on hand-made rosters, and the guarantee by drawing many
random pairs of selections on the demo cohort (300 people × 12 weeks, with a few people moved
into new sites and a new cohort in a copy of its snapshot, since the generator makes no cell
smaller than five) and on the small test cohort (most of its cells hold 1–4 people), through
the query layer every cohort panel reads its people from.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from page_harness import query, snapshot_file

from dashboards import disclosure
from dashboards.disclosure import MIN_CELL_SIZE, Atom, atoms, resolve
from dashboards.queries import cohort as queries
from pipelines.lib.users import User

ANALYST = User("analyst", "analyst")


def cells_of(roster_atoms: tuple[Atom, ...]) -> list[tuple]:
    return [cell for atom in roster_atoms for cell in atom.cells]


# --- atoms --------------------------------------------------------------------------------

# The small test cohort's roster (seed 11): one cell of 6, every other cell 1–4 people.
SMALL_COHORT = {
    ("spring-A", "Acme", "2026-03"): 4,
    ("spring-A", "Globex", "2026-03"): 4,
    ("spring-A", "Lakeview", "2026-03"): 4,
    ("spring-A", "Northside", "2026-03"): 4,
    ("spring-B", "Acme", "2026-03"): 3,
    ("spring-B", "Globex", "2026-03"): 1,
    ("spring-B", "Lakeview", "2026-03"): 4,
    ("spring-B", "Northside", "2026-03"): 6,
    ("summer-A", "Acme", "2026-04"): 1,
    ("summer-A", "Globex", "2026-04"): 3,
    ("summer-A", "Lakeview", "2026-04"): 2,
    ("summer-A", "Northside", "2026-04"): 4,
}


def test_small_cells_are_pooled_by_cohort_and_nobody_is_dropped():
    made = atoms(SMALL_COHORT)

    assert sorted(cells_of(made)) == sorted(SMALL_COHORT), "each cell in exactly one atom"
    assert all(atom.people >= MIN_CELL_SIZE for atom in made)
    by_label = {(a.cohort_label, a.site_label): a.people for a in made}
    assert by_label == {
        ("spring-A", disclosure.POOLED_SITES): 16,
        ("spring-B", disclosure.POOLED_SITES): 8,
        ("spring-B", "Northside"): 6,
        ("summer-A", disclosure.POOLED_SITES): 10,
    }


def test_a_cohort_and_site_pools_its_enrolment_months_first():
    made = atoms({("A", "X", "2026-03"): 3, ("A", "X", "2026-04"): 3, ("A", "Y", "2026-03"): 9})

    assert {(a.cohort_label, a.site_label, a.people) for a in made} == {
        ("A", "X", 6),
        ("A", "Y", 9),
    }


def test_what_no_pool_can_hold_joins_the_smallest_atom():
    made = atoms({("A", "X", "2026-03"): 6, ("B", "Y", "2026-03"): 10, ("C", "Z", "2026-04"): 2})

    assert {(a.cohort_label, a.site_label, a.people) for a in made} == {
        (disclosure.POOLED_COHORTS, disclosure.POOLED_SITES, 8),
        ("B", "Y", 10),
    }


def test_atoms_do_not_depend_on_the_order_cells_come_in():
    shuffled = list(SMALL_COHORT.items())
    random.Random(3).shuffle(shuffled)

    assert atoms(dict(shuffled)) == atoms(SMALL_COHORT)


def test_a_roster_smaller_than_five_is_never_shown():
    made = atoms({("A", "X", "2026-03"): 2, ("B", "X", "2026-03"): 2})

    scope = resolve(made)
    assert (scope.people, scope.refused, scope.left_out, scope.cells) == (0, True, True, ())


def test_missing_roster_values_are_cells_like_any_other():
    made = atoms({(None, None, None): 5, ("A", None, "2026-03"): 7})

    assert {(a.cohort_label, a.site_label) for a in made} == {
        (disclosure.NO_COHORT, disclosure.NO_SITE),
        ("A", disclosure.NO_SITE),
    }
    assert resolve(made, cohorts=("A",)).people == 7


# --- resolving a selection ----------------------------------------------------------------


def test_a_selection_covers_an_atom_all_or_nothing():
    made = atoms(SMALL_COHORT)

    whole = resolve(made, cohorts=("spring-B",))
    without_globex = resolve(made, cohorts=("spring-B",), sites=("Acme", "Lakeview", "Northside"))
    pooled_only = resolve(made, cohorts=("spring-B",), sites=("Globex",))

    assert (whole.people, whole.left_out) == (14, False)
    assert (without_globex.people, without_globex.left_out) == (6, True)
    assert (pooled_only.people, pooled_only.refused, pooled_only.left_out) == (0, True, True)
    assert resolve(made).people == sum(SMALL_COHORT.values())
    nobody = resolve(made, cohorts=("spring-A",), months=("2026-04",))
    assert (nobody.people, nobody.refused, nobody.left_out) == (0, True, False)


def test_scope_cells_carry_their_atoms_row_labels():
    scope = resolve(atoms(SMALL_COHORT), cohorts=("spring-B",))

    rows = {(cell.site, cell.site_row) for cell in scope.cells}
    assert ("Northside", "Northside") in rows
    assert ("Acme", disclosure.POOLED_SITES) in rows


# --- shares, counts, rounding -------------------------------------------------------------


@pytest.mark.parametrize(
    ("yes", "people", "shown"),
    [
        (1, 5, False),  # "20 % of 5 are responders" is one person
        (57, 60, False),  # "95 % of 60" leaves three who are not
        (5, 6, False),  # "83 % of 6" — one on the other side
        (0, 5, True),
        (5, 5, True),
        (10, 20, True),
        (0, 4, False),  # too few people for any share
        (None, 20, False),
    ],
)
def test_a_share_hides_one_to_four_people_on_either_side(yes, people, shown):
    assert disclosure.share_shown(yes, people) is shown


def test_counts_of_one_to_four_are_hidden_and_zero_is_not():
    assert [disclosure.head_count(n) for n in (0, 1, 4, 5, None)] == [0, None, None, 5, None]


def test_a_number_and_a_column_round_alike_and_show_exactly():
    values = [0.125, 0.135, 0.05, 0.15, 0.25, 2.675, -0.125, 0.8333333]
    for kind in (disclosure.SHARE, disclosure.POINTS, disclosure.EFFECT, disclosure.P_VALUE):
        column = disclosure.rounded(pl.DataFrame({"v": values}), {"v": kind})["v"].to_list()
        assert column == [disclosure.round_value(v, kind) for v in values]
        # the format shows a rounded number exactly: the screen and the CSV say the same
        for value in column:
            text = f"{value:{kind.format}}"
            shown = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
            assert shown == pytest.approx(value, abs=1e-12), text


# --- the guarantee, on real snapshots ------------------------------------------------------


@pytest.fixture(scope="module")
def demo_shaped(demo_cohort: Path, tmp_path_factory) -> Path:
    """The demo's own cohort (300 × 12, seed 7) through the real pipeline, with small cells
    planted in a copy of its snapshot: 1 + 2 people at a new site in two cohorts, 3 at another
    new site, 2 in a new cohort, and exactly 5 at a third new site."""
    shaped = tmp_path_factory.mktemp("demo_shaped")
    snapshot = snapshot_file(shaped)
    snapshot.parent.mkdir(parents=True)
    shutil.copy(snapshot_file(demo_cohort), snapshot)
    connection = duckdb.connect(str(snapshot))
    try:
        cohorts = [
            c
            for (c,) in connection.execute(
                "select distinct cohort from marts.participants order by cohort"
            ).fetchall()
        ]
        moves = [  # (cohort, people, column, new value)
            (cohorts[0], 1, "site", "Eastgate Clinic"),
            (cohorts[2], 2, "site", "Eastgate Clinic"),
            (cohorts[1], 3, "site", "Westbrook Gym"),
            (cohorts[0], 2, "cohort", "2026-autumn-A"),
            (cohorts[2], 5, "site", "Harbour Point"),
        ]
        for cohort, people, column, value in moves:
            connection.execute(
                f"update marts.participants set {column} = ? where pid in ("
                "select pid from marts.participants where cohort = ? "
                "and site not in ('Eastgate Clinic', 'Westbrook Gym', 'Harbour Point') "
                "order by pid limit ?)",
                [value, cohort, people],
            )
    finally:
        connection.close()
    return shaped


def roster(data_dir: Path) -> dict[str, tuple]:
    return {
        pid: (cohort, site, f"{enrolled_on:%Y-%m}")
        for pid, cohort, site, enrolled_on in query(
            data_dir, "select pid, cohort, site, enrolled_on from marts.participants"
        )
    }


def random_selection(rng: random.Random, options: dict[str, list[str]]):
    def pick(values: list[str]) -> tuple[str, ...]:
        if rng.random() < 0.4:
            return ()  # no limit
        return tuple(sorted(rng.sample(values, rng.randint(1, len(values)))))

    return queries.CohortSelection(
        pick(options["cohort"]), pick(options["site"]), pick(options["enrolment_month"])
    )


@pytest.mark.pipeline  # both data dirs come from pipeline runs (fixtures requested by name)
@pytest.mark.parametrize("cohort", ["demo_shaped", "dashboard_dir"])
def test_any_two_allowed_selections_differ_by_nobody_or_at_least_five(cohort, request, monkeypatch):
    data_dir: Path = request.getfixturevalue(cohort)
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(data_dir))
    people = roster(data_dir)
    sizes: dict[tuple, int] = {}
    for cell in people.values():
        sizes[cell] = sizes.get(cell, 0) + 1
    assert any(n < MIN_CELL_SIZE for n in sizes.values()), "no small cell: the test proves nothing"
    options = queries.cohort_filter_options(ANALYST)
    rng = random.Random(20260309)

    def covered(selection) -> frozenset[str]:
        scope = queries.cohort_scope(ANALYST, selection)
        cells = {cell[:3] for cell in scope.cells}
        pids = frozenset(pid for pid, cell in people.items() if cell in cells)
        assert len(pids) == scope.people
        return pids

    differences = []
    for _ in range(600):
        first, second = (
            covered(random_selection(rng, options)),
            covered(random_selection(rng, options)),
        )
        difference = len(first ^ second)
        assert difference == 0 or difference >= MIN_CELL_SIZE, (difference, first ^ second)
        differences.append(difference)
    assert sum(0 < d < 3 * MIN_CELL_SIZE for d in differences) > 10, "pairs should differ a little"

    # the query layer computes every panel over exactly these people
    for _ in range(5):
        selection = random_selection(rng, options)
        while queries.cohort_scope(ANALYST, selection).refused:
            selection = random_selection(rng, options)
        pids = covered(selection)
        headline = queries.cohort_headline(ANALYST, selection)
        assert headline["enrolled"] == len(pids)
        adherence = queries.adherence_by_week(ANALYST, selection)
        ((first_week,),) = query(
            data_dir,
            "select min(week) from marts.participant_week where week_complete",
        )
        completed = {
            pid
            for (pid,) in query(
                data_dir,
                "select pid from marts.participant_week "
                "where week = ? and week_complete and adherence is not null",
                [first_week],
            )
        }
        n = adherence.filter(adherence["week"] == first_week)["n_people"].to_list()
        assert n in ([len(pids & completed)], [None])


def test_every_person_counts_when_nothing_is_filtered(demo_shaped, monkeypatch):
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(demo_shaped))

    scope = queries.cohort_scope(ANALYST)

    assert (scope.people, scope.left_out) == (len(roster(demo_shaped)), False)
