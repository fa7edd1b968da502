"""No emoji anywhere the dashboards draw: icons are Material Symbols, which Streamlit ships.

Why: an emoji needs an emoji font on the viewer's machine; where none is installed (this
server's Chromium has none, nor have many locked-down clinic PCs) every status icon and
page icon was an empty box. Icons come from `dashboards.icons` (`:material/…:`); plain
typographic characters (→ × – ≥ · …) stay, they are in every text font.

What counts as an emoji is Unicode's own definition, not a hand-kept list: a character
with the Extended_Pictographic or Emoji_Presentation property (Unicode emoji-data.txt),
or the emoji presentation selector U+FE0F — matched with the Unicode tables of the regex
engine inside Polars (Rust `regex`), since Python's `re` has no property classes.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from google.protobuf.message import Message
from page_harness import PAGES, USERS, caseload_pids, first_coach, open_app, query
from streamlit.string_util import validate_material_icon

from dashboards import icons

pytestmark = pytest.mark.pipeline

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
EMOJI = r"[\p{Extended_Pictographic}\p{Emoji_Presentation}\x{FE0F}]"

# What the pages showed before: each is caught by the definition.
FORMER_EMOJI = "🧘 👥 📋 🧍 🩺 🔒 📭 🔎 🪪 🚫 📏 🔑 🗂️ 🗃️ ⚠️ ✅ ❌ ⛔ ⏳ 🕒 🔴 🟠 🔵".split()
# What the pages show and may keep: none is caught.
TYPOGRAPHIC = list("→←↑↓×–—−≥≤≈≠·•…“”‘’%°")


def emoji_in(texts: list[str]) -> list[tuple[str, str]]:
    """(emoji, the text it is in) for every text holding an emoji."""
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String})
    found = frame.filter(pl.col("text").str.contains(EMOJI)).with_columns(
        pl.col("text").str.extract_all(EMOJI).list.join("").alias("emoji")
    )
    return [(row["emoji"], row["text"][:120]) for row in found.iter_rows(named=True)]


def test_the_definition_catches_every_emoji_we_used_and_no_typography():
    assert [emoji for emoji, _ in emoji_in(FORMER_EMOJI)] == FORMER_EMOJI
    assert emoji_in(TYPOGRAPHIC) == []
    assert emoji_in(["Rows landed → raw/ · fewer than 5 people · ≥ 72.5 %"]) == []


def test_no_emoji_in_the_dashboard_sources():
    """Every string a page, the sidebar, the login form or the report renders is in here."""
    files = sorted(
        path for path in DASHBOARDS.rglob("*") if path.suffix in (".py", ".toml", ".css", ".html")
    )
    assert len(files) > 10
    lines = [
        f"{path.relative_to(DASHBOARDS)}:{number}: {line}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
    ]
    assert emoji_in(lines) == []


def test_every_icon_is_a_material_symbol():
    names = [
        value for name, value in vars(icons).items() if name.isupper() and isinstance(value, str)
    ]
    names += [*icons.PAGES.values(), *icons.RUN_STATUS.values(), *icons.SEVERITY.values()]
    assert len(set(names)) >= 20
    for name in set(names):
        assert name.startswith(":material/"), name
        assert validate_material_icon(name) == name


# --- what the pages send to the browser --------------------------------------------------


def _strings(message: Message) -> list[str]:
    """Every string in a protobuf message, and in the JSON some of them hold (Plotly figures,
    column configs), whose non-ASCII may be written as \\u escapes."""
    found: list[str] = []
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        for item in values:
            if isinstance(item, Message):
                found += _strings(item)
            elif isinstance(item, str):
                found.append(item)
                if item[:1] in "{[":
                    try:
                        found += _json_strings(json.loads(item))
                    except ValueError:
                        pass
    return found


def _json_strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [key, *_json_strings(item)]]
    if isinstance(value, list):
        return [s for item in value for s in _json_strings(item)]
    return []


def rendered_strings(at) -> list[str]:
    """Every string the page sent: element protos, table cells, downloads."""

    def nodes(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from nodes(child)

    protos = [getattr(node, "proto", None) for node in nodes(at._tree)]
    texts = [s for proto in protos if isinstance(proto, Message) for s in _strings(proto)]
    for table in at.dataframe:
        frame = table.value
        texts += [str(column) for column in frame.columns]
        for column in frame.columns:
            texts += [str(cell) for cell in frame[column].tolist() if cell is not None]
    return texts


def a_person_for(role: str, data_dir: Path) -> str | None:
    """A pid the role may open (a coach's own person), or None for a coach without people."""
    coach = USERS[role][2]
    if coach is None:
        return query(data_dir, "select min(pid) from marts.participants")[0][0]
    pids = caseload_pids(data_dir, first_coach(data_dir) if coach == "first" else coach)
    return min(pids) if pids else None


@pytest.mark.parametrize("role", list(USERS))
def test_no_emoji_on_any_page_for_any_role(dashboard_dir, monkeypatch, downloads, role):
    seen: list[str] = []
    for page in PAGES:
        pid = a_person_for(role, dashboard_dir) if page == "person" else None
        at = open_app(dashboard_dir, monkeypatch, role, page, **({"pid": pid} if pid else {}))
        assert not at.exception, [e.value for e in at.exception]
        texts = rendered_strings(at)
        assert texts, page
        seen += [f"{page}: {text}" for text in texts]
    seen += [download.data.decode("utf-8", errors="replace") for download in downloads]
    assert emoji_in(seen) == []
