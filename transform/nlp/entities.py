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
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from spacy.tokens import Doc, Token

from newswatch.models import Entity, Mention
from transform.body_lines import body_line_mask, is_headline_case
from transform.nlp.entity_mentions import NameCandidate, is_dictionary_word, name_candidates
from transform.nlp.names import COUNTRIES, TITLE_LINKS, entity_key, name_tokens

__all__ = ["ArticleEntities", "article_entities", "entity_key", "name_tokens", "with_person_mention"]
_TYPE_ORDER = ("PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW")

# A single-token alias is only searched for again when it is at least this long: shorter capitalised
# tokens ("Al", "Ma") hit unrelated words too often. CoNLL-2003 testa mention F1 (eval/eval_ner.py) is
# 0.735 for 2, 3 and 4 and 0.734 for 5; 3 is kept as the shortest that excludes two-letter particles.
MIN_PROPAGATED_CHARS = 3
# A person introduced as dead ("the late President X", "his late father, X") is background: a surname
# shared with someone alive in the story ("says Rahman") is the living person's, whoever was named last.
_LATE_BEFORE = re.compile(r"\blate\s+(?:[\w.]+\s+){0,3}$|\blate\s+[a-z]+(?:\s+[a-z]+)?,\s*$", re.IGNORECASE)


def _title_case(title: str) -> bool:
    """Whether a headline capitalises its words, so that capitals there do not mark names."""
    words = [w for w in title.split() if w[:1].isalpha()]
    return is_headline_case(title) or (len(words) >= 3 and all(w[0].isupper() for w in words)
                                       and not all(w.isupper() for w in words))


def _introduced_as_late(text: str, start: int) -> bool:
    """Whether the name at ``text[start:]`` follows "late" ("the late senator", "his late father,")."""
    return bool(_LATE_BEFORE.search(text[max(0, start - 40):start]))


def _alive_first(options: list[str], late: set[str]) -> list[str]:
    """``options`` without people introduced as dead, unless all of them are."""
    alive = [o for o in options if o not in late]
    return alive or options


@dataclass(frozen=True, slots=True)
class ArticleEntities:
    """Entities and mentions of one article, with an index for attaching quote speakers to them."""

    entities: tuple[Entity, ...]
    mentions: tuple[Mention, ...]
    by_id: dict[str, Entity] = field(default_factory=dict)


_INITIALLED = re.compile(r"[A-Z]\.\s*[A-Z][a-z]+$")


def _voted_type(cands: Sequence[NameCandidate]) -> str:
    """The label most mentions agree on.

    Full names count twice (the model types them more reliably than a lone surname), a person title
    counts twice for PERSON, a bare subject of a verb of saying ("Volker said") half a vote for PERSON, an
    organisation noun beside the name ("the news agency X") twice more for ORG, a determiner before the
    model's PERSON ("the Tribune said") twice for ORG, a place's context ("the town of X", "in X" for the
    model's PERSON) twice for GPE, a full name with a country in brackets after it ("Ana Ruiz ( Spain )",
    as lists of athletes and delegates write it) three times for PERSON, an initial before a surname
    ("H. Morris") or an age after the name ("Duran, 45,") twice for PERSON, a country's name three times for GPE,
    and leading a row of a results table ("Wigan 22 19 1 2") three times for ORG.
    A form of address ("President X", "Mr. X") outweighs all the other votes together.
    """
    votes: dict[str, float] = defaultdict(float)
    for c in cands:
        votes[c.label] += 2 if len(c.key.split()) > 1 else 1
        if c.titled:
            votes["PERSON"] += 2
        if c.speaks:  # half a vote: institutions say things too ("Acme said"); it decides between equals
            votes["PERSON"] += 0.5
        if c.described_org:
            votes["ORG"] += 2
        if c.located == "noun" or (c.located and c.label == "PERSON"):  # "in X" is also "in Congress"
            votes["GPE"] += 2
        if c.determined and c.label == "PERSON":
            votes["ORG"] += 2
        if c.country_after and len(c.key.split()) > 1:  # "Marion Clignet ( France )" in a results list
            votes["PERSON"] += 3
        if _INITIALLED.match(c.surface) or c.aged:  # "H. Morris", "Duran, 45,": how people are written
            votes["PERSON"] += 2
        if c.key in COUNTRIES:
            votes["GPE"] += 3
        if c.tabled:  # a club leading a results row, named for its city ("Barcelona 5 4 1 0")
            votes["ORG"] += 3
    if any(c.addressed for c in cands):  # "President X", "Mr. X": whatever the model called X elsewhere
        votes["PERSON"] += sum(votes.values()) + 1
    return max(votes, key=lambda lab: (votes[lab], -_TYPE_ORDER.index(lab)))


def _contains(longer: list[str], shorter: list[str]) -> bool:
    """Whether ``shorter`` is a contiguous run of ``longer``'s tokens."""
    n = len(shorter)
    return any(longer[i:i + n] == shorter for i in range(len(longer) - n + 1))


def _acronym(tokens: list[str]) -> str:
    return "".join(t[0] for t in tokens if t not in TITLE_LINKS)


def _grouped(cands: list[NameCandidate], text: str = "",
             common: Callable[[str], bool] = lambda word: True) -> list[tuple[list[NameCandidate], str]]:
    """Mentions grouped into entities, with each entity's type.

    A group is one key, plus the partial names ("Trump", "Jong Un") and acronyms ("FBI") of a fuller name
    in the article, and an organisation's last words used as its short name ("the Workers Tribune" ...
    "the Tribune"). A partial name goes to the nearest fuller name before it (two Clintons), and takes the
    fuller name's type: "Donald Trump" decides that the "Trump" the model calls ORG is the person, unless
    the text itself treats the short name as an organisation ("the Trump", "the firm Trump"). An
    organisation's prefix joins the longer name only when the longer one came first. A
    fuller name introduced as dead ("the late X") gets the partial name only when no other fits. A surname
    the model calls a nationality or group joins the person unless it is a common word (``common``):
    "Crist" is Charlie Crist's, "English" is not Gary English's.
    """
    by_key: dict[str, list[NameCandidate]] = defaultdict(list)
    for c in cands:
        by_key[c.key].append(c)
    types = {k: _voted_type(v) for k, v in by_key.items()}
    person_votes = {k: any(c.label == "PERSON" or c.titled or c.addressed or c.speaks for c in v)
                    for k, v in by_key.items()}
    # The model's ORG or place for a surname is only believed when the text treats it as one ("the
    # Volker", "the agency Volker", "in Duran"); otherwise it is the person the article introduced by
    # full name.
    org_like = {k: any(c.determined or c.described_org for c in v) for k, v in by_key.items()}
    place_like = {k: any(c.located for c in v) for k, v in by_key.items()}
    size = {k: len(v) for k, v in by_key.items()}
    # A full name the model calls an organisation, whose surname alone the text treats as a person at least
    # as often ("Tarique Rahman's party" ... "says Rahman"), is that person: the surname's evidence decides.
    for L, v in by_key.items():
        toks = L.split()
        if (types[L] == "ORG" and 2 <= len(toks) <= 3 and not org_like[L] and toks[-1] in types
                and types[toks[-1]] == "PERSON" and size[toks[-1]] >= size[L]
                and all(w[:1].isupper() and w.isalpha() for c in v[:1] for w in c.surface.split())):
            types[L] = "PERSON"
    # A person's surname followed by a common noun ("Trump Tower", "the Obama White House", "Trump Shuttle")
    # is something named after the person, whatever the model says, unless the text treats it as a person:
    # a title, a verb of saying, or the last word alone as a name ("Scott Walker" ... "Walker said").
    surnames = {k.split()[-1] for k, t in types.items() if t == "PERSON" and len(k.split()) > 1}
    for L, v in by_key.items():
        toks = L.split()
        if (types[L] == "PERSON" and len(toks) > 1 and toks[0] in surnames and common(toks[-1])
                and toks[-1] not in by_key and not any(c.titled or c.addressed or c.speaks for c in v)):
            others = Counter(c.label for c in v if c.label != "PERSON")
            types[L] = others.most_common(1)[0][0] if others else "ORG"
    keys = sorted(by_key, key=lambda k: -len(k.split()))
    # An organisation's short form follows its full name ("Acme Holdings" ... "Acme"); a longer name first
    # seen after the short one is something of the organisation's ("the Clarion" ... "Clarion Best Books").
    first_at = {k: min((c.start for c in v if not c.in_title), default=10**9) for k, v in by_key.items()}
    heads: dict[str, list[str]] = {}
    for k in keys:
        toks = k.split()
        heads[k] = [L for L in keys if len(L.split()) > len(toks) and not heads.get(L)
                    and ((types[L] == "PERSON" and _contains(L.split(), toks)
                          and (person_votes[k] or (types[k] == "ORG" and (size[L] >= size[k] or not org_like[k]))
                               or (types[k] in ("GPE", "LOC", "FAC") and not place_like[k] and k not in COUNTRIES)
                               or (types[k] == "NORP" and not common(k))
                               or types[k] not in ("ORG", "GPE", "LOC", "NORP", "FAC")))
                         or (types[L] == "ORG" and types[k] == "ORG" and first_at[L] <= first_at[k]
                             and (L.split()[:len(toks)] == toks or (L.split()[-len(toks):] == toks and org_like[k])))
                         or (len(toks) == 1 and len(k) >= 2 and types[L] in ("ORG", "GPE", "LOC", "FAC")
                             and _acronym(L.split()) == k))]
    for k in keys:  # a surname the text also gives a person ("Trump said") is the person's, not the short form
        # of a body named after them ("Trump University" ... "Trump")
        people = [L for L in heads[k] if types[L] == "PERSON"]
        if people and person_votes[k]:
            heads[k] = people
    groups: dict[str, list[NameCandidate]] = {k: list(by_key[k]) for k in keys if not heads[k]}
    body_starts = {k: sorted(c.start for c in by_key[k] if not c.in_title) for k in keys}
    late = {k for k in keys if text and any(_introduced_as_late(text, c.start) for c in by_key[k] if not c.in_title)}
    for k in keys:
        options = heads[k]
        if not options:
            continue
        for c in by_key[k]:
            before = {L: max((s for s in body_starts[L] if s <= c.start), default=-1) for L in options}
            preceding = _alive_first([L for L in options if before[L] >= 0 and not c.in_title], late)
            pick = (max(preceding, key=lambda L: before[L]) if preceding
                    else max(options, key=lambda L: len(by_key[L])))
            groups[pick].append(c)
    return [(g, types[k]) for k, g in groups.items()]


def _canonical(group: Sequence[NameCandidate], quoted: Sequence[tuple[int, int]]) -> str:
    """The fullest name in the group: most tokens, then most frequent, then first; all-caps forms last.

    Names inside quotes count only when there is no other: a nickname in a quote ("Crooked Hillary
    Clinton") must not become the canonical name, and so the ``entity_id``, of the person."""
    outside = [c for c in group if c.in_title or not any(a <= c.start < b for a, b in quoted)]
    counts = Counter(c.surface for c in (outside or group))
    first: dict[str, int] = {}
    for c in sorted(group, key=lambda c: (c.in_title, c.start)):
        first.setdefault(c.surface, len(first))
    return max(counts, key=lambda s: (not s.isupper(), len(name_tokens(s)), counts[s], -first[s]))


def _propagated(doc: Doc, body: list[bool], taken: list[bool], alias_to_group: dict[str, list[int]],
                first_start: dict[int, int], surnames: set[str],
                late: frozenset[int] | set[int] = frozenset()) -> list[tuple[int, int, int]]:
    """(start, end, group) for further occurrences of a group's names that NER did not tag.

    A one-word name must be tagged a proper noun, except a person's surname, which the tagger often
    calls a common noun ("Waters tweeted", "Hannity said").
    """
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
            if len(words) == 1 and (len(tok.text) < MIN_PROPAGATED_CHARS
                                    or (tok.tag_ not in ("NNP", "NNPS") and tok.text not in surnames)):
                continue
            a, b = tok.idx, doc[end - 1].idx + len(doc[end - 1].text)
            if any(taken[a:b]):
                continue
            preceding = [g for g in groups if first_start[g] <= a]
            preceding = [g for g in preceding if g not in late] or preceding
            group = max(preceding, key=lambda g: first_start[g]) if preceding else groups[0]
            found.append((a, b, group))
            for i in range(a, b):
                taken[i] = True
            break
    return found


def article_entities(doc: Doc, title_doc: Doc | None = None, quoted: Sequence[tuple[int, int]] = (),
                     text: str | None = None) -> ArticleEntities:
    """The entities and mentions of one article.

    Args:
        doc: the parsed article text (offsets of mentions index ``doc.text``).
        title_doc: the parsed headline, if any; it informs types, names and aliases but yields no mentions
            (a headline in headline case only adds its votes to names the text has).
        quoted: ``(start, end)`` of the article's quoted strings; names there do not name an entity.
        text: ``doc.text``, if already read (spaCy rebuilds it from the tokens on every access).
    Returns:
        One :class:`Entity` per real-world thing, and one :class:`Mention` per occurrence in the text.
    """
    text = doc.text if text is None else text
    body = body_line_mask(text)
    cands = name_candidates(doc, body, in_title=False, text=text)
    if title_doc is not None:
        title_cands = name_candidates(title_doc, None, in_title=True)
        if _title_case(title_doc.text):  # "Trump Warns There ...": the model runs names into verbs
            body_keys = {c.key for c in cands}
            title_cands = [c for c in title_cands if c.key in body_keys]
        cands += title_cands
    typed = _grouped(cands, text, lambda word: is_dictionary_word(doc.vocab, word))
    groups = [g for g, _ in typed]
    names = [_canonical(g, quoted) for g in groups]
    types = [t for _, t in typed]
    taken = [False] * (len(text) + 1)
    for c in cands:
        if not c.in_title:
            for i in range(c.start, c.end):
                taken[i] = True
    alias_to_group: dict[str, list[int]] = defaultdict(list)
    first_start: dict[int, int] = {}
    surnames: set[str] = set()
    for n, g in enumerate(groups):
        body_cands = [c for c in g if not c.in_title]
        first_start[n] = min((c.start for c in body_cands), default=10**9)
        aliases = {" ".join(t.text for t in _tokens_of(doc, c)) for c in body_cands}
        if types[n] == "PERSON" and len(names[n].split()) > 1:
            aliases.add(names[n].split()[-1])
            surnames.add(names[n].split()[-1])
        for alias in aliases:
            if alias and not alias.isupper():
                alias_to_group[alias].append(n)
    late = {n for n, g in enumerate(groups) if any(_introduced_as_late(text, c.start) for c in g if not c.in_title)}
    extra = _propagated(doc, body, taken, alias_to_group, first_start, surnames, late)
    ids: dict[int, str] = {n: entity_key(names[n]) for n in range(len(groups))}
    mentions = [(c.start, c.end, ids[n]) for n, g in enumerate(groups) for c in g if not c.in_title]
    mentions += [(a, b, ids[n]) for a, b, n in extra]
    merged: dict[str, tuple[str, str, set[str], int]] = {}
    found_again: dict[int, set[str]] = defaultdict(set)
    for a, b, n in extra:
        found_again[n].add(text[a:b])
    for n, g in enumerate(groups):
        surfaces = {c.surface for c in g} | found_again[n]
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


def _tokens_of(doc: Doc, c: NameCandidate) -> list[Token]:
    span = doc.char_span(c.start, c.end, alignment_mode="expand")
    return list(span) if span is not None else []


def with_person_mention(ents: ArticleEntities, text: str, start: int, end: int) -> tuple[ArticleEntities, Entity]:
    """Add a mention of a person the model missed (a quote's speaker), reusing an entity where one fits.

    The name joins the entity with the same key, or the PERSON whose name contains it ("Fallon" after
    "Brian Fallon"; of two Clintons, the one named last before it); otherwise it becomes a new PERSON (an
    ORG when it is one word in capitals).
    Mentions never overlap: the part of the name another mention covers is left to that mention.

    Args:
        ents: the article's entities so far.
        text: the article text; ``text[start:end]`` is the name.
        start: where the name starts.
        end: where it ends.
    Returns:
        The updated entities and the entity the name belongs to.
    """
    covering = None
    for m in ents.mentions:
        if m.start_char < end and start < m.end_char:
            start, covering = max(start, m.end_char), m
    while start < end and not text[start].isalnum():
        start += 1
    if start >= end and covering is not None:  # the name is already a mention
        return ents, ents.by_id[covering.entity_id]
    surface = text[start:end]
    key = entity_key(surface)
    entity = ents.by_id.get(key)
    if entity is None and key:
        tokens = key.split()
        persons = {e.entity_id for e in ents.entities if e.type == "PERSON" and _contains(e.entity_id.split(), tokens)}
        last_before = {m.entity_id: m.start_char for m in ents.mentions if m.entity_id in persons and m.start_char < start}
        late = {eid for eid in last_before
                if any(m.entity_id == eid and _introduced_as_late(text, m.start_char) for m in ents.mentions)}
        if set(last_before) - late:
            last_before = {eid: at for eid, at in last_before.items() if eid not in late}
        if last_before:
            entity = ents.by_id[max(last_before, key=lambda eid: last_before[eid])]
        elif persons:
            entity = ents.by_id[sorted(persons)[0]]
    if entity is None:  # one word in capitals is an acronym ("TIME wrote", "NASA said"), not a person's name
        kind = "ORG" if surface.isalpha() and surface.isupper() and len(surface) >= 2 else "PERSON"
        entity = Entity(key, surface, kind, (surface,))
    elif surface and surface not in entity.aliases:
        entity = Entity(entity.entity_id, entity.name, entity.type, tuple(sorted({*entity.aliases, surface})))
    by_id = {**ents.by_id, entity.entity_id: entity}
    entities = tuple(by_id[e.entity_id] for e in ents.entities)
    if entity.entity_id not in ents.by_id:
        entities += (entity,)
    mentions = ents.mentions
    if surface:
        mentions = tuple(sorted((*mentions, Mention(entity.entity_id, surface, start, end)),
                                key=lambda m: (m.start_char, m.end_char)))
    return ArticleEntities(entities, mentions, by_id), entity
