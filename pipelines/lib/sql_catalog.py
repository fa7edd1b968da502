"""The SQL models under `sql/`: one file = one table, with its lineage and checks.

`sql/<schema>/<name>.sql` holds one `select` that builds `<schema>.<name>`.
Its upstream tables are the `schema.table` names it mentions. Header comments
declare column tests, which become Dagster asset checks:

    -- @unique: pid, day                         one row per key
    -- @not_null: pid, day, day_state
    -- @accepted_values: day_state = done, missed, unknown
    -- @range: adherence = 0..1

`sql/checks/<table>__<check>.sql` holds a custom check: a query returning the
offending rows (none = pass). Its header names the table (`-- @table:
marts.participant_day`). Every check blocks publication unless the file says
`-- @severity: warn`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
SQL_SCHEMAS = ("staging", "marts")
UPSTREAM_SCHEMAS = ("raw", *SQL_SCHEMAS)
_REFERENCE = re.compile(r"\b(" + "|".join(UPSTREAM_SCHEMAS) + r")\.([a-z_][a-z0-9_]*)\b")
_ANNOTATION = re.compile(r"^--\s*@(\w+):\s*(.+?)\s*$", re.MULTILINE)
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Check:
    """A query over one table that returns the rows breaking a rule."""

    table: str
    name: str
    description: str
    sql: str
    blocking: bool = True


@dataclass(frozen=True)
class SqlTable:
    schema: str
    name: str
    path: Path
    sql: str
    description: str
    upstream: tuple[str, ...]  # qualified names, e.g. staging.app__sessions

    @property
    def table(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def asset_key(self) -> list[str]:
        return [self.schema, self.name]


def _idents(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if not _IDENT.match(name):
            raise ValueError(f"not a column name: {name!r}")
    return names


def _column_checks(model: SqlTable) -> list[Check]:
    table = model.table
    checks: list[Check] = []
    for tag, body in _ANNOTATION.findall(model.sql):
        if tag == "unique":
            cols = _idents(body)
            key = ", ".join(cols)
            checks.append(
                Check(
                    table,
                    "unique_" + "_".join(cols),
                    f"one row per {key}",
                    f"select {key}, count(*) as copies from {table} group by all having count(*) > 1",
                )
            )
        elif tag == "not_null":
            for col in _idents(body):
                checks.append(
                    Check(
                        table,
                        f"not_null_{col}",
                        f"{col} is never null",
                        f"select * from {table} where {col} is null",
                    )
                )
        elif tag == "accepted_values":
            col, _, values = body.partition("=")
            (col,) = _idents(col)
            allowed = [v.strip() for v in values.split(",") if v.strip()]
            quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in allowed)
            checks.append(
                Check(
                    table,
                    f"accepted_values_{col}",
                    f"{col} is one of {', '.join(allowed)}",
                    f"select * from {table} where {col} not in ({quoted})",
                )
            )
        elif tag == "range":
            col, _, bounds = body.partition("=")
            (col,) = _idents(col)
            low, _, high = bounds.strip().partition("..")
            float(low), float(high)  # annotations are code: fail loudly on a typo
            checks.append(
                Check(
                    table,
                    f"range_{col}",
                    f"{col} lies within {low}–{high}",
                    f"select * from {table} where {col} < {float(low)!r} or {col} > {float(high)!r}",
                )
            )
    return checks


def _custom_checks(sql_dir: Path) -> list[Check]:
    checks = []
    for path in sorted((sql_dir / "checks").glob("*.sql")):
        sql = path.read_text()
        tags = dict(_ANNOTATION.findall(sql))
        if "table" not in tags:
            raise ValueError(f"{path}: a custom check needs a '-- @table: schema.name' line")
        checks.append(
            Check(
                table=tags["table"],
                name=path.stem.split("__", 1)[-1],
                description=_description(sql),
                sql=sql,
                blocking=tags.get("severity", "error") != "warn",
            )
        )
    return checks


def _description(sql: str) -> str:
    for line in sql.splitlines():
        text = line.strip()
        if text.startswith("--") and not text.lstrip("- ").startswith("@"):
            return text.lstrip("- ").strip()
    return ""


@cache
def load_sql_tables(sql_dir: Path = SQL_DIR) -> tuple[SqlTable, ...]:
    """All SQL models in build order (every table after the ones it reads)."""
    found: dict[str, SqlTable] = {}
    for schema in SQL_SCHEMAS:
        for path in sorted((sql_dir / schema).glob("*.sql")):
            sql = path.read_text()
            table = f"{schema}.{path.stem}"
            refs = sorted({f"{s}.{t}" for s, t in _REFERENCE.findall(sql)} - {table})
            found[table] = SqlTable(schema, path.stem, path, sql, _description(sql), tuple(refs))
    graph = {
        table: [ref for ref in model.upstream if ref in found] for table, model in found.items()
    }
    order = TopologicalSorter(graph).static_order()
    return tuple(found[t] for t in order)


@cache
def load_checks(sql_dir: Path = SQL_DIR) -> tuple[Check, ...]:
    checks = [c for m in load_sql_tables(sql_dir) for c in _column_checks(m)]
    checks += _custom_checks(sql_dir)
    tables = {m.table for m in load_sql_tables(sql_dir)}
    unknown = [c for c in checks if c.table not in tables]
    if unknown:
        raise ValueError(f"checks on tables that no SQL file builds: {unknown}")
    return tuple(checks)
