"""Who said each quote: the speech cue next to it, the cue's subject, and what a pronoun refers to.

Why: ``quotes.speaker`` must be a name an analyst can count, never "he" or "the 79-year-old". The
dependency parse finds the cue a quote hangs from (``"X," she said`` / ``He added: "X"`` / ``called it
"X"``) and the cue's subject; short attribution windows around the quote cover the sentences the small
model parses badly. Pronouns go to the most recent person mentioned outside quotes (with honorific
gender when known), definite descriptions ("the president") to the person introduced with that title,
and a quote the attribution splits (``"X," he said. "Y."``) keeps its speaker. Where no cue can be found
the speaker stays empty rather than guessed.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from spacy.tokens import Doc, Token

from newswatch.models import Entity, Quote
from transform.body_lines import body_line_mask
from transform.entities import ArticleEntities, with_person_mention
from transform.names import PERSON_TITLES
from transform.quotes import QuotedSpan, is_quotation, quotation_bounds, quotation_text, quoted_spans

_CUE_VERBS = """say says said saying|tell tells told telling|add adds added adding|write writes wrote written writing|
explain explains explained explaining|note notes noted noting|state states stated|declare declares declared|
announce announces announced|insist insists insisted insisting|argue argues argued arguing|claim claims claimed|
recall recalls recalled recalling|warn warns warned warning|ask asks asked asking|answer answers answered|
reply replies replied replying|respond responds responded responding|tweet tweets tweeted tweeting|
post posts posted|quip quips quipped|joke jokes joked joking|exclaim exclaims exclaimed|
acknowledge acknowledges acknowledged|admit admits admitted|concede concedes conceded|suggest suggests suggested|
predict predicts predicted|promise promises promised|vow vows vowed|boast boasts boasted|
complain complains complained complaining|observe observes observed|remark remarks remarked|shout shouts shouted|
yell yells yelled|scream screams screamed|chant chants chanted|whisper whispers whispered|mutter muttered|
testify testifies testified|assert asserts asserted|contend contends contended|emphasize emphasized emphasised|
stress stresses stressed|reiterate reiterates reiterated|mention mentions mentioned|confirm confirms confirmed|
deny denies denied|continue continues continued|recount recounts recounted|call calls called calling|
describe describes described|urge urges urged|pledge pledges pledged|counter counters countered|
retort retorts retorted|caution cautions cautioned|lament laments lamented|conclude concludes concluded|
muse muses mused|agree agrees agreed|offer offers offered|put puts|quote quotes quoted|read reads|
blast blasts blasted|slam slams slammed|charge charges charged|demand demands demanded|proclaim proclaimed|
tell telling|added|wonder wonders wondered|thunder thundered|snap snaps snapped|sigh sighed|laugh laughed"""
# Surface forms of speech verbs; the lemmatizer is off for speed (transform.nlp), so forms are listed.
CUE_FORMS = frozenset(w for group in _CUE_VERBS.replace("\n", "").split("|") for w in group.split())
_PRONOUNS = {"he": "m", "him": "m", "she": "f", "her": "f"}
_UNRESOLVABLE = frozenset("i me we us you they them it one someone somebody".split())
_RELATIVES = frozenset({"who", "that", "which", "whom"})
_MALE_TITLES = frozenset({"mr", "mr.", "sir", "lord", "king", "prince", "father", "brother"})
_FEMALE_TITLES = frozenset({"mrs", "mrs.", "ms", "ms.", "miss", "madam", "dame", "lady", "queen", "princess", "sister"})
# Nouns that make "the <noun>" a description of a person in the story ("the 79-year-old", "the billionaire").
ROLE_NOUNS = PERSON_TITLES | frozenset(
    """billionaire businessman businesswoman mogul candidate nominee senator congressman lawmaker legislator
    official spokesman spokeswoman leader minister star actor actress singer author writer player striker
    coach manager founder owner host anchor analyst economist veteran activist lawyer attorney
    old man woman""".split()
)
# Tokens examined after a quote for its attribution ("," he said on Monday in Washington.): the cue of a
# trailing attribution comes within the first few words in news style; 12 also covers "," Smith, a
# spokesman for the company, said." (PolNeAR train split, checked by hand on 50 quotes).
AFTER_WINDOW_TOKENS = 12
# How far back (characters) a pronoun or description looks for the person it refers to: about three
# paragraphs. Further back, an unresolved speaker is better than a wrong one.
ANTECEDENT_WINDOW_CHARS = 1500


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
        """Index of the token containing (or next after) character ``char``."""
        return max(0, bisect.bisect_right(self.starts, char) - 1)

    def in_quote(self, char: int) -> bool:
        return any(a <= char < b for a, b in self.quoted)

    def entity_of(self, tok: Token) -> Entity | None:
        """The entity a token is (part of) a mention of."""
        a, b = tok.idx, tok.idx + len(tok.text)
        for m in self.ents.mentions:
            if m.start_char < b and a < m.end_char:
                return self.ents.by_id.get(m.entity_id)
            if m.start_char >= b:
                break
        return None

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
        """The person mentioned last before ``char`` outside quotes (matching gender or title if known)."""
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
                before = self.text[max(0, m.start_char - 40):m.start_char].lower()
                if re.search(rf"\b{re.escape(title)}\b", before):
                    return entity
                fallback = fallback or entity
                continue
            known = self.genders.get(entity.entity_id)
            if gender is None or known is None or known == gender:
                return entity
        return fallback if title is not None else None


def _subject(verb: Token, lo: int, hi: int) -> Token | None:
    """The subject of a speech verb outside the quote's tokens ``lo:hi``, climbing from "saying" and
    "and said" clauses to the verb they join (the parser often hangs the quote's own subject there too)."""
    for _ in range(3):
        subjects = [c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass") and not lo <= c.i < hi]
        if subjects:
            return min(subjects, key=lambda c: abs(c.i - verb.i))
        if verb.dep_ in ("conj", "advcl", "xcomp", "acl", "relcl") and verb.head is not verb:
            if verb.dep_ in ("acl", "relcl"):
                return verb.head
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
    nxt = tok.nbor(1) if tok.i + 1 < len(tok.doc) else None
    if nxt is not None and nxt.lower_ == "to" and nxt.i + 1 < len(tok.doc):
        return tok.doc[nxt.i + 1]
    return None


def _name_span(tok: Token) -> tuple[int, int] | None:
    """Character bounds of a proper-noun name around ``tok`` (its compound modifiers included)."""
    if tok.tag_ not in ("NNP", "NNPS") or not tok.text[:1].isupper() or tok.lower_.rstrip(".") in PERSON_TITLES:
        return None
    first = tok
    for child in tok.lefts:
        if child.dep_ == "compound" and child.tag_ == "NNP" and child.lower_.rstrip(".") not in PERSON_TITLES:
            first = child if child.i < first.i else first
    return first.idx, tok.idx + len(tok.text)


def _is_description(tok: Token) -> str | None:
    """The role word when ``tok`` heads a definite description of a person ("the president")."""
    if tok.tag_ not in ("NN", "JJ") or not any(c.lower_ == "the" and c.dep_ == "det" for c in tok.children):
        return None
    word = tok.lower_
    if word in ROLE_NOUNS or re.match(r"\d+-year-old$", word):
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
            return entity if entity.type in ("PERSON", "ORG", "NORP", "GPE") else None
        for child in tok.children:
            if child.dep_ in ("appos", "compound") and (entity := a.entity_of(child)) is not None:
                if entity.type == "PERSON":
                    return entity
        if tok.tag_ == "PRP":
            word = tok.lower_
            if word in _PRONOUNS:
                return a.recent_person(tok.idx, gender=_PRONOUNS[word])
            return None
        if (span := _name_span(tok)) is not None:
            a.ents, entity = with_person_mention(a.ents, a.text, *span)
            return entity
        for child in tok.children:
            if child.dep_ == "appos":
                return self.speaker(child, depth + 1)
        role = _is_description(tok)
        if role is not None:
            title = role if role in PERSON_TITLES else None
            return a.recent_person(tok.idx, title=title) if title else a.recent_person(tok.idx)
        if tok.lower_ == "old":  # "the 79-year-old" parsed as an adjective phrase
            if any(c.lower_ == "the" for c in tok.subtree):
                return a.recent_person(tok.idx)
        return None


def _cue_in(doc: Doc, lo: int, hi: int) -> Token | None:
    """The first speech cue among tokens ``lo:hi`` ("according" stands for "according to")."""
    for tok in doc[max(0, lo):max(0, hi)]:
        if tok.lower_ in CUE_FORMS and tok.tag_.startswith("VB"):
            return tok
        if tok.lower_ == "according" and tok.i + 1 < len(doc) and doc[tok.i + 1].lower_ == "to":
            return tok
    return None


def _cue_subject(tok: Token, lo: int, hi: int) -> Token | None:
    if tok.lower_ == "according":
        return _according_to(tok)
    subject = _subject(tok, lo, hi)
    if subject is None and tok.i + 1 < len(tok.doc) and tok.nbor(1).tag_ in ("NNP", "PRP"):
        subject = tok.nbor(1)  # '"X," said Smith' parsed with Smith as an object
        while subject.i + 1 < len(tok.doc) and subject.nbor(1).tag_ == "NNP":
            subject = subject.nbor(1)
    return subject


def _cue_text(tok: Token) -> str:
    return "according to" if tok.lower_ == "according" else tok.text


def _head_chain_cue(doc: Doc, lo: int, hi: int, para_lo: int, para_hi: int) -> Token | None:
    """The speech verb outside tokens ``lo:hi`` (and inside ``para_lo:para_hi``) that the quote's clauses
    hang from, if any."""
    for tok in doc[lo:hi]:
        head = tok.head
        if lo <= head.i < hi or head is tok:
            continue
        for _ in range(4):
            if not para_lo <= head.i < para_hi:
                break
            if head.lower_ in CUE_FORMS and head.tag_.startswith("VB"):
                return head
            if head.head is head or lo <= head.head.i < hi:
                break
            head = head.head
    return None


def _attribution(a: _Article, resolver: _Resolver, span: QuotedSpan) -> _Attribution | None:
    """The cue and speaker of one quote, or None when no cue is found around it."""
    doc = a.doc
    lo = a.token_at(span.outer_start)
    hi = a.token_at(max(span.outer_start, span.outer_end - 1)) + 1
    line_start = a.text.rfind("\n", 0, span.outer_start) + 1
    line_end = a.text.find("\n", span.outer_end)
    line_end = len(a.text) if line_end < 0 else line_end
    cue = _head_chain_cue(doc, lo, hi, a.token_at(line_start), a.token_at(line_end) + 1)
    if cue is None:  # a trailing attribution: '"X," she said.' / '"X." Smith said.'
        end = min(len(doc), hi + AFTER_WINDOW_TOKENS)
        stop = next((q for q in a.quoted if q[0] > span.outer_end), None)
        limit = min(stop[0] - 1 if stop else len(a.text), line_end)
        end = min(end, a.token_at(limit) + 1)
        cue = _cue_in(doc, hi, end)
    if cue is None:  # a leading one: 'He added: "X"' / 'According to Smith, "X"'
        sent_start = doc[lo].sent.start if lo < len(doc) else lo
        start = max(a.token_at(line_start), sent_start)
        before = a.text[line_start:span.outer_start].rstrip()
        if start < lo and before.endswith((":", ",")) or (start < lo and before and _cue_in(doc, start, lo)):
            cue = _cue_in(doc, start, lo)
        if cue is None and not before:  # a paragraph that a colon introduced: 'He wrote:\n"X"'
            prev_end = line_start - 1
            if prev_end > 0 and a.text[:prev_end].rstrip().endswith(":"):
                cue = _cue_in(doc, doc[a.token_at(prev_end - 1)].sent.start, a.token_at(prev_end - 1) + 1)
    if cue is None:
        return None
    return _Attribution(resolver.speaker(_cue_subject(cue, lo, hi)), _cue_text(cue))


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
    article = _Article(doc, text, ents, spans)
    resolver = _Resolver(article)
    quotes: list[Quote] = []
    previous: tuple[QuotedSpan, _Attribution] | None = None
    for span in spans:
        if not is_quotation(text, span) or not body[span.open_mark]:
            continue
        found = _attribution(article, resolver, span)
        if found is None and previous is not None and _continues(text, previous[0], span):
            found = _Attribution(previous[1].entity, previous[1].cue)
        found = found or _Attribution(None, None)
        start, end = quotation_bounds(text, span)
        entity = found.entity
        quotes.append(Quote(quotation_text(text, span), entity.name if entity else "",
                            entity.entity_id if entity else None, found.cue, start, end))
        previous = (span, found)
    return tuple(quotes), article.ents


def _continues(text: str, before: QuotedSpan, span: QuotedSpan) -> bool:
    """Whether ``span`` goes on from the quote ``before``: later in the same paragraph ('"X," he said.
    "Y."'), or opening the next paragraph, which news style leaves unattributed when the speaker goes on."""
    between = text[before.outer_end:span.open_mark]
    if "\n" not in between:
        return True
    return not between.split("\n", 1)[1].strip()
