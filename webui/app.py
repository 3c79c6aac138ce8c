"""The workbench's web application: server-rendered pages, their JSON twins and CSV tables.

Why Starlette (already installed with Prefect) rather than a framework with forms and sessions: the
app only reads, so it needs routing, templates, static files and a thread pool for DuckDB, nothing
more. Every page is one data function from ``webui/reads.py`` rendered three ways: HTML at ``/x``,
JSON at ``/api/x`` and each of its tables as CSV at ``/api/x?format=csv&table=NAME``, so the numbers
can never disagree between them.

Safety, all in one place (``_Guard``): authentication, the loopback ``Host`` check, and headers on every
response, among them a Content-Security-Policy that allows scripts, styles and images from this server
only (no inline script at all: the JavaScript is a static file). Templates autoescape, and the ``t``
filter makes control characters and bidi overrides visible. The app never redirects, so it cannot be
an open redirect.

Search: ``create_app(search=...)`` takes a function from the query and its filters to result objects
(what ``newswatch search --format json`` prints); with one, ``/search`` and ``/api/search`` exist, and
without one they are simply absent (404).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webui import charts, console, reads
from webui.auth import Credentials, host_of, is_authorized, is_loopback_host
from webui.snapshots import SnapshotMissing, SnapshotReader, Version
from webui.text import displayable, highlighted

log = logging.getLogger(__name__)

Row = dict[str, Any]
Clock = Callable[[], datetime]
# (query, filters) -> result objects; filters are the query-string parameters other than q and page.
SearchFn = Callable[[str, Mapping[str, str]], Sequence[Mapping[str, Any]]]
PageFn = Callable[[duckdb.DuckDBPyConnection, Request, datetime], Row]

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]

STATIC_DIR = Path(__file__).with_name("static")
# Page data kept for the current minute (see ``create_app``): a few hundred rows each, so ~1 MB at most.
MEMO_PAGES = 256


class BadRequest(ValueError):
    """A query-string parameter that cannot be used (shown to the user as a 400)."""


def _int_param(request: Request, name: str, default: int, *, low: int = 0, high: int = 10**9) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


def _days(request: Request, default: int) -> int:
    from warehouse.trends import MAX_DAYS

    return _int_param(request, "days", default, low=1, high=MAX_DAYS)


# ---- the pages: each reads one snapshot cursor and returns the data its template and API render ----

def _home(con: duckdb.DuckDBPyConnection, request: Request, now: datetime) -> Row:
    return reads.home_page(con, now, _days(request, reads.HOME_DAYS))


def _topics(con: duckdb.DuckDBPyConnection, request: Request, now: datetime) -> Row:
    return {"topics": reads.known_topics(con)}


def _topic(con: duckdb.DuckDBPyConnection, request: Request, now: datetime) -> Row:
    return reads.topic_page(con, request.path_params["name"], now, _days(request, reads.DETAIL_DAYS))


def _story(con: duckdb.DuckDBPyConnection, request: Request, now: datetime) -> Row:
    return reads.story_page(con, request.path_params["story_id"])


def _entity(con: duckdb.DuckDBPyConnection, request: Request, now: datetime) -> Row:
    return reads.entity_page(con, request.path_params["entity_id"], now, _days(request, reads.DETAIL_DAYS))


def _quotes(con: duckdb.DuckDBPyConnection, request: Request, now: datetime) -> Row:
    q = request.query_params
    return reads.quotes_page(con, q.get("speaker", ""), q.get("q", ""), offset=_int_param(request, "offset", 0))


def _feeds(con: duckdb.DuckDBPyConnection, request: Request, now: datetime) -> Row:
    return reads.feeds_page(con, now)


def _sql(con: duckdb.DuckDBPyConnection, request: Request, now: datetime) -> Row:
    query = request.query_params.get("q", "")
    as_csv = request.query_params.get("format") == "csv"
    result = console.query_result(con, query, max_rows=console.MAX_CSV_ROWS if as_csv else console.MAX_PAGE_ROWS)
    return {"q": query, "relations": console.documented_relations(con), "columns": list(result.columns),
            "rows": [dict(zip(result.columns, r, strict=True)) for r in result.rows], "truncated": result.truncated,
            "seconds": round(result.seconds, 3), "error": result.error, "kind": result.kind}


# name -> (path, template, data function, default CSV table)
PAGES: dict[str, tuple[str, str, PageFn, str]] = {
    "home": ("/", "home.html", _home, "topics"),
    "topics": ("/topics", "topics.html", _topics, "topics"),
    "topic": ("/topics/{name}", "topic.html", _topic, "days"),
    "story": ("/stories/{story_id}", "story.html", _story, "copies"),
    "entity": ("/entities/{entity_id:path}", "entity.html", _entity, "days"),
    "quotes": ("/quotes", "quotes.html", _quotes, "quotes"),
    "feeds": ("/feeds", "feeds.html", _feeds, "feeds"),
    "sql": ("/sql", "sql.html", _sql, "rows"),
}


# ---- rendering ----

def _plain(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (timestamps as ISO 8601, NaN as null, dataclasses as dicts)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def json_body(data: Any) -> bytes:
    """The API's JSON encoding of page data."""
    return json.dumps(_plain(data), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def csv_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """A table's header and rows for CSV: a nested list of records (a topic's ``days``) becomes one row each."""
    flat: list[Mapping[str, Any]] = []
    for r in rows:
        nested = next((k for k, v in r.items() if isinstance(v, list) and v and isinstance(v[0], Mapping)), None)
        if nested is None:
            flat.append(r)
            continue
        parent = {k: v for k, v in r.items() if k != nested}
        flat.extend({**parent, **child} for child in r[nested])
    header: list[str] = []
    for r in flat:
        header.extend(k for k in r if k not in header)
    out = []
    for r in flat:
        row = []
        for k in header:
            v = _plain(r.get(k))
            row.append(json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else ("" if v is None else v))
        out.append(row)
    return header, out


def csv_body(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """``rows`` as UTF-8 CSV with a header line."""
    header, body = csv_rows(rows)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(body)
    return buf.getvalue().encode("utf-8")


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "" if value is None else str(value)


def _pct(value: Any) -> str:
    if value is None:
        return ""
    v = float(value) * 100
    return f"{v:.1f}%" if v >= 0.1 or v == 0 else f"{v:.2f}%"


def _external(url: Any) -> str:
    """A third-party link, only when it is http(s): a ``javascript:`` URL in a feed must not become a link."""
    text = str(url or "")
    return text if text.lower().startswith(("http://", "https://")) else ""


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("webui", "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(t=displayable, when=_when, pct=_pct, external=_external, highlight=highlighted)
    env.globals.update(daily_chart=charts.daily_chart)
    return env


# ---- the guard: auth, host check, security headers ----

class _Guard:
    def __init__(self, app: ASGIApp, creds: Credentials) -> None:
        self.app = app
        self.creds = creds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        if not self.creds.required and not is_loopback_host(host_of(headers.get("host", ""))):
            await _plain_response(421, "This server answers only at a loopback address.\n")(scope, receive, secured)
            return
        if not is_authorized(headers.get("authorization"), self.creds):
            resp = _plain_response(401, "Authentication required.\n")
            resp.headers["www-authenticate"] = 'Basic realm="newswatch", charset="UTF-8"'
            await resp(scope, receive, secured)
            return
        await self.app(scope, receive, secured)


def _plain_response(status: int, text: str) -> Response:
    return Response(text, status_code=status, media_type="text/plain; charset=utf-8", headers={"cache-control": "no-store"})


# ---- the app ----

def create_app(reader: SnapshotReader, *, creds: Credentials | None = None, clock: Clock | None = None,
               search: SearchFn | None = None) -> Starlette:
    """The workbench over ``reader``'s snapshot.

    Args:
        reader: where each request gets its one snapshot version.
        creds: accepted credentials; none means open, and loopback ``Host`` names only.
        clock: the current time (tests pin it); default ``datetime.now(UTC)``.
        search: the full-text search function; without it there is no search page.
    """
    env = _environment()
    now_fn: Clock = clock or (lambda: datetime.now(UTC))
    memo: OrderedDict[tuple[Version, str, str, datetime], Row] = OrderedDict()
    memo_lock = threading.Lock()

    def read(fn: PageFn, request: Request) -> tuple[Row, Version]:
        # A page is a pure function of (snapshot file, URL, minute): the file never changes once published,
        # so the data of a page read this minute is served again to the next reader of the same version.
        # The console is not memoised (a CSV result can be a million rows).
        now = now_fn().replace(second=0, microsecond=0)
        with reader.cursor() as (con, version):
            key = (version, request.url.path, request.url.query, now)
            if fn is not _sql:
                with memo_lock:
                    if key in memo:
                        memo.move_to_end(key)
                        return memo[key], version
            data = fn(con, request, now)
        if fn is not _sql:
            with memo_lock:
                memo[key] = data
                while len(memo) > MEMO_PAGES:
                    memo.popitem(last=False)
        return data, version

    def failure(request: Request, api: bool, status: int, message: str) -> Response:
        if api:
            return Response(json_body({"error": message}), status_code=status, media_type="application/json")
        html = env.get_template("error.html").render(status=status, message=message, nav=_nav(request))
        return HTMLResponse(html, status_code=status)

    async def guarded(request: Request, api: bool, fn: PageFn) -> tuple[Row, Version] | Response:
        try:
            return await run_in_threadpool(read, fn, request)
        except reads.NotFound as e:
            return failure(request, api, 404, str(e))
        except (BadRequest, ValueError) as e:
            return failure(request, api, 400, str(e))
        except SnapshotMissing as e:
            return failure(request, api, 503, str(e))
        except duckdb.CatalogException as e:
            log.warning("page %s: %s", request.url.path, e)
            return failure(request, api, 503, "this warehouse predates the trend views (hint: run `newswatch run` "
                                              "once with this version, then reload)")
        except duckdb.Error as e:
            log.exception("page %s failed", request.url.path)
            return failure(request, api, 503, f"the warehouse could not be read: {type(e).__name__}")

    def page_endpoint(name: str, template: str, fn: PageFn) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            got = await guarded(request, False, fn)
            if isinstance(got, Response):
                return got
            data, version = got
            html = env.get_template(template).render(data=data, page=name, nav=_nav(request), snapshot=version.label,
                                                     request_path=request.url.path, query=request.query_params)
            return HTMLResponse(html, headers={"x-newswatch-snapshot": version.label, "cache-control": "no-store"})
        return endpoint

    def api_endpoint(fn: PageFn, default_table: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            fmt = request.query_params.get("format", "json")
            if fmt not in ("json", "csv"):
                return failure(request, True, 400, "format must be json or csv")
            got = await guarded(request, True, fn)
            if isinstance(got, Response):
                return got
            data, version = got
            headers = {"x-newswatch-snapshot": version.label, "cache-control": "no-store"}
            if fmt == "json":
                status = 400 if data.get("error") else 200  # a console query DuckDB refused
                return Response(json_body(data), status_code=status, media_type="application/json", headers=headers)
            table = request.query_params.get("table", default_table)
            rows = data.get(table)
            if not isinstance(rows, list):
                tables = ", ".join(k for k, v in data.items() if isinstance(v, list)) or "none"
                return failure(request, True, 400, f"no table {table!r} here (tables: {tables})")
            if data.get("error"):
                return failure(request, True, 400, str(data["error"]))
            headers["content-disposition"] = f'attachment; filename="newswatch-{_safe_name(table)}.csv"'
            return Response(csv_body(rows), media_type="text/csv; charset=utf-8", headers=headers)
        return endpoint

    routes: list[Route | Mount] = []
    for name, (path, template, fn, table) in PAGES.items():
        routes.append(Route(path, page_endpoint(name, template, fn), methods=["GET"], name=name))
        api_path = "/api/home" if path == "/" else "/api" + path
        routes.append(Route(api_path, api_endpoint(fn, table), methods=["GET"], name=f"api_{name}"))
    if search is not None:
        routes += _search_routes(search, env, failure)
    routes.append(Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"))

    app = Starlette(routes=routes)
    app.router.redirect_slashes = False  # the only redirects a Starlette app makes; none here, ever
    app.add_middleware(_Guard, creds=creds or Credentials())
    return app


def _search_routes(search: SearchFn, env: Environment,
                   failure: Callable[[Request, bool, int, str], Response]) -> list[Route | Mount]:
    """``/search`` and ``/api/search`` over ``search``: results grouped by story, 20 stories a page."""
    per_page = 20

    def grouped(request: Request) -> Row:
        q = request.query_params.get("q", "").strip()
        page = _int_param(request, "page", 1, low=1, high=10_000)
        filters = {k: v for k, v in request.query_params.items() if k not in ("q", "page", "format")}
        results = list(search(q, filters)) if q else []
        groups: dict[str, list[Mapping[str, Any]]] = {}
        for r in results:
            groups.setdefault(str(r.get("story_id") or r.get("article_id")), []).append(r)
        ordered = list(groups.items())
        shown = ordered[(page - 1) * per_page: page * per_page]
        return {"q": q, "filters": filters, "page": page, "has_more": len(ordered) > page * per_page,
                "results": results, "stories": [{"story_id": k, "results": v} for k, v in shown]}

    async def html(request: Request) -> Response:
        try:
            data = await run_in_threadpool(grouped, request)
        except BadRequest as e:
            return failure(request, False, 400, str(e))
        return HTMLResponse(env.get_template("search.html").render(data=data, page="search", nav=_nav(request),
                                                                   snapshot="", query=request.query_params))

    async def api(request: Request) -> Response:
        try:
            data = await run_in_threadpool(grouped, request)
        except BadRequest as e:
            return failure(request, True, 400, str(e))
        if request.query_params.get("format") == "csv":
            return Response(csv_body(data["results"]), media_type="text/csv; charset=utf-8")
        return Response(json_body(data["results"]), media_type="application/json")

    return [Route("/search", html, methods=["GET"], name="search"), Route("/api/search", api, methods=["GET"])]


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:60] or "table"


def _nav(request: Request) -> list[tuple[str, str]]:
    names = [("/", "Home"), ("/topics", "Topics"), ("/quotes", "Quotes"), ("/feeds", "Feeds"), ("/sql", "SQL")]
    if any(getattr(r, "name", None) == "search" for r in request.app.routes):
        names.insert(1, ("/search", "Search"))
    return names
