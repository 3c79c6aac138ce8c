"""The analysts' lake: the warehouse published as immutable Parquet files behind a versioned manifest.

Why: copying the whole DuckDB file after every cycle costs time and disk in proportion to the archive
(a 1.8 GB copy per cycle at 300k articles, three copies on disk). Here a publication writes only what the
cycle changed, as new files that are never modified afterwards:

- append-only tables (``APPEND``): the rows whose ``lake_seq`` is above the last publication's high-water
  mark, hive-partitioned by the month of the article's time (``articles/month=2026-03/part-....parquet``);
  this month layout is also the cold layout that retention relies on (``warehouse/retention.py``);
- big tables with upserts (``LATEST``): the rows the cycle touched (stories of the new articles, entities
  of the new mentions and quotes) as a delta file with a ``lake_version`` column; readers keep the latest
  row per key;
- every other table (small, rows change in place: feeds, runs, alerts, quarantine, ...): one whole file.

A manifest (JSON) names every file of a version and carries the view and macro definitions captured from
the live catalog, so views added by later migrations appear in the lake without code here. The manifest
is written to a temporary name and ``os.replace``d into place, so a reader sees one whole version; files
are deleted only when no kept manifest (the last two, and any younger than ``KEEP_SECONDS``) names them,
and a reader that has a file open keeps reading it (Linux keeps an unlinked inode). A publication that dies half-way leaves files no
manifest names; the next publication deletes them.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from warehouse.keys import KEY_COLUMNS, lookup_keys

MANIFEST = "manifest.json"
MANIFESTS_DIR = "_manifests"
STAGING = "_staging"
CATALOG_DIR = "_catalog"
CURRENT = "current.duckdb"
FORMAT = 1
# zstd rather than DuckDB's default snappy: measured on the 1M-article bench lake, files 2-4x smaller
# (article text most) for the same write and read times.
PARQUET = "FORMAT parquet, COMPRESSION zstd"

# table -> the SQL expression of its rows' month, over the table (alias t) left-joined to its articles' times
# (alias a: ``article_id``, ``published_at``).
APPEND: dict[str, str] = {
    "articles": "t.published_at",
    "mentions": "a.published_at",
    "quotes": "a.published_at",
    "topic_matches": "coalesce(a.published_at, t.matched_at)",
    "story_links": "coalesce(a.published_at, t.linked_at)",
    "feed_items": "coalesce(a.published_at, t.first_seen_at)",
    "trend_hits": "t.published_at",
    "trend_topic_quotes": "t.published_at",
}
# Tables whose rows a cycle replaces a day at a time (the per-day trend counts): published one file per
# week of the day column, and a week's file is rewritten when any of its rows changed. Why weeks: a cycle
# touches today's rows, so it rewrites one week (a few ten thousand rows), and a year is 53 files.
REPLACED: dict[str, str] = {"trend_daily": "day", "trend_entity_daily": "day", "trend_pairs": "day"}
# table -> (key column, the keys a cycle may have changed, given the new rows' high-water marks).
LATEST: dict[str, tuple[str, str]] = {
    "stories": ("story_id", "SELECT story_id FROM articles WHERE lake_seq > $articles "
                            "UNION SELECT story_id FROM story_links WHERE lake_seq > $story_links"),
    "entities": ("entity_id", "SELECT entity_id FROM mentions WHERE lake_seq > $mentions "
                              "UNION SELECT speaker_entity_id FROM quotes WHERE lake_seq > $quotes"),
}
# Tables whose rows change in place and take a new ``lake_seq`` at every insert and update (migration 0022):
# published as deltas of the rows above the last publication's mark, keyed like ``LATEST``. Why not whole:
# ``runs`` changes every cycle and grows by one row a cycle, so a whole rewrite grows with the archive.
RENUMBERED: dict[str, tuple[str, ...]] = {
    "runs": ("run_id",), "alerts": ("alert_id",), "operator_alerts": ("alert_id",),
    "quarantine": ("stage", "item_key"),
}
# Pipeline-internal tables the analysts never read (the story fingerprints, the migration log).
INTERNAL = frozenset({"_migrations", "story_signatures", "writer_state"})
# Fold a delta table's files once it has more than this many, and a month of an append table once it has
# more than ``MONTH_FILES`` (on their own schedule, not every cycle): a month with one file per cycle would
# otherwise mean thousands of small files per query. See ``_compacted``.
COMPACT_FILES = 48
MONTH_FILES = 16
# A delta table's deltas are folded into one delta while they are smaller than this share of its base (by
# bytes), and with the base into a new base past it: the reader folds the deltas at each query, so they
# stay small next to the base (at 1M articles an eighth of ``stories`` is ~75k rows, ~30 ms to fold).
DELTA_SHARE = 0.125
# Manifests (and so versions' files) kept: the current one and the one before it, and any published within
# the last hour, so that a notebook holding a connection keeps reading its version for a while after it
# is replaced (its views re-open the files at each query). What the extra hour costs is the superseded
# copy of the small whole-table files and, after a compaction, of the folded files.
KEEP_VERSIONS = 2
KEEP_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class LakePaths:
    """The live warehouse file and the lake directory published next to it."""

    warehouse: Path
    lake: Path

    @classmethod
    def beside(cls, warehouse: str | Path, lake: str | Path | None = None) -> LakePaths:
        """The lake at ``lake``, or by default ``<warehouse without .duckdb>-lake/`` next to the file."""
        wp = Path(warehouse)
        return cls(wp, Path(lake) if lake else wp.with_name(wp.stem + "-lake"))

    @property
    def manifest(self) -> Path:
        return self.lake / MANIFEST


@dataclass(frozen=True, slots=True)
class Publication:
    """What one publication wrote: its version, the files and rows it added, and whether it compacted."""

    version: int
    files_written: int
    rows_written: int
    compacted: tuple[str, ...]
    files_deleted: int


def read_manifest(paths: LakePaths) -> dict[str, Any] | None:
    """The current manifest, or None when nothing was published yet."""
    try:
        data: dict[str, Any] = json.loads(paths.manifest.read_text())
    except FileNotFoundError:
        return None
    return data


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT internal "
                       "AND NOT temporary ORDER BY table_name").fetchall()
    return [r[0] for r in rows if r[0] not in INTERNAL]


def _catalog(con: duckdb.DuckDBPyConnection) -> tuple[list[dict[str, str]], list[str]]:
    """The live views (name, SQL) and table macros (CREATE statements), as the migrations defined them."""
    views = [{"name": n, "sql": s} for n, s in con.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal AND NOT temporary "
        "ORDER BY view_name").fetchall()]
    macros = []
    for name, kind, params, body in con.execute(
            "SELECT function_name, function_type, parameters, macro_definition FROM duckdb_functions() "
            "WHERE schema_name = 'main' AND NOT internal AND function_type IN ('macro', 'table_macro') "
            "ORDER BY function_name").fetchall():
        table = "TABLE " if kind == "table_macro" else ""
        macros.append(f"CREATE OR REPLACE MACRO {_q(name)}({', '.join(params)}) AS {table}{body}")
    return views, macros


def _relative(paths: LakePaths, files: list[Path]) -> list[str]:
    return sorted(str(f.relative_to(paths.lake)) for f in files)


def _written(folder: Path, tag: str) -> list[Path]:
    return sorted(folder.rglob(f"part-{tag}-*.parquet")) if folder.is_dir() else []


def _copy(con: duckdb.DuckDBPyConnection, select: str, target: Path, *, partitioned: bool, tag: str,
          params: list[Any] | None = None) -> list[Path]:
    """Write ``select`` as Parquet under ``target``; the files written (named ``part-<tag>-<uuid>``).

    DuckDB writes into a staging folder and each finished file is renamed into place, so a tool that
    globs the lake never meets a half-written file.
    """
    staging = target.parent / STAGING / f"{target.name}-{tag}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True, exist_ok=True)
    try:
        if partitioned:
            options = f"{PARQUET}, PARTITION_BY (\"month\"), APPEND true, FILENAME_PATTERN 'part-{tag}-{{uuid}}'"
            con.execute(f"COPY ({select}) TO {_lit(str(staging))} ({options})", params or [])
        else:
            out = staging / f"part-{tag}-{uuid.uuid4()}.parquet"
            con.execute(f"COPY ({select}) TO {_lit(str(out))} ({PARQUET})", params or [])
        placed = []
        for f in _written(staging, tag):
            final = target / f.relative_to(staging)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(f, final)
            placed.append(final)
        return placed
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _month(expr: str) -> str:
    return f"strftime(timezone('UTC', {expr}), '%Y-%m')"


# A delta of more new rows than this reads its articles' times with one join over ``articles`` (the first
# publication, a backfill); a cycle's few rows look their articles up by key.
JOIN_ALL_ABOVE = 10_000


def _append_select(table: str, where: str, articles: str = "articles") -> str:
    join = f" LEFT JOIN {articles} a ON a.article_id = t.article_id" if "a." in APPEND[table] else ""
    hidden = KEY_COLUMNS.get(table, {})
    columns = f"t.* EXCLUDE ({', '.join(_q(k) for k in hidden)})" if hidden else "t.*"
    return (f"SELECT {columns}, coalesce({_month(APPEND[table])}, 'unknown') AS \"month\" "
            f"FROM {_q(table)} t{join} WHERE {where}")


def _copy_append(con: duckdb.DuckDBPyConnection, table: str, where: str, n: int, folder: Path, tag: str) -> list[Path]:
    """Write the rows of an append table matching ``where`` (``n`` of them) into its month partitions.

    Why the lookup: the month of a child row (a mention, a feed item ...) is its article's, and a join over
    ``articles`` reads the whole table for a cycle's few rows. Instead the articles the new rows name are
    read through the key index (``warehouse.keys``) into a small frame the copy joins.
    """
    if "a." not in APPEND[table] or n > JOIN_ALL_ABOVE:
        return _copy(con, _append_select(table, where), folder, partitioned=True, tag=tag)
    ids = {r[0] for r in con.execute(
        f"SELECT DISTINCT article_id FROM {_q(table)} t WHERE {where} AND article_id IS NOT NULL").fetchall()}
    times = con.execute("SELECT article_id, published_at FROM articles WHERE article_key IN (SELECT unnest(?::UBIGINT[]))",
                        [lookup_keys(ids)]).df()
    con.register("_lake_articles", times[times["article_id"].isin(ids)])
    try:
        return _copy(con, _append_select(table, where, "_lake_articles"), folder, partitioned=True, tag=tag)
    finally:
        con.unregister("_lake_articles")


def publish_lake(con: duckdb.DuckDBPyConnection, paths: LakePaths, *, compact: bool | None = None,
                 now: datetime | None = None) -> Publication:
    """Publish what changed since the last version as a new lake version. The caller is the only writer.

    Args:
        con: a read-write connection to the live, migrated warehouse (no transaction open; nothing is
            written to it).
        paths: where the lake lives.
        compact: fold every table's small files now (True), never (False), or where due (None; see
            ``_compacted``).
        now: the clock written into the manifest.
    """
    lake = paths.lake
    lake.mkdir(parents=True, exist_ok=True)
    (lake / MANIFESTS_DIR).mkdir(exist_ok=True)
    previous = read_manifest(paths)
    if previous is not None and previous.get("format") != FORMAT:
        previous = None  # another layout: start over with a full publication
    version = (previous["version"] if previous else 0) + 1
    tag = f"{version:010d}"
    _remove_unnamed(paths, keep=_named_files(paths))  # leftovers of a publication that died half-way
    old_tables: dict[str, Any] = previous["tables"] if previous else {}
    tables: dict[str, Any] = {}
    written = rows = 0
    compacted: list[str] = []
    live = _tables(con)
    marks = {t: int(old_tables.get(t, {}).get("high_water", 0)) for t in APPEND}
    for table in live:
        folder = lake / table
        old = old_tables.get(table, {})
        if table in APPEND:
            mark = marks[table] if old else 0
            top_row = con.execute(f"SELECT max(lake_seq), count(*) FROM {_q(table)} WHERE lake_seq > ?", [mark]).fetchone()
            assert top_row is not None
            top, n = (int(top_row[0]) if top_row[0] is not None else mark), int(top_row[1])
            files = list(old.get("files", []))
            if n or not files:
                new = _copy_append(con, table, f"t.lake_seq > {mark} AND t.lake_seq <= {top}", n, folder, tag)
                if not new:  # no rows at all yet: one empty file keeps the table's columns readable
                    new = _copy(con, _append_select(table, "false"), folder / "month=unknown", partitioned=False, tag=tag)
                files += _relative(paths, new)
                written += len(new)
                rows += n
            tables[table] = {"kind": "append", "files": sorted(files), "high_water": top,
                             "rows": int(old.get("rows", 0)) + n if old else n}
        elif table in RENUMBERED:
            mark = int(old.get("high_water", 0)) if old.get("kind") == "latest" else 0
            files = list(old.get("files", [])) if old.get("kind") == "latest" else []
            top_row = con.execute(f"SELECT max(lake_seq), count(*) FROM {_q(table)} WHERE lake_seq > ?", [mark]).fetchone()
            top, n = (int(top_row[0]) if top_row and top_row[0] is not None else mark), int(top_row[1]) if top_row else 0
            new = []
            if n or not files:
                new = _copy(con, f"SELECT *, {version} AS lake_version FROM {_q(table)} WHERE lake_seq > {mark}",
                            folder, partitioned=False, tag=tag)
                files += _relative(paths, new)
                written += len(new)
                rows += n
            tables[table] = {"kind": "latest", "key": list(RENUMBERED[table]), "files": sorted(files),
                             "high_water": top, "hide": ["lake_seq"], **_base_of(old, files, _relative(paths, new) if not mark else [])}
        elif table in REPLACED:
            entry = _replaced(con, paths, table, old, tag)
            written += entry.pop("_written")
            rows += entry.pop("_rows")
            tables[table] = entry
        elif table in LATEST:
            key, changed = LATEST[table]
            files = list(old.get("files", []))
            first = not files
            new = []
            if first:
                select = f"SELECT *, {version} AS lake_version FROM {_q(table)}"
            else:
                keys = changed
                for t, m in marks.items():
                    keys = keys.replace(f"${t}", str(m))
                select = f"SELECT *, {version} AS lake_version FROM {_q(table)} WHERE {_q(key)} IN ({keys})"
            n_row = con.execute(f"SELECT count(*) FROM ({select})").fetchone()
            n = int(n_row[0]) if n_row else 0
            if n or not files:
                new = _copy(con, select, folder, partitioned=False, tag=tag)
                files += _relative(paths, new)
                written += len(new)
                rows += n
            tables[table] = {"kind": "latest", "key": key, "files": sorted(files), **_base_of(old, files, _relative(paths, new) if first else [])}
        else:
            # A small table is rewritten only when its contents changed (a hash over its rows).
            row = con.execute(f"SELECT count(*), coalesce(bit_xor(hash(t)), 0) FROM {_q(table)} t").fetchone()
            n, digest = (int(row[0]), str(row[1])) if row else (0, "0")
            if old.get("kind") == "whole" and old.get("digest") == digest and old.get("files"):
                tables[table] = dict(old)
                continue
            new = _copy(con, f"SELECT * FROM {_q(table)}", folder, partitioned=False, tag=tag)
            tables[table] = {"kind": "whole", "files": _relative(paths, new), "rows": n, "digest": digest}
            written += 1
    for table, entry in tables.items():
        if compact is not False and entry["kind"] in ("append", "latest") and len(entry["files"]) > 1:
            files, new_base = _compacted(con, paths, table, entry, tag, forced=bool(compact))
            if files != entry["files"]:
                entry["files"] = files
                if new_base:
                    entry["base"] = files[0]
                compacted.append(table)
    views, macros = _catalog(con)
    if previous is not None and not written and not compacted and previous["tables"] == tables and (
            previous.get("views"), previous.get("macros")) == (views, macros):
        # Nothing changed (a no-op cycle): the current version stays, and nothing is written.
        return Publication(previous["version"], 0, 0, (), 0)
    manifest = {"format": FORMAT, "version": version, "published_at": (now or datetime.now(UTC)).isoformat(),
                "tables": tables, "views": views, "macros": macros}
    catalog = _write_catalog(paths, manifest, previous)
    manifest["catalog"] = catalog
    _write_manifest(paths, manifest)
    _switch_current(paths, catalog)
    deleted = _remove_unnamed(paths, keep=_named_files(paths))
    return Publication(version, written, rows, tuple(compacted), deleted)


def _base_of(old: dict[str, Any], files: list[str], whole: list[str]) -> dict[str, str]:
    """The ``base`` of a delta table's entry: the one file that holds at most one row per key and is older
    than every other file (``whole``: the file of the table's first, whole publication; else the previous
    entry's base, kept while it is still one of ``files``; compaction sets a new one).

    Why: the reader keeps the latest row per key, and folding every file costs a hash aggregate over the
    whole table at each query (0.2-0.3 s for 600k stories); with a known base it folds only the deltas and
    drops their keys from the base with an anti-join (``_define``).
    """
    if len(whole) == 1:
        return {"base": whole[0]}
    base = old.get("base")
    return {"base": base} if isinstance(base, str) and base in files else {}


def _key(entry: dict[str, Any]) -> str:
    """A delta table's key columns, quoted (one name, or a list for a composite key)."""
    key = entry["key"]
    return ", ".join(_q(k) for k in ([key] if isinstance(key, str) else key))


def _week(column: str) -> str:
    return f"strftime(date_trunc('week', {column}), '%Y-%m-%d')"


def _replaced(con: duckdb.DuckDBPyConnection, paths: LakePaths, table: str, old: dict[str, Any],
              tag: str) -> dict[str, Any]:
    """Rewrite the weekly files of ``table`` whose rows changed since the last publication (all of them
    the first time); the others stay as they are."""
    column = REPLACED[table]
    known = old.get("kind") == "replace"
    mark = int(old.get("high_water", 0)) if known else 0
    parts: dict[str, str] = dict(old.get("parts", {})) if known else {}
    top_row = con.execute(f"SELECT max(lake_seq) FROM {_q(table)} WHERE lake_seq > ?", [mark]).fetchone()
    top = int(top_row[0]) if top_row and top_row[0] is not None else mark
    weeks = [r[0] for r in con.execute(
        f"SELECT DISTINCT {_week(column)} FROM {_q(table)} WHERE lake_seq > ? ORDER BY 1", [mark]).fetchall()]
    written = rows = 0
    for week in weeks:
        # A range on the column itself, not ``_week(column) = week``: DuckDB skips the row groups of other
        # days by their min/max only for a comparison of the bare column, and these tables hold every day.
        in_week = f"{_q(column)} >= DATE {_lit(week)} AND {_q(column)} < DATE {_lit(week)} + 7"
        select = f"SELECT * FROM {_q(table)} WHERE {in_week} ORDER BY ALL"
        new = _copy(con, select, paths.lake / table / f"week={week}", partitioned=False, tag=tag)
        parts[week] = _relative(paths, new)[0]
        written += 1
        n_row = con.execute(f"SELECT count(*) FROM {_q(table)} WHERE {in_week}").fetchone()
        rows += int(n_row[0]) if n_row else 0
    if not parts:  # no rows at all yet: one empty file keeps the table's columns readable
        new = _copy(con, f"SELECT * FROM {_q(table)} WHERE false", paths.lake / table / "week=none",
                    partitioned=False, tag=tag)
        parts["none"] = _relative(paths, new)[0]
        written += 1
    elif "none" in parts and len(parts) > 1:
        del parts["none"]
    return {"kind": "replace", "files": sorted(parts.values()), "parts": parts, "high_water": top,
            "_written": written, "_rows": rows}


def _size(paths: LakePaths, f: str) -> int:
    try:
        return (paths.lake / f).stat().st_size
    except FileNotFoundError:
        return 0


def _folded_set(paths: LakePaths, files: list[str]) -> list[str]:
    """Which of one group's files a compaction rewrites: all but the largest while they are smaller than it
    together, else all of them (see ``_compacted``)."""
    if len(files) < 2:
        return []
    sizes = {f: _size(paths, f) for f in files}
    by_size = sorted(files, key=lambda f: (-sizes[f], f))
    rest = by_size[1:]
    if sum(sizes[f] for f in rest) < sizes[by_size[0]]:
        return rest if len(rest) >= 2 else []
    return by_size


def _compacted(con: duckdb.DuckDBPyConnection, paths: LakePaths, table: str, entry: dict[str, Any],
               tag: str, *, forced: bool) -> tuple[list[str], bool]:
    """Fold a table's files when due; (its files afterwards, whether a delta table got a new base).

    Due (unless ``forced``): a month of an append table with more than ``MONTH_FILES`` files, a delta table
    with more than ``COMPACT_FILES``.

    Tiered, so that a compaction rewrites about what arrived since the last one, not the archive: within
    a month of an append table the largest file stays when the others together are smaller, and those
    others become one file; only when they outgrow it is the whole month rewritten (so every row is
    rewritten a logarithmic number of times). A delta table's deltas are folded into one delta (the latest
    row per key, with its ``lake_version``) while they are under ``DELTA_SHARE`` of the base; past that,
    or without a known base, base and deltas become a new base. Why: folding everything rewrote the whole
    lake (0.7 GB at 1M articles) and left that superseded copy on disk for the kept versions' lifetime.
    """
    files = list(entry["files"])
    folder = paths.lake / table
    ctag = f"{tag}c"
    if entry["kind"] == "append":
        months: dict[str, list[str]] = {}
        for f in files:
            months.setdefault(str(Path(f).parent), []).append(f)
        chosen = sorted(f for group in months.values() if forced or len(group) > MONTH_FILES
                        for f in _folded_set(paths, group))
        if not chosen:
            return files, False
        listing = "[" + ", ".join(_lit(str(paths.lake / f)) for f in chosen) + "]"
        select = f"SELECT * FROM read_parquet({listing}, hive_partitioning = true, union_by_name = true)"
        placed = _relative(paths, _copy(con, select, folder, partitioned=True, tag=ctag))
        return sorted({*files} - {*chosen} | {*placed}), False
    if not forced and len(files) <= COMPACT_FILES:
        return files, False
    key = _key(entry)
    base = entry.get("base")
    deltas = [f for f in files if f != base]
    if isinstance(base, str) and base in files and (
            sum(_size(paths, f) for f in deltas) < DELTA_SHARE * _size(paths, base)):
        if len(deltas) < 2:
            return files, False  # one small delta beside its base: nothing to fold
        chosen, new_base = deltas, False
    else:
        chosen, new_base = files, True
    listing = "[" + ", ".join(_lit(str(paths.lake / f)) for f in chosen) + "]"
    select = (f"SELECT * FROM read_parquet({listing}, union_by_name = true) "
              f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY lake_version DESC) = 1")
    folded = _relative(paths, _copy(con, select, folder, partitioned=False, tag=ctag))
    if new_base or not isinstance(base, str):
        return folded, True
    return sorted([base, *folded]), False


def _write_manifest(paths: LakePaths, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=1, sort_keys=True)
    kept = paths.lake / MANIFESTS_DIR / f"v-{manifest['version']:010d}.json"
    tmp = paths.lake / f".{MANIFEST}.{os.getpid()}.tmp"
    kept.write_text(text)
    tmp.write_text(text)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, paths.manifest)
    horizon = time.time() - KEEP_SECONDS
    for old in sorted((paths.lake / MANIFESTS_DIR).glob("v-*.json"))[:-KEEP_VERSIONS]:
        try:
            if old.stat().st_mtime < horizon:
                old.unlink(missing_ok=True)
        except FileNotFoundError:
            pass


def _named_files(paths: LakePaths) -> set[str]:
    """Every file named by the kept manifests."""
    named: set[str] = set()
    sources = sorted((paths.lake / MANIFESTS_DIR).glob("v-*.json"))
    for src in sources:
        try:
            data = json.loads(src.read_text())
        except (OSError, ValueError):
            continue
        for entry in data.get("tables", {}).values():
            named.update(entry.get("files", []))
        if data.get("catalog"):
            named.add(data["catalog"])
    return named


def _remove_unnamed(paths: LakePaths, *, keep: set[str]) -> int:
    """Delete Parquet files no kept manifest names and temporary manifests; how many were deleted."""
    removed = 0
    for tmp in paths.lake.glob(f".{MANIFEST}.*.tmp"):
        tmp.unlink(missing_ok=True)
    for f in [*paths.lake.rglob("*.parquet"), *paths.lake.glob(f"{CATALOG_DIR}/*")]:
        if str(f.relative_to(paths.lake)) not in keep:
            f.unlink(missing_ok=True)
            removed += 1
    return removed


def _define(con: duckdb.DuckDBPyConnection, paths: LakePaths, data: dict[str, Any],
            tables: set[str] | None = None) -> None:
    """Create on ``con`` one view per published table, then the warehouse's own macros and views.

    With ``tables``, (re)create only those tables' views: the rest of ``con``'s catalog is already right.
    """
    for table, entry in data["tables"].items():
        if tables is not None and table not in tables:
            continue
        files = [str(paths.lake.resolve() / f) for f in entry["files"]]
        listing = "[" + ", ".join(_lit(f) for f in files) + "]"
        src = f"read_parquet({listing}, hive_partitioning = false, union_by_name = true)"
        hidden = ", ".join(_q(c) for c in ["lake_version", *entry.get("hide", [])])
        if entry["kind"] == "latest" and len(files) == 1:  # compacted (or first): one row per key already
            body = f"SELECT * EXCLUDE ({hidden}) FROM {src}"
        elif entry["kind"] == "latest" and entry.get("base") in entry["files"]:
            # The base holds one row per key: fold only the deltas, and take from the base the keys they lack.
            deltas = "[" + ", ".join(_lit(str(paths.lake.resolve() / f))
                                     for f in entry["files"] if f != entry["base"]) + "]"
            base = _lit(str(paths.lake.resolve() / entry["base"]))
            keys = _key(entry)
            body = (f"WITH delta AS (SELECT * FROM read_parquet({deltas}, hive_partitioning = false, "
                    f"union_by_name = true) QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY lake_version DESC)"
                    f" = 1) SELECT * EXCLUDE ({hidden}) FROM (SELECT * FROM read_parquet({base}, hive_partitioning = "
                    f"false) ANTI JOIN delta USING ({keys}) UNION ALL BY NAME SELECT * FROM delta)")
        elif entry["kind"] == "latest":
            body = (f"SELECT * EXCLUDE ({hidden}) FROM {src} "
                    f"QUALIFY row_number() OVER (PARTITION BY {_key(entry)} ORDER BY lake_version DESC) = 1")
        elif entry["kind"] in ("append", "replace"):
            body = f"SELECT * EXCLUDE (lake_seq) FROM {src}"
        else:
            body = f"SELECT * FROM {src}"
        con.execute(f"CREATE OR REPLACE VIEW {_q(table)} AS {body}")
    if tables is not None:
        return
    for macro in data.get("macros", []):
        con.execute(macro)  # a macro binds its tables when called, so before the views is fine
    pending = [v["sql"] for v in data.get("views", [])]
    # Views may name each other: create them in rounds until none is left or none succeeds.
    while pending:
        failed = []
        for sql in pending:
            try:
                con.execute(sql)
            except duckdb.CatalogException:
                failed.append(sql)
        if len(failed) == len(pending):
            con.execute(failed[0])  # raises the real error
        pending = failed


def _write_catalog(paths: LakePaths, data: dict[str, Any], previous: dict[str, Any] | None = None) -> str:
    """A small DuckDB file holding only the version's views (no data); its name relative to the lake.

    Why: creating the views binds every one of them (each opens its Parquet files' footers), ~0.1-0.2 s
    per reader; a file opens in ~15 ms and binds a view only when a query uses it. The writer pays the
    creation once per publication instead of every ``connect()``, and only for what changed: when the
    views and macros are those of ``previous``, its catalog is copied and only the views of tables with
    new files are replaced (measured: 0.36-0.41 s for a full build, see docs/lake.md).
    """
    folder = paths.lake / CATALOG_DIR
    folder.mkdir(exist_ok=True)
    final = folder / f"catalog-{data['version']:010d}.duckdb"
    tmp = folder / f".{final.name}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    changed: set[str] | None = None
    if previous is not None and previous.get("catalog") and (previous.get("views"), previous.get("macros")) == (
            data.get("views"), data.get("macros")) and set(previous["tables"]) == set(data["tables"]):
        try:
            shutil.copyfile(paths.lake / previous["catalog"], tmp)
            changed = {t for t, e in data["tables"].items() if e["files"] != previous["tables"][t]["files"]}
        except OSError:
            tmp.unlink(missing_ok=True)
            changed = None
    con = duckdb.connect(str(tmp))
    try:
        _define(con, paths, data, changed)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    Path(f"{tmp}.wal").unlink(missing_ok=True)
    os.replace(tmp, final)
    return str(final.relative_to(paths.lake))


def _switch_current(paths: LakePaths, catalog: str) -> None:
    """Point ``current.duckdb`` at the version's catalog file (a symlink replaced atomically)."""
    tmp = paths.lake / f".{CURRENT}.{os.getpid()}.link"
    tmp.unlink(missing_ok=True)
    os.symlink(catalog, tmp)
    os.replace(tmp, paths.lake / CURRENT)


def seal(con: duckdb.DuckDBPyConnection, paths: LakePaths) -> duckdb.DuckDBPyConnection:
    """Let ``con`` read only the lake: no other file, no attaching, no extensions, the configuration locked."""
    con.execute(f"SET allowed_directories = [{_lit(str(paths.lake.resolve()) + os.sep)}]")
    for statement in ("SET enable_external_access = false", "SET autoinstall_known_extensions = false",
                      "SET autoload_known_extensions = false", "SET allow_community_extensions = false",
                      "SET lock_configuration = true"):
        con.execute(statement)
    return con


def lake_connection(paths: LakePaths, manifest: dict[str, Any] | None = None, *,
                    sealed: bool = True) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per published table and the warehouse's own views and macros.

    The current version's catalog file, opened read-only (or, when a manifest is given or the file is
    missing, the same views built in memory). The view of a delta table keeps the latest row per key; the
    bookkeeping columns (``lake_seq``, ``lake_version``) and the hive ``month`` column are not shown, so
    the tables have the live columns. With ``sealed`` the connection reads only the lake's files.

    Raises:
        FileNotFoundError: nothing was published yet.
    """
    current = paths.lake / CURRENT
    con = None
    if manifest is None and current.exists():
        try:
            con = duckdb.connect(str(current), read_only=True)
        except duckdb.Error:
            con = None
    if con is None:
        data = manifest if manifest is not None else read_manifest(paths)
        if data is None:
            raise FileNotFoundError(str(paths.manifest))
        con = duckdb.connect(":memory:")
        try:
            _define(con, paths, data)
        except BaseException:
            con.close()
            raise
    try:
        if sealed:
            seal(con, paths)
        else:  # what stays readable once ``warehouse.sql_guard.sealed`` switches external access off
            con.execute(f"SET allowed_directories = [{_lit(str(paths.lake.resolve()) + os.sep)}]")
    except BaseException:
        con.close()
        raise
    return con


def catalog_lake(path: Path) -> LakePaths | None:
    """The lake whose catalog file ``path`` is (``current.duckdb`` or a version's file), else None."""
    real = Path(os.path.realpath(path))
    if real.parent.name == CATALOG_DIR and real.name.startswith("catalog-"):
        lake = real.parent.parent
        return LakePaths(lake / "unknown.duckdb", lake)
    return None


# Statements that write files: on a lake connection the published files themselves are readable, so a
# ``COPY ... TO`` one of them would otherwise overwrite it.
_WRITING = frozenset({"COPY", "EXPORT", "COPY_DATABASE"})


def refused_statement(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise ``duckdb.PermissionException`` when ``sql`` holds a statement that writes files."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error:
        return  # the query itself reports its syntax error
    for st in statements:
        if st.type.name in _WRITING:
            raise duckdb.PermissionException(f"{st.type.name} statements are disabled by configuration (a read-only connection)")


def published_version(paths: LakePaths) -> int | None:
    """The current version number, or None."""
    data = read_manifest(paths)
    return int(data["version"]) if data else None
