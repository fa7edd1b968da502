"""`make test`'s scheduling (tests/work_groups.py), in a small suite run with two real workers.

A group's tests must all run in one worker, so that the costly session fixture they share is
built once; and the groups expected to take longest must be handed out first, so that the two
workers finish together. With pytest 9, xdist's own loadgroup scheduling spread every group
over both workers.
"""

from __future__ import annotations

import json
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

RECORDING_TEST = """
import os

import pytest
from pathlib import Path

pytestmark = pytest.mark.xdist_group({group!r})

@pytest.mark.parametrize("n", range({count}))
def test_{name}(n):
    with Path({log!r}).open("a") as log:
        log.write({group!r} + " " + os.environ["PYTEST_XDIST_WORKER"] + "\\n")
"""


def write_suite(pytester, groups: dict[str, int], log: Path) -> None:
    """One module per group name, its tests marked with that group (as tests/conftest.py does),
    each writing its group and worker to `log` in the order it runs."""
    pytester.makeconftest('pytest_plugins = ("work_groups",)')
    for group, count in groups.items():
        test = RECORDING_TEST.format(count=count, name=group, log=str(log), group=group)
        pytester.makepyfile(**{f"test_{group}": test})


def runs(log: Path) -> list[tuple[str, str]]:
    return [tuple(line.split()) for line in log.read_text().splitlines()]


def test_each_group_runs_in_one_worker(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    log = tmp_path / "log"
    write_suite(pytester, {"alpha": 12, "beta": 12, "gamma": 12, "delta": 12}, log)

    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup")

    result.assert_outcomes(passed=48)
    workers = {}
    for group, worker in runs(log):
        workers.setdefault(group, set()).add(worker)
    assert {g: w for g, w in workers.items() if len(w) > 1} == {}, "no group split"
    assert set().union(*workers.values()) == {"gw0", "gw1"}, "both workers had work"


def test_the_groups_that_took_longest_last_time_go_first(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    log = tmp_path / "log"
    groups = {"a_quick": 3, "b_quick": 3, "c_quick": 3, "d_slow": 3, "e_slowest": 3}
    write_suite(pytester, groups, log)
    last_time = {
        f"test_{group}.py::test_{group}[{n}]": {"d_slow": 20.0, "e_slowest": 40.0}.get(group, 0.1)
        for group, count in groups.items()
        for n in range(count)
    }
    cache = pytester.path / ".pytest_cache" / "v" / "steadyback" / "durations"
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps(last_time))

    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup")

    result.assert_outcomes(passed=15)
    first = {}
    for group, worker in runs(log):
        first.setdefault(worker, group)
    assert sorted(first.values()) == ["d_slow", "e_slowest"], "each worker began with a long group"
