"""Keyed pseudonyms for participant identifiers (HMAC-SHA-256), and the rules for the key.

The same identifier and key always give the same pseudonym, so re-runs and
re-exports link up; without the key a pseudonym cannot be traced back. The key
is the program's secret (`STEADYBACK_PSEUDONYM_KEY`): real data is never
pseudonymised with the public demo key, and a key too short to be a secret is
refused. Only the generated demo cohort may run without one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

KEY_ENV = "STEADYBACK_PSEUDONYM_KEY"
DEMO_KEY = "steadyback-demo-key-not-for-real-data"
PSEUDONYM_HEX_CHARS = 16
MIN_KEY_CHARS = 16
"""A real key is a random secret; 16 characters of `secrets.token_urlsafe` are 96 bits.

Length cannot measure randomness: this only stops placeholders ("secret", "changeme").
"""
NEW_KEY_COMMAND = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
_FINGERPRINT_LABEL = b"steadyback pseudonym key fingerprint v1"

MIN_IDENTIFIER_CHARS = 4
MIN_NUMERIC_IDENTIFIER_CHARS = 6


class KeyRefused(Exception):
    """The pseudonym key is missing, public, too short or not the published snapshot's."""


def _how_to_set() -> str:
    return (
        f"Make one with `{NEW_KEY_COMMAND}`, keep it in the organisation's secret store "
        f"(losing it changes every pid), and set {KEY_ENV} in the environment of every "
        "steadyback process (`steadyback run`, `dagster dev` and its daemon). "
        'See docs/operations.md, "The pseudonym key".'
    )


def pseudonym_key(generated_cohort: bool = False) -> bytes:
    """The key from `STEADYBACK_PSEUDONYM_KEY`; the public demo key only for the generated cohort.

    Raises KeyRefused on anything but the generated cohort when the key is unset,
    is the public demo key, or is shorter than MIN_KEY_CHARS.
    """
    key = os.environ.get(KEY_ENV, "")
    if generated_cohort:
        return (key or DEMO_KEY).encode()
    refused = "Nothing was published; the current snapshot (if any) is unchanged."
    if not key:
        raise KeyRefused(
            f"{KEY_ENV} is not set, and landing/ is not the generated demo cohort: real "
            f"data is pseudonymised only with the program's own secret key. {refused} "
            + _how_to_set()
        )
    if key == DEMO_KEY:
        raise KeyRefused(
            f"{KEY_ENV} is the public demo key, and landing/ is not the generated demo "
            "cohort: anyone with the roster could reverse every pid made with it. "
            f"{refused} " + _how_to_set()
        )
    if len(key) < MIN_KEY_CHARS:
        raise KeyRefused(
            f"{KEY_ENV} is {len(key)} characters long; a key for real data needs at least "
            f"{MIN_KEY_CHARS} random characters. {refused} " + _how_to_set()
        )
    return key.encode()


def key_fingerprint(key: bytes) -> str:
    """`k_` + 16 hex digits of HMAC(key, a fixed label): tells keys apart, reveals nothing of one."""
    return "k_" + hmac.new(key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]


def pseudonymize(identifier: str | None, key: bytes) -> str | None:
    """`p_` + the first 16 hex digits of HMAC-SHA-256(key, identifier)."""
    if identifier is None:
        return None
    value = identifier.strip()
    if not value:
        return None
    digest = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
    return "p_" + digest[:PSEUDONYM_HEX_CHARS]


ANYWHERE, ALONE, WHOLE_VALUE = "anywhere", "alone", "whole value"


def match_rule(identifier: str) -> str:
    """Where an identifier counts as mentioned in a text.

    - ANYWHERE: at least 4 characters (6 if all digits), found inside any text in any
      case (`hamstrings (p-00042)`);
    - ALONE: shorter, with a letter (`P7`): only where no letter or digit touches it,
      else it would be found inside ordinary words;
    - WHOLE_VALUE: shorter and all digits (`17`): indistinguishable from the counts,
      days and years in ordinary text, so only a value that is exactly the id counts.
    """
    value = identifier.strip()
    if value.isdigit():
        return ANYWHERE if len(value) >= MIN_NUMERIC_IDENTIFIER_CHARS else WHOLE_VALUE
    return ANYWHERE if len(value) >= MIN_IDENTIFIER_CHARS else ALONE


_ALNUM = re.compile(r"[^\W_]")
NAME_SHOWN = "<display name>"


class Mentions:
    """Finds identifiers inside text (any case) and puts their pseudonyms in their place.

    Identifiers are found by `match_rule`, except that short all-digit ones are replaced
    where they stand alone too: hiding a number too many is harmless here. `names`
    (roster display names) are found where they stand alone and become NAME_SHOWN.
    """

    def __init__(
        self, identifiers: Iterable[str | None], key: bytes, names: Iterable[str | None] = ()
    ) -> None:
        # lower-case text → (replacement, found anywhere?)
        self._found: dict[str, tuple[str, bool]] = {}
        for name in names:
            if value := (name or "").strip():
                self._found.setdefault(value.lower(), (NAME_SHOWN, False))
        for identifier in identifiers:
            if value := (identifier or "").strip():
                shown = pseudonymize(value, key) or ""
                self._found[value.lower()] = (shown, match_rule(value) == ANYWHERE)
        self._lengths = sorted({len(k) for k in self._found}, reverse=True)

    def pseudonymized(self, text: str | None) -> str | None:
        if not text or not self._found:
            return text
        lowered = text.lower()
        if len(lowered) != len(text):  # a case mapping that changes length: compare as is
            lowered = text
        out: list[str] = []
        i = start = 0
        while i < len(text):
            for n in self._lengths:
                found = self._found.get(lowered[i : i + n])
                if found is not None and (found[1] or _stands_alone(text, i, n)):
                    out += [text[start:i], found[0]]
                    i = start = i + n
                    break
            else:
                i += 1
        out.append(text[start:])
        return "".join(out)


def _stands_alone(text: str, at: int, length: int) -> bool:
    """No letter or digit right before or right after text[at : at + length]."""
    before = text[at - 1] if at else " "
    after = text[at + length] if at + length < len(text) else " "
    return not _ALNUM.match(before) and not _ALNUM.match(after)


class IdentifiersHidden(Exception):
    """A failure whose message named a person, raised again with their pseudonym instead."""


@contextmanager
def errors_pseudonymized(mentions: Mentions) -> Iterator[None]:
    """Let no exception leave with an identifier in its message (Dagster logs them).

    One that names nobody passes unchanged; otherwise its message and those of its
    causes are raised again, pseudonymised, as IdentifiersHidden without the originals.
    """
    try:
        yield
    except Exception as err:
        chain: list[BaseException] = []
        cause: BaseException | None = err
        while cause is not None and cause not in chain:
            chain.append(cause)
            cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
        shown = [f"{type(e).__name__}: {mentions.pseudonymized(str(e))}" for e in chain]
        if shown == [f"{type(e).__name__}: {e}" for e in chain]:
            raise
        raise IdentifiersHidden(" ← ".join(shown)) from None


def pseudonymize_mentions(text: str | None, identifier: str | None, key: bytes) -> str | None:
    """`text` (a landing path, an error about a person's file) with the person's id as their pid.

    `apple_health/P-00042/export.xml` → `apple_health/p_6f24d43ebf6fdfee/export.xml`: the
    one way a per-person landing path is shown outside ingestion (logs, run summary,
    Dagster metadata, `staging.landing_files.display_file`).
    """
    return Mentions([identifier], key).pseudonymized(text)
