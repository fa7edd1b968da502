"""Pseudonyms: stable for one key, different across keys, never the identifier itself."""

import warnings

import pytest

from pipelines.lib.pseudonym import DemoKeyWarning, pseudonym_key, pseudonymize


def test_pseudonym_is_stable_keyed_and_hides_the_identifier():
    a = pseudonymize("P-00042", b"key-a")
    assert a == pseudonymize(" P-00042 ", b"key-a")
    assert a != pseudonymize("P-00042", b"key-b")
    assert a != pseudonymize("P-00043", b"key-a")
    assert a.startswith("p_") and len(a) == 18 and "00042" not in a
    assert pseudonymize(None, b"k") is None and pseudonymize("  ", b"k") is None


def test_missing_key_falls_back_to_demo_key_with_a_warning(monkeypatch):
    monkeypatch.delenv("STEADYBACK_PSEUDONYM_KEY", raising=False)
    with pytest.warns(DemoKeyWarning, match="STEADYBACK_PSEUDONYM_KEY"):
        demo = pseudonym_key()
    monkeypatch.setenv("STEADYBACK_PSEUDONYM_KEY", "secret")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pseudonym_key() == b"secret" != demo
