"""Keyed pseudonyms for participant identifiers (HMAC-SHA-256).

The same identifier and key always give the same pseudonym, so re-runs and
re-exports link up; without the key a pseudonym cannot be traced back.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import warnings

KEY_ENV = "STEADYBACK_PSEUDONYM_KEY"
DEMO_KEY = "steadyback-demo-key-not-for-real-data"
PSEUDONYM_HEX_CHARS = 16


class DemoKeyWarning(UserWarning):
    """The pseudonym key was not configured; the public demo key is in use."""


def pseudonym_key() -> bytes:
    key = os.environ.get(KEY_ENV, "")
    if not key:
        warnings.warn(
            f"{KEY_ENV} is not set: using the public demo key. Pseudonyms made with it "
            "can be reversed by anyone with the roster; set the variable for real data.",
            DemoKeyWarning,
            stacklevel=2,
        )
        key = DEMO_KEY
    return key.encode()


def pseudonymize(identifier: str | None, key: bytes) -> str | None:
    """`p_` + the first 16 hex digits of HMAC-SHA-256(key, identifier)."""
    if identifier is None:
        return None
    value = identifier.strip()
    if not value:
        return None
    digest = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
    return "p_" + digest[:PSEUDONYM_HEX_CHARS]
