"""The statistics step on a generated cohort: every contract table published, consistent with the marts."""

from __future__ import annotations

from spell_oracle import expected_spells_frame, spell_inputs

TERMS = {
    "sleep_prev_night_h",
    "consistency_10pct",
    "steps_1000",
    "consistency_10pct_between",
    "steps_1000_between",
    "week",
}


def test_cohort_effects_have_every_contract_term_with_its_interval(snapshot):
    rows = snapshot.execute(
        "select term, estimate, ci_low, ci_high, p_value, n_people, n_obs, unit, model from models.cohort_effects"
    ).fetchall()
    assert {r[0] for r in rows} == TERMS
    people = snapshot.execute("select count(*) from marts.participants").fetchone()[0]
    for term, estimate, low, high, p, n_people, n_obs, unit, model in rows:
        assert low <= estimate <= high, term
        assert 0 <= p <= 1 and 0 < n_people <= people and n_obs >= n_people
        assert unit and model
    # the daily model sees every person-day with both a check-in and last night's sleep
    paired = snapshot.execute(
        "select count(*) from marts.participant_day where day_state <> 'unknown' "
        "and pain is not null and sleep_minutes is not null"
    ).fetchone()[0]
    assert dict((r[0], r[6]) for r in rows)["sleep_prev_night_h"] == paired


def test_person_effects_belong_to_people_with_enough_data(snapshot):
    rows = snapshot.execute(
        "select e.pid, e.term, e.estimate, e.ci_low, e.ci_high, e.n_obs, p.pid is not null "
        "from models.person_effects e left join marts.participants p using (pid)"
    ).fetchall()
    assert rows
    for _pid, term, estimate, low, high, n_obs, known in rows:
        assert known and low <= estimate <= high
        assert n_obs >= (14 if term == "sleep_prev_night_h" else 4)


def test_dose_response_bands_and_retention_curve(snapshot):
    bands = snapshot.execute(
        "select band, n_people from models.dose_response order by band_order"
    ).fetchall()
    assert [b for b, _ in bands] == ["< 60 %", "60–79 %", "≥ 80 %"]
    with_outcome = snapshot.execute(
        "select count(*) from marts.outcomes where pain_change is not null"
    ).fetchone()[0]
    assert sum(n for _, n in bands) <= with_outcome
    curve = [
        s
        for (s,) in snapshot.execute(
            "select still_engaged from models.retention order by days_since_enrolment"
        ).fetchall()
    ]
    assert curve and all(a >= b for a, b in zip(curve, curve[1:], strict=False))
    assert 0 <= curve[-1] <= 1


def test_engagement_spells_match_a_day_by_day_recomputation_and_make_the_retention_curve(
    snapshot, small_cohort
):
    people, practice, as_of = spell_inputs(small_cohort / "published" / "current.duckdb")
    spells = {
        pid: (days, disengaged)
        for pid, days, disengaged in snapshot.execute(
            "select pid, days, disengaged from marts.engagement_spells"
        ).fetchall()
    }
    expected = {
        pid: (days, disengaged)
        for pid, days, disengaged in expected_spells_frame(people, practice, as_of).iter_rows()
    }
    assert spells == expected
    assert 0 < sum(d for _, d in expected.values()) < len(expected), "both outcomes occur"
    # models.retention is the Kaplan–Meier curve of exactly these spells
    curve = snapshot.execute(
        "select days_since_enrolment, at_risk, disengaged, censored from models.retention "
        "order by 1"
    ).fetchall()
    times = sorted({days for days, _ in expected.values()})
    assert curve == [
        (
            t,
            sum(days >= t for days, _ in expected.values()),
            sum(days == t and gone for days, gone in expected.values()),
            sum(days == t and not gone for days, gone in expected.values()),
        )
        for t in times
    ]
