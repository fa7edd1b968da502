"""Disclosure control for the cohort views: whom a selection may count, which shares may be
shown, and how precisely a number is shown — on screen, in hover text and in CSVs alike.

**Atoms.** The roster is cut into cells, one per cohort × site × enrolment month. A cell of
at least `MIN_CELL_SIZE` people is an atom of its own. Smaller cells are pooled: with the
other small cells of their cohort × site (enrolment months pooled), else of their cohort
(sites pooled), else of the whole program; a pool of at least `MIN_CELL_SIZE` people is an
atom. What is still left (1–4 people) joins the smallest atom, so everyone is in exactly one
atom and, unless the whole roster is smaller, every atom holds `MIN_CELL_SIZE` or more.

**Selections.** A selection of the cohort page (cohort, site and enrolment-month filters)
covers the atoms *all* of whose cells pass the filters — all or nothing. Every selection is
therefore a union of atoms, and two selections differ by a union of atoms: by nobody or by
at least `MIN_CELL_SIZE` people. That is what defeats differencing ("cohort B minus cohort B
without one site" leaves nobody, not one person). Groups a viewer picks by cohort or site
inside a selection (the principles heat map's rows) are unions of atoms for the same reason.

Groups the *data* defines inside a selection — adherence bands, program weeks, tracker
wearers, active people — are not unions of atoms: two selections can differ by fewer than
`MIN_CELL_SIZE` people in one band or week. Rounding (`Precision`) is what limits those
differences; docs/dashboards.md quantifies what stays recoverable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from typing import NamedTuple

import polars as pl

MIN_CELL_SIZE = 5
"""No number on a cohort view describes 1 to MIN_CELL_SIZE − 1 people."""

POOLED_COHORTS = "several cohorts"
POOLED_SITES = "several sites"
NO_COHORT = "no cohort"
NO_SITE = "no site"

Cell = tuple[str | None, str | None, str | None]
"""(cohort, site, enrolment month "YYYY-MM") of a roster row."""


# --- atoms and selections -------------------------------------------------------------------


class Atom(NamedTuple):
    """People who are always selected together."""

    cells: tuple[Cell, ...]
    people: int

    @property
    def cohort_label(self) -> str:
        """The atom's cohort, or `POOLED_COHORTS` when it pools several."""
        return _label({cohort for cohort, _, _ in self.cells}, NO_COHORT, POOLED_COHORTS)

    @property
    def site_label(self) -> str:
        """The atom's site, or `POOLED_SITES` when it pools several."""
        return _label({site for _, site, _ in self.cells}, NO_SITE, POOLED_SITES)


def _label(values: set[str | None], missing: str, pooled: str) -> str:
    if len(values) > 1:
        return pooled
    (value,) = values
    return missing if value is None else value


def _cell_order(cell: Cell) -> tuple:
    return tuple((value is None, value or "") for value in cell)


# How a small cell is pooled, most specific first: with its cohort × site (months pooled),
# with its cohort (sites pooled), with the whole program.
_POOLS: tuple[Callable[[Cell], tuple], ...] = (
    lambda cell: cell,
    lambda cell: cell[:2],
    lambda cell: cell[:1],
    lambda cell: (),
)


def atoms(cell_sizes: Mapping[Cell, int]) -> tuple[Atom, ...]:
    """The roster's atoms, from its people per cell; deterministic for the same cells."""
    left = {cell: n for cell, n in cell_sizes.items() if n > 0}
    made: list[list[Cell]] = []
    for pool in _POOLS:
        groups: dict[tuple, list[Cell]] = defaultdict(list)
        for cell in sorted(left, key=_cell_order):
            groups[pool(cell)].append(cell)
        for cells in groups.values():
            if sum(left[cell] for cell in cells) >= MIN_CELL_SIZE:
                made.append(cells)
                for cell in cells:
                    del left[cell]
    if left:  # 1–4 people the whole program could not pool: they join the smallest atom
        rest = sorted(left, key=_cell_order)
        if made:
            smallest = min(
                made,
                key=lambda cells: (sum(cell_sizes[c] for c in cells), _cell_order(cells[0])),
            )
            smallest.extend(rest)
        else:  # the whole roster is smaller than MIN_CELL_SIZE: one atom, never selectable
            made.append(rest)
    return tuple(
        sorted(
            (
                Atom(tuple(sorted(cells, key=_cell_order)), sum(cell_sizes[c] for c in cells))
                for cells in made
            ),
            key=lambda atom: _cell_order(atom.cells[0]),
        )
    )


class ScopeCell(NamedTuple):
    """One roster cell a selection covers, with the heat-map row labels of its atom."""

    cohort: str | None
    site: str | None
    month: str | None
    cohort_row: str
    site_row: str


class Scope(NamedTuple):
    """What a selection resolves to: the cells its figures are computed over."""

    cells: tuple[ScopeCell, ...]
    people: int
    left_out: bool
    """Some people the filters match are left out (their atom is only partly matched)."""

    @property
    def refused(self) -> bool:
        return self.people < MIN_CELL_SIZE


def resolve(
    roster_atoms: Collection[Atom],
    cohorts: Collection[str] = (),
    sites: Collection[str] = (),
    months: Collection[str] = (),
) -> Scope:
    """The atoms a selection covers in full; an empty filter puts no limit on its field."""

    def passes(cell: Cell) -> bool:
        cohort, site, month = cell
        return (
            (not cohorts or cohort in cohorts)
            and (not sites or site in sites)
            and (not months or month in months)
        )

    cells: list[ScopeCell] = []
    people = 0
    left_out = False
    for atom in roster_atoms:
        passing = [passes(cell) for cell in atom.cells]
        if atom.people >= MIN_CELL_SIZE and all(passing):
            people += atom.people
            cells.extend(
                ScopeCell(*cell, atom.cohort_label, atom.site_label) for cell in atom.cells
            )
        elif any(passing):
            left_out = True
    return Scope(tuple(sorted(cells, key=lambda c: _cell_order(c[:3]))), people, left_out)


# --- counts and shares ----------------------------------------------------------------------


def too_few(people: pl.Expr) -> pl.Expr:
    """A column of people counts: true for 1 to MIN_CELL_SIZE − 1 (0 is nobody, not too few)."""
    return people.is_between(1, MIN_CELL_SIZE - 1)


def count_shown(people: int | None) -> bool:
    """A count of people may be shown when it is 0 or at least MIN_CELL_SIZE."""
    return people is not None and not 0 < people < MIN_CELL_SIZE


def head_count(people: int | None) -> int | None:
    """The count, or None for 1 to MIN_CELL_SIZE − 1 people."""
    return people if count_shown(people) else None


def share_shown(yes: int | None, people: int | None) -> bool:
    """A share `yes` of `people` may be shown when it describes at least MIN_CELL_SIZE people
    and neither side of it is 1 to MIN_CELL_SIZE − 1 people: "20 % of 5 are responders" is one
    person, "95 % of 60" leaves three who are not."""
    if yes is None or people is None or people < MIN_CELL_SIZE:
        return False
    return count_shown(yes) and count_shown(people - yes)


# --- precision ------------------------------------------------------------------------------


class Precision(NamedTuple):
    """How precisely a kind of number is shown: the decimals the data layer keeps, and the
    format (Python's and Plotly's d3-format alike) that shows exactly those decimals."""

    decimals: int
    format: str


SHARE = Precision(2, ".0%")
"""Shares 0–1 (adherence, retention, coverage, principle scores): whole percent."""
POINTS = Precision(1, ".1f")
"""Pain on its 0–10 scale: 0.1 point."""
POINTS_CHANGE = Precision(1, "+.1f")
"""A change in pain (dose–response): 0.1 point, signed."""
EFFECT = Precision(2, "+.2f")
"""Whole-program model estimates in pain points: 0.01 point, signed."""
P_VALUE = Precision(3, ".3f")


def rounded(frame: pl.DataFrame, precision: Mapping[str, Precision]) -> pl.DataFrame:
    """The frame with each named column rounded to its precision (half to even)."""
    return frame.with_columns(pl.col(name).round(kind.decimals) for name, kind in precision.items())


def round_value(value: float | None, kind: Precision) -> float | None:
    """One number rounded exactly as `rounded` rounds a column."""
    if value is None:
        return None
    return pl.Series([value], dtype=pl.Float64).round(kind.decimals).item()
