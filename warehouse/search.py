"""Full-text search over the warehouse: the index proposes and ranks, the topic matcher decides.

Why two steps: the index (``warehouse/search_index.py``) answers in milliseconds but cannot reproduce the
matcher's word boundaries, phrase separators and exclusions; the matcher is exact but would have to read
every text. So the index is asked for a superset of the matches (``transform.search_query``), in BM25
order (or by date), and each candidate is checked with ``matched_terms`` against the text of the
warehouse being read (the analysts' snapshot). A hit is therefore a match by the topics' own rules, and
an article the index found but the snapshot does not hold yet is simply not a hit.

One hit per story: the best-ranked matching copy stands for its story; the other copies of that story
that match the query and the filters are listed in ``copies`` (checked the same way).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import tantivy

from newswatch.errors import FatalError
from transform.search_query import AllOf, AnyOf, Phrase, Plan, candidate_plan, snippet, wildcard_pieces
from transform.topics import TopicQuery, matched_terms
from warehouse.search_index import IndexPosition, articles_behind, query_tokens

# A title hit weighs this much more than a body hit in the BM25 ranking: the headline says what the
# article is about, the body mentions much in passing.
TITLE_BOOST = 2.0
# Candidates fetched from the index per round, as a multiple of the hits still wanted: the matcher
# rejects few of them on ordinary queries, so one round is the rule.
CANDIDATES_PER_HIT = 4
MIN_ROUND = 50
SORTS = ("relevance", "date")


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrictions besides the query (all optional)."""

    since: datetime | None = None
    until: datetime | None = None
    feeds: tuple[str, ...] = ()  # feed names or ids
    topic: str | None = None
    language: str | None = None
    speaker: str | None = None  # part of a quoted speaker's name, case-insensitive


@dataclass(slots=True)
class SearchHit:
    """One story's best-ranked matching article."""

    article_id: str
    story_id: str
    url: str
    title: str | None
    published_at: datetime
    feed: str
    language: str | None
    score: float
    snippet: str
    matched_terms: tuple[str, ...]
    copies: list[str] = field(default_factory=list)
    speakers: list[str] = field(default_factory=list)
    quotes: list[dict[str, str]] = field(default_factory=list)

    def as_record(self) -> dict[str, Any]:
        """The JSON object of ``newswatch search --format json``."""
        return {
            "article_id": self.article_id, "story_id": self.story_id, "url": self.url, "title": self.title,
            "published_at": self.published_at.isoformat(), "feed": self.feed, "language": self.language,
            "score": round(self.score, 4), "snippet": self.snippet, "copies": self.copies,
            "matched_terms": list(self.matched_terms), "speakers": self.speakers, "quotes": self.quotes,
        }


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The hits, and how the index stands against the warehouse that was read."""

    hits: list[SearchHit]
    candidates_checked: int
    articles_not_indexed: int  # articles of the warehouse the index has not caught up with yet


def _phrase_query(schema: tantivy.Schema, fld: str, phrase: Phrase) -> tantivy.Query | None:
    words: list[str] = []
    for piece, wild in wildcard_pieces(phrase):
        tokens = [re.escape(t) for t in query_tokens(piece)]
        if wild and tokens:
            tokens[-1] += ".*"
        words += tokens
    if not words:
        return None
    if len(words) == 1:
        w = words[0]
        return tantivy.Query.regex_query(schema, fld, w) if w.endswith(".*") else tantivy.Query.term_query(
            schema, fld, re.sub(r"\\(.)", r"\1", w))
    if any(w.endswith(".*") for w in words):
        patterns: list[str | tuple[int, str]] = [*words]
        return tantivy.Query.regex_phrase_query(schema, fld, patterns)
    return tantivy.Query.phrase_query(schema, fld, [re.sub(r"\\(.)", r"\1", w) for w in words])


def _tantivy_query(schema: tantivy.Schema, plan: Plan) -> tantivy.Query | None:
    """The index query for ``plan`` (None: every document is a candidate)."""
    if plan is None:
        return None
    if isinstance(plan, Phrase):
        title, body = _phrase_query(schema, "title", plan), _phrase_query(schema, "body", plan)
        if title is None or body is None:
            return None
        return tantivy.Query.boolean_query([
            (tantivy.Occur.Should, tantivy.Query.boost_query(title, TITLE_BOOST)), (tantivy.Occur.Should, body)])
    parts = [_tantivy_query(schema, p) for p in plan.parts]
    if isinstance(plan, AllOf):
        kept = [p for p in parts if p is not None]
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, p) for p in kept]) if kept else None
    assert isinstance(plan, AnyOf)
    if any(p is None for p in parts):
        return None
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, p) for p in parts if p is not None])


def _filter_queries(schema: tantivy.Schema, filters: SearchFilters, feed_ids: list[str]) -> list[tantivy.Query]:
    out: list[tantivy.Query] = []
    if filters.since is not None or filters.until is not None:
        out.append(tantivy.Query.range_query(schema, "published_at", tantivy.FieldType.Date, filters.since,
                                             filters.until, include_upper=filters.until is None))
    if feed_ids:
        out.append(tantivy.Query.term_set_query(schema, "feed_id", feed_ids))
    if filters.language:
        out.append(tantivy.Query.term_query(schema, "language", filters.language.lower()))
    return [tantivy.Query.const_score_query(q, 0.0) for q in out]


def resolved_feed_ids(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> list[str]:
    """The feed ids for feed names (case-insensitive) or ids.

    Raises:
        FatalError: a name matches no feed; the message lists the known feeds.
    """
    ids: list[str] = []
    for name in names:
        rows = con.execute("SELECT feed_id FROM feeds WHERE feed_id = $1 OR lower(name) = lower($1)", [name]).fetchall()
        if not rows:
            known = [str(r[0]) for r in con.execute("SELECT name FROM feeds ORDER BY name LIMIT 30").fetchall()]
            raise FatalError("unknown_feed", f"no feed named {name!r} (feeds: {', '.join(known) or 'none'})")
        ids += [str(r[0]) for r in rows]
    return ids


def _sql_filters(filters: SearchFilters, feed_ids: list[str]) -> tuple[str, list[Any]]:
    """The filters as SQL over ``articles a`` (the same conditions the index applies, plus topic and speaker)."""
    where: list[str] = []
    params: list[Any] = []
    if filters.since is not None:
        where.append("a.published_at >= ?")
        params.append(filters.since)
    if filters.until is not None:
        where.append("a.published_at < ?")
        params.append(filters.until)
    if feed_ids:
        where.append("list_contains(?, a.feed_id)")
        params.append(feed_ids)
    if filters.language:
        where.append("lower(a.language) = lower(?)")
        params.append(filters.language)
    if filters.topic:
        where.append("EXISTS (SELECT 1 FROM topic_matches t WHERE t.article_id = a.article_id AND lower(t.topic) = lower(?))")
        params.append(filters.topic)
    if filters.speaker:
        where.append("EXISTS (SELECT 1 FROM quotes q WHERE q.article_id = a.article_id AND q.speaker ILIKE ?)")
        params.append(_like(filters.speaker))
    return "".join(f" AND {w}" for w in where), params


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_ARTICLE_SQL = """
SELECT a.article_id, a.story_id, a.url, a.title, a.text, a.published_at, coalesce(f.name, a.feed_id), a.language,
       (TRUE{filters}) AS passes
FROM articles a LEFT JOIN feeds f USING (feed_id)
WHERE a.text <> '' AND {key} IN (SELECT unnest(?))
"""

# One candidate from the index: (article_id, story_id, DuckDB rowid when indexed, score or date key).
Candidate = tuple[str, str, int, Any]


def _candidates(searcher: tantivy.Searcher, tq: tantivy.Query, size: int, offset: int = 0,
                order_by: str | None = None) -> list[Candidate]:
    kwargs: dict[str, Any] = {"order_by_field": order_by} if order_by else {}
    out: list[Candidate] = []
    for key, addr in searcher.search(tq, size, count=False, offset=offset, **kwargs).hits:
        doc = searcher.doc(addr)
        out.append((str(doc["article_id"][0]), str(doc["story_id"][0]), int(doc["row"][0]), key))
    return out


def _checked(con: duckdb.DuckDBPyConnection, query: TopicQuery, candidates: list[Candidate], filters_sql: str,
             params: list[Any]) -> dict[str, tuple[tuple[Any, ...], tuple[str, ...]]]:
    """The candidates that pass the filters and match, read from the warehouse: id -> (row, terms).

    Rows are read by the rowid the index recorded (one row each); a candidate whose rowid now holds
    another article, or nothing (a compacted copy, an article the snapshot does not hold yet), is looked
    up by its id instead.
    """
    wanted = {c[0] for c in candidates}
    if not wanted:
        return {}
    sql = _ARTICLE_SQL.format(filters=filters_sql, key="a.rowid")
    try:
        rows = {str(r[0]): r for r in con.execute(sql, [*params, [c[2] for c in candidates]]).fetchall()
                if str(r[0]) in wanted}
    except duckdb.BinderException:  # the lake's articles are a view over Parquet: no rowid, ids only
        rows = {}
    missing = sorted(wanted - set(rows))
    if missing:
        sql = _ARTICLE_SQL.format(filters=filters_sql, key="a.article_id")
        rows.update({str(r[0]): r for r in con.execute(sql, [*params, missing]).fetchall()})
    out: dict[str, tuple[tuple[Any, ...], tuple[str, ...]]] = {}
    for article_id, row in rows.items():
        terms = matched_terms(query, row[3], row[4]) if row[8] else None
        if terms is not None:
            out[article_id] = (row, terms)
    return out


def search_hits(con: duckdb.DuckDBPyConnection, index: tantivy.Index, position: IndexPosition, query: TopicQuery,
                filters: SearchFilters = SearchFilters(), *, limit: int = 20, sort: str = "relevance") -> SearchResult:
    """Search: at most ``limit`` stories matching ``query`` and ``filters``, best first (or newest first).

    Args:
        con: a read-only connection to the warehouse whose text decides (the analysts' snapshot).
        index: the search index (``warehouse.search_index.opened_index``).
        position: the index's position, to report articles it has not caught up with.
        query: the compiled query.
        filters: restrictions besides the query.
        limit: how many stories to return.
        sort: ``relevance`` (BM25, title hits weigh more) or ``date`` (newest first).
    Returns:
        The hits and the counts around them.
    Raises:
        FatalError: bad sort, limit or feed name.
    """
    if sort not in SORTS:
        raise FatalError("bad_sort", f"--sort must be one of {', '.join(SORTS)}")
    if limit < 1:
        raise FatalError("bad_limit", "--limit must be at least 1")
    schema = index.schema
    feed_ids = resolved_feed_ids(con, filters.feeds) if filters.feeds else []
    text_query = _tantivy_query(schema, candidate_plan(query.root))
    clauses = [text_query or tantivy.Query.all_query()] + _filter_queries(schema, filters, feed_ids)
    tq = tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in clauses])
    filters_sql, params = _sql_filters(filters, feed_ids)
    index.reload()
    searcher = index.searcher()
    hits: dict[str, SearchHit] = {}  # story_id -> hit, in rank order
    checked, offset = 0, 0
    while len(hits) < limit:
        page_size = max(MIN_ROUND, CANDIDATES_PER_HIT * (limit - len(hits)))
        page = _candidates(searcher, tq, page_size, offset, "published_at" if sort == "date" else None)
        offset += len(page)
        checked += len(page)
        found = _checked(con, query, page, filters_sql, params)
        for article_id, _, _, key in page:
            if article_id not in found:
                continue
            row, terms = found[article_id]
            story = str(row[1])
            if story in hits:
                hits[story].copies.append(article_id)
            elif len(hits) < limit:
                hits[story] = SearchHit(article_id, story, str(row[2]), row[3], row[5], str(row[6]), row[7],
                                        float(key) if sort == "relevance" else 0.0, snippet(query, terms, row[3], row[4]),
                                        terms)
        if len(page) < page_size:
            break
    result = list(hits.values())
    checked += _add_copies(con, searcher, schema, tq, query, result, filters_sql, params)
    if sort == "date":
        _add_scores(searcher, schema, tq, result)
    _add_speakers(con, result, filters.speaker)
    return SearchResult(result, checked, articles_behind(con, position))


# Copies of one story are few (a wire story carried by a few dozen outlets); this bounds a pathological one.
MAX_COPY_CANDIDATES = 10_000


def _add_copies(con: duckdb.DuckDBPyConnection, searcher: tantivy.Searcher, schema: tantivy.Schema, tq: tantivy.Query,
                query: TopicQuery, hits: list[SearchHit], filters_sql: str, params: list[Any]) -> int:
    """Every other matching copy of each hit's story, also those the index ranked too low to fetch.

    Returns:
        How many candidates were checked.
    """
    if not hits:
        return 0
    by_story = {h.story_id: h for h in hits}
    known = {h.article_id for h in hits} | {c for h in hits for c in h.copies}
    stories = tantivy.Query.const_score_query(tantivy.Query.term_set_query(schema, "story_id", list(by_story)), 0.0)
    both = tantivy.Query.boolean_query([(tantivy.Occur.Must, tq), (tantivy.Occur.Must, stories)])
    candidates = [c for c in _candidates(searcher, both, MAX_COPY_CANDIDATES) if c[0] not in known]
    found = _checked(con, query, candidates, filters_sql, params)
    for article_id, (row, _) in sorted(found.items(), key=lambda kv: (kv[1][0][5], kv[0])):
        by_story[str(row[1])].copies.append(article_id)
    return len(candidates)


def _add_scores(searcher: tantivy.Searcher, schema: tantivy.Schema, tq: tantivy.Query, hits: list[SearchHit]) -> None:
    """BM25 scores for hits found in date order (the date-ordered search reports dates, not scores)."""
    if not hits:
        return
    ids = tantivy.Query.const_score_query(tantivy.Query.term_set_query(schema, "article_id", [h.article_id for h in hits]), 0.0)
    scored = tantivy.Query.boolean_query([(tantivy.Occur.Must, tq), (tantivy.Occur.Must, ids)])
    scores = {str(searcher.doc(addr)["article_id"][0]): float(s) for s, addr in searcher.search(scored, len(hits)).hits}
    for h in hits:
        h.score = scores.get(h.article_id, 0.0)


def _add_speakers(con: duckdb.DuckDBPyConnection, hits: list[SearchHit], speaker: str | None) -> None:
    """Who is quoted in each hit; with a speaker filter, that speaker's quotes too."""
    if not hits:
        return
    ids = [h.article_id for h in hits]
    rows = con.execute("SELECT article_id, speaker, text, speaker ILIKE ? AS wanted FROM quotes "
                       "WHERE speaker <> '' AND article_id IN (SELECT unnest(?)) ORDER BY article_id, start_char",
                       [_like(speaker or ""), ids]).fetchall()
    by_id = {h.article_id: h for h in hits}
    for article_id, name, text, wanted in rows:
        hit = by_id[str(article_id)]
        if name not in hit.speakers:
            hit.speakers.append(str(name))
        if speaker and wanted:
            hit.quotes.append({"speaker": str(name), "text": str(text)})
