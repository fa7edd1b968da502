"""The seven principle scores of `marts.principles` in docs/metrics.md's order, as the tests
expect them (the marts, the heat maps, the person page and its report)."""

PRINCIPLES = (
    "consistency",
    "gentle",
    "breathing",
    "stability",
    "activity",
    "sleep_recovery",
    "confidence",
)
