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

# spaCy labels kept as entities; numbers, dates and amounts are not things an analyst follows.
ENTITY_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW"})
# Honorifics and office titles stripped from the front of a name ("President Donald Trump", "Sen. Warren").
# The same words before a name are strong evidence that it is a PERSON.
PERSON_TITLES = frozenset(
    """mr mrs ms miss mx dr prof professor sir dame lord lady madam president vice prime minister premier
    chancellor secretary senator sen rep representative congressman congresswoman gov governor lt gen general
    col colonel capt captain adm admiral sgt sergeant cmdr commander judge justice king queen prince princess
    emperor empress pope cardinal archbishop bishop rev reverend rabbi imam sheikh ayatollah mayor ambassador
    chairman chairwoman chairperson ceo spokesman spokeswoman spokesperson deputy acting former late
    first lady attorney inspector superintendent commissioner sheriff detective officer coach
    president-elect leader speaker minority majority house senate foreign state defense defence interior
    finance justice home health trade treasury labour labor education energy chief executive director
    supreme leader opposition party candidate nominee hopeful""".split()
)
# Words that keep a title phrase going ("Secretary of State", "Leader of the Opposition").
_TITLE_LINKS = frozenset({"of", "the", "for", "and", "&"})
# Honorifics that are titles even before a single capitalised word, in any entity type.
_HONORIFICS = frozenset("mr mrs ms miss dr president sen senator rep gov governor prime minister".split())
_DETERMINERS = frozenset({"the", "a", "an", "this", "that", "these", "those"})
_POSSESSIVE = re.compile(r"(?:['’]s?|['’]S)$")
# Expansions of abbreviations too common to leave as separate entities (document-independent).
KEY_ALIASES = {
    "us": "united states", "usa": "united states", "u s": "united states", "u s a": "united states",
    "united states of america": "united states", "america": "united states",
    "uk": "united kingdom", "u k": "united kingdom", "britain": "united kingdom", "great britain": "united kingdom",
    "un": "united nations", "u n": "united nations", "eu": "european union", "e u": "european union",
    "uae": "united arab emirates", "dprk": "north korea", "ussr": "soviet union",
}
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
    """Comparison tokens of a name: folded words, hyphens and dots split ("Kim Jong-un" -> kim jong un)."""
    return re.findall(r"[^\W_]+", _folded(text).replace("&", " and ").replace("'s", "").replace("’s", ""))


def entity_key(name: str, person: bool = False) -> str:
    """The normalised, type-independent key of an entity's canonical name (used as ``entity_id``).

    Args:
        name: the canonical name, e.g. "Donald J. Trump".
        person: drop single-letter middle initials ("donald j trump" -> "donald trump").
    Returns:
        Space-joined folded tokens, e.g. "donald trump"; common abbreviations expanded ("U.S." ->
        "united states").
    """
    tokens = name_tokens(name)
    if person and len(tokens) > 2:
        tokens = [t for k, t in enumerate(tokens) if len(t) > 1 or k in (0, len(tokens) - 1)]
    key = " ".join(tokens)
    return KEY_ALIASES.get(key, key)


def _is_title_word(token: Token) -> bool:
    return token.lower_.rstrip(".") in PERSON_TITLES


def _trimmed(span: Span) -> tuple[int, int, bool] | None:
    """Token bounds of a name inside an NER span, without determiners, titles and possessives.

    Returns (start, end, titled) in token indices, or None when nothing name-like is left.
    """
    start, end = span.start, span.end
    doc = span.doc
    titled = start > 0 and _is_title_word(doc[start - 1]) and doc[start - 1].text[0].isupper()
    while start < end and (doc[start].is_punct or doc[start].lower_ in _DETERMINERS or doc[start].is_space):
        start += 1
    title_end = start
    allowed = PERSON_TITLES if span.label_ == "PERSON" else _HONORIFICS
    while title_end < end - 1 and (doc[title_end].lower_.rstrip(".") in allowed
                                   or (title_end > start and doc[title_end].lower_ in _TITLE_LINKS)):
        title_end += 1
    if title_end > start and doc[title_end].text[:1].isupper() and doc[title_end].lower_ not in _TITLE_LINKS:
        start, titled = title_end, True
    while end > start and (doc[end - 1].tag_ == "POS" or doc[end - 1].is_punct or doc[end - 1].is_space
                           or doc[end - 1].lower_ in ("'s", "’s")):
        end -= 1
    if end <= start or not any(c.isupper() for c in doc[start:end].text):
        return None
    return start, end, titled


def _surface_bounds(doc: Doc, start: int, end: int) -> tuple[int, int]:
    """Character bounds of tokens ``start:end``, with a possessive glued to the last token removed."""
    a, b = doc[start].idx, doc[end - 1].idx + len(doc[end - 1].text)
    m = _POSSESSIVE.search(doc.text[a:b])
    if m and b - a > len(m.group()) + 1:
        b -= len(m.group())
    return a, b


def _candidates(doc: Doc, body: list[bool] | None, in_title: bool) -> list[_Candidate]:
    """Cleaned NER mentions of one doc (body lines only when ``body`` is given)."""
    out: list[_Candidate] = []
    for ent in doc.ents:
        if ent.label_ not in ENTITY_LABELS:
            continue
        bounds = _trimmed(ent)
        if bounds is None:
            continue
        start, end, titled = bounds
        a, b = _surface_bounds(doc, start, end)
        if body is not None and not body[a]:
            continue
        surface = doc.text[a:b]
        key = entity_key(surface, person=ent.label_ == "PERSON")
        if key:
            out.append(_Candidate(a, b, surface, ent.label_, key, titled, in_title))
    return out


def _voted_type(cands: Sequence[_Candidate]) -> str:
    """The label most mentions agree on; a person title counts twice for PERSON, full names twice."""
    votes: Counter[str] = Counter()
    for c in cands:
        weight = 2 if len(c.key.split()) > 1 else 1
        votes[c.label] += weight
        if c.titled:
            votes["PERSON"] += 2
    order = ["PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW"]
    return max(votes, key=lambda lab: (votes[lab], -order.index(lab)))


def _contains(longer: list[str], shorter: list[str]) -> bool:
    """Whether ``shorter`` is a contiguous run of ``longer``'s tokens."""
    n = len(shorter)
    return any(longer[i:i + n] == shorter for i in range(len(longer) - n + 1))


def _acronym(tokens: list[str]) -> str:
    return "".join(t[0] for t in tokens if t not in _TITLE_LINKS)


def _grouped(cands: list[_Candidate]) -> list[list[_Candidate]]:
    """Mentions grouped into entities: same key, or a partial name / acronym of a fuller one."""
    by_key: dict[str, list[_Candidate]] = defaultdict(list)
    for c in cands:
        by_key[c.key].append(c)
    types = {k: _voted_type(v) for k, v in by_key.items()}
    keys = sorted(by_key, key=lambda k: -len(k.split()))
    target: dict[str, list[str]] = {}
    for k in keys:
        toks = k.split()
        fuller = [L for L in keys if len(L.split()) > len(toks) and target.get(L) is None
                  and ((types[L] == "PERSON" and types[k] in ("PERSON", "ORG", "GPE", "NORP", "LOC")
                        and _contains(L.split(), toks))
                       or (len(toks) == 1 and len(k) >= 2 and types[L] in ("ORG", "GPE", "LOC", "FAC")
                           and _acronym(L.split()) == k))]
        target[k] = fuller or None  # type: ignore[assignment]
    groups: dict[str, list[_Candidate]] = {k: [] for k in keys if target[k] is None}
    for k in keys:
        if target[k] is None:
            groups[k].extend(by_key[k])
            continue
        heads = target[k]
        firsts = {L: min(c.start for c in by_key[L] if not c.in_title) if any(not c.in_title for c in by_key[L])
                  else 10**9 for L in heads}
        for c in by_key[k]:
            preceding = [L for L in heads if firsts[L] <= c.start]
            pick = (max(preceding, key=lambda L: max(x.start for x in by_key[L] if not x.in_title and x.start <= c.start))
                    if preceding and not c.in_title else max(heads, key=lambda L: len(by_key[L])))
            groups[pick].append(c)
    return list(groups.values())


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
    body = body_line_mask(doc.text)
    cands = _candidates(doc, body, in_title=False)
    if title_doc is not None:
        cands += _candidates(title_doc, None, in_title=True)
    groups = _grouped(cands)
    names = [_canonical(g) for g in groups]
    types = [_voted_type(g) for g in groups]
    taken = [False] * (len(doc.text) + 1)
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
    ids: dict[int, str] = {n: entity_key(names[n], person=types[n] == "PERSON") for n in range(len(groups))}
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
    mention_rows = tuple(Mention(eid, doc.text[a:b], a, b) for a, b, eid in sorted(mentions))
    used = {m.entity_id for m in mention_rows}
    entities = tuple(e for e in entities if e.entity_id in used)
    return ArticleEntities(entities, mention_rows, {e.entity_id: e for e in entities})


def _tokens_of(doc: Doc, c: _Candidate) -> list[Token]:
    span = doc.char_span(c.start, c.end, alignment_mode="expand")
    return list(span) if span is not None else []
