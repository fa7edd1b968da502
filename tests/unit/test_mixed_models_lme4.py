"""A second implementation agrees: our REML fit against R's lme4 on the same panel, to 1e-3.

The issue asks for it because a mixed-model fit has many places to be subtly
wrong (the REML criterion, centring, the random-slope covariance). R is not a
project dependency: `.ci/run` installs Debian's r-cran-lme4, and this test is
skipped, with the reason printed, only on a machine without it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.lib.statistics.mixed import WEEKLY, design
from pipelines.lib.statistics.mixed_fit import fit_lmm

RSCRIPT = shutil.which("Rscript")
LME4 = (
    RSCRIPT is not None
    and subprocess.run([RSCRIPT, "-e", "library(lme4)"], capture_output=True).returncode == 0
)
pytestmark = pytest.mark.skipif(
    not LME4,
    reason="R with lme4 is not installed (Debian: apt-get install r-cran-lme4; .ci/run does it): "
    "the lme4 cross-check did NOT run",
)

FIT_IN_R = """
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(lme4))
d <- read.csv(args[1])
d$pid <- factor(d$pid)
m <- lmer(as.formula(args[2]), data = d, REML = TRUE,
          control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
co <- summary(m)$coefficients
write.csv(data.frame(term = rownames(co), estimate = co[, 1], se = co[, 2],
                     sigma = sigma(m), reml = REMLcrit(m)), args[3], row.names = FALSE)
"""


def weekly_panel(
    seed: int, people: int = 80, weeks: int = 12, slope_sd: float = 0.0
) -> pl.DataFrame:
    """Weekly pain with planted consistency and steps effects, some weeks missing."""
    rng = np.random.default_rng(seed)
    rows = []
    for person in range(people):
        base = rng.normal(5.8, 1.0)
        propensity = rng.uniform(0.3, 0.95)
        steps_mean = rng.normal(7000, 1500)
        slope = -1.5 + rng.normal(0, slope_sd)
        for week in range(1, weeks + 1):
            adherence = float(np.clip(propensity + rng.normal(0, 0.15), 0, 1))
            steps = steps_mean + rng.normal(0, 900)
            pain = (
                base
                + slope * (adherence - propensity)
                - 3.0 * (propensity - 0.7)
                - 0.1 * (steps - steps_mean) / 1000
                - 0.2 * (steps_mean - 7000) / 1000
                - 0.1 * (week - 1)
                + rng.normal(0, 0.6)
            )
            missing = rng.random() < 0.1
            rows.append((f"p{person:03d}", week, None if missing else pain, adherence, steps))
    return pl.DataFrame(
        rows, schema=["pid", "week", "mean_pain", "adherence", "mean_steps"], orient="row"
    )


def lme4_fit(d, random_slope: bool, tmp_path: Path) -> pl.DataFrame:
    columns = [n for n in d.names if n != "(Intercept)"]
    re = f"(1 + {d.spec.slope} | pid)" if random_slope else "(1 | pid)"
    formula = f"y ~ {' + '.join(columns)} + {re}"
    data, script, out = tmp_path / "panel.csv", tmp_path / "fit.R", tmp_path / "out.csv"
    pl.DataFrame(
        {"pid": d.codes, "y": d.y} | {c: d.X[:, d.names.index(c)] for c in columns}
    ).write_csv(data)
    script.write_text(FIT_IN_R)
    subprocess.run(
        [RSCRIPT, str(script), str(data), formula, str(out)], check=True, capture_output=True
    )
    return pl.read_csv(out)


@pytest.mark.parametrize(
    ("seed", "random_slope", "slope_sd"),
    [(1, False, 0.0), (2, False, 0.0), (3, True, 0.8)],
)
def test_estimates_and_standard_errors_match_lme4(seed, random_slope, slope_sd, tmp_path):
    d = design(weekly_panel(seed, slope_sd=slope_sd), WEEKLY)
    random = ("(Intercept)", WEEKLY.slope) if random_slope else ("(Intercept)",)
    ours = fit_lmm(d.y, d.X, d.codes, d.names, random)
    theirs = lme4_fit(d, random_slope, tmp_path)
    assert ours.converged and not ours.singular
    by_term = {r["term"]: r for r in theirs.iter_rows(named=True)}
    for j, name in enumerate(d.names):
        assert ours.beta[j] == pytest.approx(by_term[name]["estimate"], abs=1e-3), name
        assert ours.se[j] == pytest.approx(by_term[name]["se"], abs=1e-3), name
    assert np.sqrt(ours.sigma2) == pytest.approx(theirs["sigma"][0], abs=1e-3)
    assert ours.reml_criterion == pytest.approx(theirs["reml"][0], abs=1e-2)
