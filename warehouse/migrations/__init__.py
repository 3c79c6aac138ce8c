"""Numbered migrations, each applied in one transaction together with its ``_migrations`` record.

Why: tests and production build the database through the same ``migrate()``, so they cannot drift, and a
database always knows which migrations it has. Each migration is a module of this package named
``mNNNN_what.py`` that owns its SQL as text (``SQL``) and imports nothing from the rest of newswatch, so a
later change to runtime code can never change what an old migration does. Add a migration by adding the
next module; a shipped one is never edited: ``tests/test_schema_snapshot.py`` compares the schema built here
and every migration's source digest with the checked-in snapshot.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass

import duckdb

_MODULE = re.compile(r"^m(\d{4})_([a-z0-9_]+)$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration: its recorded name (``0004_alerts_outbox``) and the SQL it runs."""

    name: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration of this package, in number order.

    Raises:
        RuntimeError: two modules share a number, or a module has no ``SQL`` text.
    """
    found: dict[str, Migration] = {}
    for info in pkgutil.iter_modules(__path__):
        m = _MODULE.match(info.name)
        if not m:
            continue
        number, what = m.groups()
        if number in found:
            raise RuntimeError(f"two migrations numbered {number}: {found[number].name} and {number}_{what}")
        sql = getattr(importlib.import_module(f"{__name__}.{info.name}"), "SQL", None)
        if not isinstance(sql, str):
            raise RuntimeError(f"migration {info.name} has no SQL text")
        found[number] = Migration(f"{number}_{what}", sql)
    return [found[n] for n in sorted(found)]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply pending migrations in order.

    Returns:
        The names of the migrations applied now (empty when the database was current).
    """
    con.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
    )
    done = {row[0] for row in con.execute("SELECT name FROM _migrations").fetchall()}
    applied: list[str] = []
    for mig in migrations():
        if mig.name in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(mig.sql)
            con.execute("INSERT INTO _migrations VALUES (?, now())", [mig.name])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(mig.name)
    return applied
