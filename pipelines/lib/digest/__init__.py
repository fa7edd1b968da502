"""The weekly coach digest: one e-mail per coach and ISO week, naming no one.

`compose` reads the published snapshot into each coach's digest (how many of their people are at
raised or high risk, have open alerts, or stopped checking in, one pseudonymous line each with a
link to the person page); `smtp` sends a message through the configured server; `ledger`
records, in the data dir, which coach-weeks were sent or failed (one mail per coach and week,
whatever re-runs); `deliver` puts them together for the CLI (`steadyback digest`) and the
Dagster schedule. docs/operations.md, "The weekly coach digest".
"""
