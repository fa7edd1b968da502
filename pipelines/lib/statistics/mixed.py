"""Pain models: how sleep, stretching consistency and steps go with pain, in the cohort and per person.

Two linear mixed models (REML, person-mean centring, random intercept and — where it converges —
a random slope; the engine is ``mixed_fit``):

* daily:  ``pain ~ sleep_within + sleep_between + week + (1 + sleep_within | pid)``
* weekly: ``mean_pain ~ adherence_within*10 + adherence_between*10 + steps_within/1000
  + steps_between/1000 + week + (1 + adherence_within | pid)``

``cohort_effects`` returns the ``models.cohort_effects`` contract table, ``person_effects`` the
``models.person_effects`` one (see /work/shared/DESIGN.md and docs/models.md). Missing values stay
missing: each model uses the rows where all its values are known (complete cases per model).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from pipelines.lib.rules import ProgramRules

from .contract import COHORT_SCHEMA, PERSON_SCHEMA

# scipy (~1 s to import) is loaded by a fit, not before: a run with too few people to fit
# a model (one person's export) never needs it
if TYPE_CHECKING:
    from .mixed_fit import LmmFit, SlopeChoice

log = logging.getLogger(__name__)

CI_LEVEL = 0.95

UNITS = {
    "sleep_prev_night_h": "change in next-day pain (NRS points) per extra hour slept",
    "consistency_10pct": "change in weekly mean pain per +10 percentage points weekly adherence",
    "steps_1000": "change in weekly mean pain per +1,000 mean daily steps",
    "consistency_10pct_between": (
        "difference in weekly mean pain per +10 percentage points person-mean adherence"
    ),
    "steps_1000_between": "difference in weekly mean pain per +1,000 person-mean daily steps",
    "week": "pain trend per program week (weekly mean pain NRS points)",
}
TERMS = tuple(UNITS)


@dataclass(frozen=True)
class Spec:
    """One model: outcome, the covariate split into within/between, and the contract terms."""

    name: str
    outcome: str
    covariates: tuple[tuple[str, str, float], ...]  # (input column, short name, multiplier)
    slope: str  # the within covariate that gets a random slope
    terms: dict[str, str]  # contract term -> design column
    formula: str  # lme4-style formula with the slope; "{re}" is the random part

    def model_string(self, random_slope: bool) -> str:
        re = f"(1 + {self.slope} | pid)" if random_slope else "(1 | pid)"
        return self.formula.format(re=re)


DAILY = Spec(
    name="daily",
    outcome="pain",
    covariates=(("sleep_prev_night_h", "sleep", 1.0),),
    slope="sleep_within",
    terms={"sleep_prev_night_h": "sleep_within"},
    formula="pain ~ sleep_within + sleep_between + week + {re}",
)
WEEKLY = Spec(
    name="weekly",
    outcome="mean_pain",
    covariates=(("adherence", "adherence", 10.0), ("mean_steps", "steps", 1e-3)),
    slope="adherence_within",
    terms={
        "consistency_10pct": "adherence_within",
        "steps_1000": "steps_within",
        "consistency_10pct_between": "adherence_between",
        "steps_1000_between": "steps_between",
        "week": "week",
    },
    formula=(
        "mean_pain ~ adherence_within*10 + adherence_between*10 + steps_within/1000"
        " + steps_between/1000 + week + {re}"
    ),
)


@dataclass
class Design:
    """The complete-case rows of one model, person-mean centred, as arrays."""

    spec: Spec
    pids: list[str]  # pid of each group code 0 … G−1
    codes: np.ndarray  # group code per row
    y: np.ndarray
    X: np.ndarray
    names: tuple[str, ...]

    @property
    def n_obs(self) -> int:
        return int(self.y.size)

    @property
    def n_people(self) -> int:
        return int(np.unique(self.codes).size) if self.y.size else 0


def _require(frame: pl.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing}")


def design(frame: pl.DataFrame, spec: Spec) -> Design:
    """The model's complete cases, person-mean centred.

    A person's usual level of a covariate is the mean of **every** observed value of it in the
    panel (also on rows the model drops because pain or another covariate is missing), so a
    skipped check-in does not shift what counts as "usual" for that person:
    ``within = x − person mean``, ``between = person mean − grand mean`` (the mean of the
    person means of the people in the model; it only moves the intercept). Then rows with any
    needed value missing are dropped (NaN counts as missing). Multipliers put the coefficients
    in contract units (adherence × 10 → per 10 pp, steps ÷ 1000 → per 1,000 steps).
    """
    inputs = [c for c, _, _ in spec.covariates]
    needed = ["pid", "week", spec.outcome, *inputs]
    _require(frame, needed, f"{spec.name} panel")
    rows = frame.select(
        pl.col("pid").cast(pl.String),
        pl.col("week").cast(pl.Float64),
        *[pl.col(c).cast(pl.Float64).fill_nan(None) for c in [spec.outcome, *inputs]],
    ).filter(pl.col("pid").is_not_null())
    # person means over all observed values (mean() skips nulls)
    rows = rows.with_columns(
        pl.col(col).mean().over("pid").alias(f"_{short}_pm") for col, short, _ in spec.covariates
    )
    rows = rows.drop_nulls().sort("pid", maintain_order=True)
    rows = rows.with_columns(
        *[
            ((pl.col(col) - pl.col(f"_{short}_pm")) * mult).alias(f"{short}_within")
            for col, short, mult in spec.covariates
        ],
        pl.col("pid").rank("dense").cast(pl.Int64).sub(1).alias("_code"),
    )
    first = rows.unique("pid", keep="first", maintain_order=True)
    rows = rows.with_columns(
        ((pl.col(f"_{short}_pm") - (first[f"_{short}_pm"].mean() or 0.0)) * mult).alias(
            f"{short}_between"
        )
        for _, short, mult in spec.covariates
    )
    names = ["(Intercept)"]
    for _, short, _ in spec.covariates:
        names += [f"{short}_within", f"{short}_between"]
    names.append("week")
    n = rows.height
    X = np.column_stack([np.ones(n), *[rows[c].to_numpy() for c in names[1:]]]) if n else None
    return Design(
        spec=spec,
        pids=first["pid"].to_list(),
        codes=rows["_code"].to_numpy(),
        y=rows[spec.outcome].to_numpy(),
        X=X if X is not None else np.empty((0, len(names))),
        names=tuple(names),
    )


@dataclass
class FittedModel:
    design: Design
    choice: SlopeChoice | None  # None when the model could not be fitted
    problem: str = ""

    @property
    def fit(self) -> LmmFit | None:
        return self.choice.fit if self.choice else None

    @property
    def model_string(self) -> str:
        return self.design.spec.model_string(bool(self.choice and self.choice.random_slope))


def fit_model(frame: pl.DataFrame, spec: Spec) -> FittedModel:
    d = design(frame, spec)
    if d.n_people < 3:
        return FittedModel(d, None, f"{d.n_people} people with complete rows (need ≥ 3)")
    from .mixed_fit import fit_preferring_slope

    try:
        choice = fit_preferring_slope(d.y, d.X, d.codes, d.names, spec.slope)
    except (ValueError, np.linalg.LinAlgError) as exc:
        log.warning("%s model not fitted: %s", spec.name, exc)
        return FittedModel(d, None, str(exc))
    log.info("%s model: %d people, %d rows; %s", spec.name, d.n_people, d.n_obs, choice.reason)
    return FittedModel(d, choice)


@dataclass
class PainModels:
    """Both models fitted once; the contract tables are views of them."""

    daily: FittedModel
    weekly: FittedModel

    def cohort_effects(self) -> pl.DataFrame:
        rows = []
        for term in TERMS:
            m = self.daily if term in DAILY.terms else self.weekly
            col = m.design.spec.terms[term]
            row = {
                "term": term,
                "estimate": None,
                "ci_low": None,
                "ci_high": None,
                "p_value": None,
                "n_people": m.design.n_people,
                "n_obs": m.design.n_obs,
                "unit": UNITS[term],
                "model": m.model_string,
            }
            if m.fit is not None:
                j = m.fit.index(col)
                lo, hi = m.fit.ci(CI_LEVEL)
                row |= {
                    "estimate": float(m.fit.beta[j]),
                    "ci_low": float(lo[j]),
                    "ci_high": float(hi[j]),
                    "p_value": float(m.fit.p_values[j]),
                }
            rows.append(row)
        return pl.DataFrame(rows, schema=COHORT_SCHEMA)

    def person_effects(self, rules: ProgramRules) -> pl.DataFrame:
        """Shrunken slopes of the people with enough data (`person_min_paired_days` paired
        days for sleep, `person_min_weeks` weeks for consistency)."""
        parts = [
            _person_rows(
                self.daily, "sleep_prev_night_h", "sleep_within", rules.person_min_paired_days
            ),
            _person_rows(
                self.weekly, "consistency_10pct", "adherence_within", rules.person_min_weeks
            ),
        ]
        return pl.concat(parts).sort("pid", "term")


def _person_rows(m: FittedModel, term: str, col: str, min_obs: int) -> pl.DataFrame:
    """Shrunken per-person slopes for people with ≥ ``min_obs`` rows and a varying covariate."""
    fit = m.fit
    if fit is None:
        return pl.DataFrame(schema=PERSON_SCHEMA)
    d = m.design
    x = d.X[:, d.names.index(col)]
    # Per group (codes are 0 … G−1, ascending, exactly fit.groups): rows and spread of x.
    n = np.bincount(d.codes, minlength=len(d.pids))
    x_min = np.full(len(d.pids), np.inf)
    x_max = np.full(len(d.pids), -np.inf)
    np.minimum.at(x_min, d.codes, x)
    np.maximum.at(x_max, d.codes, x)
    enough = (n >= min_obs) & (x_max - x_min > 1e-9)
    from scipy import stats

    est, sd = fit.conditional_coefficient(col)
    z = float(stats.norm.ppf(0.5 + CI_LEVEL / 2))
    keep = enough[fit.groups]
    idx = fit.groups[keep]
    return pl.DataFrame(
        {
            "pid": [d.pids[i] for i in idx],
            "term": [term] * int(keep.sum()),
            "estimate": est[keep],
            "ci_low": est[keep] - z * sd[keep],
            "ci_high": est[keep] + z * sd[keep],
            "n_obs": n[idx].astype(np.int64),
        },
        schema=PERSON_SCHEMA,
    )


def fit_pain_models(daily: pl.DataFrame, weekly: pl.DataFrame) -> PainModels:
    """Fit the daily (sleep) and weekly (consistency, steps, trend) models."""
    return PainModels(fit_model(daily, DAILY), fit_model(weekly, WEEKLY))


def cohort_effects(daily: pl.DataFrame, weekly: pl.DataFrame) -> pl.DataFrame:
    """``models.cohort_effects``: one row per term (see ``TERMS``), null estimates if unfittable."""
    return fit_pain_models(daily, weekly).cohort_effects()


def person_effects(daily: pl.DataFrame, weekly: pl.DataFrame, rules: ProgramRules) -> pl.DataFrame:
    """``models.person_effects``: shrunken within-person slopes (sleep, consistency) per person."""
    return fit_pain_models(daily, weekly).person_effects(rules)
