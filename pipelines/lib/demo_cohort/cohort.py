"""generate_cohort: build a deterministic demo data directory (landing/ exports + truth/)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from . import behaviour, exports, intraday, outcomes, truth, wearable
from .manifest import write_landing_manifest
from .people import make_people
from .schedule import make_calendar


def _prepare(out_dir: Path) -> None:
    """Start from a clean landing/ and truth/. Only a previously generated directory
    (one with truth/effects.json) is wiped; real exports are never deleted."""
    landing, truth_dir = out_dir / "landing", out_dir / "truth"
    if (truth_dir / "effects.json").exists():
        shutil.rmtree(landing, ignore_errors=True)
        shutil.rmtree(truth_dir, ignore_errors=True)
    elif (landing.exists() and any(landing.iterdir())) or (
        truth_dir.exists() and any(truth_dir.iterdir())
    ):
        raise FileExistsError(
            f"{out_dir} already has landing/ or truth/ files that were not generated here"
        )
    out_dir.mkdir(parents=True, exist_ok=True)


def generate_cohort(
    out_dir: Path | str,
    participants: int = 300,
    weeks: int = 12,
    seed: int = 7,
    minute_level: bool = False,
) -> dict:
    """Write ``out_dir/landing/...`` (program, REDCap, Fitabase exports) and ``out_dir/truth/...``.

    ``minute_level`` adds Fitabase minuteStepsNarrow and heartrate_seconds (and their truth,
    truth/wear_days.csv and truth/wear_gaps.csv); every other file is the same either way.
    Same arguments → byte-identical files with identical modification times.
    Returns a summary for the CLI to print.
    """
    out_dir = Path(out_dir)
    _prepare(out_dir)
    cal = make_calendar(weeks)
    root_seq = np.random.SeedSequence(seed)
    roster_seq, people_seq, export_seq = root_seq.spawn(3)
    person_seqs = people_seq.spawn(participants)
    roster_rng = np.random.default_rng(roster_seq)
    export_rng = np.random.default_rng(export_seq)

    people = make_people(participants, cal, roster_rng, person_seqs)
    behaviours = [behaviour.simulate(p, cal) for p in people]
    recordings = [wearable.record(p, b, cal) for p, b in zip(people, behaviours, strict=True)]
    results = [
        outcomes.compute(p, b, r, cal)
        for p, b, r in zip(people, behaviours, recordings, strict=True)
    ]

    land = exports.Landing(out_dir / "landing")
    all_sessions = sorted(
        (s for b in behaviours for s in b.sessions), key=lambda s: (s.start, s.session_id)
    )
    exports.write_rosters(land, people, cal)
    exports.write_sessions(land, all_sessions, cal, export_rng)
    exports.write_checkins(land, [c for o in results for c in o.checkins], people, cal, export_rng)
    exports.write_redcap(land, [pr for o in results for pr in o.proms], cal)
    worn = [r for r in recordings if r is not None]
    taken = {r.fitbit_id for r in worn}
    worn.append(wearable.test_device(export_rng, taken, cal))
    dups = exports.write_fitabase(land, worn, cal, export_rng)
    wear_truth = None
    if minute_level:
        # a stream of its own (the 4th child of the seed), so the daily files stay the same
        (minute_seq,) = root_seq.spawn(1)
        seeds = minute_seq.spawn(len(people) + 1)
        wearers = [
            intraday.Wearer(r, p, b, seeds[k])
            for k, (p, b, r) in enumerate(zip(people, behaviours, recordings, strict=True))
            if r is not None
        ]
        wearers.append(intraday.Wearer(worn[-1], None, None, seeds[-1]))  # the test device
        instant = cal.export_instant(cal.export_date)
        paths, wear_truth = intraday.write_minute_files(
            land.root / exports.fitabase_export(cal), wearers
        )
        land.files.extend((path, instant) for path in paths)
        land.counts["fitabase_minute_step_rows"] = wear_truth.step_rows
        land.counts["fitabase_heartrate_rows"] = wear_truth.heart_rate_rows

    truth_files = truth.write_truth(
        out_dir / "truth",
        cal,
        seed,
        people,
        behaviours,
        results,
        recordings,
        land.planted,
        land.corrections,
        dups,
    )
    if wear_truth is not None:
        truth_files.extend(truth.write_wear_truth(out_dir / "truth", wear_truth))
    truth_files.append(write_landing_manifest(out_dir, [path for path, _ in land.files]))

    # Modification times: every landing file carries its export instant (06:00 UTC on its
    # export date) so "later export wins" can order by mtime; truth/ and the folders get E.
    final = cal.export_instant(cal.export_date).timestamp()
    for path, instant in land.files:
        ts = instant.timestamp()
        os.utime(path, (ts, ts))
    for path in truth_files:
        os.utime(path, (final, final))
    for base in (out_dir / "landing", out_dir / "truth"):
        for d in sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            os.utime(d, (final, final))
        os.utime(base, (final, final))

    files = sorted(
        [p.relative_to(out_dir).as_posix() for p, _ in land.files]
        + [p.relative_to(out_dir).as_posix() for p in truth_files]
    )
    return {
        "out_dir": str(out_dir),
        "seed": seed,
        "participants": len(people),
        "weeks": weeks,
        "export_date": cal.export_date.isoformat(),
        "as_of": cal.as_of.isoformat(),
        "sessions": len(all_sessions),
        "checkins": sum(len(o.checkins) for o in results),
        "questionnaires": sum(len(o.proms) for o in results),
        "wearable_participants": sum(r is not None for r in recordings),
        "withdrawn": sum(p.withdrawn_on is not None for p in people),
        "planted_invalid_rows": len(land.planted),
        "corrections": len(land.corrections),
        "files_written": len(files),
        "files": files,
        "rows": dict(sorted(land.counts.items())),
    }
