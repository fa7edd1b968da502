"""The early warning of disengagement: a validated model, or the baseline rule when it does not win.

For every person and completed program week at risk (`disengagement.labelled_weeks`) it gives
the probability that a disengagement spell is under way within `disengagement_horizon_days`,
a band (low / raised / high, by the program rules `risk_raised_probability` and
`risk_high_probability`) and the reasons in plain words.

* **Model**: a logistic regression (scikit-learn) on the standardised FEATURES, missing values
  set to the training mean. Each prediction's log-odds is the intercept plus one contribution
  per feature, coefficient × (value − mean) ÷ SD; the features that raise it most, put in
  words from their values, are the reasons.
* **Baseline**: the rule a coach uses today, adherence in the week below
  `risk_baseline_adherence`. As a probability it gives each of its two groups the share of
  their weeks that led to a spell; it ranks weeks by adherence, lowest first.
* **Validation**: trained on the earlier enrolment cohorts, measured on the later ones (ROC
  AUC, precision at the top `TOP_SHARE` of risk, Brier score, a calibration table), model and
  baseline side by side. The model's predictions are published only when it beats the baseline
  on the held-out cohorts (higher ROC AUC and lower Brier score); otherwise the baseline's are,
  and `models.disengagement_model` says why. The published model is the same procedure
  refitted on every labelled week.

docs/models.md, "Early warning".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.lib.rules import ProgramRules, percent_text

from .contract import CALIBRATION_SCHEMA, DISENGAGEMENT_MODEL_SCHEMA, RISK_SCHEMA
from .disengagement import FEATURES, WarningInputs, labelled_weeks

MODEL = "logistic_regression"
BASELINE = "baseline_rule"
TOP_SHARE = 0.10
"""Precision is measured on the weeks with the top 10 % of predicted risk (issue 13)."""
HELD_OUT_EVENT_SHARE = 1 / 3
"""The later cohorts held out for validation hold at least this share of the labelled events."""
CALIBRATION_BINS = 5
MAX_REASONS = 3
REASON_MIN_LOG_ODDS = 0.1
"""A feature is named as a reason only when it raises the week's log-odds by at least this
(about 10 % higher odds): smaller pushes are noise to a coach."""
REGULARISATION_C = 1.0  # scikit-learn's default L2 strength, on standardised features


# --- the two ways of scoring a week -----------------------------------------------------------


class RiskModel:
    """The logistic regression, fitted on labelled weeks (`event` true or false)."""

    name = MODEL

    def __init__(self, weeks: pl.DataFrame) -> None:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.pipeline = make_pipeline(
            SimpleImputer(strategy="mean", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=REGULARISATION_C, max_iter=1000),
        )
        self.pipeline.fit(_matrix(weeks), weeks["event"].to_numpy())

    @property
    def coefficients(self) -> dict[str, float]:
        """Per feature: the change in log-odds per standard deviation."""
        logistic = self.pipeline[-1]
        return dict(zip(FEATURES, logistic.coef_[0].tolist(), strict=True))

    def probabilities(self, weeks: pl.DataFrame) -> np.ndarray:
        return self.pipeline.predict_proba(_matrix(weeks))[:, 1]

    def scores(self, weeks: pl.DataFrame) -> np.ndarray:
        return self.probabilities(weeks)

    def contributions(self, weeks: pl.DataFrame) -> np.ndarray:
        """weeks × FEATURES: each feature's share of the log-odds, against the average week."""
        imputer, scaler, logistic = self.pipeline
        standardised = scaler.transform(imputer.transform(_matrix(weeks)))
        return standardised * logistic.coef_[0]


class BaselineRule:
    """Adherence in the week below `risk_baseline_adherence`, with its groups' event rates."""

    name = BASELINE

    def __init__(self, weeks: pl.DataFrame, rules: ProgramRules) -> None:
        self.rules = rules
        labelled = weeks.filter(pl.col("event").is_not_null())
        flagged = self.flagged(labelled)
        events = labelled["event"].to_numpy().astype(float)
        overall = float(events.mean()) if len(events) else math.nan
        self.rates = {
            group: float(events[flagged == group].mean()) if (flagged == group).any() else overall
            for group in (True, False)
        }

    def flagged(self, weeks: pl.DataFrame) -> np.ndarray:
        adherence = weeks["adherence"].to_numpy()
        return np.nan_to_num(adherence, nan=1.0) < self.rules.risk_baseline_adherence

    def probabilities(self, weeks: pl.DataFrame) -> np.ndarray:
        return np.where(self.flagged(weeks), self.rates[True], self.rates[False])

    def scores(self, weeks: pl.DataFrame) -> np.ndarray:
        """The rule's own order: the lower the week's adherence, the higher the risk."""
        return 1.0 - np.nan_to_num(weeks["adherence"].to_numpy(), nan=1.0)


def _matrix(weeks: pl.DataFrame) -> np.ndarray:
    return weeks.select(FEATURES).to_numpy().astype(float)


# --- validation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    scorer: str
    roc_auc: float
    precision_top: float
    brier: float
    calibration: pl.DataFrame  # CALIBRATION_SCHEMA rows of this scorer


@dataclass(frozen=True)
class Validation:
    train_cohorts: tuple[str, ...]
    test_cohorts: tuple[str, ...]
    train_weeks: int
    train_events: int
    test_weeks: int
    test_events: int
    model: Evaluation | None
    baseline: Evaluation | None
    problem: str | None  # why the model could not be validated, if it could not


def cohorts_in_order(weeks: pl.DataFrame, people: pl.DataFrame) -> list[str]:
    """The cohorts of `weeks`, earliest enrolment first."""
    first = (
        people.group_by("cohort")
        .agg(pl.col("enrolled_on").min())
        .filter(pl.col("cohort").is_in(weeks["cohort"].unique().to_list()))
        .sort("enrolled_on", "cohort")
    )
    return first["cohort"].to_list()


def split_by_cohort(labelled: pl.DataFrame, order: list[str]) -> tuple[list[str], list[str]]:
    """(train, test): the latest cohorts, taken until they hold HELD_OUT_EVENT_SHARE of the
    events, are held out; the earlier ones train. Each side keeps at least one cohort."""
    events = dict(labelled.group_by("cohort").agg(pl.col("event").sum()).iter_rows())
    total = sum(events.values())
    test: list[str] = []
    for cohort in reversed(order[1:]):
        test.insert(0, cohort)
        if sum(events.get(c, 0) for c in test) >= HELD_OUT_EVENT_SHARE * total:
            break
    return [c for c in order if c not in test], test


def precision_at_top(scores: np.ndarray, events: np.ndarray, share: float = TOP_SHARE) -> float:
    """Share of events among the `share` of weeks with the highest scores.

    Weeks tied at the cut count with their group's event rate (the expected precision when
    ties are broken at random), so a coarse score is neither helped nor hurt by the order.
    """
    k = max(1, math.ceil(share * len(scores)))
    cut = np.sort(scores)[::-1][k - 1]
    above = scores > cut
    tied = scores == cut
    taken = events[above].sum() + (k - above.sum()) * events[tied].mean()
    return float(taken / k)


def calibration(scorer: str, probabilities: np.ndarray, events: np.ndarray) -> pl.DataFrame:
    """Predicted against observed, in up to CALIBRATION_BINS bins of equal size (tied
    predictions stay in one bin)."""
    edges = np.unique(np.quantile(probabilities, np.arange(1, CALIBRATION_BINS) / CALIBRATION_BINS))
    bins = np.searchsorted(edges, probabilities, side="left")
    rows = [
        (
            scorer,
            int(order),
            int(inside.sum()),
            int(events[inside].sum()),
            float(probabilities[inside].mean()),
            float(events[inside].mean()),
        )
        for order, b in enumerate(np.unique(bins), start=1)
        for inside in [bins == b]
    ]
    return pl.DataFrame(rows, schema=CALIBRATION_SCHEMA, orient="row")


def evaluate(scorer, weeks: pl.DataFrame) -> Evaluation:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    events = weeks["event"].to_numpy().astype(int)
    probabilities = scorer.probabilities(weeks)
    scores = scorer.scores(weeks)
    return Evaluation(
        scorer.name,
        float(roc_auc_score(events, scores)),
        precision_at_top(scores, events),
        float(brier_score_loss(events, probabilities)),
        calibration(scorer.name, probabilities, events),
    )


def validate(weeks: pl.DataFrame, people: pl.DataFrame, rules: ProgramRules) -> Validation:
    """Train on the earlier enrolment cohorts, measure model and baseline on the later ones."""
    labelled = weeks.filter(pl.col("event").is_not_null())
    order = cohorts_in_order(labelled, people)
    if len(order) < 2:
        return Validation(
            tuple(order), (), labelled.height, int(labelled["event"].sum()), 0, 0, None, None,
            "one enrolment cohort only: no later cohort to validate on",
        )  # fmt: skip
    train_cohorts, test_cohorts = split_by_cohort(labelled, order)
    train = labelled.filter(pl.col("cohort").is_in(train_cohorts))
    test = labelled.filter(pl.col("cohort").is_in(test_cohorts))
    counts = (train.height, int(train["event"].sum()), test.height, int(test["event"].sum()))

    def unvalidated(problem: str) -> Validation:
        return Validation(tuple(train_cohorts), tuple(test_cohorts), *counts, None, None, problem)

    for side, weeks_, events in (("training", *counts[:2]), ("held-out", *counts[2:])):
        if events < rules.risk_min_events:
            return unvalidated(
                f"{events} week(s) of the {side} cohorts led to a disengagement spell; the "
                f"program rule risk_min_events asks for at least {rules.risk_min_events}"
            )
        if events == weeks_:
            return unvalidated(f"every week of the {side} cohorts led to a disengagement spell")
    return Validation(
        tuple(train_cohorts),
        tuple(test_cohorts),
        *counts,
        evaluate(RiskModel(train), test),
        evaluate(BaselineRule(train, rules), test),
        None,
    )


def decision(validation: Validation) -> tuple[str, str]:
    """(the scorer to publish, why) — the model only when it beat the baseline held out."""
    if validation.problem is not None:
        return BASELINE, f"the model was not validated: {validation.problem}"
    model, baseline = validation.model, validation.baseline
    measured = (
        f"ROC AUC {model.roc_auc:.3f} vs {baseline.roc_auc:.3f}, "
        f"Brier {model.brier:.4f} vs {baseline.brier:.4f} "
        f"on {', '.join(validation.test_cohorts)}"
    )
    if model.roc_auc > baseline.roc_auc and model.brier < baseline.brier:
        return MODEL, f"the model beat the baseline rule on held-out cohorts ({measured})"
    return BASELINE, f"the model did not beat the baseline rule on held-out cohorts ({measured})"


# --- published tables -------------------------------------------------------------------------


BANDS = ("high", "raised", "low")
"""The bands, most urgent first: the one order of everything that ranks people by risk (the
caseload, the person page, the coach digest)."""
HIGH, RAISED, LOW = BANDS


def band(probability: float, rules: ProgramRules) -> str:
    if probability >= rules.risk_high_probability:
        return HIGH
    if probability >= rules.risk_raised_probability:
        return RAISED
    return LOW


def _number(value: float) -> str:
    return f"{round(value, 1):g}"


def _count(n: float, thing: str) -> str:
    return f"{_number(n)} {thing}" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class Reason:
    """How a feature that raises a week's risk is said in words.

    `side`: the values the sentence describes ("low" or "high"). The reason is given only when
    the feature raises this week's risk *and* the model's coefficient says that this side is the
    risky one, so a sentence never points the wrong way. `topic`: one reason per topic (the
    strongest), so two sentences never say the same thing twice. `say` returns None when this
    week's value does not bear the sentence out.
    """

    topic: str
    side: str
    say: Callable[[dict], str | None]


def _practice_change(r: dict) -> str | None:
    before, now, week = r["sessions_before"], r["sessions"], r["week"]
    if before is None or now >= before:
        return None
    if now == 0:
        return f"no stretching in week {week}, after {_count(before, 'session')} a week before"
    return (
        f"practice fell to {_count(now, 'session')} in week {week}, from {_number(before)} a week"
    )


REASONS: dict[str, Reason] = {
    "adherence": Reason(
        "practice",
        "low",
        lambda r: (
            f"practised {r['sessions']} of {r['prescribed']} prescribed sessions in week "
            f"{r['week']}"
            if r["sessions"] < r["prescribed"]
            else None
        ),
    ),
    "adherence_change": Reason("practice", "low", _practice_change),
    "days_practised": Reason(
        "practice",
        "low",
        lambda r: (
            f"stretched on {_count(r['days_practised'], 'day')} in week {r['week']}"
            if r["days_practised"] < 7
            else None
        ),
    ),
    "regularity": Reason(
        "regularity",
        "low",
        lambda r: (
            f"practice bunched on few days so far (regularity {percent_text(r['regularity'])})"
            if r["regularity"] < 1
            else None
        ),
    ),
    "days_since_session": Reason(
        "gap",
        "high",
        lambda r: (
            f"no completed session for {_count(r['days_since_session'], 'day')}"
            if r["days_since_session"] >= 2
            else None
        ),
    ),
    "checkin_days": Reason(
        "check-ins",
        "low",
        lambda r: (
            f"checked in on {int(r['checkin_days'])} of 7 days in week {r['week']}"
            if 0 < r["checkin_days"] < 7
            else None
        ),
    ),
    "days_since_checkin": Reason(
        "check-ins",
        "high",
        lambda r: (
            f"no check-in for {_count(r['days_since_checkin'], 'day')}"
            if r["days_since_checkin"] >= 2
            else None
        ),
    ),
    "discomfort_change": Reason(
        "discomfort",
        "high",
        lambda r: (
            f"stretching discomfort up {_number(r['discomfort_change'])} points on earlier weeks"
            if r["discomfort_change"] > 0
            else None
        ),
    ),
    "pain_change": Reason(
        "pain",
        "high",
        lambda r: (
            f"pain up {_number(r['pain_change'])} points on earlier weeks"
            if r["pain_change"] > 0
            else None
        ),
    ),
    "sleep_change_h": Reason(
        "sleep",
        "low",
        lambda r: (
            f"sleeping {_number(-r['sleep_change_h'])} h a night less than in earlier weeks"
            if r["sleep_change_h"] < 0
            else None
        ),
    ),
    "steps_change_1000": Reason(
        "steps",
        "low",
        lambda r: (
            f"{-r['steps_change_1000'] * 1000:,.0f} fewer steps a day than in earlier weeks"
            if r["steps_change_1000"] < 0
            else None
        ),
    ),
    # where in the program the week is moves the risk, but is no reason a coach could act on
    "program_week": Reason("program", "high", lambda r: None),
    "days_left": Reason("program", "high", lambda r: None),
}


def model_reasons(row: dict, contributions: np.ndarray, coefficients: np.ndarray) -> str | None:
    """The features that raise this week's risk most (up to MAX_REASONS), in words."""
    reasons: dict[str, str] = {}
    for index in np.argsort(-contributions):
        feature = FEATURES[index]
        if contributions[index] < REASON_MIN_LOG_ODDS or len(reasons) == MAX_REASONS:
            break
        reason = REASONS[feature]
        risky_side = "high" if coefficients[index] > 0 else "low"
        if row[feature] is None or reason.side != risky_side or reason.topic in reasons:
            continue  # unknown (set to the average), or a sentence that would point the wrong way
        phrase = reason.say(row)
        if phrase is not None:
            reasons[reason.topic] = phrase
    return "; ".join(reasons.values()) or None


def baseline_reason(row: dict, flagged: bool, rules: ProgramRules) -> str | None:
    if not flagged:
        return None
    return (
        f"practised {row['sessions']} of {row['prescribed']} prescribed sessions in week "
        f"{row['week']}, below {percent_text(rules.risk_baseline_adherence)}"
    )


def risk_table(scorer, weeks: pl.DataFrame, rules: ProgramRules) -> pl.DataFrame:
    """models.disengagement_risk: the published rows of `weeks` (weeks at risk)."""
    if weeks.is_empty():
        return pl.DataFrame(schema=RISK_SCHEMA)
    probabilities = scorer.probabilities(weeks)
    rows = weeks.to_dicts()
    if isinstance(scorer, RiskModel):
        contributions = scorer.contributions(weeks)
        coefficients = np.array(list(scorer.coefficients.values()))
        bands = [band(p, rules) for p in probabilities]
        # reasons for the weeks a coach is asked to look at
        reasons = [
            None if b == LOW else model_reasons(row, c, coefficients)
            for row, c, b in zip(rows, contributions, bands, strict=True)
        ]
    else:
        flagged = scorer.flagged(weeks)
        # the rule has one threshold: it raises a person, it cannot tell high from raised
        bands = [RAISED if f else LOW for f in flagged]
        reasons = [baseline_reason(row, f, rules) for row, f in zip(rows, flagged, strict=True)]
    return pl.DataFrame(
        {
            "pid": weeks["pid"],
            "week": weeks["week"].cast(pl.Int64),
            "as_of": weeks["as_of"],
            "probability": [None if math.isnan(p) else float(p) for p in probabilities],
            "band": bands,
            "reasons": reasons,
            "model": [scorer.name] * weeks.height,
        },
        schema=RISK_SCHEMA,
    )


def model_row(
    validation: Validation, published: str, reason: str, rules: ProgramRules, risk: pl.DataFrame
) -> pl.DataFrame:
    """models.disengagement_model: which model this run published, why, and how both scored."""
    model, baseline = validation.model, validation.baseline

    def metric(evaluation: Evaluation | None, name: str) -> float | None:
        return None if evaluation is None else getattr(evaluation, name)

    row = {
        "published": published,
        "reason": reason,
        "horizon_days": rules.disengagement_horizon_days,
        "gap_days": rules.disengagement_gap_days,
        "train_cohorts": ", ".join(validation.train_cohorts),
        "test_cohorts": ", ".join(validation.test_cohorts),
        "train_weeks": validation.train_weeks,
        "train_events": validation.train_events,
        "test_weeks": validation.test_weeks,
        "test_events": validation.test_events,
        "roc_auc_model": metric(model, "roc_auc"),
        "roc_auc_baseline": metric(baseline, "roc_auc"),
        "precision_top_model": metric(model, "precision_top"),
        "precision_top_baseline": metric(baseline, "precision_top"),
        "top_share": TOP_SHARE,
        "brier_model": metric(model, "brier"),
        "brier_baseline": metric(baseline, "brier"),
        "published_weeks": risk.height,
        "published_people": risk["pid"].n_unique(),
    }
    return pl.DataFrame([row], schema=DISENGAGEMENT_MODEL_SCHEMA)


@dataclass(frozen=True)
class EarlyWarning:
    weeks: pl.DataFrame  # every completed week at risk, with its features and label
    validation: Validation
    scorer: RiskModel | BaselineRule
    risk: pl.DataFrame  # models.disengagement_risk
    model: pl.DataFrame  # models.disengagement_model
    calibration: pl.DataFrame  # models.disengagement_calibration


def fit_scorer(published: str, weeks: pl.DataFrame, rules: ProgramRules):
    """The published scorer, fitted on every labelled week of every cohort."""
    labelled = weeks.filter(pl.col("event").is_not_null())
    return RiskModel(labelled) if published == MODEL else BaselineRule(labelled, rules)


def early_warning(inputs: WarningInputs, rules: ProgramRules) -> EarlyWarning:
    weeks = labelled_weeks(inputs, rules)
    validation = validate(weeks, inputs.people, rules)
    published, reason = decision(validation)
    scorer = fit_scorer(published, weeks, rules)
    risk = risk_table(scorer, weeks, rules)
    evaluations = [e for e in (validation.model, validation.baseline) if e is not None]
    return EarlyWarning(
        weeks,
        validation,
        scorer,
        risk,
        model_row(validation, published, reason, rules, risk),
        pl.concat([e.calibration for e in evaluations])
        if evaluations
        else pl.DataFrame(schema=CALIBRATION_SCHEMA),
    )
