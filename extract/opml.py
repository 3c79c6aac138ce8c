"""OPML 2.0, the format feed readers exchange subscriptions in: read into feeds, and written back.

Why: operators arrive from Miniflux, FreshRSS and the like with an export. Folders are kept as tags
(a feed in "World/Asia" gets the tags ``World`` and ``Asia``) so alert rules can filter on them.
Parsing refuses DTDs and never fetches anything: an OPML file is third-party input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from lxml import etree

from newswatch.errors import ItemError


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One subscription: its title, feed URL and the folders it sits in (outermost first)."""

    name: str
    url: str
    tags: tuple[str, ...] = ()


def opml_feeds(body: bytes) -> list[OpmlFeed]:
    """The subscriptions of an OPML document, in document order (an outline with ``xmlUrl`` is a feed;
    one without is a folder).

    Raises:
        ItemError: ``not_opml`` when the document is not XML, declares a DTD, or has no ``<body>``.
    """
    if b"<!DOCTYPE" in body[:4096].upper() or b"<!ENTITY" in body.upper():
        raise ItemError("not_opml", "the document declares a DTD or entities (refused)")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as e:
        raise ItemError("not_opml", f"not XML: {e}") from None
    if etree.QName(root).localname.lower() != "opml":
        raise ItemError("not_opml", f"the root element is <{etree.QName(root).localname}>, not <opml>")
    body_el = next((c for c in root if isinstance(c.tag, str) and etree.QName(c).localname.lower() == "body"), None)
    if body_el is None:
        raise ItemError("not_opml", "no <body> element")
    out: list[OpmlFeed] = []

    def walk(node: etree._Element, folders: tuple[str, ...]) -> None:
        for child in node:
            if not isinstance(child.tag, str) or etree.QName(child).localname.lower() != "outline":
                continue
            attrs = {k.lower(): (v or "").strip() for k, v in child.attrib.items()}
            title = attrs.get("title") or attrs.get("text") or ""
            url = attrs.get("xmlurl", "")
            if url:
                # OPML's category: comma-separated, each possibly a /-separated path
                extra = [t for c in attrs.get("category", "").split(",") for t in c.split("/") if t.strip()]
                tags = tuple(dict.fromkeys([*folders, *(t.strip() for t in extra)]))
                out.append(OpmlFeed(title or url, url, tags))
            else:
                walk(child, folders + ((title,) if title else ()))

    walk(body_el, ())
    return out


def opml_text(feeds: Sequence[OpmlFeed], *, title: str = "newswatch feeds") -> str:
    """An OPML 2.0 document of ``feeds``; a feed's first tag becomes its folder (every tag is also kept in
    a ``category`` attribute, so a round trip through newswatch loses none)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">',
             f"  <head><title>{_escaped(title)}</title></head>", "  <body>"]

    def outline(f: OpmlFeed, indent: str) -> str:
        category = f' category={quoteattr(",".join(f.tags))}' if f.tags else ""
        return (f'{indent}<outline type="rss" text={quoteattr(f.name)} title={quoteattr(f.name)} '
                f'xmlUrl={quoteattr(f.url)}{category}/>')

    folders: dict[str, list[OpmlFeed]] = {}
    for f in feeds:
        if f.tags:
            folders.setdefault(f.tags[0], []).append(f)
        else:
            lines.append(outline(f, "    "))
    for folder, members in folders.items():
        lines.append(f"    <outline text={quoteattr(folder)} title={quoteattr(folder)}>")
        lines += [outline(f, "      ") for f in members]
        lines.append("    </outline>")
    return "\n".join([*lines, "  </body>", "</opml>", ""])


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
