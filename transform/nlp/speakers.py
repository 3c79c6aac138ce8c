"""Who said each quote: the speech cue next to it, the cue's subject, and what that subject refers to.

Why: ``quotes.speaker`` must be a name an analyst can count, never "he" or "the 79-year-old", and a
quote nobody can be credited with is better left without a speaker than given a wrong one. News
attributes quotes in a handful of shapes; each quote is tried against them in this order:

1. inside a statement noun: ``Trump's claim that there were "thousands of shootings"`` -> its owner;
2. a speech cue the quote hangs from in the parse (``"X," she said`` / ``He added: "X"`` / ``called it
   "X"``), or a cue within a few words after a quote ending in a comma (``"X," said Smith``); of nested
   cues the outer one when its subject is named (``X said Y asked "Z"`` is X's report), else the innermost
   one whose subject resolves; a group ("Republicans") only when no cue names anyone else; a thing
   ("the advertisement suggests") credits no name nearby;
3. a trailing attribution later in the sentence, or in the short sentence after (``"X." Smith said.``);
4. a dash and a name (``"X" — Jane Doe``); a name in a list of voices and a dash before it (``including
   Jane Doe -- "X" --``) goes before any cue;
5. a leading cue: earlier in the sentence, a clause ending in a colon (``Rubio fired back: "X"``), the
   sentence before in the paragraph (``Bystrom agreed. "X"``), or the paragraph before when it ends in a
   colon or the quote is a paragraph of its own after a sentence of saying;
6. a transcript line (``Clinton: "X"``);
7. a phrase quoted inside someone's own sentence (``Ryan worried it was becoming "a hammock"``);
8. the quote before it, when this one goes on from it (``"X," he said. "Y."``, or the next paragraph).

The subject of the cue becomes an entity in :mod:`transform.nlp.speaker_context` (pronouns, descriptions,
spokespeople, names the model missed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from spacy.tokens import Doc, Span, Token

from newswatch.models import SPEAKER_CONFIDENCE_LEVELS, Entity, Quote
from transform.body_lines import body_line_mask
from transform.nlp.cues import CUE_FORMS
from transform.nlp.entities import ArticleEntities, with_person_mention
from transform.nlp.entity_mentions import is_dictionary_word
from transform.nlp.names import PERSON_TITLES, PRONOUNS, entity_key
from transform.nlp.quotes import QuotedSpan, is_quotation, quotation_bounds, quotation_text, quoted_spans
from transform.nlp.speaker_context import (
    ADDRESSEE_PASSIVES,
    BYSTANDER_NOUNS,
    DOCUMENT_NOUNS,
    PRONOUN_GENDERS,
    ArticleContext,
    SpeakerResolver,
    could_be_person,
    cue_in,
    cue_subject,
    is_cue,
    looks_like_name,
    name_span,
    subject_of,
)

# Nouns for things said: a quote inside one belongs to its possessor ("Trump's claim that ...").
STATEMENT_NOUNS = frozenset(
    """claim claims statement statements remark remarks comment comments assertion promise pledge vow words
    phrase tweet tweets description prediction warning accusation argument suggestion slogan message
    catchphrase insistence contention charge charges answer response reply question call dictum motto mantra
    refrain""".split()
)
# Tokens examined after a quote for a trailing attribution ('," he said on Monday in Washington.'), up to
# the end of the sentence. News style puts the cue within the first few words; 20 also covers a name
# with an appositive ('," James B. Comey Jr., the director of the F.B.I., said'). PolNeAR train speaker
# accuracy: 0.920 with 8, 0.924 with 12, 0.925 with 20, 0.925 with 30.
AFTER_WINDOW_TOKENS = 20
# A cue this close after a quote that ends in a comma ('," Mr. Rhodes said') is its attribution whatever
# the parse says: title + first + last name + the verb. 3, 5 and 8 measure the same on PolNeAR train.
TIGHT_WINDOW_TOKENS = 5
# Steps from a quote's clause up the parse to the speech verb it is reported under ('X said he planned
# to counter "Y"' is four steps). PolNeAR train speaker accuracy: 0.924 with 3, 0.925 with 6 or 10.
MAX_HEAD_STEPS = 6
_DASHES = "—―–-"
# Verbs by their Penn tag (the tagger's output). Why not ``pos_ in ("VERB", "AUX")``: the coarse POS comes
# from the attribute ruler, which costs ~8% of the pipeline's time and is not loaded (transform/nlp/analysis.py);
# it maps exactly these tags to VERB or AUX.
VERB_TAGS = frozenset({"VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD"})
_DOUBLE_CLOSERS = "”\"'»"
# A first and last name signing a quote, ended by a comma, a full stop or the line ('-Jane Doe, Springfield.').
_SIGNED_NAME = re.compile(r"([A-Z][^\W\d_]+(?:[ -][A-Z][^\W\d_'’]+)+)(?=[,.]|\s*$)", re.MULTILINE)


# Verbs by which an outlet relays someone else's words ('"X," the Gazette reported, quoting nurses'). With
# an organisation as their subject, the quote is not the organisation's: it is the person the sentence
# says is quoted, or nobody. An outlet that speaks itself says or writes ("the paper said in an editorial").
RELAY_CUES = frozenset("reported reports reporting quoted quoting cited citing".split())
# Relaying cues whose subject may also be quoting its own report, and the words by which someone speaks
# for themselves or to the listener (a quote with none of them is an outlet's prose, not someone's words).
_OWN_REPORT_CUES = frozenset("reported reports".split())
_PERSONAL = re.compile(r"\b(?:I|[Mm]e|[Mm]y|[Mm]ine|[Ww]e|us|[Oo]ur|[Oo]urs|[Yy]ou|[Yy]our|[Yy]ours|I'm|I’m)\b")


# Entity types that can be credited with words: people, bodies, and states speaking as governments
# ("China said").
SPEAKER_TYPES = frozenset({"PERSON", "ORG", "GPE"})

# Clauses that only describe a noun ('the report, delivered to Minister X, suggests'): a name inside one is
# not who speaks.
_ASIDES = frozenset({"relcl", "acl", "advcl"})

_COPULAS = frozenset("is was are were".split())

# Words opening a clause of time, cause or condition: a cue in one right after a quote tells what else
# happened, not who spoke ('"X," when Clinton blasted him'). "As" is not among them ('"X," as Doe put it').
_SUBORDINATORS = frozenset("when while after before because since if unless until whereas".split())

# Cues whose object is what is spoken about, never who speaks.
_TOPIC_CUES = frozenset({"speak", "speaks", "spoke", "speaking", "spoken"})


def _relays(cue: Token, hi: int) -> bool:
    """Whether a reporting cue relays someone's words: it says whom it quotes ("reported, quoting ..."),
    or it follows a quote as its attribution ('"X," the Gazette reported'). 'The Gazette reported that
    "X"' quotes the outlet's own report, which is the outlet's."""
    return cue.i >= hi or any(c.lower_ in RELAY_CUES for c in cue.children)


def _in_own_words(cue: Token, quote: str) -> bool:
    """Whether a quote an outlet "reported" is the outlet's own prose, not someone's words it relays: the
    cue says whom it quotes by no word ("reported, quoting Doe"), and the quote speaks in no first or
    second person ('"Doe, recalling his first veto, said it made his name," the Gazette reported'), as a
    person's words almost always do ('"I will not resign," the Gazette reported')."""
    return cue.lower_ in _OWN_REPORT_CUES and not any(c.lower_ in RELAY_CUES for c in cue.children) \
        and _PERSONAL.search(quote) is None


def _relayed_person(a: ArticleContext, cue: Token) -> Entity | None:
    """The person a relaying cue says is quoted ('reported, quoting Jane Doe'), else None."""
    relays = [cue, *(t for t in cue.children if t.lower_ in RELAY_CUES)]
    for tok in relays:
        for obj in tok.children:
            if obj.dep_ in ("dobj", "pobj", "attr") and (entity := a.entity_of(obj)) is not None \
                    and entity.type == "PERSON":
                return entity
    return None


@dataclass(frozen=True, slots=True)
class _Attribution:
    entity: Entity | None
    cue: str | None
    level: str = "sentence"  # newswatch.models.SPEAKER_CONFIDENCE_LEVELS


_LEVEL_RANK = {level: k for k, level in enumerate(SPEAKER_CONFIDENCE_LEVELS)}


def _at_most(level: str, cap: str) -> str:
    """The less trustworthy of two confidence levels."""
    return level if _LEVEL_RANK[level] >= _LEVEL_RANK[cap] else cap


def _head_chain(doc: Doc, lo: int, hi: int, para_lo: int, para_hi: int) -> list[Token]:
    """The tokens outside ``lo:hi`` (inside ``para_lo:para_hi``) that the quote's clauses hang from, from
    the nearest head up towards the sentence root."""
    chain: list[Token] = []
    for tok in doc[lo:hi]:
        head = tok.head
        if lo <= head.i < hi or head is tok:
            continue
        for _ in range(MAX_HEAD_STEPS):
            if not para_lo <= head.i < para_hi:
                break
            if head not in chain:
                chain.append(head)
            if head.head is head or lo <= head.head.i < hi:
                break
            head = head.head
    return chain


def _colon_verb(colon: Token, quoted: Callable[[int], bool]) -> Token | None:
    """The verb of the clause a colon ends ('Rubio fired back: "X"', 'Sanders made the following comment:'):
    the first verb up from the colon. When the parse hangs the colon on the quote's own verb ('the Board was
    conclusive in its findings: "Discussion is unnecessary"'), the verb whose clause ends at the colon."""
    tok = colon
    for _ in range(4):
        if quoted(tok.idx):
            return next((t for t in reversed(colon.doc[colon.sent.start:colon.i])
                         if t.tag_ in VERB_TAGS and not quoted(t.idx) and t.right_edge.i >= colon.i - 1), None)
        if tok.tag_ in VERB_TAGS and tok is not colon:
            return tok
        if tok.head is tok:
            return None
        tok = tok.head
    return None


def _reported_under(cue: Token, outer: Token) -> bool:
    """Whether ``cue`` sits in what ``outer`` reports ('Trump said Fox executives were calling "X"'): its
    clause is a complement of ``outer``, not a clause joined to it ('Cruz accuses X and Trump says "Y"')."""
    tok = cue
    for _ in range(MAX_HEAD_STEPS):
        if tok.dep_ in ("conj", "parataxis", "ROOT") or tok.head.i == tok.i:
            return False
        tok = tok.head
        if tok.i == outer.i:
            return True
    return False


def _is_group(tok: Token | None) -> bool:
    """A subject that names a group, not one speaker: a plural proper noun ("Republicans") or a word
    the model tags as a nationality or group ("Latino", "a Republican")."""
    return tok is not None and (tok.tag_ == "NNPS" or tok.ent_type_ == "NORP")


def _in_aside(tok: Token, subject: Token, participles_only: bool = False) -> bool:
    """Whether ``tok`` sits in a clause that only describes ``subject`` ('the report, delivered to Minister
    X, suggests': X). With ``participles_only``, only in a clause of an -ing form ('Others, reacting to the
    Doe shooting, shouted': Doe), not one that says who the subject is ('the base chief known as Bob', 'a
    document filed by Doe')."""
    return subject.left_edge.i <= tok.i <= subject.right_edge.i and any(
        h.i != subject.i and h.dep_ in _ASIDES and (not participles_only or h.tag_ == "VBG" and h.dep_ != "relcl")
        for h in tok.ancestors if subject.left_edge.i <= h.i <= subject.right_edge.i)


def _is_cue_or_according(tok: Token) -> bool:
    doc = tok.doc
    return is_cue(tok) or (tok.lower_ == "according" and tok.i + 1 < len(doc) and doc[tok.i + 1].lower_ == "to")


class _Finder:
    """Finds the attribution of each quote of one article."""

    def __init__(self, article: ArticleContext) -> None:
        self.a = article
        self.resolver = SpeakerResolver(article)

    def attribution(self, span: QuotedSpan) -> _Attribution | None:
        a, doc, text = self.a, self.a.doc, self.a.text
        lo = a.token_at(span.outer_start)
        hi = a.token_at(max(span.outer_start, span.outer_end - 1)) + 1
        line_start = text.rfind("\n", 0, span.outer_start) + 1
        line_end = text.find("\n", span.outer_end)
        line_end = len(text) if line_end < 0 else line_end
        chain = _head_chain(doc, lo, hi, a.token_at(line_start), a.token_at(line_end) + 1)
        owned = self._owner(chain, span) or self._named_before_dash(span, lo, line_start)
        if owned is not None:
            return owned
        cues = [t for t in chain if _is_cue_or_according(t) and not a.in_quote(t.idx)]
        tight = self._tight_cue(span, hi, line_end)
        if tight is not None and not re.search(r",\W*$", text[span.start:span.end]) \
                and (lead := self._introducing_cue(span, lo, line_start)) is not None:
            # 'Clinton responds with, "Why now?" Mills then writes back, "Y"': a question or exclamation a cue
            # introduces is that cue's; the cue after it starts the next exchange
            tight = None
            cues = [lead, *(c for c in cues if c.i != lead.i)]
        if tight is not None:  # '," asked Dunn': adjacent, so it comes first whatever the parse says
            cues = [tight, *(c for c in cues if c.i != tight.i)]
        cap = "subject"  # the best level the cue's position allows
        if not cues:
            cue = self._trailing_cue(span, hi, line_end)
            if cue is None:
                dashed = self._dashed_name(span, line_end)
                if dashed is not None:
                    return dashed
                cue, cap = self._leading_cue(span, lo, line_start, line_end)
                if cue is None and (dashed := self._after_dash(span, lo, line_start)) is not None:
                    return dashed
            elif not cue.sent.start <= lo < cue.sent.end:
                cap = "sentence"  # '"X." Smith said.': the attribution is the next sentence
            cues = [cue] if cue is not None else []
        held: _Attribution | None = None
        own: _Attribution | None = None  # an outlet that reported the quote, when it is the outlet's own prose
        unnamed = False  # a cue has someone unnamed as its subject ('a senior official told the paper')
        for cue in cues:  # the innermost cue whose subject resolves: 'X said Y asked "Z"' is Y's
            subject = cue_subject(cue, a.in_quote)
            if subject is not None and subject.i < lo <= hi <= cue.i:  # '"X" for Y, said Z': the subject after
                subject = next((c for c in cue.children if c.dep_ in ("nsubj", "nsubjpass") and c.i >= hi
                                and not a.in_quote(c.idx)), subject)
            entity = self.resolver.speaker(subject)
            if entity is None and subject is not None:
                entity = self._issuer(subject)
            level = self._level(entity, subject)
            if entity is None and subject is not None:
                entity = self._named_in(subject, lo, hi)
            # The nearest name stands in for a subject only when the parse lost it, when the subject is someone
            # unnamed ('said a longtime aide, Jane Doe'), or after the quote, where the attribution is. A thing
            # that 'suggests' ('the advertisement suggests "X"') credits nobody nearby: the outer cue, or none.
            if entity is None and (subject is None or could_be_person(subject) or cue.i >= hi):
                entity = self._next_to(cue, hi, subject)
            unnamed = unnamed or (entity is None and subject is not None and subject.tag_.startswith("NN")
                                  and could_be_person(subject) and cue.lower_ not in RELAY_CUES)
            if entity is not None and entity.type != "PERSON" and cue.lower_ in RELAY_CUES and _relays(cue, hi):
                # '"X," the Gazette reported': the Gazette relays someone's words; its own prose only when no
                # other cue names whose words they are
                if own is None and _in_own_words(cue, text[span.start:span.end]):
                    own = _Attribution(entity, cue.text, _at_most("sentence", cap))
                entity = _relayed_person(a, cue)
                level = "sentence"
            if entity is not None and held is None and (entity.type not in SPEAKER_TYPES or _is_group(subject)):
                held = _Attribution(entity, cue.text, _at_most(level, cap))  # 'Smith said Republicans "X"': Smith's,
                continue  # when an outer cue names someone; else the group is all the sentence says
            if entity is not None and held is None and (tight is None or cue.i != tight.i) \
                    and any(_reported_under(cue, c) for c in cues):
                # 'Trump said Fox executives were calling "X"': the quote is in what Trump reports, so it is
                # his when his cue names him; the inner speaker only when the outer one is no better.
                held = _Attribution(entity, cue.text, _at_most(level, cap))
                continue
            if (entity is not None and held is not None and held.entity is not None and held.entity.type == "PERSON"
                    and entity.type != "PERSON" and cue.lower_ in RELAY_CUES):
                return held  # 'the Herald reported that Rusnak had called the plan "X"': Rusnak's words, relayed
            if entity is not None and held is not None and level != "subject":
                return held
            if entity is not None:
                return _Attribution(entity, "according to" if cue.lower_ == "according" else cue.text,
                                    _at_most(level, cap))
        if held is not None or (own is not None and not unnamed):
            # an outlet's own prose only when no cue gives the words to someone, named or not ('"X," a senior
            # official told the paper, BBC News reported' is the official's)
            return held or own
        lead = self._introducing_cue(span, lo, line_start) if cues else None
        if lead is not None and all(c.i != lead.i for c in cues):
            # 'The spot concludes with footage of Trump saying, "X"': the cue the parse hung the quote from
            # names no one; the one that introduces it does
            return self._introduced_by(lead, cap)
        if cues:
            return _Attribution(None, "according to" if cues[0].lower_ == "according" else cues[0].text)
        return (self._colon_name(span, line_start) or self._person_before_colon(span)
                or self._sentence_subject(span, chain, lo, hi))

    def _owner(self, chain: list[Token], span: QuotedSpan) -> _Attribution | None:
        """'Trump's claim that there were "thousands of shootings"': a quote inside a statement noun belongs
        to the statement's owner, whoever the sentence's subject is; so does one a copula gives as the
        statement's words ('Rubio's catchphrase was that Crist "would say anything"', 'Brooks's dictum was,
        "X"'), but not one that only describes it ('Doe's remarks were "a textbook case"' is whoever says so).
        Only below the first speech cue."""
        for tok in chain:
            if _is_cue_or_according(tok) or self.a.in_quote(tok.idx):
                return None  # below a cue, or hung from another quote's words (a misparse: 'called Doe's
                # assertion of a "claim" "disturbing"' is the caller's)
            if tok.lower_ in _COPULAS and re.match(r"\s*(?:[,:]|that\b)", self.a.text[tok.idx + len(tok.text):span.outer_start]):
                tok = next((c for c in tok.children if c.dep_ == "nsubj" and c.lower_ in STATEMENT_NOUNS), tok)
            if tok.lower_ in STATEMENT_NOUNS:
                for child in tok.children:
                    if child.dep_ != "poss":
                        continue
                    entity = self.a.entity_of(child)
                    if entity is None and child.lower_ in ("his", "her", "their") and tok.head.tag_ in VERB_TAGS:
                        # 'Brody repeated his promise that "X"': the possessive is the clause's own subject
                        subject = subject_of(tok.head, self.a.in_quote)
                        entity = self.resolver.speaker(subject) if subject is not None and subject.tag_ != "PRP" else None
                    if entity is not None:
                        return _Attribution(entity, tok.text, "subject") if entity.type in ("PERSON", "ORG") else None
        return None

    def _issuer(self, subject: Token) -> Entity | None:
        """Whoever issued the document a cue's subject is ('Doe released an ad that urges ...', 'Doe
        posted a message reading ...'): a document speaks for its issuer."""
        noun = subject.head.head if subject.lower_ in ("that", "which") and subject.head.dep_ == "relcl" else subject
        if noun.lower_ not in DOCUMENT_NOUNS or noun.dep_ not in ("dobj", "nsubjpass") or noun.head.i == noun.i:
            return None
        issuer = subject_of(noun.head, self.a.in_quote)
        entity = self.resolver.speaker(issuer) if issuer is not None else None
        return entity if entity is not None and entity.type in SPEAKER_TYPES else None

    def _named_in(self, subject: Token, lo: int, hi: int) -> Entity | None:
        """The first person or body named inside a subject the resolver could not identify: 'footage of
        Jane Doe asking', 'Doe's response was:', 'a letter from the Acme board said'. A possessor only owns
        what is said when the subject is a statement or a document ('Doe's situation reminds him' is not
        Doe's words); a subject that takes in the quote itself is a misparse, and names nobody."""
        if subject.left_edge.i < hi and lo <= subject.right_edge.i or not subject.tag_.startswith("NN"):
            return None  # a subject that takes in the quote, or is no noun ('Of Carson, Levine ... said'): a misparse
        if subject.lower_ in BYSTANDER_NOUNS:
            return None  # 'a Salesforce employee told', 'the Yasuj resident said': what describes them, not whom
            # they speak for
        says = subject.lower_ in STATEMENT_NOUNS or subject.lower_ in DOCUMENT_NOUNS
        for tok in subject.subtree:
            if _in_aside(tok, subject):
                continue  # 'the report, delivered to Minister X, suggests': X is only described
            if tok.i != subject.i and not self.a.in_quote(tok.idx) and (says or tok.dep_ != "poss"):
                entity = self.a.entity_of(tok)
                if entity is not None and entity.type in SPEAKER_TYPES:
                    return entity
        return None

    def _next_to(self, cue: Token, hi: int, subject: Token | None = None) -> Entity | None:
        """A trailing attribution the parser got wrong: the first person named between the quote and the
        cue ('"X," Texas delegate Bill Eastland, wearing a hat, said'), or right after the cue ('"X," said
        his friend at Lehigh, Bruce Turry').

        Never a name that only describes the subject or the cue ('Others, reacting to the Doe shooting,
        shouted'), nor one in what the cue reports ('an official said that Doe "will meet"'), nor, when the
        subject stands before the cue, one after it ('73 percent said the same of Doe'): those are not who
        speaks."""
        doc = self.a.doc
        if cue.lower_ in _TOPIC_CUES:
            return None  # "leaders speak of Rubio's gifts": the name after the verb is the topic
        after_cue = AFTER_WINDOW_TOKENS if subject is None or subject.i > cue.i else 0
        if cue.i < hi:  # a leading cue: the first person named in its clause ('Mr. Trump, asked ..., said',
            # 'Continued Stone: "X"')
            lo = self.a.token_at(min(q[0] for q in self.a.quoted if q[0] > cue.idx)) if any(
                q[0] > cue.idx for q in self.a.quoted) else cue.i + 1
            start = cue.sent.start
            if doc[start].tag_ in ("IN", "VBN", "VBG") and (comma := next(
                    (t.i for t in doc[start:cue.i] if t.text == ","), None)) is not None:
                start = comma + 1  # 'Of Carson, Levine said', 'Asked about Doe, Roe said': the opening phrase
                # names whom it is about
            window = list(doc[start:cue.i]) + list(doc[cue.i + 1:min(lo, cue.i + 1 + after_cue)])
            window = [t for t in window if not self.a.in_quote(t.idx)]
        else:
            window = list(doc[hi:cue.i]) + list(doc[cue.i + 1:min(len(doc), cue.i + 1 + after_cue)])
        listeners = {t.i for c in cue.children if c.dep_ == "nsubjpass" and cue.lower_ in ADDRESSEE_PASSIVES
                     for t in c.subtree}  # 'Trump was asked, "Why?"': who is asked is not who asks
        described = {t.i for t in subject.subtree} if subject is not None and subject.lower_ in BYSTANDER_NOUNS else set()
        for tok in window:
            if tok.i in listeners or tok.i in described:
                continue  # 'a Salesforce employee told': the company only describes who speaks
            if subject is not None and _in_aside(tok, subject, participles_only=True):
                continue  # 'Others, reacting to the Doe shooting, shouted': Doe only describes them
            if tok.i > cue.i and tok.dep_ == "mark" and tok.head.head.i == cue.i:
                break  # 'said Wednesday that Doe "will meet"': what follows is what is said
            if tok.text in ".!?\n" or self.a.in_quote(tok.idx):
                if tok.text in ".!?":
                    break
                continue
            entity = self.a.entity_of(tok)
            if entity is not None:
                if entity.type == "PERSON" or entity.type in SPEAKER_TYPES and hi <= tok.i < cue.i:
                    return entity  # '"X," Acme Corp said': between the quote and its cue is the subject
                continue
            if tok.lower_ in ("he", "she"):
                return self.a.recent_person(tok.idx, gender=PRONOUN_GENDERS[tok.lower_])
            if tok.tag_ in ("NNP", "NNPS") and looks_like_name(tok) and (span := name_span(tok.head if tok.dep_ == "compound" else tok)):
                self.a.ents, entity = with_person_mention(self.a.ents, self.a.text, *span)
                return entity
        return None

    def _sentence_subject(self, span: QuotedSpan, chain: list[Token], lo: int, hi: int) -> _Attribution | None:
        """A phrase quoted inside someone's sentence is theirs: 'Ryan worried the net was becoming "a
        hammock"', 'Nordhaus welcomed "the recognition"'; an organisation's too when the sentence names it as
        the subject of what it does ('PolitiFact rated the claim "pants on fire"'), not of what it is ('the
        Air Force is "the best in the world"' is whoever judged so). Only for quotes that do not start a
        sentence."""
        if not chain or self.a.doc[lo].is_sent_start:
            return None
        for verb in chain:
            if verb.tag_ not in VERB_TAGS:
                continue
            subject = subject_of(verb, self.a.in_quote)
            if subject is not None and subject.tag_ != "PRP" or subject is not None and subject.lower_ in PRONOUN_GENDERS:
                entity = self.resolver.speaker(subject)
                if entity is None:
                    continue
                named = self.a.entity_of(subject) is entity and verb.lower_ not in _COPULAS
                if entity.type == "PERSON" or entity.type in SPEAKER_TYPES and named:
                    return _Attribution(entity, verb.text, "guess")
        return None

    def _tight_cue(self, span: QuotedSpan, hi: int, line_end: int) -> Token | None:
        """A cue within the first few words after a quote that ends with a comma, question or exclamation
        mark inside the marks ('"X," said Smith', '"X?" asked Dunn', '"X," Mr. Rhodes said'), or in the
        clause "as" opens there ('"X," as the agency's own memo put it')."""
        if span.close_mark is None or not re.search(r"[,?!]\W*$", self.a.text[span.start:span.end]):
            return None
        doc = self.a.doc
        if hi < len(doc) and doc[hi].lower_ in _SUBORDINATORS:
            return None  # 'saying, "That makes me smart," when Clinton blasted him': what happened then, not who spoke
        # '"X," as a Treasury memo put it': "as" opens the attribution, however long its subject
        reach = AFTER_WINDOW_TOKENS if hi < len(doc) and doc[hi].lower_ == "as" else TIGHT_WINDOW_TOKENS
        end = min(len(doc), hi + reach, self.a.token_at(line_end) + 1)
        window = doc[hi:end]
        stop = next((t.i for t in window if t.text in (".", "!", "?", ",") and t.i > hi), end)
        cue = cue_in(doc, hi, stop)
        if cue is not None and self._far_subject(cue, hi) is not None:
            return None  # '"X," refusing to acknowledge ..., Rubio tried': a clause of the sentence's, not an attribution
        return cue

    def _far_subject(self, cue: Token, hi: int) -> Token | None:
        """The subject of a cue after a quote (ending at token ``hi``) when it is neither between the quote and
        the cue nor right after the cue, where an attribution's is ('"X," Smith said', '"X," said Smith'):
        the parse found it by climbing out of a clause of the writer's sentence. Else None."""
        subject = cue_subject(cue, self.a.in_quote)
        return subject if subject is not None and not hi <= subject.i <= cue.i + TIGHT_WINDOW_TOKENS else None

    def _trailing_cue(self, span: QuotedSpan, hi: int, line_end: int) -> Token | None:
        """'"X," she said.' / '"X." Smith said.' (the second only when the attribution is short)."""
        a = self.a
        stop = next((q[0] for q in a.quoted if q[0] > span.outer_end), len(a.text))
        end = min(hi + AFTER_WINDOW_TOKENS, a.token_at(min(stop - 1, line_end)) + 1, len(a.doc))
        if hi >= end:
            return None
        if not re.search(r"[,.!?…]\W*$", a.text[span.start:span.end]) \
                and a.text[span.outer_end:span.outer_end + 3].lstrip()[:1] not in tuple(",;—–-"):
            return None  # 'professing a "sincere belief" to deny services': a phrase inside a sentence, not a quote
            # that an attribution follows ('"X," she said', '"X" — she said')
        first = a.doc[hi]
        if first.lower_ in _SUBORDINATORS:
            return None  # '"X," when Clinton blasted him': what happened then, not who said it
        if re.search(r"[.!?]\W*$", a.text[span.start:span.end]) and first.is_sent_start:
            if self._embedded(span):
                return None  # 'Cruz blamed it on "knuckleheaded politicians." His comments came ...'
            if stop < first.sent.end_char and stop <= line_end:
                return None  # '"X." Of Carson, Levine said, "Y."': the sentence after introduces its own quote
            end = min(end, first.sent.end)  # '"X." Smith said.': only the sentence right after
        stop_at = next((t.i for t in a.doc[hi:end] if t.text in (".", "!", "?")), end)
        cue = cue_in(a.doc, hi, stop_at)
        if cue is not None and any(c.dep_ == "neg" for c in cue.children):
            return None  # '"X." But Doe did not respond in kind.': what someone did not say is not theirs
        if cue is not None and (far := self._far_subject(cue, hi)) is not None and far.i > cue.i:
            return None  # '"X," refusing to acknowledge ..., Rubio tried': the subject is the writer's sentence's
        return cue

    def _embedded(self, span: QuotedSpan) -> bool:
        """Whether a quote sits inside a sentence of the writer's (a partial quote), not starting it."""
        line_start = self.a.text.rfind("\n", 0, span.outer_start) + 1
        before = self.a.text[line_start:span.outer_start].rstrip()
        return bool(before) and before[-1] not in ".!?:;—–-" + _DOUBLE_CLOSERS

    def _leading_cue(self, span: QuotedSpan, lo: int, line_start: int, line_end: int) -> tuple[Token | None, str]:
        """'He added: "X"' / 'Smith said "X"' / 'According to Smith, "X"' / 'Bystrom agreed. "X"' / a colon
        ending the paragraph before / a paragraph of its own after a sentence of saying.

        Returns the cue and the best confidence its position allows: its own sentence or a colon that
        introduces the quote (``subject``), a sentence before it (``neighbour``), a sentence about a
        person without a cue (``guess``)."""
        a, doc, text = self.a, self.a.doc, self.a.text
        before = text[line_start:span.outer_start].rstrip()
        if before:
            sent_start = doc[lo].sent.start if lo < len(doc) else lo
            start = max(a.token_at(line_start), sent_start)
            cue = self._nearest_cue(start, lo) if start < lo else None
            if before.endswith(":"):
                # 'When Trump suggested ..., Rubio fired back: "X"': the clause the colon ends introduces the
                # quote, whatever speech verb came earlier in the sentence.
                colon_verb = _colon_verb(doc[a.token_at(line_start + len(before) - 1)], a.in_quote)
                if colon_verb is not None and colon_verb is not cue and cue is not None \
                        and self.resolver.speaker(cue_subject(colon_verb, a.in_quote)) is not None:
                    cue = colon_verb
                cue = cue or colon_verb
            if cue is not None:
                return cue, "subject"
            if not self._embedded(span) and sent_start > a.token_at(line_start):
                # 'Sanders identified exhaustion with bigotry as a reason. "The younger people ..."': a quote
                # right after a sentence about a person, in the same paragraph, is that person's.
                root = doc[sent_start - 1].sent.root
                if not a.in_quote(root.idx):
                    subject = subject_of(root, a.in_quote)
                    entity = self.resolver.speaker(subject) if subject is not None else None
                    if is_cue(root):
                        return root, "neighbour"
                    if entity is not None and entity.type == "PERSON":
                        return root, "guess"
            return None, "guess"
        previous = text[:line_start - 1].rstrip()
        if not previous:
            return None, "guess"
        last = a.token_at(len(previous) - 1)
        if previous.endswith(":"):
            return cue_in(doc, doc[last].sent.start, last + 1) or _colon_verb(doc[last], a.in_quote), "sentence"
        if span.close_mark is None or a.text[span.outer_end:line_end].strip():
            return None, "guess"
        # A quote paragraph of its own after a sentence of saying ('Howard continued his remarks.\n"X"',
        # 'Bolton said he would support him, adding ...\n"X"'): that sentence's speaker goes on.
        sent = doc[last].sent
        cue = next((t for t in sent if is_cue(t) and not a.in_quote(t.idx)
                    and self.resolver.speaker(subject_of(t, a.in_quote)) is not None), None)
        if cue is not None:
            return cue, "neighbour"
        if not a.in_quote(sent.root.idx) and sent.start >= a.token_at(text.rfind("\n", 0, len(previous)) + 1):
            # 'Viguerie is upbeat about the race.\n"X"': a quote paragraph after a one-sentence paragraph
            # about a person goes on with that person, as it does within a paragraph.
            subject = subject_of(sent.root, a.in_quote)
            entity = self.resolver.speaker(subject) if subject is not None and (
                subject.tag_ != "PRP" or subject.lower_ in PRONOUN_GENDERS) else None  # 'She pauses.\n"X"'
            if entity is not None and entity.type == "PERSON":
                return sent.root, "guess"
        return None, "guess"

    def _verbless_lead(self, span: QuotedSpan) -> Span | None:
        """The lead-in before a colon that opens ``span``'s line, when it has no verb ('Then, later that month
        on ABC: "X"', 'Dana Cole, on the same show: "X"'), else None."""
        a = self.a
        line_start = a.text.rfind("\n", 0, span.outer_start) + 1
        lead = a.text[line_start:span.outer_start].rstrip()
        if not lead.endswith(":"):
            return None
        tokens = a.doc[a.token_at(line_start):a.token_at(line_start + len(lead) - 1) + 1]
        return None if any(t.tag_.startswith("VB") or t.tag_ == "MD" for t in tokens) else tokens

    def continues_after_lead(self, before: QuotedSpan, span: QuotedSpan) -> bool:
        """Whether ``span`` follows a lead-in with no verb and no person in the paragraph after the quote
        ``before`` ('Then, later that month on ABC: "X"'): a new occasion for the same speaker."""
        a = self.a
        lead = self._verbless_lead(span)
        line_start = a.text.rfind("\n", 0, span.outer_start) + 1
        previous_line = a.text.rfind("\n", 0, len(a.text[:line_start].rstrip())) + 1
        return lead is not None and previous_line <= before.outer_end <= line_start \
            and not any(t.ent_type_ == "PERSON" for t in lead)

    def _person_before_colon(self, span: QuotedSpan) -> _Attribution | None:
        """'Dana Cole, on the same show: "X"': the one person a verbless lead-in names."""
        lead = self._verbless_lead(span)
        people = {e.entity_id: e for t in lead or () if (e := self.a.entity_of(t)) is not None and e.type == "PERSON"}
        return _Attribution(next(iter(people.values())), None, "sentence") if len(people) == 1 else None

    def _introducing_cue(self, span: QuotedSpan, lo: int, line_start: int) -> Token | None:
        """The cue of the clause that introduces a quote in its own sentence ('Clinton responds with, "X"',
        'Rubio fired back: "X"'), when its subject names someone; else None."""
        a = self.a
        before = a.text[line_start:span.outer_start].rstrip()
        if not before.endswith((",", ":")) or lo >= len(a.doc):
            return None
        start = max(a.token_at(line_start), a.doc[lo].sent.start)
        cue = self._nearest_cue(start, lo) if start < lo else None
        if cue is None or self.resolver.speaker(cue_subject(cue, a.in_quote)) is None:
            return None
        return cue

    def _introduced_by(self, cue: Token, cap: str) -> _Attribution:
        """The attribution an introducing cue gives (:meth:`_introducing_cue` found that its subject names someone)."""
        subject = cue_subject(cue, self.a.in_quote)
        entity = self.resolver.speaker(subject)
        return _Attribution(entity, cue.text, _at_most(self._level(entity, subject), cap))

    def _level(self, entity: Entity | None, subject: Token | None) -> str:
        """``subject`` when the cue's subject is itself a mention of the speaker, else ``sentence`` (found
        through a pronoun, a description or a name nearby)."""
        return "subject" if entity is not None and subject is not None and self.a.entity_of(subject) is entity \
            else "sentence"

    def _nearest_cue(self, lo: int, hi: int) -> Token | None:
        """The speech cue nearest before a quote (tokens ``lo:hi``) whose subject names someone, else the
        first cue: 'When Doe noted ..., Roe boasted, "X"' is Roe's; 'As Doe put it in a memo explaining
        the deal, "X"' is Doe's."""
        doc = self.a.doc
        first = None
        for k in range(hi - 1, lo - 1, -1):
            cue = cue_in(doc, k, k + 1)
            if cue is None or self.a.in_quote(cue.idx):
                continue  # a quote's own words ('"Sometimes they say ..."') attribute nothing outside it
            if self.resolver.speaker(cue_subject(cue, self.a.in_quote)) is not None:
                return cue
            first = cue
        return first

    def _dashed_name(self, span: QuotedSpan, line_end: int) -> _Attribution | None:
        """'"X" — Jane Doe': a dash and a name right after the closing mark (or opening the next line)."""
        a = self.a
        m = re.match(rf"\s*[{_DASHES}]+[^\S\n]*(?=[A-Z])", a.text[span.outer_end:span.outer_end + 200])
        if span.close_mark is None or m is None:
            return None
        start = span.outer_end + m.end()
        title = re.match(r"([^\W\d_]+)\.?\s+(?=[A-Z])", a.text[start:start + 40])
        if title is not None and title.group(1).lower() in PERSON_TITLES:
            start += title.end()  # '"X" — President Jane Doe, tweeting': the name after the title
        entity = a.entity_between(start, start + 1)
        if entity is None:
            tok = a.doc[a.token_at(start)]
            if tok.idx != start:  # '-Jane Doe, Springfield.': the tokenizer kept the dash on the first name
                full = _SIGNED_NAME.match(a.text, start)
                if full is None:
                    return None
                a.ents, entity = with_person_mention(a.ents, a.text, start, full.end(1))
                return _Attribution(entity, None, "sentence")
            if (name := name_span(tok)) is None:
                return None
            end = tok.idx + len(tok.text)
            while tok.i + 1 < len(a.doc) and looks_like_name(a.doc[tok.i + 1]):
                tok = a.doc[tok.i + 1]
                end = tok.idx + len(tok.text)
            a.ents, entity = with_person_mention(a.ents, a.text, name[0], end)
        return _Attribution(entity, None, "sentence") if entity.type in ("PERSON", "ORG") else None

    def _before_dash(self, span: QuotedSpan, lo: int, line_start: int) -> Token | None:
        """The last word before the dash that sets a quote into its sentence ('... Jane Roe -- "X"'), or None
        when no dash does."""
        before = self.a.text[line_start:span.outer_start].rstrip()
        if not before.endswith(("--", "—", "–", " -")) or lo == 0:
            return None
        tok = self.a.doc[self.a.token_at(line_start + len(before) - 1)]
        while tok.i > 0 and tok.text in ("-", "--", "—", "–"):
            tok = self.a.doc[tok.i - 1]
        return tok

    def _named_before_dash(self, span: QuotedSpan, lo: int, line_start: int) -> _Attribution | None:
        """'Republicans have said so, including Mitt Romney -- "X" -- and ...': a quote a dash sets right
        after a name in a list of voices ("including", "such as") is that person's, whatever cue the sentence
        has elsewhere. Elsewhere a name before a dash may be only the topic ('supportive of Mr. Trump -- "X"'),
        so it is credited only when no cue is found (:meth:`_after_dash`)."""
        a = self.a
        tok = self._before_dash(span, lo, line_start)
        entity = a.entity_of(tok) if tok is not None else None
        if tok is None or entity is None or entity.type != "PERSON":
            return None
        first = tok
        while first.i > 0 and a.entity_of(a.doc[first.i - 1]) is entity:
            first = a.doc[first.i - 1]
        lead = a.text[max(line_start, first.idx - 60):first.idx].lower()
        return _Attribution(entity, None, "sentence") if re.search(r"\b(?:including|such as)\b[^,;:]*$", lead) else None

    def _after_dash(self, span: QuotedSpan, lo: int, line_start: int) -> _Attribution | None:
        """A quote a dash sets into a sentence about someone, with no speech verb in it: the person named right
        before the dash ('Doe's proposal won praise from Jane Roe -- "X"'), else the person the clause before
        the dash is about ('Doe also embraced the plan -- "X"', a guess)."""
        a = self.a
        tok = self._before_dash(span, lo, line_start)
        if tok is None:
            return None
        entity = a.entity_of(tok)
        if entity is not None and entity.type == "PERSON":
            return _Attribution(entity, None, "sentence")
        for head in (tok, *tok.ancestors):
            if a.in_quote(head.idx):
                return None
            if head.tag_ in VERB_TAGS:
                subject = subject_of(head, a.in_quote)
                entity = self.resolver.speaker(subject) if subject is not None and (
                    subject.tag_ != "PRP" or subject.lower_ in PRONOUN_GENDERS) else None
                return _Attribution(entity, head.text, "guess") if entity is not None and entity.type == "PERSON" \
                    else None
        return None

    def _colon_name(self, span: QuotedSpan, line_start: int) -> _Attribution | None:
        """'Clinton: "X"': a transcript line, the name alone before a colon, or after an inverted cue
        ('Continued Stone: "X"'); the line may also stand alone as the paragraph before the quote's
        ('Stated Stone:' then the quote)."""
        a = self.a
        before = a.text[line_start:span.outer_start]
        if not before.strip() and line_start > 1:  # the quote opens its paragraph: the one before may be 'Stone:'
            end = len(a.text[:line_start - 1].rstrip())  # blank lines between paragraphs are no paragraph
            previous = a.text.rfind("\n", 0, end) + 1
            line_start, before = previous, a.text[previous:end]
        m = re.match(r"\s*(?:([^\W\d_]+)\s+)?([^\W\d_][\w.'’ -]{0,40}?)\s*:\s*$", before)
        cut = max(before.rfind(c) for c in '”"') + 1
        if m is None and 0 < cut < len(before):  # 'Clinton: "X" Bush: "Y"': a transcript line goes on
            line_start, before = line_start + cut, before[cut:]
            m = re.match(r"\s*(?:([^\W\d_]+)\s+)?([^\W\d_][\w.'’ -]{0,40}?)\s*:\s*$", before)
        if m is None:
            return None
        if m.group(1) is not None and m.group(1).lower() not in CUE_FORMS:
            if m.group(1)[0].islower():
                return None
            start = line_start + m.start(1)  # no cue: the whole 'First Last' is the name
        else:
            start = line_start + m.start(2)
        entity = a.entity_between(start, line_start + m.end(2))
        if entity is None and m.group(1) is not None and m.group(1).lower() in CUE_FORMS:
            tok = a.doc[a.token_at(line_start + m.start(2))]
            if tok.idx == line_start + m.start(2) and (name := name_span(tok)) is not None:
                a.ents, entity = with_person_mention(a.ents, a.text, name[0], line_start + m.end(2))
        elif entity is None and _untagged_speaker_name(a, a.text[start:line_start + m.end(2)]):
            a.ents, entity = with_person_mention(a.ents, a.text, start, line_start + m.end(2))
        return _Attribution(entity, None, "sentence") if entity is not None and entity.type == "PERSON" else None


def _untagged_speaker_name(a: ArticleContext, name: str) -> bool:
    """Whether the words before a transcript colon that the model left untagged ('Trump: "X"' at the start
    of a line) are a person's name: one to three capitalised words that are a person's name or surname
    elsewhere in the article, or none of which is a dictionary word ('Photo:', 'Update:' are not)."""
    words = name.split()
    if not 1 <= len(words) <= 3 or not all(w[:1].isupper() and w[1:2].islower() for w in words):
        return False
    key = entity_key(name)
    if any(e.type == "PERSON" and (e.entity_id == key or e.entity_id.endswith(" " + key)) for e in a.ents.entities):
        return True
    return not any(is_dictionary_word(a.doc.vocab, w) for w in words)


def article_quotes(doc: Doc, ents: ArticleEntities, spans: Sequence[QuotedSpan] | None = None,
                   text: str | None = None) -> tuple[tuple[Quote, ...], ArticleEntities]:
    """The direct quotes of a parsed article with their speakers.

    Args:
        doc: the parsed article text.
        ents: the article's entities (from :func:`transform.nlp.entities.article_entities`).
        spans: the article's quoted strings (:func:`transform.nlp.quotes.quoted_spans`), if already found.
        text: ``doc.text``, if already read (it is rebuilt from the tokens on every access).
    Returns:
        The quotes, in order, and the entities extended with speakers the model had missed.
    """
    text = doc.text if text is None else text
    body = body_line_mask(text)
    spans = quoted_spans(text) if spans is None else spans
    finder = _Finder(ArticleContext(doc, text, ents, spans))
    quotes: list[Quote] = []
    previous: tuple[QuotedSpan, _Attribution] | None = None
    for span in spans:
        if not is_quotation(text, span) or not body[span.open_mark]:
            continue
        found = finder.attribution(span)
        if found is None and previous is not None and (_continues(text, previous[0], span)
                                                       or finder.continues_after_lead(previous[0], span)):
            found = _Attribution(previous[1].entity, previous[1].cue, _at_most(previous[1].level, "neighbour"))
        found = found or _Attribution(None, None)
        start, end = quotation_bounds(text, span)
        entity = found.entity if found.entity is not None and found.entity.name.lower() not in PRONOUNS else None
        quotes.append(Quote(quotation_text(text, span), entity.name if entity else "",
                            entity.entity_id if entity else None, found.cue, start, end,
                            found.level if entity else ""))
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
