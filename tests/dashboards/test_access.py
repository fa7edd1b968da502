"""Who may see what: the login form, lockout, roles on every page, caseload scoping, the audit trail.

The role table below is written out from the issue, not read from
`access.PAGES_BY_ROLE`, so the tests check the specification rather than the
code against itself. Denied pages are checked for the absence of any data
element (charts, tables, metrics, downloads) and of any participant's pid, so
they hold whatever the page modules put on their pages.
"""

from __future__ import annotations

import csv
import importlib
import inspect
import io
import pkgutil
import re
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from page_harness import (
    APP,
    PAGES,
    PASSWORD,
    USERS,
    capture_downloads,
    expected_identities,
    log_in,
    open_app,
    query,
    sent_text,
)
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
from streamlit.testing.v1 import AppTest

import dashboards.queries
from dashboards import access, session
from dashboards import snapshot as published
from pipelines import cli
from pipelines.lib import audit
from pipelines.lib.users import User, UserStore

ROLE_PAGES = {  # the issue: who may open which page
    "program_manager": {"cohort", "person"},
    "coach": {"caseload", "person"},
    "analyst": {"cohort", "data-health"},
}
ALL_PAGES = ("cohort", "caseload", "person", "data-health")
DATA_ELEMENTS = ("plotly_chart", "dataframe", "table", "metric", "download_button")
WRONG_LOGIN = "Unknown username or wrong password."
NOT_IN_CASELOAD_TEXT = "not in your caseload"


# --- helpers ----------------------------------------------------------------------------------


def fresh_app(data_dir: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(data_dir))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def data_elements(at: AppTest) -> dict[str, int]:
    return {kind: len(at.get(kind)) for kind in DATA_ELEMENTS if at.get(kind)}


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def login_form_shown(at: AppTest) -> bool:
    labels = [t.label for t in at.text_input]
    return "Username" in labels and "Password" in labels


def pids_of(data_dir: Path, where: str = "true", params: list | None = None) -> list[str]:
    sql = f"select pid from marts.participants where {where} order by pid"  # noqa: S608 — fixed text
    return [pid for (pid,) in query(data_dir, sql, params)]


def coach_id_of(data_dir: Path, role_key: str) -> str:
    return UserStore.at(data_dir).get(USERS[role_key][0]).coach_id


def foreign_pid(data_dir: Path) -> str:
    """A participant of some other coach than the test coach."""
    return pids_of(data_dir, "coach_id <> ?", [coach_id_of(data_dir, "coach")])[0]


def own_pid(data_dir: Path) -> str:
    return pids_of(data_dir, "coach_id = ?", [coach_id_of(data_dir, "coach")])[0]


def events_for(data_dir: Path, **match) -> list[audit.AuditEvent]:
    return [e for e in audit.read(data_dir) if all(getattr(e, k) == v for k, v in match.items())]


@pytest.fixture
def navigation(monkeypatch) -> list:
    """The navigation messages the app sends: which pages the sidebar lists, and where."""
    sent = []
    enqueue = ForwardMsgQueue.enqueue

    def spy(queue, message):
        if message.WhichOneof("type") == "navigation":
            sent.append(message.navigation)
        return enqueue(queue, message)

    monkeypatch.setattr(ForwardMsgQueue, "enqueue", spy)
    return sent


def listed_pages(navigation_message) -> set[str]:
    return {p.url_pathname for p in navigation_message.app_pages if not p.is_hidden}


# --- the login form -----------------------------------------------------------------------------


def test_login_form_has_username_password_and_log_in(dashboard_dir, monkeypatch, navigation):
    at = fresh_app(dashboard_dir, monkeypatch)

    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert (
        at.text_input(key="login_password").proto.type
        == at.text_input(key="login_password").proto.PASSWORD
    )
    assert [b.label for b in at.button] == ["Log in"]
    assert navigation[-1].position == navigation[-1].HIDDEN
    assert listed_pages(navigation[-1]) == set()  # nothing to navigate to before logging in
    assert not data_elements(at)


@pytest.mark.parametrize("page", ALL_PAGES)
def test_no_page_opens_before_logging_in(dashboard_dir, monkeypatch, page):
    at = fresh_app(dashboard_dir, monkeypatch)
    at.switch_page(PAGES[page]).run()

    assert not at.exception
    assert login_form_shown(at)
    assert not data_elements(at)
    assert not any(pid[:10] in sent_text(at) for pid in pids_of(dashboard_dir))


@pytest.mark.usefixtures("fresh_failures")
def test_wrong_password_and_unknown_user_get_the_same_message_and_no_pages(
    dashboard_dir, monkeypatch, navigation
):
    at = fresh_app(dashboard_dir, monkeypatch)
    log_in(at, USERS["program_manager"][0], "not the password")
    wrong_password = errors(at)
    assert wrong_password == [WRONG_LOGIN]
    assert login_form_shown(at) and not data_elements(at)
    assert navigation[-1].position == navigation[-1].HIDDEN

    at = fresh_app(dashboard_dir, monkeypatch)
    log_in(at, "nobody-by-this-name", PASSWORD)
    assert errors(at) == wrong_password
    assert login_form_shown(at) and not data_elements(at)

    at.switch_page(PAGES["cohort"]).run()
    assert login_form_shown(at) and not data_elements(at)


@pytest.mark.usefixtures("fresh_failures")
def test_failed_and_successful_logins_are_audited(dashboard_dir, monkeypatch):
    username = USERS["analyst"][0]
    before = len(events_for(dashboard_dir, user=username))
    at = fresh_app(dashboard_dir, monkeypatch)
    log_in(at, username, "not the password")
    log_in(at, username, PASSWORD)

    new = events_for(dashboard_dir, user=username)[before:]
    assert [(e.outcome, e.page, e.role) for e in new] == [
        ("login_failed", "login", None),
        ("login", "login", "analyst"),
    ]
    assert PASSWORD not in audit.log_path(dashboard_dir).read_text()


@pytest.mark.usefixtures("fresh_failures")
def test_five_failures_lock_a_username_out_even_with_the_right_password(dashboard_dir, monkeypatch):
    store = UserStore.at(dashboard_dir)
    store.add("lockout-target", "analyst", PASSWORD, replace=True)
    at = fresh_app(dashboard_dir, monkeypatch)
    for _ in range(session.MAX_FAILED_LOGINS):
        log_in(at, "lockout-target", "guess")
        assert errors(at) == [WRONG_LOGIN]

    log_in(at, "lockout-target", PASSWORD)
    assert len(errors(at)) == 1 and "Too many failed attempts" in errors(at)[0]
    assert login_form_shown(at) and not data_elements(at)
    assert events_for(dashboard_dir, user="lockout-target")[-1].outcome == "locked_out"

    other = fresh_app(dashboard_dir, monkeypatch)  # other usernames are unaffected
    log_in(other, USERS["analyst"][0])
    assert not login_form_shown(other) and not errors(other)

    monkeypatch.setattr(session, "LOCKOUT_S", 0.0)  # the lockout has run out
    log_in(at, "lockout-target", PASSWORD)
    assert not login_form_shown(at) and not errors(at)


@pytest.mark.usefixtures("fresh_failures")
def test_unknown_usernames_lock_out_with_the_same_message(dashboard_dir, monkeypatch):
    """So the lockout cannot tell which usernames exist either."""
    at = fresh_app(dashboard_dir, monkeypatch)
    for _ in range(session.MAX_FAILED_LOGINS):
        log_in(at, "no-such-user-here", "guess")
    log_in(at, "no-such-user-here", "guess")
    assert len(errors(at)) == 1 and "Too many failed attempts" in errors(at)[0]


@pytest.mark.usefixtures("fresh_failures")
def test_simultaneous_logins_check_at_most_five_passwords(dashboard_dir, monkeypatch):
    """8 browser sessions submit a wrong password for one username at the same moment.

    Each attempt is counted before its argon2 check, under the lock, so at most
    MAX_FAILED_LOGINS of them are checked (counted here at `UserStore.verify`, whose
    hashing stays real); the others — and the right password after them — are refused
    unchecked.
    """
    UserStore.at(dashboard_dir).add("race-target", "analyst", PASSWORD, replace=True)
    checked: list[str] = []
    counting = threading.Lock()
    verify = UserStore.verify

    def counted_verify(store, username, password):
        with counting:
            checked.append(username)
        return verify(store, username, password)

    monkeypatch.setattr(UserStore, "verify", counted_verify)
    tabs = [fresh_app(dashboard_dir, monkeypatch) for _ in range(session.MAX_FAILED_LOGINS + 3)]
    for at in tabs:
        at.text_input(key="login_username").input("race-target")
        at.text_input(key="login_password").input("a wrong guess")
    together = threading.Barrier(len(tabs))

    def submit(at: AppTest) -> None:
        together.wait()
        at.button[0].click().run()

    threads = [threading.Thread(target=submit, args=(at,)) for at in tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(checked) <= session.MAX_FAILED_LOGINS  # counted after it: all
    answers = [errors(at) for at in tabs]
    # AppTest is not built for simultaneous runs: now and then one submit is lost (no answer
    # at all; nothing checked, nothing counted). Every answer given is one of the two.
    assert answers.count([WRONG_LOGIN]) == len(checked)
    locked = [a for a in answers if len(a) == 1 and a[0].startswith("Too many failed attempts")]
    assert len(locked) + len(checked) + answers.count([]) == len(tabs)
    at = log_in(fresh_app(dashboard_dir, monkeypatch), "race-target", PASSWORD)
    assert "Too many failed attempts" in errors(at)[0] and login_form_shown(at)
    assert len(checked) <= session.MAX_FAILED_LOGINS


def test_a_successful_login_clears_earlier_failures(dashboard_dir, monkeypatch, fresh_failures):
    username = USERS["analyst"][0]
    at = fresh_app(dashboard_dir, monkeypatch)
    for _ in range(session.MAX_FAILED_LOGINS - 1):
        log_in(at, username, "guess")
    log_in(at, username, PASSWORD)
    assert not login_form_shown(at)
    assert username not in session.login_attempts


def test_log_out_returns_to_the_login_form(dashboard_dir, monkeypatch, navigation):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")
    assert not login_form_shown(at)
    assert navigation[-1].position == navigation[-1].SIDEBAR

    next(b for b in at.sidebar.button if b.label == "Log out").click().run()

    assert not at.exception
    assert login_form_shown(at)
    assert not data_elements(at)
    assert listed_pages(navigation[-1]) == set()
    at.switch_page(PAGES["cohort"]).run()
    assert login_form_shown(at) and not data_elements(at)


# --- every role on every page --------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(ROLE_PAGES))
def test_navigation_lists_only_the_roles_pages(dashboard_dir, monkeypatch, navigation, role):
    open_app(dashboard_dir, monkeypatch, role)

    latest = navigation[-1]
    assert latest.position == latest.SIDEBAR
    assert listed_pages(latest) == ROLE_PAGES[role]
    # every page stays registered (hidden), so its URL answers with a message, not "not found"
    assert {p.url_pathname for p in latest.app_pages} >= set(ALL_PAGES)


@pytest.mark.parametrize("page", ALL_PAGES)
@pytest.mark.parametrize("role", sorted(ROLE_PAGES))
def test_every_role_on_every_page(dashboard_dir, monkeypatch, role, page):
    at = open_app(dashboard_dir, monkeypatch, role, page)
    access_messages = [m for m in errors(at) if "not available" in m or m == access.NOT_IN_CASELOAD]

    if page in ROLE_PAGES[role]:
        assert not at.exception
        assert access_messages == []
        assert not login_form_shown(at)
        return
    words = role.replace("_", " ")
    assert len(access_messages) == 1
    assert re.search(f"not available to an? {words}", access_messages[0])
    assert data_elements(at) == {}
    assert not at.selectbox and not at.multiselect
    text = sent_text(at)
    assert not any(pid[:10] in text for pid in pids_of(dashboard_dir))


@pytest.mark.parametrize("page", ["caseload", "person"])
def test_a_coach_never_sees_another_coachs_participant(dashboard_dir, monkeypatch, page):
    """Whatever the page lists (tables, options, charts): only the coach's own people."""
    coach = coach_id_of(dashboard_dir, "coach")
    others = pids_of(dashboard_dir, "coach_id is distinct from ?", [coach])
    assert others  # the test needs someone to leak

    at = open_app(dashboard_dir, monkeypatch, "coach", page)

    text = sent_text(at)
    assert not [pid for pid in others if pid[:10] in text]


# --- caseload scoping by URL -----------------------------------------------------------------------


def test_a_coach_with_another_coachs_pid_in_the_url_is_refused(dashboard_dir, monkeypatch):
    pid = foreign_pid(dashboard_dir)
    before = len(events_for(dashboard_dir, user=USERS["coach"][0], pid=pid))

    at = open_app(dashboard_dir, monkeypatch, "coach", "person", pid=pid)

    assert access.NOT_IN_CASELOAD in errors(at)
    assert "not in your caseload" in access.NOT_IN_CASELOAD
    assert data_elements(at) == {}
    text = sent_text(at)
    participant_id, name, _ = expected_identities(dashboard_dir)[pid]
    assert pid[:10] not in text and participant_id not in text and (name or pid) not in text
    new = events_for(dashboard_dir, user=USERS["coach"][0], pid=pid)[before:]
    assert [(e.role, e.page, e.outcome) for e in new] == [("coach", "person", "denied")]


def test_a_coach_probing_an_unknown_pid_gets_the_same_answer(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "coach", "person", pid="p_doesnotexist0")

    assert access.NOT_IN_CASELOAD in errors(at)
    assert data_elements(at) == {}
    assert not [e for e in errors(at) if "No participant" in e]


def test_switching_the_url_to_another_coachs_pid_mid_session_is_refused(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "coach", "person", pid=own_pid(dashboard_dir))
    assert not errors(at)
    assert data_elements(at)  # their own participant's page has content

    at.query_params["pid"] = foreign_pid(dashboard_dir)
    at.run()

    assert access.NOT_IN_CASELOAD in errors(at)
    assert data_elements(at) == {}


def test_a_coach_without_participants_is_refused_everyone(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "other_coach", "person", pid=own_pid(dashboard_dir))
    assert access.NOT_IN_CASELOAD in errors(at)
    assert data_elements(at) == {}


# --- the audit trail ---------------------------------------------------------------------------------


def test_a_person_view_is_audited_exactly_once(dashboard_dir, monkeypatch):
    pid = pids_of(dashboard_dir)[-1]
    username = USERS["program_manager"][0]
    before = len(events_for(dashboard_dir, user=username, pid=pid))

    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)
    assert not errors(at) and data_elements(at)
    at.run()  # a rerun (any widget) of the same view is not a new view

    new = events_for(dashboard_dir, user=username, pid=pid)[before:]
    assert [(e.user, e.role, e.page, e.pid, e.outcome) for e in new] == [
        (username, "program_manager", "person", pid, "viewed")
    ]
    assert new[0].at


@pytest.mark.parametrize("role", ["program_manager", "analyst"])
def test_no_participant_id_or_name_reaches_managers_or_analysts(dashboard_dir, monkeypatch, role):
    """Every page (a program manager's Person page for someone of each coach), every download."""
    downloads = capture_downloads(monkeypatch)
    identities = expected_identities(dashboard_dir)
    secrets = {i[0] for i in identities.values()} | {i[1] for i in identities.values() if i[1]}
    username = USERS[role][0]
    before = len(events_for(dashboard_dir, user=username))
    at = open_app(dashboard_dir, monkeypatch, role)

    sent = []
    for page in ALL_PAGES:
        at.switch_page(PAGES[page]).run()
        sent.append(sent_text(at))
        if page == "person" and role == "program_manager":
            for coach in sorted({i[2] for i in identities.values()}):
                at.selectbox[0].select(pids_of(dashboard_dir, "coach_id = ?", [coach])[0]).run()
                assert not at.exception and data_elements(at)
                sent.append(sent_text(at))
    sent += [d.data.decode("utf-8", "replace") for d in downloads]
    assert len(downloads) >= (3 if role == "program_manager" else 1)
    everything = "\n".join(sent)
    assert not [s for s in secrets if s in everything]
    new = events_for(dashboard_dir, user=username)[before:]
    assert not [e for e in new if e.outcome == "identity_shown"]


@pytest.mark.parametrize(
    ("typed", "exported"),
    [("\r=1+1", "\\r=1+1"), (" =cmd|' /C calc'!A0", "' =cmd|' /C calc'!A0")],
)
def test_a_pid_typed_into_the_url_exports_as_one_inert_csv_row(
    dashboard_dir, monkeypatch, capsys, typed, exported
):
    """Issue 9: a coach types a formula as ?pid=; it is logged as denied, and the CSV export
    of the log keeps it in its own row, as text a spreadsheet will not run."""
    at = open_app(dashboard_dir, monkeypatch, "coach", "person", pid=typed)
    assert NOT_IN_CASELOAD_TEXT in " ".join(errors(at))
    assert events_for(dashboard_dir, pid=typed)[-1].outcome == "denied"

    assert (
        cli.main(["audit", "--data-dir", str(dashboard_dir), "--pid", typed, "--format", "csv"])
        == 0
    )
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 1 + len(events_for(dashboard_dir, pid=typed))
    [*_, row] = csv.reader(io.StringIO(out))
    assert (row[4], row[5]) == (exported, "denied")


def test_the_audit_log_stays_outside_the_published_snapshot(dashboard_dir):
    published = dashboard_dir / "published"
    assert audit.log_path(dashboard_dir).exists()
    assert published not in audit.log_path(dashboard_dir).parents
    assert published not in UserStore.at(dashboard_dir).path.parents


# --- the data-access layer, called directly ------------------------------------------------------


@pytest.fixture
def data_env(dashboard_dir, monkeypatch) -> Path:
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(dashboard_dir))
    return dashboard_dir


def viewer(role: str, coach_id: str | None = None) -> User:
    return User(username=f"test-{role}", role=role, coach_id=coach_id)


@pytest.mark.parametrize("page", ALL_PAGES)
@pytest.mark.parametrize("role", sorted(ROLE_PAGES))
def test_authorise_follows_the_role_table(data_env, role, page):
    someone = viewer(role, "C-01" if role == "coach" else None)
    if page in ROLE_PAGES[role]:
        assert access.authorise(someone, page) is someone
    else:
        with pytest.raises(access.AccessDenied, match="not available"):
            access.authorise(someone, page)


@pytest.mark.parametrize("page", ALL_PAGES)
def test_authorise_refuses_anonymous_and_unknown_roles(data_env, page):
    with pytest.raises(access.AccessDenied, match="Log in"):
        access.authorise(None, page)
    with pytest.raises(access.AccessDenied):
        access.authorise(viewer("administrator"), page)


def test_authorise_person_for_program_managers(data_env):
    manager = viewer("program_manager")
    for pid in pids_of(data_env)[:3]:
        assert access.authorise_person(manager, pid)["pid"] == pid
    assert access.authorise_person(manager, "p_doesnotexist0") is None


def test_authorise_person_for_coaches(data_env):
    coach_id = coach_id_of(data_env, "coach")
    coach = viewer("coach", coach_id)
    for pid in pids_of(data_env, "coach_id = ?", [coach_id]):
        assert access.authorise_person(coach, pid)["coach_id"] == coach_id

    refusals = set()
    for pid in [foreign_pid(data_env), "p_doesnotexist0", "", "' or 1=1 --", "%"]:
        with pytest.raises(access.AccessDenied) as denied:
            access.authorise_person(coach, pid)
        refusals.add(str(denied.value))
    # another coach's participant and a pid that does not exist: indistinguishable
    assert refusals == {access.NOT_IN_CASELOAD}


def test_authorise_person_refuses_analysts_and_anonymous(data_env):
    pid = pids_of(data_env)[0]
    with pytest.raises(access.AccessDenied, match="not available"):
        access.authorise_person(viewer("analyst"), pid)
    with pytest.raises(access.AccessDenied, match="Log in"):
        access.authorise_person(None, pid)


def test_query_values_are_bound_not_spliced(data_env):
    """A pid that would be SQL if spliced in finds nobody (and fails nobody)."""
    manager = viewer("program_manager")
    for pid in ["' or 1=1 --", "x' union select * from marts.participants --", "%", "*"]:
        assert access.authorise_person(manager, pid) is None


def query_modules() -> list[ModuleType]:
    """Every module of `dashboards.queries`, found by walking the package: a new one included."""
    return [
        importlib.import_module(found.name)
        for found in pkgutil.walk_packages(dashboards.queries.__path__, "dashboards.queries.")
    ]


def viewer_functions(module: ModuleType) -> list[tuple[str, Callable]]:
    """The module's own public functions (cached or not) whose first parameter is `viewer`."""
    return [
        (name, function)
        for name, function in vars(module).items()
        if not name.startswith("_")
        and callable(function)
        and not inspect.isclass(function)
        and getattr(function, "__module__", None) == module.__name__
        and next(iter(inspect.signature(function).parameters), None) == "viewer"
    ]


def public_viewer_functions() -> list[tuple[str, Callable]]:
    return [pair for module in query_modules() for pair in viewer_functions(module)]


# The checks of dashboards.access itself, with the pages each guards (authorise: the one it is
# asked about). A new function there that takes a viewer fails the walk until it is named here.
ACCESS_CHECKS = {"authorise": ALL_PAGES, "authorise_person": ("person",)}


def guarded_reads() -> list[tuple[str, Callable, str | None]]:
    """(name, function, page) for every function that takes a viewer in dashboards.access,
    dashboards.snapshot and every module of dashboards.queries. A queries module says which
    page its reads serve in `PAGE` (None: every logged-in role); without it the walk fails."""
    found = []
    for module in [access, published, *query_modules()]:
        for name, function in viewer_functions(module):
            where = f"{module.__name__}.{name}"
            if module is access:
                assert name in ACCESS_CHECKS, f"{where} takes a viewer: add it to ACCESS_CHECKS"
                pages = ACCESS_CHECKS[name]
            else:
                assert hasattr(module, "PAGE"), (
                    f"{where} takes a viewer, but {module.__name__} declares no PAGE "
                    "(the page whose roles may read it; None for every logged-in role)"
                )
                pages = (module.PAGE,)
            found.extend((where, function, page) for page in pages)
    return found


def call_with(function, someone: User | None, pid: str, page: str | None = None, **given):
    arguments = {}
    for name, parameter in list(inspect.signature(function).parameters.items())[1:]:
        if name == "pid":
            arguments[name] = pid
        elif name == "page":
            arguments[name] = page
        elif name in given:
            arguments[name] = given[name]
        elif parameter.default is inspect.Parameter.empty:
            arguments[name] = None
    return function(someone, **arguments)


def refused_viewers(page: str | None) -> list[User | None]:
    """Anonymous, and each role the issue's table does not give `page` (every role may read
    what serves every page); an unknown role too, for a page's reads."""
    if page is None:
        return [None]
    return [
        None,
        *(viewer(role, "C-01") for role in sorted(ROLE_PAGES) if page not in ROLE_PAGES[role]),
        viewer("administrator"),
    ]


@pytest.fixture
def unreadable_data_dir(tmp_path, monkeypatch) -> Path:
    """A data dir whose snapshot and identities file are not what they claim: any read of
    them raises, so a query that reads before it refuses fails the test instead of refusing."""
    (tmp_path / "published").mkdir()
    (tmp_path / "published" / "current.duckdb").write_bytes(b"not a duckdb file")
    (tmp_path / "access").mkdir()
    (tmp_path / "access" / "identities.json").write_text("{ not json")
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(tmp_path))
    return tmp_path


# Public functions of dashboards.queries that take no viewer, and why none of them reads.
NO_VIEWER_NEEDED = {
    "dashboards.queries.caseload.search_caseload": "pure: filters rows the caller already has",
}


def test_every_public_function_of_the_queries_package_takes_the_viewer():
    """A public function there without a viewer would be a read nobody authorises (the walk
    below only sees functions that take one): each is private or named, with its reason."""
    unchecked = [
        f"{module.__name__}.{name}"
        for module in query_modules()
        for name, function in vars(module).items()
        if not name.startswith("_")
        and inspect.isfunction(function)
        and function.__module__ == module.__name__
        and next(iter(inspect.signature(function).parameters), None) != "viewer"
    ]
    assert sorted(unchecked) == sorted(NO_VIEWER_NEEDED)


def test_only_the_queries_package_opens_the_snapshot_or_the_identities():
    """Pages, charts, the report and the session lay out what dashboards.queries returns: none
    of them connects to DuckDB, uses the snapshot's readers, reads the identities file or
    imports a private helper of the queries package."""
    import ast

    readers = {
        ("dashboards.snapshot", "read_sql"),
        ("dashboards.snapshot", "Reader"),
        ("pipelines.lib.identities", "read_identities"),
        ("duckdb", "connect"),
    }
    root = Path(dashboards.queries.__file__).parents[1]
    inside = ("dashboards/queries/", "dashboards/access.py", "dashboards/snapshot.py")
    found = []
    for source in sorted(root.rglob("*.py")):
        relative = source.relative_to(root.parent).as_posix()
        if relative.startswith(inside):
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found += [
                    f"{relative}: {node.module}.{alias.name}"
                    for alias in node.names
                    if (node.module, alias.name) in readers
                    or (node.module.startswith("dashboards.queries") and alias.name.startswith("_"))
                ]
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and (node.value.id, node.attr) in {("duckdb", "connect"), ("snapshot", "read_sql")}
            ):
                found.append(f"{relative}: {node.value.id}.{node.attr}")
    assert found == []


def test_every_public_query_refuses_the_wrong_viewer_before_reading(unreadable_data_dir):
    """Walks access, snapshot and the whole `dashboards.queries` package: every function that
    takes a viewer refuses anonymous viewers and every role its page is not for — with
    AccessDenied, before it reads the snapshot or the identities file, reveals an identity or
    writes the audit log. A query added later without a check fails here."""
    reads = guarded_reads()
    names = {name.rsplit(".", 1)[-1] for name, _, _ in reads}
    assert {
        "authorise",
        "authorise_person",
        "program_rules",
        "cohort_scope",
        "cohort_headline",
        "cohort_effects",
        "caseload",
        "caseload_identities",
        "people",
        "person",
        "person_panels",
        "person_days",
        "person_weeks",
        "person_identity",
        "run_history",
        "source_files_by_source",
        "coverage_by_week",
        "risk_decision",
        "early_warning_decision",
        "early_warning_calibration",
        "digest_deliveries",
    } <= names
    assert {module.__name__ for module in query_modules()} >= {
        f"dashboards.queries.{page}" for page in ("cohort", "caseload", "person", "data_health")
    }
    answered = []
    for name, function, page in reads:
        for someone in refused_viewers(page):
            revealed: set = set()
            try:
                call_with(function, someone, "p_0123456789abcdef", page, revealed=revealed)
            except access.AccessDenied as denied:
                if someone is None:
                    assert "Log in" in str(denied), name
                assert not revealed, name
                continue
            except Exception as error:  # a read before the check lands here
                answered.append((name, page, someone and someone.role, repr(error)[:80]))
                continue
            answered.append((name, page, someone and someone.role, "answered"))
    assert answered == []
    assert audit.read(unreadable_data_dir) == []


def test_every_per_person_query_refuses_another_coachs_pid_and_analysts(data_env):
    per_person = [
        (name, function)
        for name, function in public_viewer_functions()
        if "pid" in inspect.signature(function).parameters
    ]
    assert len(per_person) >= 4
    coach = viewer("coach", coach_id_of(data_env, "coach"))
    pid = foreign_pid(data_env)
    answered = []
    for name, function in per_person:
        for someone, refusal in [
            (coach, access.NOT_IN_CASELOAD),
            (viewer("analyst"), "not available"),
        ]:
            try:
                call_with(function, someone, pid)
            except access.AccessDenied as denied:
                if refusal in str(denied):
                    continue
            answered.append((name, someone.role))
    assert answered == []


# --- single sign-on (optional OIDC) --------------------------------------------------------------

AUTH_SECRETS = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "test-cookie-secret",
        "client_id": "steadyback",
        "client_secret": "test-client-secret",
        "server_metadata_url": "https://idp.example.invalid/.well-known/openid-configuration",
    }
}


def sso_app(data_dir: Path, monkeypatch, user: dict | None = None) -> AppTest:
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(data_dir))
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets = AUTH_SECRETS
    if user is not None:
        at.user = user
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_without_sso_configured_nothing_changes(dashboard_dir, monkeypatch):
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(dashboard_dir))
    UserStore.at(dashboard_dir).add("sso.pm@example.org", "program_manager", PASSWORD, replace=True)
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {"is_logged_in": True, "email": "sso.pm@example.org", "email_verified": True}
    at.run()

    assert login_form_shown(at)
    assert [b.label for b in at.button] == ["Log in"]


def test_sso_button_shows_when_configured_and_fails_clearly_without_a_provider(
    dashboard_dir, monkeypatch
):
    at = sso_app(dashboard_dir, monkeypatch)
    assert login_form_shown(at)
    assert [b.label for b in at.button] == ["Log in", session.SSO_BUTTON]

    next(b for b in at.button if b.label == session.SSO_BUTTON).click().run()
    assert not at.exception
    assert any("Single sign-on is not set up correctly" in e for e in errors(at))


@pytest.mark.parametrize("email", ["sso.pm@example.org", "SSO.PM@Example.org"])
def test_an_sso_user_gets_the_role_of_their_users_file_entry(
    dashboard_dir, monkeypatch, navigation, email
):
    UserStore.at(dashboard_dir).add("sso.pm@example.org", "program_manager", PASSWORD, replace=True)
    before = len(events_for(dashboard_dir, user="sso.pm@example.org", outcome="login"))

    at = sso_app(
        dashboard_dir, monkeypatch, {"is_logged_in": True, "email": email, "email_verified": True}
    )

    assert not login_form_shown(at)
    assert listed_pages(navigation[-1]) == ROLE_PAGES["program_manager"]
    assert "sso.pm@example.org" in " ".join(c.value for c in at.sidebar.caption)
    new = events_for(dashboard_dir, user="sso.pm@example.org", outcome="login")[before:]
    assert [(e.role, e.page) for e in new] == [("program_manager", "login-sso")]

    next(b for b in at.sidebar.button if b.label == "Log out").click().run()
    assert not at.exception
    assert login_form_shown(at)  # logged out of single sign-on too, not straight back in


@pytest.mark.parametrize(
    "user",
    [
        {"is_logged_in": True, "email": "stranger@example.org"},
        {"is_logged_in": True, "email": "sso.pm@example.org", "email_verified": False},
        {"is_logged_in": True, "email": "sso.pm@example.org"},  # no claim: not vouched for
        {"is_logged_in": True},
    ],
)
def test_an_sso_user_not_in_the_users_file_gets_no_access(
    dashboard_dir, monkeypatch, navigation, user
):
    UserStore.at(dashboard_dir).add("sso.pm@example.org", "program_manager", PASSWORD, replace=True)
    at = sso_app(dashboard_dir, monkeypatch, user)

    assert len(errors(at)) == 1 and errors(at)[0].startswith("No steadyback access for")
    if user.get("email"):
        assert user["email"] in errors(at)[0]
    assert not login_form_shown(at)
    assert listed_pages(navigation[-1]) == set()
    at.switch_page(PAGES["cohort"]).run()
    assert not data_elements(at)
    assert any(b.label == "Log out of single sign-on" for b in at.button)
