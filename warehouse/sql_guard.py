"""Making an analyst's SQL connection read-only in fact: no files, no attached databases, no extensions.

Why: a read-only *database* still lets SQL write and read files (``COPY ... TO``, ``EXPORT DATABASE``,
``read_csv('/etc/passwd')``), attach other databases and download extensions. ``newswatch sql`` is handed
queries from notebooks, dashboards and web forms, so its connection gives all of that up for good: with
``enable_external_access = false`` and the configuration locked, no later ``SET`` can take it back. Files
are written by ``newswatch export`` instead (``warehouse/export.py``), which runs the query on such a
connection and writes only the file it was asked for.
"""

from __future__ import annotations

import duckdb

from newswatch.errors import FatalError

_SEALING = (
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET lock_configuration = true",  # last: nothing above can be changed back
)

REFUSAL_HINT = ("`newswatch sql` is read-only: it cannot read or write files, attach databases or install "
                "extensions (hint: to write a file, use `newswatch export \"SELECT ...\" --format parquet|csv|json "
                "--out FILE`)")


def sealed(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """``con`` with file system access, attaching and extension loading disabled for its lifetime."""
    for statement in _SEALING:
        con.execute(statement)
    return con


def query_error(e: duckdb.Error) -> FatalError:
    """The CLI's error for a failed analyst query: a refusal names the way out, other errors their first line."""
    first = str(e).split("\n")[0]
    if isinstance(e, duckdb.PermissionException) or "the configuration has been locked" in first:
        return FatalError("sql_read_only", f"{first}. {REFUSAL_HINT}")
    return FatalError("bad_query", first)
