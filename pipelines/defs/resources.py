"""The one resource every asset uses: where the data directory is and how the run is set."""

from datetime import date

import dagster as dg

from pipelines.lib.layout import DataDir
from pipelines.lib.pseudonym import pseudonym_key


class SteadybackResource(dg.ConfigurableResource):
    """Data directory (landing/, raw/, warehouse, published/) and run settings."""

    data_dir: str
    as_of: str | None = None  # pin the run's "as of" day (YYYY-MM-DD); default: from the data
    min_wear_minutes: int = 600  # a valid wearable day has at least this much wear (10 h)

    def layout(self) -> DataDir:
        return DataDir.at(self.data_dir)

    def as_of_date(self) -> date | None:
        return date.fromisoformat(self.as_of) if self.as_of else None

    def pseudonym_key(self) -> bytes:
        # read from STEADYBACK_PSEUDONYM_KEY at use, so the secret never sits in run config
        return pseudonym_key()
