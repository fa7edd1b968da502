"""Monitoring files (all-day tracking): step intervals, wear evidence and resting heart rate.

What the device writes (FIT profile, checked on the vivofit sample):
- `monitoring_info` opens the file: a full UTC `timestamp` and the device's
  `local_timestamp`, hence its UTC offset.
- `monitoring` messages carry either a full `timestamp` or only `timestamp_16`,
  the low 16 bits of the time; the full time is rebuilt from the last full or
  rebuilt time before it, in file order.
- `cycles` are cumulative per `activity_type` since the device's local midnight
  and reset there. For walking and running one raw cycle is one step (the SDK's
  `steps` sub-field is `cycles` × 2). Per-day summaries (`duration_min` = 1440,
  stamped at the next local midnight) repeat the day's totals.
- `heart_rate` is a reading at that time; `monitoring_hr_data` holds the day's
  resting heart rate.

Counters become intervals: [previous sample of the same activity type, this
sample] with the increase; after a local midnight the value counts from that
midnight. A sample at exactly midnight still closes the old day. The first
sample of a file that starts mid-day only sets the baseline: what it counted
before belongs to an earlier file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from ..spec import Issue
from .fit import FIT_EPOCH, FitFile, Message, offset_minutes, utc
from .rows import worn_quarters

STEP_ACTIVITIES = frozenset({"walking", "running"})
DAY_S = 86400


@dataclass
class Monitoring:
    intervals: list[tuple] = field(default_factory=list)
    vitals: list[tuple] = field(default_factory=list)


@dataclass
class _Counter:
    at: int  # FIT seconds of the last sample (or of the file's start)
    value: int | None  # raw count then; None until the file's first sample sets a baseline


def timed_messages(fit: FitFile, issues: list[Issue]) -> list[tuple[Message, int]]:
    """Monitoring-stream messages with their full FIT time, `timestamp_16` rebuilt.

    Only `monitoring` and `monitoring_info` times anchor the rebuild: other
    messages (device_info) carry the sync time, not the stream's.
    """
    anchor: int | None = None
    timed = []
    for message in fit.messages:
        if message.name not in ("monitoring", "monitoring_info", "monitoring_hr_data"):
            continue
        full, short = message.fields.get("timestamp"), message.fields.get("timestamp_16")
        if isinstance(full, int):
            t = full
            if message.name != "monitoring_hr_data":
                anchor = full
        elif isinstance(short, int) and anchor is not None:
            t = anchor + ((short - (anchor & 0xFFFF)) & 0xFFFF)
            anchor = t
        else:
            issues.append(
                Issue(
                    message.number,
                    "timestamp" if short is None else "timestamp_16",
                    None if short is None else str(short),
                    f"{message.name} message has no full timestamp before it, so its time is unknown",
                )
            )
            continue
        timed.append((message, t))
    return timed


def read_monitoring(fit: FitFile, issues: list[Issue]) -> Monitoring:
    out = Monitoring()
    offset_s: int | None = None
    file_start: int | None = None
    counters: dict[str, _Counter] = {}
    current_type: str | None = None
    worn: list[int] = []
    mid_day_start: str | None = None

    def day(t: int) -> int:  # the device's local day; a sample at midnight closes the old day
        return (t + offset_s - 1) // DAY_S

    for message, t in timed_messages(fit, issues):
        fields = message.fields
        if file_start is None:
            file_start = t
        if message.name == "monitoring_info":
            minutes = offset_minutes(fields.get("local_timestamp"), t)
            offset_s = None if minutes is None else minutes * 60
            continue
        offset_min = None if offset_s is None else offset_s // 60
        if message.name == "monitoring_hr_data":
            bpm = fields.get("current_day_resting_heart_rate")
            if isinstance(bpm, int) and bpm > 0:
                out.vitals.append((utc(t), offset_min, "resting_hr", float(bpm)))
            continue

        if (fields.get("heart_rate") or 0) > 0:
            worn.append(t)
        # Messages without an activity type continue the last one declared.
        if fields.get("activity_type") is not None:
            current_type = str(fields["activity_type"])
        cycles = fields.get("cycles")
        if not isinstance(cycles, int | float) or current_type is None:
            continue
        value = round(cycles * 2)  # raw count: steps for walking/running
        counter = counters.setdefault(current_type, _Counter(file_start, None))
        if offset_s is not None and day(t) != day(counter.at):
            start, increase = day(t) * DAY_S - offset_s, value
        elif counter.value is None:
            start, increase = t, 0
            if mid_day_start is None:
                mid_day_start = _clock(counter.at, offset_s)
        elif value < counter.value:  # a reset we could not place at a midnight
            start, increase = counter.at, value
        else:
            start, increase = counter.at, value - counter.value
        counters[current_type] = _Counter(t, value)
        if increase <= 0:
            continue
        if current_type in STEP_ACTIVITIES:
            local_day = None if offset_s is None else _date(day(t))
            out.intervals.append(
                (utc(start), offset_min, local_day, t - start, "steps", float(increase))
            )

    if mid_day_start is not None:
        issues.append(
            Issue(
                None,
                "cycles",
                None,
                f"monitoring file starts mid-day ({mid_day_start}): the steps its counters held at their "
                "first sample were counted before this file and are not included",
                severity="warning",
            )
        )
    out.intervals += worn_quarters(worn, None if offset_s is None else offset_s // 60)
    return out


def _date(day_number: int) -> date:
    return FIT_EPOCH.date() + timedelta(days=day_number)


def _clock(t: int, offset_s: int | None) -> str:
    if offset_s is None:
        return f"{utc(t):%Y-%m-%d %H:%M} UTC, device time zone unknown"
    return f"{utc(t + offset_s):%Y-%m-%d %H:%M} device time"
