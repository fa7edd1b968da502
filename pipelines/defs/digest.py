"""The weekly coach digest: a schedule that ticks every 15 minutes and a job that sends the digests
of the coaches due (Monday 07:00 in each coach's time zone, by default; docs/operations.md)."""

from datetime import UTC, datetime

import dagster as dg

from pipelines.lib.digest.compose import DigestError
from pipelines.lib.digest.deliver import TICK_CRON, Timing, due_coaches, send_digests
from pipelines.lib.digest.smtp import SmtpSettings

from .resources import SteadybackResource


class DigestConfig(dg.Config):
    usernames: list[str]  # the coaches due at the tick
    moment: str  # the tick's time (ISO, UTC): the digests are those of its ISO week


@dg.op
def send_coach_digests(
    context: dg.OpExecutionContext, config: DigestConfig, steadyback: SteadybackResource
) -> None:
    """Send each due coach this week's digest, once; a failed send is recorded, then fails the run."""
    outcomes = send_digests(
        steadyback.layout().root, datetime.fromisoformat(config.moment), config.usernames
    )
    for outcome in outcomes:
        context.log.info(f"{outcome.digest.key}: {outcome.status}")
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise dg.Failure(
            description="; ".join(f"{o.digest.key}: {o.error}" for o in failed),
            metadata={"failed": len(failed), "sent": sum(o.status == "sent" for o in outcomes)},
        )


@dg.job(description="Send the weekly digest of the coaches due (one per coach and ISO week).")
def coach_digest():
    send_coach_digests()


@dg.schedule(
    cron_schedule=TICK_CRON,
    job=coach_digest,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def coach_digest_schedule(context: dg.ScheduleEvaluationContext, steadyback: SteadybackResource):
    """Every 15 minutes: a run for the coaches whose send time (in their time zone) has just come."""
    moment = context.scheduled_execution_time or datetime.now(UTC)
    try:
        timing = Timing.from_env()
        due = due_coaches(steadyback.layout(), moment, timing)
        if due:
            SmtpSettings.from_env()  # no run that can only fail: say what is missing instead
    except DigestError as error:
        return dg.SkipReason(f"the coach digest is not configured: {error}")
    if not due:
        return dg.SkipReason("no coach is due (or every due coach has this week's digest)")
    return dg.RunRequest(
        run_key=f"coach-digest-{moment.astimezone(UTC):%Y%m%dT%H%M}",
        run_config=dg.RunConfig(
            ops={
                "send_coach_digests": DigestConfig(
                    usernames=[c.username for c in due], moment=moment.astimezone(UTC).isoformat()
                )
            }
        ),
        tags={"steadyback/digest_coaches": str(len(due))},
    )
