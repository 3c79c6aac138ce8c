"""A hand-written loopback news site for end-to-end tests: three feed formats and the classic failures.

Routes:
  /rss.xml (RSS 2.0, ETag), /atom.xml (Atom, Last-Modified), /rdf.xml (RSS 1.0),
  /slow.xml (times out), /broken.xml (500 + Retry-After), /notxml.xml (an HTML page),
  pages under /news/..., one over the byte cap, one in windows-1252.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from demosite.loopback import LoopbackSite, Route, strong_etag

ARTICLES = {
    "korea-talks": (
        "North Korea agrees to new round of talks",
        [
            "SEOUL - North Korea has agreed to a new round of talks with South Korea, officials in both capitals said on Tuesday, the first such meeting in more than two years.",
            "The announcement came after weeks of quiet diplomacy brokered by Sweden, whose envoy travelled to Pyongyang twice this month to carry messages between the two governments.",
            "\u201cWe are ready to sit down without preconditions,\u201d said Park Min-jun, a spokesman for the unification ministry in Seoul. \u201cThe door has always been open.\u201d",
            "Analysts cautioned that previous rounds of talks collapsed over the sequencing of sanctions relief and inspections, and that the gap between the two sides remained wide.",
            "Kim Jong Un did not comment directly, but state media carried a statement describing the meeting as a chance to reduce tension on the peninsula.",
            "The talks are expected to take place in the border village of Panmunjom early next month, according to the ministry.",
        ],
    ),
    "bank-rates": (
        "Central bank holds rates steady as inflation cools",
        [
            "FRANKFURT - The central bank left its main interest rate unchanged on Thursday, saying inflation had cooled faster than expected over the summer months.",
            "Policymakers voted seven to two to hold the rate at 3.25 percent, with the two dissenters favouring an immediate cut to support a slowing economy.",
            "\u201cWe are not declaring victory yet,\u201d Governor Elena Marquez told reporters after the meeting. \u201cBut the trend is moving in the right direction.\u201d",
            "Markets had priced in a small chance of a cut, and the currency rose slightly after the decision was announced in the early afternoon.",
            "Economists surveyed last week expected the first reduction in December, once data on wages and services prices for the autumn are available.",
        ],
    ),
    "harbor-storm": (
        "Storm closes harbor for second day",
        [
            "PORTSMOUTH - The harbor remained closed for a second day on Wednesday as a storm brought gusts of more than 90 kilometres an hour to the coast.",
            "Ferry operators cancelled all sailings until at least Thursday morning, stranding hundreds of travellers in the town's hotels and guest houses.",
            "\"It is the worst weather we have seen here in a decade,\" said harbor master Tom Ellison, who has worked at the port for thirty years.",
            "The coast guard said two fishing boats had been towed to safety overnight and that nobody had been injured in either incident.",
            "Forecasters expect the wind to ease by the weekend, although heavy rain is likely to continue across the region until Sunday.",
        ],
    ),
    "election-debate": (
        "Candidates clash over budget in final debate",
        [
            "The two leading candidates for governor clashed over the state budget on Monday night in their final televised debate before next week's election.",
            "Maria Alvarez accused her opponent of planning deep cuts to schools, while James Whitfield said the state could not keep spending more than it collected in taxes.",
            "\u201cThe numbers simply do not add up,\u201d Whitfield said. \u201cSomebody has to tell voters the truth about the deficit.\u201d",
            "Alvarez replied that the deficit had been created by tax breaks for large companies and promised to review every one of them in her first year in office.",
            "Polls show the race within the margin of error, with about one voter in ten still undecided a week before polling day.",
        ],
    ),
    "cafe-1252": (
        "Caf\u00e9 owners welcome new street market",
        [
            "Caf\u00e9 owners in the old town have welcomed plans for a weekly street market, saying it would bring more visitors to the narrow lanes around the cathedral.",
            "\u201cEvery Saturday will feel like a festival,\u201d said Jos\u00e9 Fern\u00e1ndez, who has run a small caf\u00e9 on the main square for fifteen years.",
            "The council approved the market on Tuesday after a consultation in which most residents supported the idea, although some raised concerns about noise and litter.",
            "The first market is planned for the beginning of next month and will feature local farmers, bakers and craft makers from the surrounding villages.",
        ],
    ),
}


def page_html(title: str, paragraphs: list[str], *, charset: str = "utf-8", canonical: str | None = None) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    canon = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="{charset}"><title>{title} | Test Gazette</title>{canon}
<meta property="article:published_time" content="2026-11-20T08:00:00Z"></head>
<body><header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/business">Business</a></nav></header>
<main><article><h1>{title}</h1><p class="byline">By Staff Reporter</p>
{body}
</article></main>
<footer><p>Copyright 2026 Test Gazette. All rights reserved.</p><a href="/privacy">Privacy</a></footer>
</body></html>"""


def rss2(items: list[tuple[str, str, datetime]]) -> bytes:
    entries = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid><pubDate>{format_datetime(d)}</pubDate></item>"
        for t, link, d in items
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Gazette</title><link>http://x/</link><description>d</description>{entries}</channel></rss>'.encode()


def atom(items: list[tuple[str, str, datetime]]) -> bytes:
    entries = "".join(
        f'<entry><title>{t}</title><link href="{link}"/><id>{link}</id><updated>{d.isoformat()}</updated></entry>'
        for t, link, d in items
    )
    return f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Gazette</title><id>urn:x</id><updated>2026-11-20T08:00:00Z</updated>{entries}</feed>'.encode()


def rdf(items: list[tuple[str, str, datetime]]) -> bytes:
    entries = "".join(
        f'<item rdf:about="{link}"><title>{t}</title><link>{link}</link><dc:date>{d.isoformat()}</dc:date></item>'
        for t, link, d in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<channel rdf:about="http://x/"><title>RDF Gazette</title><link>http://x/</link><description>d</description></channel>'
        f"{entries}</rdf:RDF>"
    ).encode()


def build_site(*, slow_seconds: float = 5.0) -> LoopbackSite:
    """The test site (not started)."""
    site = LoopbackSite()
    now = datetime.now(UTC).replace(microsecond=0)
    u = site.url
    for slug, (title, paras) in ARTICLES.items():
        if slug == "cafe-1252":
            html = page_html(title, paras, charset="windows-1252").encode("cp1252")
            site.add(f"/news/{slug}", Route(html, content_type="text/html; charset=windows-1252"))
        else:
            site.add(f"/news/{slug}", Route(page_html(title, paras).encode()))
    site.add("/news/huge", Route(page_html("Huge", ["word " * 400_000]).encode()))
    rss = rss2([
        (ARTICLES["korea-talks"][0], u("/news/korea-talks?utm_source=rss"), now - timedelta(hours=2)),
        (ARTICLES["bank-rates"][0], u("/news/bank-rates"), now - timedelta(hours=3)),
        ("Huge page", u("/news/huge"), now - timedelta(hours=4)),
    ])
    site.add("/rss.xml", Route(rss, content_type="application/rss+xml", etag=strong_etag(rss)))
    at = atom([
        (ARTICLES["harbor-storm"][0], u("/news/harbor-storm"), now - timedelta(hours=5)),
        (ARTICLES["korea-talks"][0], u("/news/korea-talks"), now - timedelta(hours=2)),  # same article as in RSS
    ])
    site.add("/atom.xml", Route(at, content_type="application/atom+xml", last_modified="Fri, 20 Nov 2026 08:00:00 GMT"))
    rd = rdf([
        (ARTICLES["election-debate"][0], u("/news/election-debate"), now - timedelta(hours=6)),
        (ARTICLES["cafe-1252"][0], u("/news/cafe-1252"), now - timedelta(hours=7)),
        ("Missing page", u("/news/missing"), now - timedelta(hours=8)),
    ])
    site.add("/rdf.xml", Route(rd, content_type="application/rdf+xml", etag=strong_etag(rd)))
    site.add("/slow.xml", Route(rss, delay_seconds=slow_seconds, content_type="application/rss+xml"))
    site.add("/broken.xml", Route(b"oops", status=500, headers={"Retry-After": "120"}, content_type="text/plain"))
    site.add("/notxml.xml", Route(b"<html><body><h1>Moved</h1><p>This is not a feed.</p></body></html>"))
    return site


def feeds_of(site: LoopbackSite) -> list[dict[str, str]]:
    names = {"/rss.xml": "RSS Gazette", "/atom.xml": "Atom Gazette", "/rdf.xml": "RDF Gazette",
             "/slow.xml": "Slow Feed", "/broken.xml": "Broken Feed", "/notxml.xml": "Not XML"}
    return [{"name": n, "url": site.url(p)} for p, n in names.items()]
