"""The seven principles `marts.principles` scores, by column name, with their plain names."""

from __future__ import annotations

PRINCIPLES: dict[str, str] = {
    "consistency": "Consistency",
    "gentle": "Gentle stretching",
    "breathing": "Guided breathing",
    "stability": "Stability follow-up",
    "activity": "Activity",
    "sleep_recovery": "Sleep and recovery",
    "confidence": "Movement confidence",
}
"""The seven `marts.principles` scores (0–1, 1 = target met in full) and their plain names."""
PRINCIPLE_COLUMNS = tuple(PRINCIPLES)
"""The seven `marts.principles` scores, in the order of the heat map's columns."""
