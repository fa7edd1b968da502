"""Which worker of `pytest -n --dist loadgroup` (`make test`) runs which tests, and in what order.

tests/conftest.py gives every test an `xdist_group`: the costly session fixture it uses, else
its module. pytest-xdist's own loadgroup scheduler reads a test's group from a suffix its
workers add to the node id, but from pytest 9 on that suffix never reaches it (the node id is
no longer read from the attribute xdist writes), so every group was split across the workers
and each of them built every shared fixture. Here each worker writes, as it finishes
collecting, every test's group and expected duration to a folder the controller named; the
scheduler reads them, sends a whole group to one worker, and hands out the longest groups
first, so that the workers finish together. A test's expected duration is its last one (the
pytest cache, `steadyback/durations`), else an estimate from its markers and fixtures.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

DURATIONS_KEY = "steadyback/durations"
WORKER_INPUT_KEY = "steadyback_work_groups"

# Seconds, when the cache has no duration for a test (estimates_s).
RUNS_THE_PIPELINE_S = 40.0
BROWSER_S = 8.0
OTHER_S = 0.5
FIXTURE_ESTIMATE_S = {
    "daemon_run": 90.0,
    "demo_cohort": 120.0,
    "minute_cohort": 40.0,
    "dask_cluster": 60.0,
}

_groups_dir = pytest.StashKey[Path]()


def group_of(item: pytest.Item) -> str:
    """The item's `xdist_group` names, joined as xdist joins them; in none, it is its own group."""
    names = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }
    return "_".join(sorted(names)) if names else item.nodeid


def marked(holder, name: str) -> bool:
    marks = getattr(holder, "pytestmark", [])
    return any(mark.name == name for mark in (marks if isinstance(marks, list) else [marks]))


def estimates_s(items: list[pytest.Item]) -> dict[str, float]:
    """node id → expected seconds. A test marked `pipeline` where it is written runs the
    pipeline; a module marked so, once (a module fixture); each costly fixture once a group."""
    expected = {}
    charged: set[tuple[str, str]] = set()
    for item in items:
        seconds = BROWSER_S if item.get_closest_marker("browser") else OTHER_S
        if marked(getattr(item, "function", None), "pipeline"):
            seconds += RUNS_THE_PIPELINE_S
        elif marked(item.module, "pipeline") and (item.module.__name__, "") not in charged:
            charged.add((item.module.__name__, ""))
            seconds += RUNS_THE_PIPELINE_S
        for name in getattr(item, "fixturenames", ()):
            if name in FIXTURE_ESTIMATE_S and (group_of(item), name) not in charged:
                charged.add((group_of(item), name))
                seconds += FIXTURE_ESTIMATE_S[name]
        expected[item.nodeid] = seconds
    return expected


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    config.pluginmanager.register(DurationRecorder(config), "steadyback-durations")
    xdist = config.pluginmanager.hasplugin("xdist")
    if xdist and config.getvalue("dist") == "loadgroup" and config.getvalue("numprocesses"):
        config.stash[_groups_dir] = Path(tempfile.mkdtemp(prefix="steadyback-groups-"))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _groups_dir in config.stash:
        shutil.rmtree(config.stash[_groups_dir], ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """The controller tells each worker where to write its groups."""
    if _groups_dir in node.config.stash:
        node.workerinput[WORKER_INPUT_KEY] = str(node.config.stash[_groups_dir])


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A worker writes {node id: [group, expected seconds]} before it reports its collection."""
    folder = getattr(config, "workerinput", {}).get(WORKER_INPUT_KEY)
    if folder is None:
        return
    expected = estimates_s(items)
    groups = {item.nodeid: [group_of(item), expected[item.nodeid]] for item in items}
    target = Path(folder) / f"{config.workerinput['workerid']}.json"
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(groups))
    os.replace(partial, target)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if _groups_dir not in config.stash:
        return None
    return GroupScheduling(config, log, config.stash[_groups_dir])


class GroupScheduling(LoadScopeScheduling):
    """xdist's load-by-scope scheduling, the scope being the group the workers wrote down, and
    the longest groups first (the longest-processing-time rule)."""

    def __init__(self, config: pytest.Config, log, groups_dir: Path) -> None:
        super().__init__(config, log)
        self.groups_dir = groups_dir
        self.groups: dict[str, str] | None = None
        self.expected_s: dict[str, float] = {}
        self.ordered = False

    def _read_groups(self) -> dict[str, str]:
        if self.groups is None:
            self.groups = {}
            for path in sorted(self.groups_dir.glob("*.json")):
                for nodeid, (group, expected) in json.loads(path.read_text()).items():
                    self.groups[nodeid] = group
                    self.expected_s[nodeid] = expected
        return self.groups

    def _split_scope(self, nodeid: str) -> str:
        return self._read_groups().get(nodeid, nodeid)

    def _assign_work_unit(self, node) -> None:
        if not self.ordered:  # the queue is complete when the first unit is handed out
            self.ordered = True
            seconds = {**self.expected_s, **recorded_durations(self.config)}
            self.workqueue = OrderedDict(
                sorted(
                    self.workqueue.items(),
                    key=lambda unit: -sum(seconds.get(n, OTHER_S) for n in unit[1]),
                )
            )
            self.log("groups, longest first:", list(self.workqueue)[:8])
        super()._assign_work_unit(node)


class DurationRecorder:
    """Each test's time (setup, call and teardown), kept in the cache for the next run's order."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration

    def pytest_sessionfinish(self) -> None:
        cache = getattr(self.config, "cache", None)
        if cache is not None and self.seconds:
            cache.set(DURATIONS_KEY, {**cache.get(DURATIONS_KEY, {}), **self.seconds})


def recorded_durations(config: pytest.Config) -> dict[str, float]:
    cache = getattr(config, "cache", None)
    return cache.get(DURATIONS_KEY, {}) if cache is not None else {}
