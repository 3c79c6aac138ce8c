"""Managing the feed list from the command line: add (with discovery), import/export OPML, enable/disable.

Why here: the feeds live in config.yaml, where operators already keep them, next to their comments.
Edits go through ruamel.yaml's round-trip mode, so comments, order and quoting survive, and the edited
file is validated (the ``feeds:`` section, as ``check-config`` does) before it atomically replaces the
old one. ``serve`` reads the config at every cycle, so an edit takes effect at the next one.

Re-enabling a feed the pipeline switched off (404/410 repeatedly) also resets its state in the
warehouse, under the cycle lock, so no SQL is needed.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from extract.discovery import linked_feed_urls, usual_feed_urls
from extract.feeds import parsed_feed
from extract.html import decoded_html
from extract.http import HttpClient
from extract.opml import OpmlFeed
from newswatch import secrets
from newswatch.config import Settings, load_sections
from newswatch.errors import ConfigError, FatalError, ItemError, PipelineError

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
               "text/xml;q=0.9, text/html;q=0.5, */*;q=0.1")
FEED_SECTIONS = ("warehouse", "fetch", "feeds")


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never fold a long URL
    y.indent(mapping=2, sequence=4, offset=2)
    return y


class ConfigFile:
    """config.yaml opened for editing: ``feeds`` is the round-trip list; ``save`` validates, then replaces."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError([f"{path}: no such config file (hint: pass --config PATH or set NEWSWATCH_CONFIG)"]) from None
        self.doc = _yaml().load(text) if text.strip() else CommentedMap()
        if not isinstance(self.doc, CommentedMap):
            raise ConfigError([f"{path}: the top level must be a mapping of sections (warehouse:, feeds:, ...)"])
        if self.doc.get("feeds") is None:
            self.doc["feeds"] = CommentedSeq()
        if not isinstance(self.doc["feeds"], CommentedSeq):
            raise ConfigError([f"{path}: feeds: must be a list"])

    @property
    def feeds(self) -> CommentedSeq:
        return self.doc["feeds"]

    def feed(self, name: str) -> CommentedMap:
        """The feed called ``name`` (case-insensitive).

        Raises:
            FatalError: ``unknown_feed``, naming the feeds there are.
        """
        for f in self.feeds:
            if isinstance(f, CommentedMap) and str(f.get("name", "")).casefold() == name.casefold():
                return f
        names = ", ".join(str(f.get("name")) for f in self.feeds if isinstance(f, dict)) or "none"
        raise FatalError("unknown_feed", f"no feed named {name!r} in {self.path} (feeds: {names})")

    def save(self) -> Settings:
        """Validate the edited document and atomically replace the file; returns the new settings.

        Raises:
            ConfigError: the edit made the config invalid (the file is left as it was).
        """
        buf = io.StringIO()
        _yaml().dump(self.doc, buf)
        fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".yaml", dir=self.path.resolve().parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(buf.getvalue())
            settings = load_sections(tmp, FEED_SECTIONS)
            if self.path.exists():
                os.chmod(tmp, self.path.stat().st_mode & 0o777)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return settings


@dataclass(frozen=True, slots=True)
class FoundFeed:
    """A feed URL that fetched and parsed, its title and how it was found."""

    url: str
    title: str | None
    entries: int
    how: str  # given | linked from the page | usual path


def found_feed(client: HttpClient, url: str, *, max_items: int) -> FoundFeed:
    """The feed at ``url``, or the one a site page at ``url`` leads to; fetched and parsed to check it.

    Order: ``url`` itself as a feed; the page's ``<link rel="alternate">`` feeds; the usual paths on its site.

    Raises:
        ItemError: ``no_feed_found`` with what was tried; or the fetch error of ``url`` itself.
    """
    res = client.get(url, accept=FEED_ACCEPT)
    ctype = res.headers.get("content-type")
    tried: list[str] = []
    try:
        feed = parsed_feed(res.body, feed_id="new", url=res.final_url, content_type=ctype, max_items=max_items)
        return FoundFeed(res.final_url, feed.title, len(feed.entries), "given")
    except ItemError as e:
        tried.append(f"{secrets.redacted(url)}: {e.reason}")
    page = decoded_html(res.body, ctype)
    candidates = [(u, "linked from the page") for u in linked_feed_urls(page, res.final_url)]
    candidates += [(u, "usual path") for u in usual_feed_urls(res.final_url)]
    seen = {res.final_url}
    for candidate, how in candidates:
        if candidate in seen:
            continue
        seen.add(candidate)
        try:
            r = client.get(candidate, accept=FEED_ACCEPT)
            feed = parsed_feed(r.body, feed_id="new", url=r.final_url, content_type=r.headers.get("content-type"),
                               max_items=max_items)
        except PipelineError as e:
            tried.append(f"{secrets.redacted(candidate)}: {e.reason}")
            continue
        return FoundFeed(r.final_url, feed.title, len(feed.entries), how)
    raise ItemError("no_feed_found", "no feed found; tried " + "; ".join(tried))


def _taken(settings: Settings, url: str) -> str | None:
    """The name of the configured feed with this URL (secrets expanded), if any."""
    return next((f.name for f in settings.feeds if f.url.rstrip("/") == url.rstrip("/")), None)


def _new_entry(name: str, url: str, tags: tuple[str, ...] = ()) -> CommentedMap:
    entry = CommentedMap()
    entry["name"] = name
    entry["url"] = url
    if tags:
        entry["tags"] = CommentedSeq(tags)
        entry["tags"].fa.set_flow_style()
    return entry


def _unique_name(settings: Settings, wanted: str) -> str:
    names = {f.name.casefold() for f in settings.feeds}
    name, n = wanted, 1
    while name.casefold() in names:
        n += 1
        name = f"{wanted} ({n})"
    return name


def added_feed(path: Path, settings: Settings, client: HttpClient, url: str, name: str | None) -> tuple[str, FoundFeed]:
    """Discover and check the feed behind ``url``, then append it to the config. Returns (name, feed).

    Raises:
        FatalError: ``duplicate_feed`` (the URL or the name is configured already); ``no_feed_found``
            and the fetch errors as ``ItemError``.
    """
    if (other := _taken(settings, url)) is not None:
        raise FatalError("duplicate_feed", f"{secrets.redacted(url)} is already configured as {other!r}")
    found = found_feed(client, url, max_items=settings.fetch.max_items_per_feed)
    if (other := _taken(settings, found.url)) is not None:
        raise FatalError("duplicate_feed", f"{secrets.redacted(found.url)} is already configured as {other!r}")
    if name is not None and any(f.name.casefold() == name.casefold() for f in settings.feeds):
        raise FatalError("duplicate_feed", f"a feed named {name!r} exists already (hint: choose another --name)")
    final = name or _unique_name(settings, (found.title or "").strip() or (found.url.split("//", 1)[-1]))
    cfg = ConfigFile(path)
    cfg.feeds.append(_new_entry(final, found.url))
    cfg.save()
    return final, found


def imported_feeds(path: Path, settings: Settings, feeds: list[OpmlFeed]) -> tuple[list[str], list[str]]:
    """Append the OPML subscriptions not configured yet. Returns (added names, skipped with reasons).

    Not fetched one by one: an export from another reader lists feeds that worked there, and a feed that
    fails is recorded at its first poll like any other.
    """
    cfg = ConfigFile(path)
    urls = {f.url.rstrip("/") for f in settings.feeds}
    names = {f.name.casefold() for f in settings.feeds}
    added: list[str] = []
    skipped: list[str] = []
    for f in feeds:
        if f.url.rstrip("/") in urls:
            skipped.append(f"{f.name}: {secrets.redacted(f.url)} is configured already")
            continue
        if not f.url.startswith(("http://", "https://")):
            skipped.append(f"{f.name}: not an http(s) URL")
            continue
        name, n = f.name, 1
        while name.casefold() in names:
            n += 1
            name = f"{f.name} ({n})"
        cfg.feeds.append(_new_entry(name, f.url, f.tags))
        urls.add(f.url.rstrip("/"))
        names.add(name.casefold())
        added.append(name)
    if added:
        cfg.save()
    return added, skipped


def exported_feeds(settings: Settings, raw_urls: dict[str, str]) -> list[OpmlFeed]:
    """The configured feeds as OPML subscriptions; URLs as written in the config (``${KEY}`` stays a
    reference, so an export never carries a secret)."""
    return [OpmlFeed(f.name, raw_urls.get(f.name, f.url), tuple(f.tags)) for f in settings.feeds]


def raw_feed_urls(path: Path) -> dict[str, str]:
    """Each feed's URL as written in the config file, before ``${VAR}`` expansion."""
    return {str(f.get("name")): str(f.get("url")) for f in ConfigFile(path).feeds if isinstance(f, dict)}


def switched_feed(path: Path, name: str, *, enabled: bool) -> str:
    """Set a feed's ``enabled`` in the config (``true`` is the default, so the key is removed). Returns its name."""
    cfg = ConfigFile(path)
    feed = cfg.feed(name)
    if enabled:
        feed.pop("enabled", None)
    else:
        feed["enabled"] = False
    cfg.save()
    return str(feed["name"])


def reset_feed_state(settings: Settings, url: str, *, wait_seconds: float = 120.0) -> bool:
    """Clear the warehouse's failure state of a feed (disabled after 404/410, failures, back-off), so it
    is polled at the next cycle. Returns False when the feed has no state yet (never polled).

    Waits up to ``wait_seconds`` for a cycle in flight: one writer at a time.
    """
    from pipeline.runlock import cycle_lock
    from warehouse import db
    from warehouse.state import feed_id_for

    if not Path(settings.warehouse.path).exists():
        return False
    with cycle_lock(settings.warehouse.path, wait_seconds=wait_seconds), db.writer(settings.warehouse.path) as con:
        row = con.execute(
            "UPDATE feeds SET disabled = false, disabled_reason = NULL, consecutive_failures = 0, failing_since = NULL,"
            " next_poll_at = NULL, last_error = NULL WHERE feed_id = ? RETURNING feed_id",
            [feed_id_for(url)]).fetchall()
    return bool(row)

