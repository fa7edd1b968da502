"""The resources every asset uses: where the data directory is, how the run is set, the key rule
and the program rules."""

from dataclasses import dataclass
from datetime import date

import dagster as dg

from pipelines.lib.key_policy import landing_run_key
from pipelines.lib.layout import DataDir
from pipelines.lib.rules import AppliedRules, load_program_rules


@dataclass(frozen=True)
class KeyRotation:
    """Whether this run may publish under another key than the published snapshot's.

    A Python object, not config: a launchpad, schedule or sensor cannot switch it on.
    Only `steadyback run --rotate-key` builds definitions with `allowed=True`.
    """

    allowed: bool = False


class SteadybackResource(dg.ConfigurableResource):
    """Data directory (landing/, raw/, warehouse, published/) and run settings."""

    data_dir: str
    as_of: str | None = None  # pin the run's "as of" day (YYYY-MM-DD); default: from the data

    def layout(self) -> DataDir:
        return DataDir.at(self.data_dir)

    def as_of_date(self) -> date | None:
        return date.fromisoformat(self.as_of) if self.as_of else None

    def program_rules(self) -> AppliedRules:
        """The rules of `<data dir>/program.toml` over the defaults (ProgramRulesError if invalid).

        Read at use, like the key: a changed file applies from the next run on.
        """
        return load_program_rules(self.layout())

    def pseudonym_key(self, rotation: KeyRotation) -> bytes:
        """The key for this run (KeyRefused when it may not run: pipelines/lib/key_policy.py).

        Read from STEADYBACK_PSEUDONYM_KEY at use, so the secret never sits in run config.
        """
        return landing_run_key(self.layout(), rotation.allowed)
