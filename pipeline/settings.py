"""Loading the configuration with every check, including those the kernel cannot make itself.

Why: the kernel's ``newswatch.config`` validates types, paths and cross-references, but whether a topic query
compiles is the topic matcher's knowledge (``transform.topics``), which the kernel must not import. Every command
loads its settings through here, so a bad query is still reported at start-up, with its position, among every
other problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from newswatch import config
from newswatch.config import ConfigChecks, Settings, WarehousePaths
from newswatch.errors import ConfigError
from transform.topics import QuerySyntaxError, compiled_query


def topic_query_problem(query: str) -> str | None:
    """Why ``query`` is not a valid topic query (the message, the query and a caret under the position), or None."""
    try:
        compiled_query(query)
    except QuerySyntaxError as e:
        caret = " " * e.position + "^"
        return f"{e}\n      {query}\n      {caret}"
    return None


CHECKS = ConfigChecks(query_problem=topic_query_problem)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate the config file (see ``newswatch.config.load_settings``), topic queries included.

    Raises:
        ConfigError: every problem, one ``path: message`` line each.
    """
    return config.load_settings(path, checks=CHECKS)


def reader_settings(path: str | Path | None, db: str | None, *,
                    sections: tuple[str, ...] | None = None) -> Settings | None:
    """The settings of a command that reads the warehouse, or None when they fail to load but ``db`` names
    the DuckDB file to read instead.

    Args:
        path: the config file (``--config``), or None for the default.
        db: the file given with ``--db``, if any.
        sections: only these sections are loaded (``newswatch.config.load_sections``); None: all of them.

    Raises:
        ConfigError: the config fails to load and no ``db`` is given.
    """
    try:
        return config.load_sections(path, sections) if sections else load_settings(path)
    except ConfigError:
        if db is None:
            raise
        return None


def warehouse_paths(settings: Settings | None) -> WarehousePaths | None:
    """What the warehouse's readers take of ``settings`` (None passes through: ``--db`` names the file)."""
    return None if settings is None else settings.warehouse.paths


def settings_from_dict(raw: Any, *, source: str = "config") -> Settings:
    """Validate an already-parsed config document, topic queries included.

    Raises:
        ConfigError: every problem, one ``path: message`` line each.
    """
    return config.settings_from_dict(raw, source=source, checks=CHECKS)
