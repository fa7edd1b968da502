"""Dashboard users added from separate processes at one moment (the users file's lock test).

Its own small module: a spawned process imports the module of the function it runs, and this
one imports only the users file's code, not the test module's heavier imports.
"""

from __future__ import annotations

from pipelines.lib.users import UserStore


def add_when_all_are_ready(data_dir: str, username: str, password: str, ready) -> None:
    """Add `username` once every process has started (`ready`: a multiprocessing Barrier)."""
    store = UserStore.at(data_dir)
    ready.wait(timeout=120)
    store.add(username, "analyst", password)
