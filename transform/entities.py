"""Named entities of one article: one entity per real-world thing, typed by all its mentions together.

Why: bare spaCy NER gives spans, not entities. A news analyst counting "Kim Jong Un" per day needs
"Kim Jong Un", "Kim Jong-un", "Kim Jong Un's", "Kim" and "Jong Un" counted as one PERSON, "President
Trump" and "Trump" as the "Donald Trump" introduced earlier, and a type that does not flip to ORG because
the small model tagged one mention wrongly. So mentions are cleaned (determiners, honorifics, titles and
possessives stripped), grouped by a normalised key, partial names are attached to the full name they
abbreviate, types are voted per group, and names the model missed elsewhere in the article are found
again by matching the group's own surfaces. Nothing is taken from caption, credit or heading lines.

``entity_id`` is :func:`entity_key` of the canonical (fullest) name: case-, accent-, punctuation- and
hyphen-insensitive, type-independent, with a person's middle initials dropped and a few common country
and body abbreviations expanded. It is therefore the same in every article that introduces the entity by
its full name, which news style makes nearly universal.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from spacy.tokens import Doc, Span, Token

from newswatch.models import Entity, Mention
from transform.body_lines import body_line_mask
from transform.names import (
    CORPORATE_SUFFIXES,
    COUNTRIES,
    DATE_WORDS,
    DETERMINERS,
    HONORIFICS,
    KEY_ALIASES,
    PERSON_TITLES,
    TITLE_LINKS,
)

# spaCy labels kept as entities; numbers, dates and amounts are not things an analyst follows.
ENTITY_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW"})
_TYPE_ORDER = ("PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW")
_POSSESSIVE = re.compile(r"(?:['’]s?|['’]S)$")
_DOTTED = re.compile(r"(?<![\w.])((?:[^\W\d_]\.){2,})")
# A dateline opens a wire story: "WASHINGTON (Reuters) -", "LONDON, June 3 -", "BEIRUT — Officials said",
# "BONN 1996-08-30". Its capitalised words are a place, which the small model misses in capitals.
_DATELINE = re.compile(
    r"^([A-Z][A-Z.'’-]+(?:[ ][A-Z][A-Z.'’-]+){0,3})(?=,?[ ]+(?:\(|[-—–][ ]|\d{4}-\d\d-\d\d"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?[ ]+\d))",
    re.MULTILINE,
)
# A single-token alias is only searched for again when it is at least this long: shorter capitalised
# tokens ("Al", "US", "Ma") hit unrelated words too often. Measured on CoNLL-2003 testa: 3 vs 4 changes
# recall by <0.1 point, 2 costs precision.
MIN_PROPAGATED_CHARS = 3


@dataclass
class _Candidate:
    start: int  # offsets into the doc's text
    end: int
    surface: str
    label: str
    key: str
    titled: bool  # a person title stood before or at the head of the span
    in_title: bool  # from the headline, not the body: informs typing and naming only
    group: int = -1


@dataclass(frozen=True, slots=True)
class ArticleEntities:
    """Entities and mentions of one article, with an index for attaching quote speakers to them."""

    entities: tuple[Entity, ...]
    mentions: tuple[Mention, ...]
    by_id: dict[str, Entity] = field(default_factory=dict)

    def entity_at(self, start: int, end: int) -> Entity | None:
        """The entity of the mention overlapping ``[start, end)`` the most, if any."""
        best: tuple[int, Entity] | None = None
        for m in self.mentions:
            overlap = min(end, m.end_char) - max(start, m.start_char)
            if overlap > 0 and (best is None or overlap > best[0]):
                best = (overlap, self.by_id[m.entity_id])
        return best[1] if best else None


def _folded(text: str) -> str:
    """Lower-case, accents removed: the form names are compared in."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_tokens(text: str) -> list[str]:
    """Comparison tokens of a name: folded words, hyphens split, dotted abbreviations closed up.

    "Kim Jong-un" -> [kim, jong, un]; "U.S." -> [us]; "Kim Jong Un's" -> [kim, jong, un].
    """
    text = _DOTTED.sub(lambda m: m.group(1).replace(".", ""), text)
    text = _folded(text).replace("&", " and ").replace("'s", "").replace("’s", "")
    return re.findall(r"[^\W_]+", text)


def entity_key(name: str) -> str:
    """The normalised, type-independent key of an entity's canonical name (used as ``entity_id``).

    Args:
        name: the canonical name, e.g. "Donald J. Trump".
    Returns:
        Space-joined folded tokens with single-letter middle initials dropped, e.g. "donald trump";
        a few common abbreviations expanded ("U.S." -> "united states").
    """
    tokens = name_tokens(name)
    if len(tokens) > 2:
        tokens = [t for k, t in enumerate(tokens) if len(t) > 1 or k in (0, len(tokens) - 1)]
    key = " ".join(tokens)
    return KEY_ALIASES.get(key, key)


def _is_title_word(token: Token) -> bool:
    return token.lower_.rstrip(".") in PERSON_TITLES


def _is_separator(doc: Doc, tok: Token) -> bool:
    """Commas, brackets, line breaks and spaced dashes end a name."""
    if tok.text in {",", "(", ")", "[", "]", ";", "|"} or tok.is_space or "\n" in tok.text:
        return True
    spaced = bool(tok.whitespace_) and tok.i > 0 and bool(doc[tok.i - 1].whitespace_)
    return tok.text in {"-", "—", "–", "--"} and spaced


def _pieces(span: Span) -> list[tuple[int, int]]:
    """Token bounds of the parts of an NER span split at separators.

    The small model runs lists and asides into one span ("Oval, London", "Natalya Shikolen ( Belarus",
    "Romania - Cosmin Contra"); a name never contains those, so each part is a name of its own.
    """
    out: list[tuple[int, int]] = []
    start = span.start
    for tok in span:
        if _is_separator(span.doc, tok):
            if tok.i > start:
                out.append((start, tok.i))
            start = tok.i + 1
    if span.end > start:
        out.append((start, span.end))
    return out


def _trimmed(doc: Doc, start: int, end: int, label: str) -> tuple[int, int, bool] | None:
    """Token bounds of a name inside (part of) an NER span, without determiners, titles and possessives.

    Returns (start, end, titled) in token indices, or None when nothing name-like is left. ``titled`` says
    a person title stood at the head of the span or right before it.
    """
    titled = start > 0 and _is_title_word(doc[start - 1]) and doc[start - 1].text[0].isupper()
    while start < end and (doc[start].is_punct or doc[start].lower_ in DETERMINERS or doc[start].is_space
                           or (doc[start].is_lower and start + 1 < end and doc[start + 1].text == "-")):
        start += 1  # "the United States", "ex-England": a name starts at its first capitalised word
    while label != "PERSON" and start < end - 1 and doc[start].lower_ in DATE_WORDS:
        start += 1
    title_end = start
    allowed = PERSON_TITLES if label == "PERSON" else HONORIFICS
    while title_end < end - 1 and (doc[title_end].lower_.rstrip(".") in allowed
                                   or (title_end > start and doc[title_end].lower_ in TITLE_LINKS)):
        title_end += 1
    if title_end > start and doc[title_end].text[:1].isupper() and doc[title_end].lower_ not in TITLE_LINKS:
        start, titled = title_end, True
    while end > start and (doc[end - 1].tag_ == "POS" or doc[end - 1].is_punct or doc[end - 1].is_space
                           or doc[end - 1].lower_ in ("'s", "’s") or doc[end - 1].like_num
                           or (doc[end - 1].is_lower and end - start > 1)):
        end -= 1  # "Kim Jong Un's", "Durham 114", "Interfax news agency"
    if end <= start or not any(c.isupper() for c in doc[start:end].text):
        return None
    return start, end, titled


def _surface_bounds(doc: Doc, text: str, start: int, end: int) -> tuple[int, int]:
    """Character bounds of tokens ``start:end``, with a possessive glued to the last token removed."""
    a, b = doc[start].idx, doc[end - 1].idx + len(doc[end - 1].text)
    m = _POSSESSIVE.search(text[a:b])
    if m and b - a > len(m.group()) + 1:
        b -= len(m.group())
    return a, b


def _label(doc: Doc, start: int, end: int, label: str) -> str:
    """The model's label, overruled where a name's form settles its type."""
    if end - start > 1 and doc[end - 1].lower_ in CORPORATE_SUFFIXES:
        return "ORG"
    return label


def _candidates(doc: Doc, body: list[bool] | None, in_title: bool) -> list[_Candidate]:
    """Cleaned NER mentions of one doc, plus datelines (body lines only when ``body`` is given)."""
    text = doc.text  # a property that joins every token: read it once
    out: list[_Candidate] = []
    for ent in doc.ents:
        if ent.label_ not in ENTITY_LABELS:
            continue
        for piece_start, piece_end in _pieces(ent):
            bounds = _trimmed(doc, piece_start, piece_end, ent.label_)
            if bounds is None:
                continue
            start, end, titled = bounds
            a, b = _surface_bounds(doc, text, start, end)
            if body is not None and not body[a]:
                continue
            surface = text[a:b]
            key = entity_key(surface)
            if key:
                out.append(_Candidate(a, b, surface, _label(doc, start, end, ent.label_), key, titled, in_title))
    if not in_title:
        for m in _DATELINE.finditer(text):
            a, b = m.span(1)
            rest = text[b:text.find("\n", b) % (len(text) + 1)]
            if re.match(r",?\s*[-—–]", rest) and not re.search(r"[a-z]", rest):
                continue  # "SOCCER - JAPAN WIN": a headline's kicker, not a dateline
            if body is None or body[a]:
                out = [c for c in out if c.end <= a or c.start >= b]
                out.append(_Candidate(a, b, m.group(1), "GPE", entity_key(m.group(1)), False, False))
    return out


def _voted_type(cands: Sequence[_Candidate]) -> str:
    """The label most mentions agree on.

    Full names count twice (the model types them more reliably than a lone surname), a person title
    counts twice for PERSON, and a country's name counts three times for GPE.
    """
    votes: Counter[str] = Counter()
    for c in cands:
        votes[c.label] += 2 if len(c.key.split()) > 1 else 1
        if c.titled:
            votes["PERSON"] += 2
        if c.key in COUNTRIES:
            votes["GPE"] += 3
    return max(votes, key=lambda lab: (votes[lab], -_TYPE_ORDER.index(lab)))


def _contains(longer: list[str], shorter: list[str]) -> bool:
    """Whether ``shorter`` is a contiguous run of ``longer``'s tokens."""
    n = len(shorter)
    return any(longer[i:i + n] == shorter for i in range(len(longer) - n + 1))


def _acronym(tokens: list[str]) -> str:
    return "".join(t[0] for t in tokens if t not in TITLE_LINKS)


def _grouped(cands: list[_Candidate]) -> list[tuple[list[_Candidate], str]]:
    """Mentions grouped into entities, with each entity's type.

    A group is one key, plus the partial names ("Trump", "Jong Un") and acronyms ("FBI") of a fuller name
    in the article. A partial name goes to the nearest fuller name before it (two Clintons), and takes the
    fuller name's type: "Donald Trump" decides that the "Trump" the model calls ORG is the person.
    """
    by_key: dict[str, list[_Candidate]] = defaultdict(list)
    for c in cands:
        by_key[c.key].append(c)
    types = {k: _voted_type(v) for k, v in by_key.items()}
    person_votes = {k: any(c.label == "PERSON" or c.titled for c in v) for k, v in by_key.items()}
    size = {k: len(v) for k, v in by_key.items()}
    keys = sorted(by_key, key=lambda k: -len(k.split()))
    heads: dict[str, list[str]] = {}
    for k in keys:
        toks = k.split()
        heads[k] = [L for L in keys if len(L.split()) > len(toks) and not heads.get(L)
                    and ((types[L] == "PERSON" and _contains(L.split(), toks)
                          and (person_votes[k] or (types[k] == "ORG" and size[L] >= size[k])))
                         or (types[L] == "ORG" and types[k] == "ORG" and L.split()[:len(toks)] == toks)
                         or (len(toks) == 1 and len(k) >= 2 and types[L] in ("ORG", "GPE", "LOC", "FAC")
                             and _acronym(L.split()) == k))]
    groups: dict[str, list[_Candidate]] = {k: list(by_key[k]) for k in keys if not heads[k]}
    body_starts = {k: sorted(c.start for c in by_key[k] if not c.in_title) for k in keys}
    for k in keys:
        options = heads[k]
        if not options:
            continue
        for c in by_key[k]:
            before = {L: max((s for s in body_starts[L] if s <= c.start), default=-1) for L in options}
            preceding = [L for L in options if before[L] >= 0 and not c.in_title]
            pick = (max(preceding, key=lambda L: before[L]) if preceding
                    else max(options, key=lambda L: len(by_key[L])))
            groups[pick].append(c)
    return [(g, types[k]) for k, g in groups.items()]


def _canonical(group: Sequence[_Candidate]) -> str:
    """The fullest name in the group: most tokens, then most frequent, then first; all-caps forms last."""
    counts = Counter(c.surface for c in group)
    first = {}
    for c in sorted(group, key=lambda c: (c.in_title, c.start)):
        first.setdefault(c.surface, len(first))
    return max(counts, key=lambda s: (not s.isupper(), len(name_tokens(s)), counts[s], -first[s]))


def _propagated(doc: Doc, body: list[bool], taken: list[bool], alias_to_group: dict[str, list[int]],
                first_start: dict[int, int]) -> list[tuple[int, int, int]]:
    """(start, end, group) for further occurrences of a group's names that NER did not tag."""
    found: list[tuple[int, int, int]] = []
    by_first: dict[str, list[tuple[list[str], list[int]]]] = defaultdict(list)
    for alias, groups in alias_to_group.items():
        words = alias.split()
        by_first[words[0]].append((words, groups))
    for tok in doc:
        options = by_first.get(tok.text)
        if not options or not tok.text[0].isupper() or not body[tok.idx] or taken[tok.idx]:
            continue
        for words, groups in sorted(options, key=lambda o: -len(o[0])):
            end = tok.i + len(words)
            if end > len(doc) or [t.text for t in doc[tok.i:end]] != words:
                continue
            if len(words) == 1 and (tok.tag_ not in ("NNP", "NNPS") or len(tok.text) < MIN_PROPAGATED_CHARS):
                continue
            a, b = tok.idx, doc[end - 1].idx + len(doc[end - 1].text)
            if any(taken[a:b]):
                continue
            preceding = [g for g in groups if first_start[g] <= a]
            group = max(preceding, key=lambda g: first_start[g]) if preceding else groups[0]
            found.append((a, b, group))
            for i in range(a, b):
                taken[i] = True
            break
    return found


def article_entities(doc: Doc, title_doc: Doc | None = None) -> ArticleEntities:
    """The entities and mentions of one article.

    Args:
        doc: the parsed article text (offsets of mentions index ``doc.text``).
        title_doc: the parsed headline, if any; it informs types, names and aliases but yields no mentions.
    Returns:
        One :class:`Entity` per real-world thing, and one :class:`Mention` per occurrence in the text.
    """
    text = doc.text
    body = body_line_mask(text)
    cands = _candidates(doc, body, in_title=False)
    if title_doc is not None:
        cands += _candidates(title_doc, None, in_title=True)
    typed = _grouped(cands)
    groups = [g for g, _ in typed]
    names = [_canonical(g) for g in groups]
    types = [t for _, t in typed]
    taken = [False] * (len(text) + 1)
    for c in cands:
        if not c.in_title:
            for i in range(c.start, c.end):
                taken[i] = True
    alias_to_group: dict[str, list[int]] = defaultdict(list)
    first_start: dict[int, int] = {}
    for n, g in enumerate(groups):
        body_cands = [c for c in g if not c.in_title]
        first_start[n] = min((c.start for c in body_cands), default=10**9)
        aliases = {" ".join(t.text for t in _tokens_of(doc, c)) for c in body_cands}
        if types[n] == "PERSON" and len(names[n].split()) > 1:
            aliases.add(names[n].split()[-1])
        for alias in aliases:
            if alias and not alias.isupper():
                alias_to_group[alias].append(n)
    extra = _propagated(doc, body, taken, alias_to_group, first_start)
    ids: dict[int, str] = {n: entity_key(names[n]) for n in range(len(groups))}
    mentions = [(c.start, c.end, ids[n]) for n, g in enumerate(groups) for c in g if not c.in_title]
    mentions += [(a, b, ids[n]) for a, b, n in extra]
    merged: dict[str, tuple[str, str, set[str], int]] = {}
    for n, g in enumerate(groups):
        surfaces = {c.surface for c in g}
        weight = len(g)
        if ids[n] in merged:  # two groups with one key (e.g. "U.S." and "United States"): one entity
            name, typ, old, w = merged[ids[n]]
            merged[ids[n]] = (name, typ if w >= weight else types[n], old | surfaces, w + weight)
        else:
            merged[ids[n]] = (names[n], types[n], surfaces, weight)
    entities = tuple(Entity(eid, name, typ, tuple(sorted(aliases))) for eid, (name, typ, aliases, _) in merged.items())
    mention_rows = tuple(Mention(eid, text[a:b], a, b) for a, b, eid in sorted(mentions))
    used = {m.entity_id for m in mention_rows}
    entities = tuple(e for e in entities if e.entity_id in used)
    return ArticleEntities(entities, mention_rows, {e.entity_id: e for e in entities})


def _tokens_of(doc: Doc, c: _Candidate) -> list[Token]:
    span = doc.char_span(c.start, c.end, alignment_mode="expand")
    return list(span) if span is not None else []


def with_person_mention(ents: ArticleEntities, text: str, start: int, end: int) -> tuple[ArticleEntities, Entity]:
    """Add a mention of a person the model missed (a quote's speaker), reusing an entity where one fits.

    The name joins the entity with the same key, or the one PERSON whose name contains it ("Fallon" after
    "Brian Fallon"); otherwise it becomes a new PERSON.

    Args:
        ents: the article's entities so far.
        text: the article text; ``text[start:end]`` is the name.
    Returns:
        The updated entities and the entity the name belongs to.
    """
    surface = text[start:end]
    key = entity_key(surface)
    entity = ents.by_id.get(key)
    if entity is None:
        tokens = key.split()
        persons = [e for e in ents.entities if e.type == "PERSON" and _contains(e.entity_id.split(), tokens)]
        entity = persons[0] if len(persons) == 1 else None
    if entity is None:
        entity = Entity(key, surface, "PERSON", (surface,))
    elif surface not in entity.aliases:
        entity = Entity(entity.entity_id, entity.name, entity.type, tuple(sorted({*entity.aliases, surface})))
    by_id = {**ents.by_id, entity.entity_id: entity}
    entities = tuple(by_id[e.entity_id] for e in ents.entities)
    if entity.entity_id not in ents.by_id:
        entities += (entity,)
    mentions = tuple(sorted((*ents.mentions, Mention(entity.entity_id, surface, start, end)),
                            key=lambda m: (m.start_char, m.end_char)))
    return ArticleEntities(entities, mentions, by_id), entity
