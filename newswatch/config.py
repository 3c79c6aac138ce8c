"""The configuration: one pydantic model, validated once at start-up, every error reported with its path.

Why: a typo in a key or a bad URL must stop ``newswatch`` before anything runs, with one line per
problem (``feeds[2].url: ...``) and a hint, rather than surfacing mid-cycle. ``${VAR}`` references are
expanded from the environment so secrets stay out of the file; their values are registered with
``newswatch.secrets`` so they never reach logs, the warehouse or error messages.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from newswatch import secrets
from newswatch.errors import ConfigError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class WarehousePaths:
    """Where the warehouse file and the analysts' copies of it (lake, snapshot) live: all a reader of the
    warehouse needs to know.

    Why not ``WarehouseConfig`` or ``Settings``: the warehouse layer receives only what it uses, never the
    configuration (which carries expanded secrets).
    """

    path: str
    snapshot_dir: str | None = None
    lake_dir: str | None = None


class WarehouseConfig(_Model):
    path: str = Field("data/newswatch.duckdb", description="The DuckDB file the pipeline writes.")
    snapshot_dir: str | None = Field(
        None, description="Where read-only snapshots for analysts go; default: <path without .duckdb>-snapshot/"
    )
    retention_text_days: int | None = Field(
        None, ge=1, description="Blank articles.text older than this many days (NULL keeps text forever)."
    )
    lake_dir: str | None = Field(
        None, description="Where the analysts' Parquet lake goes; default: <path without .duckdb>-lake/"
    )
    snapshot_copy: bool = Field(
        False, description="Also publish a full copy of the DuckDB file after each cycle (costs a copy of the archive)."
    )
    hot_days: int | None = Field(
        None, ge=1, description="Move analysis rows of articles older than this many days out of the live file into "
                                "the lake's cold months (NULL keeps everything live)."
    )

    @property
    def paths(self) -> WarehousePaths:
        """The warehouse's file locations, as the warehouse layer takes them."""
        return WarehousePaths(self.path, self.snapshot_dir, self.lake_dir)


class ScheduleConfig(_Model):
    every_minutes: float | None = Field(15, gt=0, description="Run a cycle every N minutes.")
    cron: str | None = Field(None, description='Cron expression instead of every_minutes, e.g. "*/15 * * * *".')

    @model_validator(mode="before")
    @classmethod
    def _cron_or_interval(cls, data: Any) -> Any:
        # every_minutes has a default, so only an explicit one next to cron is a contradiction.
        if isinstance(data, dict) and data.get("cron") is not None and data.get("every_minutes") is not None:
            raise ValueError("set either cron or every_minutes, not both (hint: remove every_minutes)")
        if isinstance(data, dict) and data.get("cron") is not None:
            data = {**data, "every_minutes": None}
        return data

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, v: str | None) -> str | None:
        """Checked here with the parser the scheduler uses, so a bad expression never reaches ``serve``."""
        if v is None:
            return v
        problem = cron_problem(v)
        if problem:
            raise ValueError(f"{problem} (hint: minute hour day-of-month month day-of-week, e.g. '*/15 * * * *')")
        return v


_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_CRON_NAMES = [
    {},
    {},
    {},
    {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())},
]
_CRON_ITEM = re.compile(r"^(?:\*|(\w+)(?:-(\w+))?)(?:/(\d+))?$")


def cron_problem(expr: str) -> str | None:
    """What is wrong with a five-field cron expression, or None: each field a list of ``*``, ``N``, ``N-M``,
    optionally ``/STEP``, within the field's range (month and weekday names allowed)."""
    fields = expr.split()
    if len(fields) != 5:
        return f"expected 5 fields, got {len(fields)}"
    for text, (label, low, high), names in zip(fields, _CRON_FIELDS, _CRON_NAMES, strict=True):
        for item in text.split(","):
            m = _CRON_ITEM.match(item.lower())
            if m is None:
                return f"{label} field {text!r}: {item!r} is not '*', 'N', 'N-M' or one of those with '/STEP'"
            start, end, step = m.groups()
            values = []
            for v in (start, end):
                if v is None:
                    continue
                n = names.get(v, int(v) if v.isdigit() else None)
                if n is None or not low <= n <= high:
                    return f"{label} field {text!r}: {v!r} is outside {low}-{high}"
                values.append(n)
            if step is not None and int(step) == 0:
                return f"{label} field {text!r}: a step of 0"
    return None


class FetchConfig(_Model):
    timeout_seconds: float = Field(20, gt=0, description="Total time allowed per request, connect included.")
    max_bytes: int = Field(5_000_000, gt=0, description="Cap on a response body, after decompression.")
    concurrency: int = Field(16, ge=1, le=256, description="Requests in flight at once.")
    per_host_concurrency: int = Field(2, ge=1, description="Requests in flight to one host at once.")
    per_host_delay_seconds: float = Field(0.0, ge=0, description="Minimum gap between requests to one host.")
    user_agent: str = Field("newswatch/0.1 (+https://github.com/newswatch/newswatch)")
    allow_private_networks: bool = Field(False, description="Allow private/loopback addresses (local feeds, tests).")
    max_redirects: int = Field(5, ge=0, le=20)
    max_items_per_feed: int = Field(500, ge=1, description="Entries read from one feed document (bounded memory).")
    max_articles_per_cycle: int = Field(2000, ge=1, description="New pages fetched in one cycle; the rest wait.")


class PollingConfig(_Model):
    min_interval_minutes: float = Field(5, gt=0, description="A busy feed is polled at most this often.")
    max_interval_minutes: float = Field(240, gt=0, description="A quiet feed is polled at least this often.")
    max_backoff_minutes: float = Field(720, gt=0, description="Cap on the back-off of a failing feed.")
    disable_after_gone: int = Field(3, ge=1, description="A feed answering 404/410 this many times is disabled.")


class FeedConfig(_Model):
    name: str = Field(min_length=1)
    url: str
    tags: list[str] = Field(
        default_factory=list, description="Groups (OPML folders); an alert rule's feeds: may name a tag."
    )
    enabled: bool = Field(True, description="false pauses the feed (newswatch feeds disable NAME).")

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {secrets.redacted(v)!r} (hint: feeds need https://host/path)")
        return v


@dataclass(frozen=True, slots=True)
class ConfigChecks:
    """Checks of values whose meaning is defined above the kernel, supplied by the loader that knows them.

    Why: a topic query is valid only if the topic matcher (``transform``) can compile it, and the kernel must not
    import ``transform``; ``pipeline.settings`` passes these checks, so every command still reports a bad query at
    start-up, with its position, together with every other problem.
    """

    query_problem: Callable[[str], str | None] | None = None


class TopicConfig(_Model):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    query: str

    @field_validator("query")
    @classmethod
    def _valid_query(cls, v: str, info: ValidationInfo) -> str:
        checks = (info.context or {}).get("checks")
        problem = checks.query_problem(v) if checks is not None and checks.query_problem else None
        if problem:
            raise ValueError(problem)
        return v


def _valid_channels(urls: list[str]) -> list[str]:
    """Every notify URL must be an apprise URL; all problems are reported together."""
    from newswatch.channel_urls import channel_problem

    problems = [p for p in (channel_problem(u) for u in urls) if p]
    if problems:
        raise ValueError("; ".join(problems))
    return urls


class AlertConfig(_Model):
    name: str | None = Field(None, description="Rule name (default: the topic).")
    topic: str
    notify: list[str] = Field(min_length=1, description="apprise URLs; use ${VAR} for secrets.")
    mode: Literal["instant", "digest"] = "instant"
    digest_every_minutes: float = Field(60, gt=0)
    min_sources: int = Field(1, ge=1, description="Alert only when this many feeds carry the story.")
    languages: list[str] | None = None
    feeds: list[str] | None = Field(None, description="Only stories from these feed names.")
    max_age_hours: float = Field(
        48, gt=0, description="Never alert a story first published longer ago than this (old news, back catalogues)."
    )

    _apprise_urls = field_validator("notify")(classmethod(lambda cls, v: _valid_channels(v)))

    @property
    def rule(self) -> str:
        return self.name or self.topic


class OperatorConfig(_Model):
    notify: list[str] = Field(default_factory=list)
    feed_failing_hours: float = Field(24, gt=0, description="Alert when a feed has failed this long.")
    feed_silent_factor: float = Field(
        5, gt=1, description="Alert when a feed is silent for this many times its usual gap between items."
    )

    _apprise_urls = field_validator("notify")(classmethod(lambda cls, v: _valid_channels(v)))


class NlpConfig(_Model):
    model: str = "en_core_web_sm"
    enabled: bool = True
    processes: int = Field(0, ge=0, description="spaCy worker processes; 0 = one per core.")


class StoriesConfig(_Model):
    window_days: float = Field(7, gt=0, description="How far back a new article looks for copies.")
    threshold: float | None = Field(
        None, gt=0, le=1, description="Shingle Jaccard to join a story; None = the measured default (0.5)."
    )
    containment_threshold: float | None = Field(
        None, gt=0, le=1,
        description="Share of a shorter copy found in a longer one to join its story; None = measured default (0.8).",
    )


class RunnerConfig(_Model):
    kind: Literal["local", "dask"] = "local"
    dask_address: str | None = Field(None, description="tcp://host:8786 of an existing scheduler; None = local cluster.")
    dask_workers: int = Field(2, ge=1)
    max_failure_ratio: float = Field(
        0.5, ge=0, le=1, description="The cycle fails when more than this share of polled feeds failed."
    )
    item_seconds: float = Field(
        60, gt=0,
        description="Wall-time budget of one page's extraction, cleaning and NLP in a worker; over it, the page "
                    "is abandoned and quarantined too_slow (a worker stuck in C code is replaced).",
    )


class UiConfig(_Model):
    password: str | None = Field(
        None, min_length=8, description="HTTP Basic password of `newswatch ui` (any user name); use ${VAR}."
    )
    tokens: list[str] = Field(
        default_factory=list, description="Accepted `Authorization: Bearer <token>` values for scripts; use ${VAR}."
    )

    @property
    def has_auth(self) -> bool:
        """Whether a non-loopback bind is allowed: some credential is configured."""
        return bool(self.password) or any(self.tokens)


class Settings(_Model):
    warehouse: WarehouseConfig = WarehouseConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    fetch: FetchConfig = FetchConfig()
    polling: PollingConfig = PollingConfig()
    feeds: list[FeedConfig] = Field(default_factory=list)
    topics: list[TopicConfig] = Field(default_factory=list)
    alerts: list[AlertConfig] = Field(default_factory=list)
    operator: OperatorConfig = OperatorConfig()
    nlp: NlpConfig = NlpConfig()
    stories: StoriesConfig = StoriesConfig()
    runner: RunnerConfig = RunnerConfig()
    ui: UiConfig = UiConfig()


def _cross_reference_problems(doc: dict[str, Any]) -> list[str]:
    """Problems between sections (an alert's unknown topic, a feed listed twice), from the raw document.

    Why raw: checked on the model, these would only show once every field is valid; users get every
    problem in one go instead.
    """
    def items(key: str) -> list[dict[str, Any]]:
        value = doc.get(key)
        return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []

    topics = {t.get("name") for t in items("topics")}
    feed_names = {f.get("name") for f in items("feeds")}
    feed_tags = {str(t).casefold() for f in items("feeds") if isinstance(f.get("tags"), list) for t in f["tags"]}
    problems: list[str] = []
    rules: set[str] = set()
    for i, a in enumerate(items("alerts")):
        topic = a.get("topic")
        if isinstance(topic, str) and topic not in topics:
            problems.append(f"alerts[{i}].topic: unknown topic {topic!r} (hint: one of {sorted(map(str, topics))})")
        rule = a.get("name") or topic
        if isinstance(rule, str):
            if rule in rules:  # the outbox keys alerts on the rule name
                problems.append(f"alerts[{i}].name: rule {rule!r} is defined twice (hint: give each rule a distinct name)")
            rules.add(rule)
        for j, name in enumerate(a.get("feeds") or []):
            if name not in feed_names and str(name).casefold() not in feed_tags:
                problems.append(f"alerts[{i}].feeds[{j}]: unknown feed {name!r} (hint: use a feeds[].name or tag)")
    seen: dict[str, int] = {}
    names: set[str] = set()
    for i, f in enumerate(items("feeds")):
        name = f.get("name")
        if isinstance(name, str):
            if name.casefold() in names:  # commands and alert rules name feeds
                problems.append(f"feeds[{i}].name: {name!r} is used twice (hint: give each feed a distinct name)")
            names.add(name.casefold())
        url = f.get("url")
        if isinstance(url, str):
            key = _feed_url_key(url)
            if key in seen:
                problems.append(f"feeds[{i}].url: the same URL as feeds[{seen[key]}].url (hint: remove one of them)")
            seen.setdefault(key, i)
    return problems


def _feed_url_key(url: str) -> str:
    """What makes two feed URLs the same feed: scheme and host case, a default port and a fragment do not count.

    Userinfo, path and query do count (after ``${VAR}`` expansion): two feeds with different
    credentials are two feeds.
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    netloc = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    netloc += f"[{host}]" if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}.get(scheme):
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


# A hint per pydantic error type, so that every problem tells the user what would be right.
_TYPE_HINTS = {
    "float_parsing": "a number, e.g. 20", "float_type": "a number, e.g. 20",
    "int_parsing": "a whole number, e.g. 16", "int_type": "a whole number, e.g. 16",
    "int_from_float": "a whole number, e.g. 16", "bool_parsing": "true or false", "bool_type": "true or false",
    "string_type": "text (quote it if it looks like a number)", "list_type": "a list, e.g. [a, b] or '- a' lines",
    "dict_type": "a mapping of keys, e.g. 'path: data/x.duckdb'", "missing": "this key is required",
    "literal_error": "one of the values listed", "model_type": "a mapping of keys",
}


def _hinted(err_type: str, msg: str) -> str:
    if "hint" in msg or "position" in msg:
        return msg
    hint = _TYPE_HINTS.get(err_type)
    if hint is None and err_type.startswith(("greater", "less", "too_short", "too_long", "string_pattern")):
        hint = "see the allowed range in README 'Configuration'"
    return f"{msg} (hint: {hint or 'see README Configuration'})"


def _expanded(node: Any, path: str, missing: list[str]) -> Any:
    """Replace ``${VAR}`` in every string, collecting unset variables with their path."""
    if isinstance(node, dict):
        return {k: _expanded(v, f"{path}.{k}" if path else str(k), missing) for k, v in node.items()}
    if isinstance(node, list):
        return [_expanded(v, f"{path}[{i}]", missing) for i, v in enumerate(node)]
    if isinstance(node, str):

        def sub(m: re.Match[str]) -> str:
            val = os.environ.get(m.group(1))
            if val is None:
                missing.append(f"{path}: environment variable {m.group(1)} is not set (hint: export {m.group(1)}=...)")
                return ""
            secrets.register(val)
            return val

        return _ENV_REF.sub(sub, node)
    return node


def _error_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def settings_from_dict(raw: Any, *, source: str = "config", checks: ConfigChecks | None = None) -> Settings:
    """Validate an already-parsed config document.

    Raises:
        ConfigError: with every problem, one ``path: message`` line each.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: the top level must be a mapping of sections (warehouse:, feeds:, ...)"])
    missing: list[str] = []
    expanded = _expanded(raw, "", missing)
    problems = list(missing)
    settings = None
    try:
        settings = Settings.model_validate(expanded, context={"checks": checks})
    except ValidationError as e:
        for err in e.errors():
            path = _error_path(tuple(err["loc"])) or source
            msg = secrets.redacted(str(err["msg"]).removeprefix("Value error, "))
            if err["type"] == "extra_forbidden":
                msg = "unknown key (hint: check the spelling; see README 'Configuration')"
            first, *rest = msg.split("\n")
            problems.append(f"{path}: {_hinted(err['type'], first)}")
            problems += rest  # a query's text and the caret under the error position
    problems += _cross_reference_problems(expanded)
    if problems or settings is None:
        raise ConfigError(problems)
    return settings


def config_path(explicit: str | None = None) -> Path:
    """``--config``, else ``./config.yaml``, else ``$NEWSWATCH_CONFIG``."""
    if explicit:
        return Path(explicit)
    local = Path("config.yaml")
    if local.exists() or not os.environ.get("NEWSWATCH_CONFIG"):
        return local
    return Path(os.environ["NEWSWATCH_CONFIG"])


# A config is a few kilobytes; a cap keeps a wrong path (a log, a dump) from being read whole.
MAX_CONFIG_BYTES = 1_000_000


class _StrictLoader(yaml.SafeLoader):
    """YAML without aliases and without duplicate keys.

    Why: an alias expands to a copy of its anchor's node, so a few hundred bytes of nested aliases
    ("billion laughs") become gigabytes once the document is walked; a config never needs them. A
    duplicate key silently keeps the last value (``allow_private_networks: false`` then ``true``),
    which hides exactly the kind of mistake a review looks for.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed in the config (hint: repeat the value)",
                event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    line = first_line.setdefault(key, key_node.start_mark.line + 1)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if line != key_node.start_mark.line + 1:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first on line {line}, again on line "
                        f"{key_node.start_mark.line + 1}; hint: keep one of them)", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _config_text(p: Path) -> str:
    """The config file's text: a regular UTF-8 file of at most ``MAX_CONFIG_BYTES``.

    Raises:
        ConfigError: missing, not a regular file (a directory, a device, a FIFO), too large, unreadable
            or not UTF-8.
    """
    hint = "(hint: pass --config PATH or set NEWSWATCH_CONFIG)"
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked on the open file.
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError([f"{p}: no such config file {hint}"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{p}: is a directory, not a config file {hint}"]) from None
    except OSError as e:
        raise ConfigError([f"{p}: cannot open the config file: {e.strerror} {hint}"]) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = "is a directory" if stat.S_ISDIR(mode) else "not a regular file (a device, FIFO or socket)"
        raise ConfigError([f"{p}: {what}, not a config file {hint}"])
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read(MAX_CONFIG_BYTES + 1)
        except OSError as e:
            raise ConfigError([f"{p}: cannot read the config file: {e.strerror}"]) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError([f"{p}: larger than {MAX_CONFIG_BYTES} bytes; is this the config file? {hint}"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError([f"{p}:{line}: not UTF-8 text (byte {e.start}: {data[e.start]:#04x}; "
                           "hint: save the file as UTF-8)"]) from None


def load_settings(path: str | Path | None = None, *, checks: ConfigChecks | None = None) -> Settings:
    """Read and validate the config file.

    Raises:
        ConfigError: the file is missing, not a regular UTF-8 file under the size cap, not YAML, uses
            aliases or duplicate keys, or is invalid (every problem listed).
    """
    p, raw = _config_document(path)
    return settings_from_dict(raw, source=str(p), checks=checks)


def load_sections(path: str | Path | None, sections: tuple[str, ...] = ("warehouse",)) -> Settings:
    """Only ``sections`` of the config file, validated; every other section left at its defaults.

    Why: reading the warehouse (``sql``, ``feeds``) or inspecting a page must not depend on an alert's
    ``${HOOK_URL}`` or a topic being valid; those belong to the commands that poll and send.

    Raises:
        ConfigError: the file is missing, not YAML, or one of ``sections`` is invalid.
    """
    p, raw = _config_document(path)
    if raw is not None and not isinstance(raw, dict):
        return settings_from_dict(raw, source=str(p))  # reports the top level
    picked = {k: v for k, v in (raw or {}).items() if k in sections}
    return settings_from_dict(picked, source=str(p))


def _config_document(path: str | Path | None) -> tuple[Path, Any]:
    p = config_path(str(path) if path else None)
    text = _config_text(p)
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark else str(p)
        raise ConfigError([f"{where}: not valid YAML: {getattr(e, 'problem', None) or e}"]) from None
    except RecursionError:
        raise ConfigError([f"{p}: nested too deeply to be a config"]) from None
    return p, raw
