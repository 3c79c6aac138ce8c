"""Who said each quote: the speech cue next to it, the cue's subject, and what a pronoun refers to.

Why: ``quotes.speaker`` must be a name an analyst can count, never "he" or "the 79-year-old". The
dependency parse finds the cue a quote hangs from (``"X," she said`` / ``He added: "X"`` / ``called it
"X"``) and the cue's subject; short attribution windows around the quote cover the sentences the small
model parses badly, and two cue-less shapes are read directly: ``"X" — Jane Doe`` and ``Doe: "X"``.
Pronouns go to the most recent person mentioned outside quotes (agreeing in gender when an honorific
told it), definite descriptions ("the president") to the person introduced with that title, and a
spokesperson's or an office's words to the person or body they speak for. A quote the attribution splits
(``"X," he said. "Y."``), or a quote paragraph following an attributed one, keeps its speaker. Where no
cue is found the speaker stays empty rather than guessed.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from spacy.tokens import Doc, Token

from newswatch.models import Entity, Quote
from transform.body_lines import body_line_mask
from transform.cues import CUE_FORMS
from transform.entities import ArticleEntities, with_person_mention
from transform.names import PERSON_TITLES
from transform.quotes import QuotedSpan, is_quotation, quotation_bounds, quotation_text, quoted_spans

_PRONOUNS = {"he": "m", "him": "m", "she": "f", "her": "f"}
_RELATIVES = frozenset({"who", "that", "which", "whom"})
_MALE_TITLES = frozenset({"mr", "mr.", "sir", "lord", "king", "prince"})
_FEMALE_TITLES = frozenset({"mrs", "mrs.", "ms", "ms.", "miss", "madam", "dame", "lady", "queen", "princess"})
# Nouns that make "the <noun>" a description of a person in the story ("the billionaire said").
ROLE_NOUNS = PERSON_TITLES | frozenset(
    """billionaire businessman businesswoman mogul candidate nominee lawmaker legislator official leader star
    actor actress singer author writer player coach manager founder owner host anchor analyst economist
    veteran activist lawyer""".split()
)
# Whose words these are is the body's or person's they belong to: "Powell's office said", "a spokeswoman
# for the committee said", "a Pentagon spokesman said". News analysis attributes such statements to the
# principal; the spokesperson is rarely named.
SPOKES_NOUNS = frozenset(
    """spokesman spokeswoman spokesperson spokespeople office campaign administration government ministry
    team camp staff press""".split()
)
# Tokens examined after a quote for a trailing attribution ('," he said on Monday in Washington.'). News
# style puts the cue within the first few words; 12 also covers '," Smith, a spokesman for X, said.'
AFTER_WINDOW_TOKENS = 12
# A quote that ends its own sentence ('"X." Smith said.') takes its attribution from the next sentence
# only when that sentence is this short: longer ones are new statements, not attributions.
MAX_ATTRIBUTION_SENTENCE_TOKENS = 10
# How far back (characters) a pronoun or description looks for the person it refers to: about three
# paragraphs. Further back, an empty speaker is better than a wrong one.
ANTECEDENT_WINDOW_CHARS = 1500
# Steps from a quote's clause up the parse to the speech verb it is reported under ('X said he planned
# to counter "Y"' is four steps).
MAX_HEAD_STEPS = 6
_DASHES = "—―–-"


@dataclass(frozen=True, slots=True)
class _Attribution:
    entity: Entity | None
    cue: str | None


class _Article:
    """Per-article lookups the attribution rules share: tokens by offset, mentions, quotes, genders."""

    def __init__(self, doc: Doc, text: str, ents: ArticleEntities, quoted: Sequence[QuotedSpan]) -> None:
        self.doc = doc
        self.text = text
        self.ents = ents
        self.starts = [t.idx for t in doc]
        self.quoted = [(s.start, s.end) for s in quoted]
        self.genders = self._genders()

    def token_at(self, char: int) -> int:
        """Index of the token containing (or last before) character ``char``."""
        return max(0, bisect.bisect_right(self.starts, char) - 1)

    def in_quote(self, char: int) -> bool:
        return any(a <= char < b for a, b in self.quoted)

    def entity_between(self, a: int, b: int) -> Entity | None:
        """The entity of the first mention overlapping characters ``a:b``."""
        mentions = self.ents.mentions
        k = bisect.bisect_left([m.end_char for m in mentions], a + 1)
        for m in mentions[k:]:
            if m.start_char >= b:
                break
            if m.end_char > a:
                return self.ents.by_id.get(m.entity_id)
        return None

    def entity_of(self, tok: Token) -> Entity | None:
        return self.entity_between(tok.idx, tok.idx + len(tok.text))

    def _genders(self) -> dict[str, str]:
        """Gender of persons introduced with an honorific ("Mr. Trump", "Ms. Clinton")."""
        out: dict[str, str] = {}
        for m in self.ents.mentions:
            before = self.text[max(0, m.start_char - 6):m.start_char].split()
            word = before[-1].lower() if before else ""
            if word in _MALE_TITLES:
                out.setdefault(m.entity_id, "m")
            elif word in _FEMALE_TITLES:
                out.setdefault(m.entity_id, "f")
        return out

    def recent_person(self, char: int, gender: str | None = None, title: str | None = None) -> Entity | None:
        """The person mentioned last before ``char`` outside quotes, agreeing in gender when known; with a
        ``title``, the last person introduced with that title, else the last person."""
        fallback = None
        for m in reversed(self.ents.mentions):
            if m.start_char >= char:
                continue
            if m.start_char < char - ANTECEDENT_WINDOW_CHARS:
                break
            entity = self.ents.by_id.get(m.entity_id)
            if entity is None or entity.type != "PERSON" or self.in_quote(m.start_char):
                continue
            if title is not None:
                if re.search(rf"\b{re.escape(title)}\.?\s*$", self.text[max(0, m.start_char - 40):m.start_char].lower()):
                    return entity
                fallback = fallback or entity
                continue
            known = self.genders.get(entity.entity_id)
            if gender is None or known is None or known == gender:
                return entity
        return fallback


def _subject(verb: Token, lo: int, hi: int) -> Token | None:
    """The subject of a speech verb outside the quote's tokens ``lo:hi``, climbing from "saying", "by
    saying" and "and said" clauses to the verb they join (the parser often hangs the quote's own subject
    on the cue too, hence the exclusion)."""
    for _ in range(4):
        subjects = [c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass") and not lo <= c.i < hi]
        if subjects:
            return min(subjects, key=lambda c: abs(c.i - verb.i))
        if verb.dep_ in ("acl", "relcl") and verb.head is not verb:
            return verb.head
        if verb.dep_ in ("conj", "advcl", "xcomp", "pcomp", "prep") and verb.head is not verb:
            verb = verb.head
            continue
        break
    return None


def _according_to(tok: Token) -> Token | None:
    """The object of "according to"."""
    for child in tok.children:
        if child.lower_ == "to":
            for obj in child.children:
                if obj.dep_ == "pobj":
                    return obj
    doc = tok.doc
    if tok.i + 2 < len(doc) and doc[tok.i + 1].lower_ == "to":
        return doc[tok.i + 2]
    return None


def _looks_like_name(tok: Token) -> bool:
    """A capitalised word the tagger may have missed as a name ("Hannity said", tagged NN)."""
    if not tok.text[:1].isupper() or tok.lower_.rstrip(".") in PERSON_TITLES or not tok.is_alpha:
        return False
    return tok.tag_ in ("NNP", "NNPS") or (tok.tag_ in ("NN", "NNS") and not tok.is_sent_start)


def _name_span(tok: Token) -> tuple[int, int] | None:
    """Character bounds of a proper name around ``tok`` (its capitalised compound modifiers included)."""
    if not _looks_like_name(tok):
        return None
    first = tok
    for child in tok.lefts:
        if child.dep_ == "compound" and child.i < first.i and child.text[:1].isupper() \
                and child.lower_.rstrip(".") not in PERSON_TITLES and child.is_alpha:
            first = child
    return first.idx, tok.idx + len(tok.text)


def _is_description(tok: Token) -> str | None:
    """The role word when ``tok`` heads a definite description of a person ("the president")."""
    if not any(c.lower_ == "the" and c.dep_ == "det" for c in tok.children):
        return None
    word = tok.lower_
    if word in ROLE_NOUNS or re.match(r"\d+-year-old$", word):
        return word
    if word == "old" and any(c.lower_ == "year" for c in tok.subtree):  # "the 79-year-old"
        return word
    return None


class _Resolver:
    """Turns the subject of a cue into an entity, adding missed names as PERSON entities."""

    def __init__(self, article: _Article) -> None:
        self.article = article

    def speaker(self, tok: Token | None, depth: int = 0) -> Entity | None:
        if tok is None or depth > 2:
            return None
        a = self.article
        if tok.lower_ in _RELATIVES and tok.head.dep_ == "relcl":
            return self.speaker(tok.head.head, depth + 1)
        entity = a.entity_of(tok)
        if entity is not None:
            return entity if entity.type in ("PERSON", "ORG", "NORP", "GPE", "FAC") else None
        for child in tok.children:
            if child.dep_ in ("appos", "compound") and (entity := a.entity_of(child)) is not None:
                if entity.type in ("PERSON", "ORG") and (child.dep_ == "appos" or not tok.lower_ in ROLE_NOUNS
                                                         or tok.lower_ in SPOKES_NOUNS):
                    return entity
        if tok.tag_ == "PRP":
            return a.recent_person(tok.idx, gender=_PRONOUNS[tok.lower_]) if tok.lower_ in _PRONOUNS else None
        if (span := _name_span(tok)) is not None:
            a.ents, entity = with_person_mention(a.ents, a.text, *span)
            return entity
        for child in tok.children:
            if child.dep_ == "appos":
                return self.speaker(child, depth + 1)
        if tok.lower_ in SPOKES_NOUNS:
            return self._principal(tok)
        role = _is_description(tok)
        if role is not None:
            return a.recent_person(tok.idx, title=role if role in PERSON_TITLES else None)
        return None

    def _principal(self, tok: Token) -> Entity | None:
        """Whom a spokesperson or office speaks for: "X's office", "a spokesman for X"."""
        for child in tok.children:
            if child.dep_ == "poss" or (child.dep_ == "prep" and child.lower_ in ("for", "of")):
                target = child if child.dep_ == "poss" else next((g for g in child.children if g.dep_ == "pobj"), None)
                if target is not None and (entity := self.article.entity_of(target)) is not None:
                    return entity if entity.type in ("PERSON", "ORG", "GPE", "NORP") else None
                if target is not None and target.tag_ == "PRP$" and target.lower_ in ("his", "her"):
                    return self.article.recent_person(target.idx, gender="m" if target.lower_ == "his" else "f")
        return None


def _is_cue(tok: Token) -> bool:
    return tok.lower_ in CUE_FORMS and tok.tag_.startswith("VB")


def _cue_in(doc: Doc, lo: int, hi: int) -> Token | None:
    """The first speech cue among tokens ``lo:hi`` ("according" stands for "according to")."""
    for tok in doc[max(0, lo):max(0, hi)]:
        if _is_cue(tok):
            return tok
        if tok.lower_ == "according" and tok.i + 1 < len(doc) and doc[tok.i + 1].lower_ == "to":
            return tok
    return None


def _cue_subject(tok: Token, lo: int, hi: int) -> Token | None:
    if tok.lower_ == "according":
        return _according_to(tok)
    subject = _subject(tok, lo, hi)
    doc = tok.doc
    if subject is None and tok.i + 1 < len(doc) and (doc[tok.i + 1].tag_ == "PRP" or _looks_like_name(doc[tok.i + 1])):
        subject = doc[tok.i + 1]  # '"X," said Smith' parsed with Smith as an object
        while subject.i + 1 < len(doc) and _looks_like_name(doc[subject.i + 1]):
            subject = doc[subject.i + 1]
    return subject


def _head_chain_cue(doc: Doc, lo: int, hi: int, para_lo: int, para_hi: int) -> Token | None:
    """The speech verb outside tokens ``lo:hi`` (inside ``para_lo:para_hi``) the quote hangs from."""
    for tok in doc[lo:hi]:
        head = tok.head
        if lo <= head.i < hi or head is tok:
            continue
        for _ in range(MAX_HEAD_STEPS):
            if not para_lo <= head.i < para_hi:
                break
            if _is_cue(head) or (head.lower_ == "according" and head.i + 1 < len(doc) and doc[head.i + 1].lower_ == "to"):
                return head
            if head.head is head or lo <= head.head.i < hi:
                break
            head = head.head
    return None


class _Finder:
    """Finds the attribution of each quote of one article."""

    def __init__(self, article: _Article) -> None:
        self.a = article
        self.resolver = _Resolver(article)

    def attribution(self, span: QuotedSpan) -> _Attribution | None:
        a, doc, text = self.a, self.a.doc, self.a.text
        lo = a.token_at(span.outer_start)
        hi = a.token_at(max(span.outer_start, span.outer_end - 1)) + 1
        line_start = text.rfind("\n", 0, span.outer_start) + 1
        line_end = text.find("\n", span.outer_end)
        line_end = len(text) if line_end < 0 else line_end
        cue = _head_chain_cue(doc, lo, hi, a.token_at(line_start), a.token_at(line_end) + 1)
        if cue is None:
            cue = self._trailing_cue(span, hi, line_end)
        if cue is None:
            dashed = self._dashed_name(span, line_end)
            if dashed is not None:
                return dashed
            cue = self._leading_cue(span, lo, line_start)
        if cue is None:
            return self._colon_name(span, line_start)
        return _Attribution(self.resolver.speaker(_cue_subject(cue, lo, hi)),
                            "according to" if cue.lower_ == "according" else cue.text)

    def _trailing_cue(self, span: QuotedSpan, hi: int, line_end: int) -> Token | None:
        """'"X," she said.' / '"X." Smith said.' (the second only when the attribution is short)."""
        a = self.a
        stop = next((q[0] for q in a.quoted if q[0] > span.outer_end), len(a.text))
        end = min(hi + AFTER_WINDOW_TOKENS, a.token_at(min(stop - 1, line_end)) + 1, len(a.doc))
        if hi >= end:
            return None
        first = a.doc[hi]
        if re.search(r"[.!?]\W*$", a.text[span.start:span.end]) and first.is_sent_start:
            sent = first.sent
            if len(sent) > MAX_ATTRIBUTION_SENTENCE_TOKENS:
                return None
            end = min(end, sent.end)
        return _cue_in(a.doc, hi, end)

    def _leading_cue(self, span: QuotedSpan, lo: int, line_start: int) -> Token | None:
        """'He added: "X"' / 'Smith said "X"' / 'According to Smith, "X"' / a colon ending the paragraph before."""
        a, doc, text = self.a, self.a.doc, self.a.text
        before = text[line_start:span.outer_start].rstrip()
        if before:
            start = max(a.token_at(line_start), doc[lo].sent.start if lo < len(doc) else lo)
            return _cue_in(doc, start, lo) if start < lo else None
        prev_end = line_start - 1
        previous = text[:prev_end].rstrip()
        if previous.endswith(":"):
            last = a.token_at(len(previous) - 1)
            return _cue_in(doc, doc[last].sent.start, last + 1)
        return None

    def _dashed_name(self, span: QuotedSpan, line_end: int) -> _Attribution | None:
        """'"X" — Jane Doe': a dash and a name right after the closing mark."""
        a = self.a
        m = re.match(rf"\s*[{_DASHES}]+\s*", a.text[span.outer_end:line_end])
        if span.close_mark is None or m is None:
            return None
        start = span.outer_end + m.end()
        entity = a.entity_between(start, start + 1)
        if entity is None:
            tok = a.doc[a.token_at(start)]
            if tok.idx != start or (name := _name_span(tok)) is None:
                return None
            end = tok.idx + len(tok.text)
            while tok.i + 1 < len(a.doc) and _looks_like_name(a.doc[tok.i + 1]):
                tok = a.doc[tok.i + 1]
                end = tok.idx + len(tok.text)
            a.ents, entity = with_person_mention(a.ents, a.text, name[0], end)
        return _Attribution(entity, None) if entity.type in ("PERSON", "ORG") else None

    def _colon_name(self, span: QuotedSpan, line_start: int) -> _Attribution | None:
        """'Clinton: "X"': a transcript line, the name alone before a colon."""
        a = self.a
        m = re.match(r"\s*([^\W\d_][\w.'’ -]{0,40}?)\s*:\s*$", a.text[line_start:span.outer_start])
        if m is None:
            return None
        entity = a.entity_between(line_start + m.start(1), line_start + m.end(1))
        return _Attribution(entity, None) if entity is not None and entity.type == "PERSON" else None


def article_quotes(doc: Doc, ents: ArticleEntities) -> tuple[tuple[Quote, ...], ArticleEntities]:
    """The direct quotes of a parsed article with their speakers.

    Args:
        doc: the parsed article text.
        ents: the article's entities (from :func:`transform.entities.article_entities`).
    Returns:
        The quotes, in order, and the entities extended with speakers the model had missed.
    """
    text = doc.text
    body = body_line_mask(text)
    spans = quoted_spans(text)
    finder = _Finder(_Article(doc, text, ents, spans))
    quotes: list[Quote] = []
    previous: tuple[QuotedSpan, _Attribution] | None = None
    for span in spans:
        if not is_quotation(text, span) or not body[span.open_mark]:
            continue
        found = finder.attribution(span)
        if found is None and previous is not None and _continues(text, previous[0], span):
            found = _Attribution(previous[1].entity, previous[1].cue)
        found = found or _Attribution(None, None)
        start, end = quotation_bounds(text, span)
        entity = found.entity
        quotes.append(Quote(quotation_text(text, span), entity.name if entity else "",
                            entity.entity_id if entity else None, found.cue, start, end))
        previous = (span, found)
    return tuple(quotes), finder.a.ents


def _continues(text: str, before: QuotedSpan, span: QuotedSpan) -> bool:
    """Whether ``span`` goes on from the quote ``before``: later in the same paragraph ('"X," he said.
    "Y."'), or opening the next paragraph, which news style leaves unattributed when the speaker goes on."""
    between = text[before.outer_end:span.open_mark]
    if "\n" not in between:
        return True
    rest = between.split("\n", 1)[1]
    return not rest.strip() and text[before.outer_end:before.outer_end + 200].find("\n") >= 0
