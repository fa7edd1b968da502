"""A page's functions are handed the viewer the page authorised; none reads it from the page
module's globals, so each can be called on its own (a fragment, a test) and always reads as the
viewer it was given (issue 10: "the viewer passed explicitly")."""

from __future__ import annotations

import symtable
from pathlib import Path

import pytest

APP_PAGES = sorted((Path(__file__).resolve().parents[2] / "dashboards" / "app_pages").glob("*.py"))


def functions(table: symtable.SymbolTable):
    for child in table.get_children():
        if child.get_type() == "function":
            yield child
        yield from functions(child)


@pytest.mark.parametrize("page", APP_PAGES, ids=lambda path: path.name)
def test_no_page_function_reads_the_viewer_from_module_globals(page):
    table = symtable.symtable(page.read_text(), str(page), "exec")
    global_readers = [
        function.get_name()
        for function in functions(table)
        if any(
            symbol.get_name() == "viewer" and symbol.is_global()
            for symbol in function.get_symbols()
        )
    ]
    assert global_readers == []


def test_the_pages_are_found():
    assert {path.stem for path in APP_PAGES} >= {"cohort", "caseload", "person", "data_health"}
