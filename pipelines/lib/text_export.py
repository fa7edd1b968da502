"""Values that leave steadyback as text — a terminal table, a CSV, a JSON line — kept inert.

Some values are whatever someone typed: a pid in a URL, a username in the login
form. Written out as they are, a line break forges another row or line, an escape
sequence rewrites the reader's terminal, and `=…` in a CSV cell is a formula a
spreadsheet runs. So:

- `spreadsheet_cell` (tables and CSV): every character that is not printable —
  control characters such as CR, LF, tab and ESC, the Unicode line and paragraph
  separators, bidirectional overrides — is written as its Python escape (`\\r`,
  `\\u2028`), so a value is always one line; and a value whose first non-space
  character could start a formula (`= + - @`, tab, CR) gets a leading `'`, which
  spreadsheets show as text. Printable values, accents and commas included, are
  unchanged (CSV quoting is the csv module's), so legitimate values — times,
  usernames, pids, pages — read back exactly.
- `json_line` (JSON lines): the same characters as JSON `\\u` escapes, so a JSON
  parser gives back the exact value, and no line splitter or terminal sees a raw
  line break. No quote prefix: the values are data, not cells.
"""

from __future__ import annotations

import json
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters (after spaces) that make a spreadsheet cell a formula or split it."""


def one_line(value: str) -> str:
    """`value` with every non-printable character written as its escape (`\\n`, `\\x1b`)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)


def spreadsheet_cell(value: str) -> str:
    """`value` as one line of text that a spreadsheet shows as text, never runs."""
    text = one_line(value)
    if text.lstrip(" ")[:1] in FORMULA_STARTS:
        return "'" + text
    return text


def json_line(document: dict[str, Any]) -> str:
    """`document` as one JSON line (no newline at the end); non-ASCII letters kept readable."""
    text = json.dumps(document, ensure_ascii=False)
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in text)
