"""Sign-in sessions: the signed cookie, the secret, the idle time, and every way a session ends.

What an administrator relies on, checked on the files themselves: the secret is
the server's alone and never leaves it, a cookie is worth nothing without it,
and a session ends when it is idle too long, when the user signs out, is removed,
or gets another role or password — at once, for every session of that user.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from pipelines.lib.layout import DataDir
from pipelines.lib.sign_in import (
    DEFAULT_IDLE,
    IDLE_ENV,
    SessionError,
    Sessions,
    idle_seconds,
    touch_interval,
)
from pipelines.lib.users import UserStore

PASSWORD = "correct horse battery"
IDLE = 3600.0
T0 = 1_800_000_000.0


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def users(tmp_path) -> UserStore:
    store = UserStore.at(tmp_path)
    store.add("ana", "program_manager", PASSWORD)
    store.add("cora", "coach", PASSWORD, coach_id="C-01")
    return store


def start(tmp_path: Path, username: str, at: float = T0) -> str:
    return Sessions.at(tmp_path).start(UserStore.at(tmp_path).get(username), IDLE, now=at)


def check(tmp_path: Path, sid: str, at: float):
    return Sessions.at(tmp_path).check(sid, IDLE, now=at)


# --- the cookie and its secret -------------------------------------------------------------------


def test_the_secret_is_made_on_first_use_owner_only_and_kept(tmp_path):
    layout = DataDir.at(tmp_path)
    assert not layout.session_secret.exists()

    cookie = Sessions.at(tmp_path).sign("some-session-id")

    assert mode(layout.session_secret) == 0o600 and mode(layout.access_dir) == 0o700
    assert len(bytes.fromhex(layout.session_secret.read_text().strip())) == 32
    assert Sessions.at(tmp_path).sign("some-session-id") == cookie  # the same secret again
    assert layout.published_dir not in layout.session_secret.parents


def test_a_secret_that_could_not_be_written_leaves_no_file_behind(tmp_path, monkeypatch):
    """A full disk while the first secret is written: no empty or half-written secret stays
    (it would refuse every sign-in until deleted by hand), and the next sign-in makes one.
    The same whole-or-nothing write is what a concurrent first sign-in relies on."""
    import errno
    import os

    real_write = os.write

    def disk_full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(OSError):
        Sessions.at(tmp_path).sign("sid")
    monkeypatch.setattr(os, "write", real_write)

    assert list(DataDir.at(tmp_path).access_dir.iterdir()) == []
    assert Sessions.at(tmp_path).unsign(Sessions.at(tmp_path).sign("sid")) == "sid"


def test_a_cookie_gives_back_its_session_id_and_refuses_any_change(tmp_path):
    sessions = Sessions.at(tmp_path)
    sid = "Xq3-a-session-id"
    cookie = sessions.sign(sid)
    value, signature = cookie.rsplit(".", 1)

    assert value == sid and sessions.unsign(cookie) == sid
    # a middle character: the last one of unpadded base64 also carries two spare bits, which
    # decoding ignores (a signature ending in "A" read the same ending in "B")
    middle = len(signature) // 2
    flipped = (
        signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    )
    for tampered in [
        f"{value}.{flipped}",  # another signature
        f"Xq4-a-session-id.{signature}",  # another session id under the old signature
        value,  # no signature
        f"{value}.",
        "",
        "é." + signature,  # not ASCII
    ]:
        assert sessions.unsign(tampered) is None, tampered


def test_a_cookie_signed_with_another_secret_is_refused(tmp_path):
    other = Sessions.at(tmp_path / "other")
    assert Sessions.at(tmp_path).unsign(other.sign("a-session-id")) is None


def test_deleting_the_secret_invalidates_every_cookie(tmp_path):
    cookie = Sessions.at(tmp_path).sign("a-session-id")
    DataDir.at(tmp_path).session_secret.unlink()
    assert Sessions.at(tmp_path).unsign(cookie) is None


@pytest.mark.parametrize(
    "damage",
    ["not hex at all\n", "abcd\n", "\xff\xfe garbage"],
    ids=["text", "short", "binary"],
)
def test_a_secret_steadyback_did_not_write_fails_closed_without_quoting_it(tmp_path, damage):
    path = DataDir.at(tmp_path).session_secret
    path.parent.mkdir(mode=0o700)
    path.write_bytes(damage.encode("latin-1"))

    with pytest.raises(SessionError) as refused:
        Sessions.at(tmp_path).unsign("a-session-id.signature")
    assert str(path) in str(refused.value)
    assert damage.strip() not in str(refused.value)
    assert path.read_bytes() == damage.encode("latin-1")  # left for the administrator


def test_an_unreadable_secret_fails_closed(tmp_path):
    path = DataDir.at(tmp_path).session_secret
    path.mkdir(parents=True)  # not a file: reading it fails
    with pytest.raises(SessionError, match="cannot be read"):
        Sessions.at(tmp_path).sign("a-session-id")


# --- the sessions ---------------------------------------------------------------------------------


def test_the_sessions_file_holds_no_session_id_and_is_owner_only(tmp_path, users):
    sid = start(tmp_path, "ana")
    path = DataDir.at(tmp_path).sign_in_sessions

    text = path.read_text()
    assert sid not in text
    [entry] = json.loads(text)["sessions"].values()
    assert entry["user"] == "ana" and entry["seen"] == T0
    assert PASSWORD not in text and "argon2" not in text
    assert mode(path) == 0o600


def test_a_session_lasts_until_it_is_idle_for_the_idle_time(tmp_path, users):
    sid = start(tmp_path, "ana")

    assert check(tmp_path, sid, T0 + IDLE - 1).user.username == "ana"
    expired = check(tmp_path, sid, T0 + 2 * IDLE)
    assert (expired.user, expired.refusal, expired.username) == (None, "expired", "ana")
    assert check(tmp_path, sid, T0 + 2 * IDLE).refusal == "ended"  # and it is gone


def test_using_a_session_keeps_it_going(tmp_path, users):
    sid = start(tmp_path, "ana")

    early = check(tmp_path, sid, T0 + touch_interval(IDLE) / 2)
    assert early.user and not early.touched  # not written down every click
    used = check(tmp_path, sid, T0 + 0.9 * IDLE)
    assert used.user and used.touched
    assert check(tmp_path, sid, T0 + 1.5 * IDLE).user.username == "ana"  # idle for 0.6 only
    assert check(tmp_path, sid, T0 + 2.5 * IDLE).refusal == "expired"


def test_signing_out_ends_every_session_of_that_user_and_no_other(tmp_path, users):
    laptop, phone = start(tmp_path, "ana"), start(tmp_path, "ana")
    coach = start(tmp_path, "cora")

    assert Sessions.at(tmp_path).end_user("ana") == 2

    assert check(tmp_path, laptop, T0 + 1).refusal == "ended"
    assert check(tmp_path, phone, T0 + 1).refusal == "ended"
    assert check(tmp_path, coach, T0 + 1).user.username == "cora"


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (lambda store: store.remove("cora"), "user removed"),
        (lambda store: store.add("cora", "analyst", PASSWORD, replace=True), "user changed"),
        (
            lambda store: store.add("cora", "coach", PASSWORD, coach_id="C-02", replace=True),
            "user changed",
        ),
        (  # a password reset (`users add --replace`), even to the same password: a new hash
            lambda store: store.add("cora", "coach", PASSWORD, coach_id="C-01", replace=True),
            "user changed",
        ),
    ],
    ids=["removed", "new role", "new coach id", "password reset"],
)
def test_a_change_to_the_user_ends_all_their_sessions_at_once(tmp_path, users, change, refusal):
    sids = [start(tmp_path, "cora"), start(tmp_path, "cora")]
    other = start(tmp_path, "ana")

    change(users)

    for sid in sids:
        refused = check(tmp_path, sid, T0 + 1)
        assert (refused.user, refused.refusal, refused.username) == (None, refusal, "cora")
    assert Sessions.at(tmp_path).count("cora") == 0
    assert check(tmp_path, other, T0 + 1).user.username == "ana"


def test_a_user_removed_and_added_again_does_not_get_old_sessions_back(tmp_path, users):
    sid = start(tmp_path, "cora")
    users.remove("cora")
    users.add("cora", "coach", PASSWORD, coach_id="C-01")
    assert check(tmp_path, sid, T0 + 1).refusal == "user changed"


def test_live_answers_as_check_without_changing_anything(tmp_path, users):
    sid = start(tmp_path, "ana")
    path = DataDir.at(tmp_path).sign_in_sessions
    before = path.read_text()
    sessions = Sessions.at(tmp_path)

    assert sessions.live(sid, IDLE, now=T0 + 0.9 * IDLE)
    assert not sessions.live(sid, IDLE, now=T0 + IDLE)
    assert not sessions.live("never-issued", IDLE, now=T0)
    users.remove("ana")
    assert not sessions.live(sid, IDLE, now=T0 + 1)
    assert path.read_text() == before


def test_an_unknown_session_id_is_refused(tmp_path, users):
    start(tmp_path, "ana")
    assert check(tmp_path, "never-issued", T0 + 1).refusal == "ended"


def test_a_sessions_file_steadyback_did_not_write_refuses_every_session(tmp_path, users):
    sid = start(tmp_path, "ana")
    path = DataDir.at(tmp_path).sign_in_sessions
    entry = json.loads(path.read_text())["sessions"]
    path.write_text(json.dumps({"version": 1, "sessions": {k: "x" for k in entry}}))

    assert check(tmp_path, sid, T0 + 1).refusal == "ended"
    fresh = start(tmp_path, "ana", T0 + 2)  # and logging in again still works
    assert check(tmp_path, fresh, T0 + 3).user.username == "ana"


def test_idle_sessions_are_dropped_from_the_file(tmp_path, users):
    start(tmp_path, "ana")
    start(tmp_path, "cora", T0 + 2 * IDLE)
    assert Sessions.at(tmp_path).count() == 1


# --- the idle time ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("8h", 28_800), ("30m", 1_800), ("90s", 90), ("1.5h", 5_400), (" 8H ", 28_800)],
)
def test_idle_times(text, seconds):
    assert idle_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "8", "8d", "0s", "-1h", "169h", "eight hours", "nanm"])
def test_an_idle_time_that_is_not_one_is_refused_saying_what_is_allowed(text):
    with pytest.raises(SessionError, match=r"--session-idle .*s, m or h .*from 1s to 168h"):
        idle_seconds(text, "--session-idle")


def test_the_idle_time_comes_from_the_environment_else_eight_hours(monkeypatch):
    monkeypatch.delenv(IDLE_ENV, raising=False)
    assert idle_seconds() == idle_seconds(DEFAULT_IDLE) == 8 * 3600
    monkeypatch.setenv(IDLE_ENV, "45m")
    assert idle_seconds() == 45 * 60
    monkeypatch.setenv(IDLE_ENV, "forever")
    with pytest.raises(SessionError, match=IDLE_ENV):
        idle_seconds()
