"""Pseudonyms and the key: stable for one key, refused without a real key on real data, never in text."""

import pytest

from pipelines.lib.pseudonym import (
    DEMO_KEY,
    KEY_ENV,
    MIN_KEY_CHARS,
    NAME_SHOWN,
    IdentifiersHidden,
    KeyRefused,
    Mentions,
    errors_pseudonymized,
    key_fingerprint,
    pseudonym_key,
    pseudonymize,
    pseudonymize_mentions,
)


def test_pseudonym_is_stable_keyed_and_hides_the_identifier():
    a = pseudonymize("P-00042", b"key-a")
    assert a == pseudonymize(" P-00042 ", b"key-a")
    assert a != pseudonymize("P-00042", b"key-b")
    assert a != pseudonymize("P-00043", b"key-a")
    assert a.startswith("p_") and len(a) == 18 and "00042" not in a
    assert pseudonymize(None, b"k") is None and pseudonymize("  ", b"k") is None


def test_real_data_gets_no_key_but_the_configured_one(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(KeyRefused, match=f"{KEY_ENV} is not set") as refused:
        pseudonym_key()
    assert "secrets.token_urlsafe" in str(refused.value), "says how to make one"
    assert pseudonym_key(generated_cohort=True) == DEMO_KEY.encode()

    monkeypatch.setenv(KEY_ENV, DEMO_KEY)
    with pytest.raises(KeyRefused, match="public demo key"):
        pseudonym_key()
    monkeypatch.setenv(KEY_ENV, "x" * (MIN_KEY_CHARS - 1))
    with pytest.raises(KeyRefused, match=f"at least {MIN_KEY_CHARS}"):
        pseudonym_key()
    assert pseudonym_key(generated_cohort=True) == b"x" * (MIN_KEY_CHARS - 1)

    monkeypatch.setenv(KEY_ENV, "a-real-secret-of-enough-length")
    assert (
        pseudonym_key() == pseudonym_key(generated_cohort=True) == b"a-real-secret-of-enough-length"
    )


def test_the_key_fingerprint_tells_keys_apart_and_reveals_neither_key_nor_pids():
    secret = b"a-real-secret-of-enough-length"
    fingerprint = key_fingerprint(secret)
    assert (
        fingerprint
        == key_fingerprint(secret)
        != key_fingerprint(b"another-secret-of-enough-length")
    )
    assert fingerprint.startswith("k_") and len(fingerprint) == 18
    assert "secret" not in fingerprint
    assert fingerprint[2:] not in (pseudonymize("", secret) or "")


def test_a_landing_path_shows_the_person_by_pid_in_any_case():
    key = b"k" * 16
    pid = pseudonymize("P-00042", key)
    assert pseudonymize_mentions("apple_health/P-00042/export.xml", "P-00042", key) == (
        f"apple_health/{pid}/export.xml"
    )
    assert pseudonymize_mentions("oura/P-00042/oura_p-00042_trends.csv", "P-00042", key) == (
        f"oura/{pid}/oura_{pid}_trends.csv"
    )
    assert pseudonymize_mentions("app/sessions_1.csv", None, key) == "app/sessions_1.csv"
    # a short id is replaced only where it stands alone, not inside other words
    assert pseudonymize_mentions("garmin/x/export.fit", "x", key) == (
        f"garmin/{pseudonymize('x', key)}/export.fit"
    )


def test_mentions_find_ids_inside_free_text_and_names_only_as_words():
    key = b"k" * 16
    mentions = Mentions(["P-00001", "1503960366", "17"], key, names=["Ana R."])
    assert mentions.pseudonymized("hamstrings (p-00001)") == (
        f"hamstrings ({pseudonymize('P-00001', key)})"
    )
    assert mentions.pseudonymized("device 1503960366x") == (
        f"device {pseudonymize('1503960366', key)}x"
    )
    assert mentions.pseudonymized("week 170, 17 rows") == (
        f"week 170, {pseudonymize('17', key)} rows"
    )
    assert mentions.pseudonymized("Banana R. called ana r.") == f"Banana R. called {NAME_SHOWN}"


def test_an_error_naming_a_person_leaves_with_their_pid_only():
    key = b"k" * 16
    mentions = Mentions(["P-00042"], key)
    with pytest.raises(IdentifiersHidden) as hidden:
        with errors_pseudonymized(mentions):
            try:
                raise FileNotFoundError("/data/landing/apple_health/P-00042/export.xml")
            except FileNotFoundError as err:
                raise RuntimeError("could not hash the file") from err
    message = str(hidden.value)
    assert "P-00042" not in message and pseudonymize("P-00042", key) in message
    assert "RuntimeError: could not hash the file" in message
    assert hidden.value.__cause__ is None and hidden.value.__suppress_context__

    with pytest.raises(ValueError, match="nothing personal"):  # passes through unchanged
        with errors_pseudonymized(mentions):
            raise ValueError("nothing personal")


@pytest.mark.parametrize("key", [b"test-key-for-steadyback", b"k" * 64, bytes(range(256)) * 2])
def test_the_warehouse_pseudonymises_as_the_python_function_does(key, tmp_path):
    """The warehouse's `pseudonymize()` is HMAC written in SQL for plain ASCII ids and the Python
    function for the rest; either way the pid must be the one everything else computes."""
    import random

    import duckdb

    from pipelines.lib.warehouse import hmac_pads, prepare

    rng = random.Random(7)
    alphabet = "abcXYZ019-_.:/'\" \t\u00a0\u2003é漢\x0b"
    identifiers = [None, "", "  ", "P-00042", " P-00042 ", "P7", "17", "o'brien", "a\tb"]
    identifiers += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(3000)
    ]
    identifiers += [f"p-{i:05d}" for i in range(3000)]
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        prepare(con, key)
        con.execute("create table ids as select unnest(?::varchar[]) as identifier", [identifiers])
        con.execute(
            "create table pids as select identifier, pseudonymize(identifier) as pid from ids"
        )
        got = con.execute("select identifier, pid from pids").fetchall()
    assert [(i, pseudonymize(i, key)) for i, _ in got] == got
    assert len(got) == len(identifiers)
    # the macro that holds the padded key is temporary: nothing of the key reaches the file
    with duckdb.connect(str(path), read_only=True) as con:
        assert (
            con.execute(
                "select count(*) from duckdb_functions() where function_name = 'pseudonymize'"
            ).fetchone()[0]
            == 0
        )
    stored = path.read_bytes()
    for pad in hmac_pads(key):
        assert pad.split("'")[1][:40].encode() not in stored


@pytest.mark.parametrize("identifier", ["P-00042", "Zoë 7", None, "  "])
def test_a_one_row_table_is_pseudonymised_as_any_other(identifier, tmp_path):
    """DuckDB reads a one-row column as a constant and then evaluates every branch of the
    macro's `case` on it, the Python one included: the pid must not depend on which ran."""
    import duckdb

    from pipelines.lib.warehouse import prepare

    key = b"test-key-for-steadyback"
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        prepare(con, key)
        con.execute("create table roster as select ?::varchar as participant_id", [identifier])
        got = con.execute("select pseudonymize(participant_id) from roster").fetchone()[0]
    assert got == pseudonymize(identifier, key)
