"""Pain mixed models: are the CIs calibrated, and how fast is the fit next to statsmodels and lme4?

    .venv/bin/python benchmarks/mixed_models.py calibration [--panels 200] [--people 300] [--weeks 12]
                                                            [--slope-sd 0] [--seed 0]
    .venv/bin/python benchmarks/mixed_models.py speed [--people 1000 10000] [--no-statsmodels]

``calibration`` simulates panels with the planted effects (the simulator of
tests/unit/test_mixed_models.py, which mirrors the demo generator's pain formula), fits both
models with ``pipelines.lib.statistics.mixed`` and prints, per term, the share of 95 % CIs that
cover the truth (Monte-Carlo SE ≈ 1.5 points at 200 panels), the mean estimate, the SD of the
estimates across panels next to the mean reported SE (they should agree), and the df used. With ``--slope-sd S`` people get their
own sleep (S) and consistency (S/3) slopes and the person-level intervals are checked too.

``speed`` fits the weekly model at people × 12 weeks and the daily model at people × 84 days
and prints seconds for this implementation (design + intercept-only fit + random-slope fit +
Satterthwaite df), statsmodels MixedLM (the random-slope model, REML, its default optimiser sequence; skipped when the
1,000-people time extrapolates to more than 10 minutes) and lme4 ``lmer(REML=TRUE)`` when
``Rscript`` with lme4 is on the PATH (fitted on the same centred design through a temporary
CSV; the time is lmer() alone, inside R). Agreement columns give the largest absolute
difference of the fixed effects and SEs from our fit with the same random structure, and for
statsmodels the difference of the maximised REML log-likelihoods (positive: our optimum is
higher, i.e. statsmodels stopped short of it); "objective check" is statsmodels' own REML
log-likelihood at our estimates minus ours (≈ 0: both optimise the same function).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "unit")]

from test_mixed_models import TRUTH, simulate_cohort  # noqa: E402

from pipelines.lib.rules import ProgramRules  # noqa: E402
from pipelines.lib.statistics.mixed import DAILY, TERMS, WEEKLY, design, fit_pain_models  # noqa: E402
from pipelines.lib.statistics.mixed_fit import fit_lmm, fit_preferring_slope  # noqa: E402

STATSMODELS_BUDGET_S = 600.0


# --- calibration ---------------------------------------------------------------------------


def calibration(panels: int, people: int, weeks: int, slope_sd: float, seed: int) -> None:
    sd = {"sleep_prev_night_h": slope_sd, "consistency_10pct": slope_sd / 3} if slope_sd else None
    rows: list[dict] = []
    person_rows: list[pl.DataFrame] = []
    slopes_kept = {"daily": 0, "weekly": 0}
    started = time.perf_counter()
    for k in range(panels):
        daily, weekly, slopes = simulate_cohort(people, weeks=weeks, seed=seed + k, slope_sd=sd)
        models = fit_pain_models(daily, weekly)
        slopes_kept["daily"] += bool(models.daily.choice and models.daily.choice.random_slope)
        slopes_kept["weekly"] += bool(models.weekly.choice and models.weekly.choice.random_slope)
        for row in models.cohort_effects().iter_rows(named=True):
            m = models.daily if row["term"] in DAILY.terms else models.weekly
            j = m.fit.index(m.design.spec.terms[row["term"]])
            rows.append(row | {"panel": k, "se": m.fit.se[j], "df": m.fit.df[j]})
        if sd:
            person_rows.append(
                models.person_effects(ProgramRules()).join(
                    slopes.unpivot(index="pid", variable_name="term", value_name="truth"),
                    on=["pid", "term"],
                )
            )
    elapsed = time.perf_counter() - started
    res = pl.DataFrame(rows).with_columns(
        pl.col("term").replace_strict(TRUTH).alias("truth"),
        ((pl.col("ci_high") - pl.col("ci_low")) / 2).alias("half_width"),
    )
    summary = (
        res.group_by("term", maintain_order=True)
        .agg(
            pl.col("truth").first(),
            ((pl.col("ci_low") <= pl.col("truth")) & (pl.col("truth") <= pl.col("ci_high")))
            .mean()
            .alias("coverage"),
            pl.col("estimate").mean().alias("mean_est"),
            pl.col("estimate").std().alias("sd_est"),
            pl.col("half_width").mean().alias("mean_half"),
            pl.col("se").mean().alias("mean_se"),
            pl.col("df").median().alias("median_df"),
            pl.col("n_people").mean().alias("people"),
        )
        .sort(pl.col("term").replace_strict({t: i for i, t in enumerate(TERMS)}))
    )
    print(
        f"Calibration: {panels} simulated panels of {people} people × {weeks} weeks "
        f"(slope SD {slope_sd}), seeds {seed}…{seed + panels - 1}; {elapsed:.0f} s. "
        f"Random slope kept: daily {slopes_kept['daily']}/{panels}, "
        f"weekly {slopes_kept['weekly']}/{panels}.\n"
    )
    print(
        "| term | truth | 95 % CI coverage | mean estimate | SD of estimates | mean CI half-width "
        "| mean SE | median Satterthwaite df | mean people in model |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in summary.iter_rows(named=True):
        print(
            f"| {r['term']} | {r['truth']:+.2f} | {r['coverage']:.3f} | {r['mean_est']:+.4f} "
            f"| {r['sd_est']:.4f} | {r['mean_half']:.4f} | {r['mean_se']:.4f} | {r['median_df']:,.0f} "
            f"| {r['people']:.0f} |"
        )
    if person_rows:
        pr = pl.concat(person_rows)
        per = pr.group_by("term").agg(
            ((pl.col("ci_low") <= pl.col("truth")) & (pl.col("truth") <= pl.col("ci_high")))
            .mean()
            .alias("coverage"),
            pl.len().alias("n"),
            ((pl.col("estimate") - pl.col("truth")) ** 2).mean().sqrt().alias("rmse"),
        )
        print("\nPerson effects (BLUP ± 1.96·√PEV against each person's simulated slope):\n")
        print("| term | person-intervals | coverage | RMSE |")
        print("|---|---|---|---|")
        for r in per.sort("term").iter_rows(named=True):
            print(f"| {r['term']} | {r['n']:,} | {r['coverage']:.3f} | {r['rmse']:.3f} |")


# --- speed ---------------------------------------------------------------------------------


def _statsmodels_fit(d, random: tuple[str, ...], ours):
    """Time statsmodels' REML fit; also evaluate its own REML log-likelihood at *our* estimates
    (must equal −REMLcrit/2 — the same objective — so a gap in the optimum is the optimiser's)."""
    import statsmodels.api as sm
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    Z = d.X[:, [d.names.index(r) for r in random]]
    model = sm.MixedLM(d.y, d.X, groups=d.codes, exog_re=Z)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(reml=True)
    secs = time.perf_counter() - started
    at_ours = MixedLMParams.from_components(
        fe_params=ours.beta, cov_re=ours.re_cov / ours.sigma2 + 1e-12 * np.eye(len(random))
    )
    objective_gap = model.loglike(at_ours, profile_fe=False) + ours.reml_criterion / 2
    return (
        secs,
        np.asarray(res.fe_params),
        np.asarray(res.bse_fe),
        float(res.llf),
        bool(res.converged),
        float(objective_gap),
    )


R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(lme4))
d <- read.csv(args[1])
d$pid <- factor(d$pid)
f <- as.formula(args[2])
t <- system.time(m <- lmer(f, data = d, REML = TRUE))[["elapsed"]]
co <- summary(m)$coefficients
df <- rep(NA_real_, nrow(co))
if (requireNamespace("lmerTest", quietly = TRUE)) {
  s <- summary(lmerTest::as_lmerModLmerTest(m))$coefficients
  df <- s[, "df"]
}
out <- data.frame(term = rownames(co), estimate = co[, 1], se = co[, 2], df = df,
                  seconds = t, singular = as.integer(isSingular(m)))
write.csv(out, args[3], row.names = FALSE, na = "")
"""


def _lme4_fit(
    d, random: tuple[str, ...]
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, bool] | str:
    """Fit the same design with lme4 through a temporary CSV; a reason string when unavailable."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not found"
    cols = [n for n in d.names if n != "(Intercept)"]
    re_part = "(1 | pid)" if len(random) == 1 else f"(1 + {random[1]} | pid)"
    formula = f"y ~ {' + '.join(cols)} + {re_part}"
    with tempfile.TemporaryDirectory() as tmp:
        data, script, out = (Path(tmp) / n for n in ("panel.csv", "fit.R", "out.csv"))
        pl.DataFrame(
            {"pid": d.codes, "y": d.y} | {c: d.X[:, d.names.index(c)] for c in cols}
        ).write_csv(data)
        script.write_text(R_SCRIPT)
        proc = subprocess.run(
            [rscript, str(script), str(data), formula, str(out)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            return f"lme4 failed: {proc.stderr.strip()[-300:]}"
        res = pl.read_csv(out, schema_overrides={"df": pl.Float64})
    return (
        float(res["seconds"][0]),
        res["estimate"].to_numpy(),
        res["se"].to_numpy(),
        res["df"].to_numpy(),  # lmerTest's Satterthwaite df, NaN without lmerTest
        bool(int(res["singular"][0])),
    )


def speed(sizes: list[int], use_statsmodels: bool) -> None:
    print(
        f"Speed on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}.\n"
    )
    has_r = shutil.which("Rscript") is not None
    if not has_r:
        msg = (
            "!!! Rscript is not on the PATH: the lme4 column is SKIPPED. Install R with lme4 "
            "(and lmerTest for Satterthwaite df) and re-run to compare. !!!"
        )
        print(msg, file=sys.stderr, flush=True)
        print(msg + "\n")
    print(
        "| model | people × periods | input rows / complete cases | ours s (design + 2 fits + df) "
        "| random slope kept | statsmodels s, (1 \\| pid) | Δβ / ΔSE | statsmodels s, (1 + slope \\| pid) "
        "| Δβ / ΔSE / ΔREML log-lik | lme4 s, (1 + slope \\| pid) | Δβ / ΔSE (/ rel. Δdf with lmerTest) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    sm_seconds: dict[tuple[str, int], tuple[int, float]] = {}

    def statsmodels_cells(d, spec, people, fit, random) -> tuple[str, str]:
        if not use_statsmodels:
            return "—", "—"
        key = (spec.name, len(random))
        prev = sm_seconds.get(key)
        projected = prev[1] * people / prev[0] * 1.5 if prev else 0.0
        if projected > STATSMODELS_BUDGET_S:
            return f"skipped (≈ {projected / 60:.0f} min projected from {prev[0]:,})", "—"
        secs, beta, se, llf, ok, gap = _statsmodels_fit(d, random, fit)
        sm_seconds.setdefault(key, (people, secs))
        diff = f"{np.abs(beta - fit.beta).max():.1e} / {np.abs(se - fit.se).max():.1e}"
        if len(random) > 1:
            diff += f" / {-fit.reml_criterion / 2 - llf:+.1e}" + (
                " (our fit singular)" if fit.singular else ""
            )
        diff += f" [objective check {gap:.0e}]"
        return f"{secs:.1f}" + ("" if ok else " (not converged)"), diff

    fit_pain_models(*simulate_cohort(30, seed=1)[:2])  # warm-up: imports, first-call overheads
    for people in sizes:
        daily, weekly, _ = simulate_cohort(people, weeks=12, seed=people)
        for spec, frame, periods in ((WEEKLY, weekly, "12 weeks"), (DAILY, daily, "84 days")):
            started = time.perf_counter()
            d = design(frame, spec)
            choice = fit_preferring_slope(d.y, d.X, d.codes, d.names, spec.slope)
            ours_s = time.perf_counter() - started
            random = ("(Intercept)", spec.slope)
            slope_fit = choice.with_slope or fit_lmm(d.y, d.X, d.codes, d.names, random)
            sm1 = statsmodels_cells(d, spec, people, choice.intercept_only, random[:1])
            sm2 = statsmodels_cells(d, spec, people, slope_fit, random)
            r_cell, r_diff = "—", "—"
            if has_r:
                got = _lme4_fit(d, random)
                if isinstance(got, str):
                    r_cell = got
                else:
                    secs, beta, se, df, singular = got
                    r_cell = f"{secs:.2f}" + (" (singular)" if singular else "")
                    r_diff = (
                        f"{np.abs(beta - slope_fit.beta).max():.1e} / "
                        f"{np.abs(se - slope_fit.se).max():.1e}"
                    )
                    if np.isfinite(df).all():  # lmerTest present: Satterthwaite df, relative
                        r_diff += f" / df {np.abs(df / slope_fit.df - 1).max():.1e}"
            kept = "yes" if choice.random_slope else "no: " + choice.reason
            print(
                f"| {spec.name} | {people:,} × {periods} | {frame.height:,} / {d.n_obs:,} "
                f"| {ours_s:.2f} | {kept} | {sm1[0]} | {sm1[1]} | {sm2[0]} | {sm2[1]} "
                f"| {r_cell} | {r_diff} |",
                flush=True,
            )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("calibration")
    c.add_argument("--panels", type=int, default=200)
    c.add_argument("--people", type=int, default=300)
    c.add_argument("--weeks", type=int, default=12)
    c.add_argument("--slope-sd", type=float, default=0.0)
    c.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("speed")
    s.add_argument("--people", type=int, nargs="+", default=[1000, 10000])
    s.add_argument("--no-statsmodels", action="store_true")
    args = ap.parse_args(argv)
    if args.cmd == "calibration":
        calibration(args.panels, args.people, args.weeks, args.slope_sd, args.seed)
    else:
        speed(args.people, not args.no_statsmodels)


if __name__ == "__main__":
    main()
