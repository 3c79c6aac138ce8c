"""The schema that ``migrate()`` builds, held against a checked-in snapshot.

Why: a shipped migration must never change, and the schema must change only through a new migration. The
snapshot records every table column, view, macro, constraint and index of a database built from nothing,
plus each migration's source digest, so editing a shipped migration (even its SQL's whitespace) or adding
one without updating the snapshot fails here. After adding a migration, refresh it with
``make schema-snapshot`` and review the diff.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from warehouse import migrations  # noqa: E402

SNAPSHOT = Path(__file__).parent / "fixtures" / "schema_snapshot.txt"

_CATALOG = {
    "column": "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns "
              "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position",
    "view": "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal ORDER BY view_name",
    "macro": "SELECT function_name, macro_definition FROM duckdb_functions() "
             "WHERE NOT internal AND function_type LIKE '%macro%' ORDER BY function_name, macro_definition",
    "constraint": "SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints() "
                  "ORDER BY table_name, constraint_text",
    "index": "SELECT index_name, table_name, sql FROM duckdb_indexes() ORDER BY index_name",
}


def schema_snapshot() -> str:
    """The snapshot text of a database built from nothing by ``migrate()``."""
    con = duckdb.connect(":memory:")
    applied = migrations.migrate(con)
    lines = []
    for mig in migrations.migrations():
        module = sys.modules[f"{migrations.__name__}.m{mig.name}"]
        digest = hashlib.sha256(inspect.getsource(module).encode()).hexdigest()
        lines.append(f"migration\t{mig.name}\t{digest}")
    assert applied == [m.name for m in migrations.migrations()]
    for kind, sql in _CATALOG.items():
        for row in con.execute(sql).fetchall():
            lines.append(kind + "\t" + "\t".join(" ".join(str(v).split()) for v in row))
    return "\n".join(lines) + "\n"


def test_the_schema_migrate_builds_matches_the_snapshot():
    expected = SNAPSHOT.read_text(encoding="utf-8")
    actual = schema_snapshot()
    assert actual == expected, (
        "the schema or a shipped migration changed: a shipped migration must never be edited; after adding a "
        "new one, run `make schema-snapshot` and review the diff"
    )


def test_a_second_migrate_applies_nothing():
    con = duckdb.connect(":memory:")
    migrations.migrate(con)
    assert migrations.migrate(con) == []


def test_no_migration_imports_newswatch_code():
    for mig in migrations.migrations():
        source = inspect.getsource(sys.modules[f"{migrations.__name__}.m{mig.name}"])
        for line in source.splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                assert words[1].split(".")[0] not in {"newswatch", "warehouse", "extract", "transform", "flows"}, line


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        SNAPSHOT.write_text(schema_snapshot(), encoding="utf-8")
        print(f"wrote {SNAPSHOT.relative_to(ROOT)}")
    else:
        sys.exit("usage: python tests/test_schema_snapshot.py --update")
