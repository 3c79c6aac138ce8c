"""A deterministic synthetic news corpus served over loopback, for tests and benchmarks.

Why: benchmarks need thousands of realistic article pages and tests need a corpus whose truth is
known (which articles are copies of which, what each body says), without the internet and without
third-party text. Every article is generated from ``(seed, index)`` alone, so the same arguments
always give the same bytes, and pages are rendered only when requested (1,600 articles cost a few
hundred kilobytes of plan, not their HTML).

Bodies are English-like prose built from templates and a vocabulary of people, places and
organisations, with quotes attributed by "said" in several shapes, so NER, quote attribution and
extraction all have work to do. Distinct articles share almost no 4-word shingles (measured: max
pairwise Jaccard 0.08 over 200 articles, mean 0.04; tests/test_demo_site.py pins < 0.2), while a
syndicated article is a copy of another under a different URL and headline, with its last paragraph
trimmed and a credit line added (Jaccard 0.88-0.96), which the stories dedup must fold together.
"""

from __future__ import annotations

import html
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler

from demosite.loopback import LoopbackSite, Route, strong_etag

_FEMALE = ("Amara Anna Beatriz Chloe Daniela Elena Fatima Grace Hana Ingrid Jasmine Keiko Laila Lucia Maya "
           "Mei Nadia Olga Priya Rosa Sara Sofia Tamar Valentina Yara Zainab Aisha Clara Irene Leila").split()
_MALE = ("Adam Andre Bruno Carlos Daniel Emeka Felix Hugo Ivan Jonas Kenji Lars Marco Mateo Nikolai Omar "
         "Pavel Rafael Samuel Tomas Victor Wei Yusuf Diego Farid Gabriel Joel Kwame Luca Stefan").split()
_SURNAMES = ("Abbott Adeyemi Alvarez Bauer Becker Castillo Chen Costa Dubois Eriksen Fischer Fonseca Garcia "
             "Haddad Hansen Ibrahim Ivanova Jensen Kaplan Kimura Kowalski Laurent Lindqvist Mahmoud Marsh "
             "Mendes Moreau Nakamura Novak Okafor Olsen Ortega Park Petrov Quinn Reyes Rossi Sato Schmidt "
             "Silva Sorensen Tanaka Torres Usman Varga Vasquez Weber Whitfield Yilmaz Zhang Ferreira Moyo "
             "Kovacs Halvorsen Nilsen Obi Pereira Romano Sandoval Takahashi Volkov Wallace Youssef").split()
_PLACES = tuple(tuple(p.split("|")) for p in (
    "Lisbon|Portugal;Nairobi|Kenya;Oslo|Norway;Manila|the Philippines;Lima|Peru;Hanoi|Vietnam;Krakow|Poland;"
    "Accra|Ghana;Porto Alegre|Brazil;Osaka|Japan;Lyon|France;Tbilisi|Georgia;Montreal|Canada;Adelaide|Australia;"
    "Seville|Spain;Dhaka|Bangladesh;Izmir|Turkey;Cork|Ireland;Tallinn|Estonia;Dakar|Senegal;Quito|Ecuador;"
    "Busan|South Korea;Gdansk|Poland;Durban|South Africa;Rotterdam|the Netherlands;Valencia|Spain;"
    "Hamburg|Germany;Casablanca|Morocco;Auckland|New Zealand;Bergen|Norway;Cebu|the Philippines;"
    "Mombasa|Kenya;Leipzig|Germany;Turin|Italy;Perth|Australia").split(";"))
_ORG_HEADS = ("Northgate Ashford Bluewater Corvid Halden Meridian Kestrel Solenne Tidewell Granite Harrow "
              "Larchmont Silverline Redfern Orison Westbrook Calder Fairhaven Brightmoor Stonebridge").split()
_ORG_TAILS = ("Holdings|Energy|Logistics|Health|Capital|Analytics|Foods|Motors|Telecom|Pharmaceuticals|"
              "Institute|Foundation|Partners|Shipping|Robotics|Insurance|Airways|Mining|Labs|Media").split("|")
_PUBLIC_BODIES = ("the Ministry of Finance|the Ministry of Health|the Transport Authority|the Competition Commission|"
                  "the Environment Agency|the city council|the Central Statistics Office|the Electoral Commission|"
                  "the Port Authority|the Energy Regulator|the Supreme Court|the Education Department").split("|")
_ROLES = ("chief executive|spokeswoman|spokesman|senior analyst|chief economist|deputy director|"
          "head of research|board member|finance director|union representative|lead engineer|"
          "policy adviser|regional manager|legal counsel|chief scientist").split("|")
_SECTIONS: dict[str, tuple[str, ...]] = {
    "Business": tuple("merger profit dividend factory contract takeover revenue supplier forecast shares "
                      "acquisition bond layoffs expansion warehouse tariff".split()),
    "Politics": tuple("coalition budget referendum amendment inquiry ballot candidate minister mandate "
                      "reform debate bill caucus petition filibuster campaign".split()),
    "Science": tuple("study trial vaccine telescope species genome reactor experiment dataset fossil "
                     "satellite enzyme glacier particle drought sensor".split()),
    "World": tuple("ceasefire summit refugees aid border sanctions delegation treaty protest embassy "
                   "flooding earthquake harvest corridor envoy evacuation".split()),
    "Technology": tuple("outage chip startup algorithm platform breach update network battery drone "
                        "licence software encryption server handset cable".split()),
    "Sport": tuple("match season coach transfer final stadium tournament injury league striker "
                   "qualifier medal keeper semifinal relay podium".split()),
}
_ADJS = ("sharp modest unexpected lengthy fragile ambitious delayed controversial record quiet costly "
         "sweeping temporary narrow bitter cautious rapid landmark disputed tentative").split()
_VERBS_PAST = ("announced approved rejected delayed expanded criticised defended reviewed cancelled "
               "launched postponed endorsed questioned funded blocked revised").split()
_ADVERBS = "quickly slowly sharply quietly openly repeatedly narrowly suddenly steadily".split()
_TIMES = ("on Monday|on Tuesday|on Wednesday|on Thursday|on Friday|at the weekend|last week|"
          "earlier this month|late on Sunday|this morning|overnight|in a statement").split("|")
_GROUPS = ("residents|investors|farmers|nurses|commuters|teachers|shareholders|small businesses|"
           "pensioners|students|fishing crews|local officials|voters|suppliers").split("|")

# Narrative sentences: {P} a person's full name, {S} their surname, {O} an organisation, {B} a public
# body, {C} a city, {K} its country, {N}/{M} large/small numbers, {R} a percentage, {X}/{Y}/{Z}
# section nouns, {A} an adjective, {V} a past verb, {D} an adverb, {T} a time phrase, {G} a group.
# Short fixed runs between slots keep shingles article-specific.
_SENTENCES = (
    "{O} {V} the {A} {X} {T}, according to documents seen by this newspaper.",
    "The {X} in {C} drew {N} complaints from {G}, officials said.",
    "{B} {V} a plan {T} that would put {N} million into the {Y}.",
    "Critics say the {Y} leaves {G} in {K} exposed to a {A} {Z}.",
    "Since then, {O} has {V} its {X} twice, most recently {T}.",
    "{P}, who has followed the {X} for years, described the mood in {C} as {A}.",
    "Figures from {B} show the {Y} grew {D} in {C}, by {R} per cent.",
    "The decision follows a {A} {Z} that {G} in {C} had {V} for months.",
    "Talks between {O} and {B} over the {X} ended {D} {T}.",
    "About {N} {G} gathered outside the {Y} offices in {C}.",
    "{S} {V} the {A} {Z} at a briefing in {C} {T}.",
    "A {A} review of the {X} by {O} is due within {N} weeks.",
    "In {K}, the {Y} has become a test for {G} and for {B}.",
    "{O} shares moved {D} after the {X} was {V}.",
    "The {Z}, first proposed in {C}, was {V} by {N} votes to {M}.",
    "Analysts at {O} expect the {X} to weigh on {G} until at least next year.",
    "The row over the {Y} has {D} spread from {C} to other parts of {K}.",
    "{B} declined to comment on the {A} {X}.",
    "{G} in {C} told reporters the {Z} had come as a {A} surprise.",
    "{N} people have signed a petition against the {X} since it was {V}.",
)
# Quotes: {Q} is filled from these clauses, so quoted speech varies as much as narrative.
_QUOTE_CLAUSES = (
    "we {V} the {X} because {G} asked us to",
    "nobody in {C} expected the {Y} to move so {D}",
    "this is a {A} moment for {G} and we intend to use it",
    "the {Z} was never going to fix the {X} on its own",
    "we are not going to pretend the {Y} is {A}",
    "{G} deserve a straight answer about the {X}",
    "if the {Z} fails, {G} will pay for it",
    "the numbers from {C} speak for themselves",
    "we have {V} every option and this {Y} is the least bad one",
    "it would be a mistake to read too much into one {Z}",
    "there is still time to get the {X} right",
    "the people of {C} have waited long enough for the {Y}",
)


@dataclass(frozen=True, slots=True)
class SyntheticArticle:
    """One planned article. Its body is rendered from ``(seed, body_index)`` on demand."""

    index: int
    path: str
    feed_index: int
    title: str
    author: str
    section: str
    published: datetime
    body_index: int  # == index, or the index of the article this one copies
    seed: int
    words: int  # target body length

    @property
    def syndicated(self) -> bool:
        return self.body_index != self.index


def synthetic_articles(n_articles: int, *, n_feeds: int = 8, seed: int = 0,
                       words_per_article: tuple[int, int] = (400, 900), syndicated_fraction: float = 0.0,
                       now: datetime | None = None) -> list[SyntheticArticle]:
    """Plan a corpus: every article's URL path, feed, headline, date and (for copies) its source.

    Args:
        n_articles: how many article pages.
        n_feeds: how many RSS feeds the articles are split across.
        seed: the corpus seed; the same arguments always give the same plan.
        words_per_article: inclusive range of body lengths in words.
        syndicated_fraction: share of articles (after the first) that copy an earlier article's body
            under another URL, headline and (when there are several) feed.
        now: the newest article's time; articles spread back over 14 days. Defaults to the current hour.
    Returns:
        The plan, in index order.
    """
    now = now or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    span = timedelta(days=14)
    plan: list[SyntheticArticle] = []
    for i in range(n_articles):
        rng = random.Random(f"{seed}:plan:{i}")
        body_index = i
        feed = i % n_feeds
        if i > 0 and rng.random() < syndicated_fraction:
            body_index = plan[rng.randrange(i)].body_index
            if n_feeds > 1:  # another outlet carries the copy
                feed = (plan[body_index].feed_index + 1 + rng.randrange(n_feeds - 1)) % n_feeds
        section = _section(seed, body_index)
        title = _title(rng, section)
        published = now - span * (i / max(1, n_articles)) - timedelta(minutes=rng.randrange(60))
        slug = "-".join(w.strip(",.:'").lower() for w in title.split()[:7])
        plan.append(SyntheticArticle(
            index=i, path=f"/feed{feed}/{section.lower()}/{i:05d}-{slug}", feed_index=feed, title=title,
            author=f"{rng.choice(_FEMALE + _MALE)} {rng.choice(_SURNAMES)}", section=section,
            published=published, body_index=body_index, seed=seed,
            words=random.Random(f"{seed}:len:{body_index}").randint(*words_per_article),
        ))
    return plan


def synthetic_site(n_articles: int, *, n_feeds: int = 8, seed: int = 0,
                   words_per_article: tuple[int, int] = (400, 900), syndicated_fraction: float = 0.0,
                   now: datetime | None = None) -> LoopbackSite:
    """A bound, not yet started loopback site serving a synthetic corpus.

    Feeds are RSS 2.0 at ``/feeds/<k>.xml`` (with ETag), every article page is rendered when
    requested. Arguments are those of ``synthetic_articles``.

    Returns:
        The site; call ``start()`` or use it as a context manager.
    """
    plan = synthetic_articles(n_articles, n_feeds=n_feeds, seed=seed, words_per_article=words_per_article,
                              syndicated_fraction=syndicated_fraction, now=now)
    site = LoopbackSite()
    for feed in range(n_feeds):
        body = _feed_xml(feed, [a for a in plan if a.feed_index == feed], site.base_url)
        site.add(f"/feeds/{feed}.xml", Route(body, content_type="application/rss+xml; charset=utf-8",
                                             etag=strong_etag(body)))
    for article in plan:
        site.add(article.path, _page_handler(article, site.base_url))
    return site


def synthetic_feed_urls(site: LoopbackSite) -> list[str]:
    """The absolute URLs of a synthetic site's feeds, in feed order."""
    paths = sorted((p for p in site.routes if p.startswith("/feeds/")), key=lambda p: int(p[7:-4]))
    return [site.url(p) for p in paths]


def synthetic_paragraphs(article: SyntheticArticle) -> list[str]:
    """The article's body as plain-text paragraphs: the ground truth an extractor should recover."""
    paragraphs = _paragraphs(article.seed, article.body_index, article.words)
    if article.syndicated:  # a syndicator trims the tail and credits the source
        paragraphs = paragraphs[:-1] + [f"(Reporting by {article.author}; additional reporting from wire services)"]
    return paragraphs


def synthetic_page_html(article: SyntheticArticle, base_url: str) -> str:
    """The full HTML page of ``article``: nav, header, figure with caption and credit, body, boilerplate."""
    e = html.escape
    rng = random.Random(f"{article.seed}:page:{article.index}")
    city = rng.choice(_PLACES)[0]
    body = "\n".join(f"<p>{e(p)}</p>" for p in synthetic_paragraphs(article))
    iso = article.published.isoformat()
    url = base_url + article.path
    minutes = max(1, round(article.words / 230))
    nav = "".join(f'<li><a href="{base_url}/feed{article.feed_index}/{s.lower()}">{s}</a></li>' for s in _SECTIONS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(article.title)} | Feed {article.feed_index} News</title>
<meta name="description" content="{e(article.title)}"><meta name="author" content="{e(article.author)}">
<meta property="og:title" content="{e(article.title)}"><meta property="article:published_time" content="{iso}">
<link rel="canonical" href="{url}"></head>
<body><header class="site-header"><a class="logo" href="{base_url}/feed{article.feed_index}/">Feed {article.feed_index} News</a>
<nav><ul>{nav}</ul></nav></header>
<main><article><p class="kicker">{article.section}</p><h1>{e(article.title)}</h1>
<div class="byline">By {e(article.author)} <time datetime="{iso}">{article.published:%d %B %Y %H:%M}</time>
<span class="read-time">{minutes} min read</span></div>
<ul class="share"><li><a href="#">Share</a></li><li><a href="#">Post</a></li><li><a href="#">Email</a></li></ul>
<figure><img src="{base_url}/img/{article.index}.jpg" alt=""><figcaption>A street in {e(city)}.
<span class="credit">Photo: {e(article.author)} / Staff</span></figcaption></figure>
<div class="article-body">
{body}
</div>
<aside class="newsletter"><h2>Get the morning briefing</h2><p>Sign up for our free newsletter.</p></aside>
<ul class="tags"><li><a href="#">{article.section}</a></li><li><a href="#">{e(city)}</a></li></ul>
</article>
<aside class="related"><h2>Most read</h2><ol><li><a href="{base_url}/feed{article.feed_index}/">Today's top stories</a></li></ol></aside>
</main><footer><p>&copy; Feed {article.feed_index} News. All rights reserved. <a href="#">Privacy</a> <a href="#">Terms</a></p></footer>
</body></html>"""


def _section(seed: int, body_index: int) -> str:
    return random.Random(f"{seed}:section:{body_index}").choice(sorted(_SECTIONS))


def _title(rng: random.Random, section: str) -> str:
    nouns = _SECTIONS[section]
    org = f"{rng.choice(_ORG_HEADS)} {rng.choice(_ORG_TAILS)}"
    city = rng.choice(_PLACES)[0]
    noun, other, adj = rng.choice(nouns), rng.choice(nouns), rng.choice(_ADJS)
    group, verb = rng.choice(_GROUPS), rng.choice(_VERBS_PAST)
    title = rng.choice((
        f"{org} {verb} {adj} {noun} in {city}",
        f"{city} {noun} {verb} as {group} push back",
        f"{adj} {noun} puts {org} under pressure in {city}",
        f"What the {adj} {noun} means for {group} in {city}",
        f"{org} faces {adj} {other} over {city} {noun}",
        f"{group} in {city} brace for {adj} {noun}",
    ))
    return title[0].upper() + title[1:]


def _paragraphs(seed: int, body_index: int, words: int) -> list[str]:
    """Generate a body of about ``words`` words: narrative paragraphs with attributed quotes."""
    rng = random.Random(f"{seed}:body:{body_index}")
    nouns = _SECTIONS[_section(seed, body_index)]
    cast = []
    for _ in range(3):
        female = rng.random() < 0.5
        first = rng.choice(_FEMALE if female else _MALE)
        org = f"{rng.choice(_ORG_HEADS)} {rng.choice(_ORG_TAILS)}"
        cast.append((f"{first} {rng.choice(_SURNAMES)}", "she" if female else "he", rng.choice(_ROLES), org))
    places = [rng.choice(_PLACES) for _ in range(2)]
    orgs = [c[3] for c in cast]
    introduced: set[str] = set()

    def fill(template: str, person: tuple[str, str, str, str]) -> str:
        city, country = rng.choice(places)
        values: dict[str, Callable[[], str]] = {
            "P": lambda: person[0], "S": lambda: person[0].split()[-1], "O": lambda: rng.choice(orgs),
            "B": lambda: rng.choice(_PUBLIC_BODIES), "C": lambda: city, "K": lambda: country,
            "N": lambda: str(rng.randint(40, 980)), "M": lambda: str(rng.randint(3, 39)),
            "R": lambda: str(rng.randint(2, 38)),
            "X": lambda: rng.choice(nouns), "Y": lambda: rng.choice(nouns), "Z": lambda: rng.choice(nouns),
            "A": lambda: rng.choice(_ADJS), "V": lambda: rng.choice(_VERBS_PAST), "D": lambda: rng.choice(_ADVERBS),
            "T": lambda: rng.choice(_TIMES), "G": lambda: rng.choice(_GROUPS),
        }
        out = []
        for part in template.split("{"):
            if "}" in part:
                key, rest = part.split("}", 1)
                out.append(values[key]() + rest)
            else:
                out.append(part)
        text = "".join(out)
        return text[0].upper() + text[1:]

    def quote(person: tuple[str, str, str, str]) -> str:
        name, pronoun, role, org = person
        q1 = fill(rng.choice(_QUOTE_CLAUSES), person)
        q2 = fill(rng.choice(_QUOTE_CLAUSES), person)
        surname = name.split()[-1]
        if name not in introduced:
            introduced.add(name)
            return rng.choice((
                f'"{q1}," said {name}, {role} at {org}. "{q2}."',
                f'{name}, {role} at {org}, said: "{q1}."',
                f'"{q1}," {name}, the {role} of {org}, told reporters.',
            ))
        return rng.choice((
            f'"{q1}," {surname} said. "{q2}."',
            f'"{q1}," {pronoun} said.',
            f'{surname} added: "{q1}, and {q2[0].lower() + q2[1:]}."',
            f'"{q1}," according to {surname}.',
        ))

    paragraphs: list[str] = []
    count = 0
    while count < words:
        person = rng.choice(cast)
        if len(paragraphs) == 1 or (paragraphs and rng.random() < 0.3):  # every article quotes someone
            para = quote(person)
        else:
            para = " ".join(fill(rng.choice(_SENTENCES), person) for _ in range(rng.randint(2, 4)))
        paragraphs.append(para)
        count += len(para.split())
    return paragraphs


def _feed_xml(feed: int, articles: list[SyntheticArticle], base_url: str) -> bytes:
    items = "".join(
        f"<item><title>{html.escape(a.title)}</title><link>{base_url}{a.path}</link>"
        f'<guid isPermaLink="false">synthetic-{a.seed}-{a.index}</guid>'
        f"<pubDate>{format_datetime(a.published, usegmt=True)}</pubDate>"
        f"<description>{html.escape(a.section)} news by {html.escape(a.author)}.</description></item>\n"
        for a in sorted(articles, key=lambda a: a.published, reverse=True)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>Feed {feed} News</title><link>{base_url}/feed{feed}/</link>"
        f"<description>Synthetic feed {feed}</description>\n{items}</channel></rss>\n"
    ).encode()


def _page_handler(article: SyntheticArticle, base_url: str) -> Callable[[BaseHTTPRequestHandler], None]:
    """A route that renders the page on each request, so nothing big is kept in memory."""

    def handle(handler: BaseHTTPRequestHandler) -> None:
        body = synthetic_page_html(article, base_url).encode("utf-8")
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: fine
            pass

    return handle
