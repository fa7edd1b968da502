"""The resources every asset uses: where the data directory is, how the run is set, the key rule,
the program rules, and the Dask cluster the raw assets parse on."""

from dataclasses import dataclass
from datetime import date

import dagster as dg
from pydantic import PrivateAttr

from pipelines.lib.key_policy import landing_run_key
from pipelines.lib.layout import DataDir
from pipelines.lib.parse_cluster import ParseCluster
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
    # landing/ and raw/ outside the data dir: a folder or s3://bucket/prefix (docs/operations.md)
    landing: str | None = None
    raw: str | None = None

    def layout(self) -> DataDir:
        return DataDir.at(self.data_dir, self.landing, self.raw)

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


class ParseClusterResource(dg.ConfigurableResource):
    """The Dask cluster new landing files are parsed on (pipelines/lib/parse_cluster.py).

    One per run and process: with the in-process executor (`steadyback run`) the raw steps
    share it; a local cluster starts only when a source has enough new work, and stops
    when the run (or the step's process) ends.
    """

    scheduler: str | None = None  # STEADYBACK_DASK_SCHEDULER; None: a local cluster
    workers: int | None = None  # the local cluster's worker processes; None: one per core

    _cluster: ParseCluster | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._cluster = ParseCluster(self.scheduler, self.workers)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._cluster is not None:
            self._cluster.close()

    def cluster(self) -> ParseCluster:
        if self._cluster is None:  # used outside a run (a direct call in a test)
            self._cluster = ParseCluster(self.scheduler, self.workers)
        return self._cluster
