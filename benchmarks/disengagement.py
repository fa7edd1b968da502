"""The early warning, validated honestly: trained on earlier enrolment cohorts, measured on later ones.

For each cohort size: generate the demo cohort (12 weeks, seed 7), run the pipeline (the
statistics step fits and publishes the early warning), then read the run's warehouse and print

1. the held-out evaluation — ROC AUC, precision at the top 10 % of risk, Brier score — of the
   model beside the baseline rule (adherence in the week below 50 %), and, for comparison only,
   a gradient-boosted model on the same features (not what steadyback publishes);
2. the calibration tables of model and baseline on the held-out cohorts;
3. the generator's ground truth: of the people whose disengagement spell was seen, how many the
   published early warning had raised (raised or high) before the spell was 14 days old, and how
   much of the high band is the generator's fading people.

    .venv/bin/python benchmarks/disengagement.py 300 10000
    .venv/bin/python benchmarks/disengagement.py --data-dir data   # an existing, run data dir
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import tempfile
import time
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("STEADYBACK_PSEUDONYM_KEY", "benchmark-key")

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from pipelines.lib.demo_cohort import generate_cohort  # noqa: E402
from pipelines.lib.rules import read_recorded_rules  # noqa: E402
from pipelines.lib.statistics.disengagement import (  # noqa: E402
    FEATURES,
    labelled_weeks,
    warning_inputs,
)
from pipelines.lib.statistics.early_warning import (  # noqa: E402
    TOP_SHARE,
    cohorts_in_order,
    decision,
    precision_at_top,
    split_by_cohort,
    validate,
)
from pipelines.runner import run_pipeline  # noqa: E402


def gradient_boosting(train: pl.DataFrame, test: pl.DataFrame) -> tuple[float, float, float]:
    """ROC AUC, precision at the top, Brier of scikit-learn's histogram gradient boosting."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import brier_score_loss, roc_auc_score

    model = HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200)
    model.fit(train.select(FEATURES).to_numpy(), train["event"].to_numpy())
    p = model.predict_proba(test.select(FEATURES).to_numpy())[:, 1]
    events = test["event"].to_numpy().astype(int)
    return roc_auc_score(events, p), precision_at_top(p, events), brier_score_loss(events, p)


def ground_truth(data_dir: Path, snapshot: Path, gap_days: int) -> tuple[int, int, int, int, int]:
    """(spells, of them fading people, of them raised before the spell was gap_days old,
    weeks in the high band, of them fading people's)."""
    with (data_dir / "truth" / "participants.csv").open(newline="") as handle:
        by_id = {p["participant_id"]: p["archetype"] for p in csv.DictReader(handle)}
    people = json.loads((data_dir / "access" / "identities.json").read_text())["people"]
    kind = {pid: by_id[p["participant_id"]] for pid, p in people.items()}
    with duckdb.connect(str(snapshot), read_only=True) as con:
        spells = con.execute(
            "select pid, disengaged_on from marts.engagement_spells where disengaged"
        ).fetchall()
        risk = con.sql("select pid, as_of, band from models.disengagement_risk").pl()
    warned = 0
    for pid, disengaged_on in spells:
        before = risk.filter(
            (pl.col("pid") == pid)
            & (pl.col("as_of") < disengaged_on + timedelta(days=gap_days - 1))
            & (pl.col("band") != "low")
        )
        warned += before.height > 0
    high = risk.filter(pl.col("band") == "high")["pid"].to_list()
    return (
        len(spells),
        sum(kind[pid] == "fading" for pid, _ in spells),
        warned,
        len(high),
        sum(kind[pid] == "fading" for pid in high),
    )


def evaluate(data_dir: Path, label: str) -> tuple[list[str], list[str], str]:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        rules = read_recorded_rules(con).rules
        started = time.perf_counter()
        inputs = warning_inputs(con)
        weeks = labelled_weeks(inputs, rules)
        validation = validate(weeks, inputs.people, rules)
        seconds = time.perf_counter() - started
    published, reason = decision(validation)
    model, baseline = validation.model, validation.baseline
    assert model is not None and baseline is not None, validation.problem
    labelled = weeks.filter(pl.col("event").is_not_null())
    train_cohorts, test_cohorts = split_by_cohort(
        labelled, cohorts_in_order(labelled, inputs.people)
    )
    boosted = gradient_boosting(
        labelled.filter(pl.col("cohort").is_in(train_cohorts)),
        labelled.filter(pl.col("cohort").is_in(test_cohorts)),
    )
    split = (
        f"{', '.join(validation.train_cohorts)} ({validation.train_weeks:,} / "
        f"{validation.train_events:,}) | {', '.join(validation.test_cohorts)} "
        f"({validation.test_weeks:,} / {validation.test_events:,})"
    )
    rows = [
        f"| {label} | {split} | {name} | {auc:.3f} | {top:.3f} | {brier:.4f} | {mark} |"
        for name, auc, top, brier, mark in (
            ("model (logistic regression)", model.roc_auc, model.precision_top, model.brier,
             "published" if published == "logistic_regression" else ""),
            ("baseline (adherence < 50 %)", baseline.roc_auc, baseline.precision_top,
             baseline.brier, "published" if published == "baseline_rule" else ""),
            ("for comparison: gradient boosting", *boosted, "not used"),
        )
    ]  # fmt: skip
    calibration = [
        f"| {label} | {row['scorer']} | {row['bin']} | {row['weeks']:,} | {row['events']:,} | "
        f"{row['mean_predicted']:.3f} | {row['observed_rate']:.3f} |"
        for evaluation in (model, baseline)
        for row in evaluation.calibration.to_dicts()
    ]
    spells, fading, warned, high, high_fading = ground_truth(
        data_dir, data_dir / "published" / "current.duckdb", rules.disengagement_gap_days
    )
    truth = (
        f"| {label} | {spells:,} | {fading:,} | {warned:,} ({warned / spells:.0%}) | "
        f"{high:,} | {high_fading:,} ({high_fading / max(high, 1):.0%}) | {seconds:.1f} |"
    )
    print(f"{label}: {reason}", flush=True)
    return rows, calibration, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[300])
    parser.add_argument("--data-dir", help="evaluate this already run data dir instead")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    results = []
    if args.data_dir:
        results.append(evaluate(Path(args.data_dir), Path(args.data_dir).name))
    for size in [] if args.data_dir else args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp)
            started = time.perf_counter()
            generate_cohort(data_dir, participants=size, weeks=12, seed=7)
            report = run_pipeline(data_dir, log_level="ERROR")
            assert report.published, report.render()
            print(f"{size} × 12: generated and run in {time.perf_counter() - started:.0f} s")
            results.append(evaluate(data_dir, f"{size:,} × 12"))
    print()
    print(
        "| cohort | trained on (weeks / events) | held out (weeks / events) | scorer | ROC AUC | "
        f"precision, top {TOP_SHARE:.0%} | Brier | |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for rows, _, _ in results:
        print("\n".join(rows))
    print()
    print("| cohort | scorer | bin | weeks | events | mean predicted | observed |")
    print("|---|---|---|---|---|---|---|")
    for _, calibration, _ in results:
        print("\n".join(calibration))
    print()
    print(
        "| cohort | spells seen | of fading people | raised before the spell was 14 days old | "
        "weeks in the high band | of fading people | validation s |"
    )
    print("|---|---|---|---|---|---|---|")
    for _, _, truth in results:
        print(truth)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
