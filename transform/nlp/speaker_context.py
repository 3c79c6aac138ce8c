"""What the speaker rules need to know about one article, and how a cue's subject becomes an entity.

Why: attributing a quote takes the same few lookups again and again (the token at an offset, the entity
a token mentions, whether a word is inside a quote, the person a pronoun or a description refers to);
keeping them here keeps :mod:`transform.nlp.speakers` about the shapes of attribution only. Pronouns go to
the most recent person mentioned outside quotes, agreeing in gender when the article shows it;
definite descriptions ("the senator") to the person introduced with that title; a spokesperson's or an
office's words to the person or body they speak for.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Sequence

from spacy.tokens import Doc, Token

from newswatch.models import Entity, Mention
from transform.nlp.cues import CUE_FORMS
from transform.nlp.entities import ArticleEntities, with_person_mention
from transform.nlp.names import DATE_WORDS, GENERIC_INSTITUTIONS, PERSON_TITLES, PRONOUNS
from transform.nlp.quotes import QuotedSpan

_PUT_FORMS = frozenset({"put", "puts", "putting"})
PRONOUN_GENDERS = {"he": "m", "him": "m", "she": "f", "her": "f"}
_GENDERED = {"he": "m", "him": "m", "his": "m", "himself": "m", "she": "f", "her": "f", "hers": "f", "herself": "f"}
# "They were asked", "she was told": the passive subject of these is the addressee, not the speaker.
ADDRESSEE_PASSIVES = frozenset({"asked", "told", "called"})
_RELATIVES = frozenset({"who", "that", "which", "whom"})
# Tokens after an inverted cue searched for the person its subject phrase ends in ('said Acme spokesman John
# Doe', 'mused Blaze co-host Stu Burguiere').
INVERTED_SUBJECT_TOKENS = 8
# Cues whose object is whom the words are for ('Doe tells Acme News', 'Doe told reporters'): the name after
# one is the listener, never the speaker, since news style does not invert them ('"X," said Doe' but not
# '"X," told Doe').
_ADDRESSEE_CUES = frozenset(
    "tell tells told telling inform informs informed informing remind reminds reminded reminding assure assures "
    "assured assuring reassure reassures reassured reassuring thank thanks thanked thanking".split()
)
# Abbreviations a title is introduced with ("Sen. Sanders" ... "the senator").
_TITLE_FORMS = {
    "senator": ("senator", "sen"), "governor": ("governor", "gov"), "representative": ("representative", "rep"),
    "congressman": ("congressman", "rep"), "congresswoman": ("congresswoman", "rep"), "general": ("general", "gen"),
    "president": ("president", "pres"), "professor": ("professor", "prof"), "doctor": ("doctor", "dr"),
}
_MALE_TITLES = frozenset({"mr", "mr.", "sir", "lord", "king", "prince"})
_FEMALE_TITLES = frozenset({"mrs", "mrs.", "ms", "ms.", "miss", "madam", "dame", "lady", "queen", "princess"})
# Nouns that make "the <noun>" a description of a person in the story ("the billionaire said").
ROLE_NOUNS = PERSON_TITLES | frozenset(
    """front-runner frontrunner billionaire businessman businesswoman mogul candidate nominee lawmaker legislator official leader star
    actor actress singer author writer player coach manager founder owner host anchor analyst economist
    veteran activist lawyer""".split()
)
# Whose words these are is the body's or person's they belong to: "Powell's office said", "a spokeswoman
# for the committee said", "a Pentagon spokesman said". News analysis attributes such statements to the
# principal; the spokesperson is rarely named.
# Things issued that say something ("X issued a statement saying ..."): whoever issued it is the speaker.
DOCUMENT_NOUNS = frozenset("""statement letter release memo note message email post tweet video ad report study review
    audit analysis""".split())
# Verbs by which a document, and only a document, says something ('a committee report found "no evidence"').
_FINDING_FORMS = frozenset("found finds".split())
# Nouns by which a text refers back to a news outlet it has named ("the paper said in an editorial").
OUTLET_NOUNS = frozenset("newspaper paper daily weekly magazine broadcaster network tabloid journal".split())
SPOKES_NOUNS = frozenset(
    """spokesman spokeswoman spokesperson spokespeople office campaign administration government ministry
    team camp staff press""".split()
)
# How far back (characters) a pronoun or description looks for the person it refers to: about three
# paragraphs. Further back, an empty speaker is better than a wrong one. PolNeAR train speaker accuracy
# is flat between 500 and 4000 (0.925 within 0.05 point).
ANTECEDENT_WINDOW_CHARS = 1500
# After a description's capitalised word, the rest of a name's noun phrase up to the name: capitalised words,
# titles and role nouns ("Indiana Gov.", "Democratic presidential candidate"), so "a rally in Florida, Trump"
# is not Trump introduced as a Floridian.
_REST_OF_NAME_PHRASE = (r"(?:\s+(?:[A-Z][\w'’-]*\.?|presidential|vice|former|" + "|".join(sorted(ROLE_NOUNS))
                        + r")\.?){0,4}\s+$")
# Sentences back (besides the current one) in which a pronoun or description prefers the person named as
# a subject over the last person named ("Bryant said he expects an appeal of Reeves's ruling. '...,' he
# said" is Bryant's). PolNeAR tune speaker accuracy: the same with 1, 2 or 4; 1 keeps it local.
SALIENT_SENTENCES = 1
_NAME_WORD = re.compile(r"[A-Z][^\W\d_]*(?:['’-][^\W\d_]+)*\.?|[A-Z]['’][A-Z][^\W\d_]+")
_WORD_RUN = re.compile(r"[^\W\d_]+")
_NOT_NAME_ENTITIES = frozenset({"DATE", "TIME", "CARDINAL", "ORDINAL", "MONEY", "PERCENT", "QUANTITY"})


class ArticleContext:
    """Per-article lookups the attribution rules share: tokens by offset, mentions, quotes, genders."""

    def __init__(self, doc: Doc, text: str, ents: ArticleEntities, quoted: Sequence[QuotedSpan]) -> None:
        self.doc = doc
        self.text = text
        self.ents = ents
        self.starts: list[int] = doc.to_array("IDX").tolist() if len(doc) else []
        self.quoted = [(s.start, s.end) for s in quoted]
        self._ends: tuple[tuple[Mention, ...], list[int]] = ((), [])
        self.genders = self._genders()

    def token_at(self, char: int) -> int:
        """Index of the token containing (or last before) character ``char``."""
        return max(0, bisect.bisect_right(self.starts, char) - 1)

    def in_quote(self, char: int) -> bool:
        """Whether character ``char`` is inside any quoted string (quotation or not)."""
        return any(a <= char < b for a, b in self.quoted)

    def entity_between(self, a: int, b: int) -> Entity | None:
        """The entity of the first mention overlapping characters ``a:b``."""
        mentions = self.ents.mentions
        if self._ends[0] is not mentions:  # mentions never overlap, so their ends are sorted too
            self._ends = (mentions, [m.end_char for m in mentions])
        k = bisect.bisect_left(self._ends[1], a + 1)
        for m in mentions[k:]:
            if m.start_char >= b:
                break
            if m.end_char > a:
                return self.ents.by_id.get(m.entity_id)
        return None

    def entity_of(self, tok: Token) -> Entity | None:
        """The entity a token is (part of) a mention of."""
        return self.entity_between(tok.idx, tok.idx + len(tok.text))

    def _genders(self) -> dict[str, str]:
        """Gender of the article's persons, from honorifics ("Mr. Trump", "Ms. Clinton") and otherwise from
        the pronouns the article itself uses right after naming them as a subject ("Clinton said she ...")."""
        out: dict[str, str] = {}
        votes: dict[str, list[int]] = {}
        persons = [m for m in self.ents.mentions if self.ents.by_id[m.entity_id].type == "PERSON"]
        for k, m in enumerate(persons):
            before = self.text[max(0, m.start_char - 6):m.start_char].split()
            word = before[-1].lower() if before else ""
            if word in _MALE_TITLES:
                out.setdefault(m.entity_id, "m")
            elif word in _FEMALE_TITLES:
                out.setdefault(m.entity_id, "f")
            tok = self.doc[self.token_at(m.start_char)]
            if tok.dep_ not in ("nsubj", "compound") or self.in_quote(m.start_char):
                continue
            stop = persons[k + 1].start_char if k + 1 < len(persons) else len(self.text)
            end = min(tok.sent.end, len(self.doc))
            for t in self.doc[tok.i + 1:end]:
                if t.idx >= stop:
                    break
                if t.lower_ in _GENDERED and not self.in_quote(t.idx):
                    tally = votes.setdefault(m.entity_id, [0, 0])
                    tally[_GENDERED[t.lower_] == "f"] += 1
                    break
        for entity_id, (male, female) in votes.items():
            if male != female:
                out.setdefault(entity_id, "m" if male > female else "f")
        return out

    def recent_organisation(self, char: int, named: str | None = None) -> Entity | None:
        """The organisation mentioned last before ``char`` outside quotes, within the antecedent window.

        With ``named``, the last one whose name has that word: "the company" after "Meridian Rail Company",
        "the committee" after "the House Ethics Committee". The name itself says what kind of organisation it
        is, so no list of kinds."""
        for _, entity in self._mentions_back(char, "ORG"):
            if named is None or named in _WORD_RUN.findall(entity.name.lower()):
                return entity
        return None

    def _mentions_back(self, char: int, kind: str) -> Iterator[tuple[Mention, Entity]]:
        """Mentions of entities of type ``kind`` outside quotes, from ``char`` back to the antecedent window's
        start, latest first."""
        for m in reversed(self.ents.mentions):
            if m.start_char >= char:
                continue
            if m.start_char < char - ANTECEDENT_WINDOW_CHARS:
                return
            entity = self.ents.by_id.get(m.entity_id)
            if entity is not None and entity.type == kind and not self.in_quote(m.start_char):
                yield m, entity

    def recent_person(self, char: int, gender: str | None = None, title: str | None = None,
                      description: bool = False, modifiers: tuple[str, ...] = (),
                      continuing: Callable[[], Entity | None] | None = None) -> Entity | None:
        """The person mentioned last before ``char`` outside quotes, agreeing in gender when known.

        For a description (``description``/``title``): the last person introduced with that title
        ("Sen. Sanders" for "the senator"), else the last person mentioned ("the 79-year-old"). Choosing
        the most-mentioned person instead measured the same on PolNeAR train. Either way, a person named as
        the main subject of this sentence or the one before (SALIENT_SENTENCES) goes before one named
        since as an object; a description never stands for the main subject of its own sentence ("Trump
        attacked Clinton after the front-runner had said" is Clinton). ``continuing``, when given, is asked
        after the description's words and its title and before the person mentioned last (whom a run of
        pronoun subjects stands for)."""
        fallback = None  # the last person mentioned that fits
        subject = None  # the last one that fits named as a subject, if it is recent enough
        titles = _TITLE_FORMS.get(title, (title,)) if title else ()
        salient_from = self._salience_start(char)
        described = self.doc[self.token_at(char)]
        own_sentence, own_start = described.sent.start_char, described.left_edge.idx
        if modifiers:
            found = self._introduced_with(char, modifiers)
            if found is not None:
                return found
        for m in reversed(self.ents.mentions):
            if m.start_char >= char:
                continue
            if m.start_char < char - ANTECEDENT_WINDOW_CHARS or not titles and fallback and m.start_char < salient_from:
                break
            entity = self.ents.by_id.get(m.entity_id)
            if entity is None or entity.type != "PERSON" or self.in_quote(m.start_char):
                continue
            if title is not None or description:
                if own_sentence <= m.start_char < own_start and self._is_subject_mention(m):
                    continue
                before = self.text[max(0, m.start_char - 40):m.start_char].lower()
                if any(re.search(rf"\b{re.escape(t)}\.?\s*$", before) for t in titles):
                    return entity
            else:
                known = self.genders.get(entity.entity_id)
                if not (gender is None or known is None or known == gender):
                    continue
            fallback = fallback or entity
            if subject is None and m.start_char >= salient_from and self._is_subject_mention(m):
                subject = entity
                if not titles:
                    break
        if continuing is not None and (continued := continuing()) is not None:
            return continued
        return subject or fallback

    def _introduced_with(self, char: int, modifiers: tuple[str, ...]) -> Entity | None:
        """The last person before ``char`` whose name came with one of a description's capitalised words
        ("Russian President Vladimir Putin" for "the Russian leader", "Indiana Gov. Mike Pence" for "the
        Indiana governor"), or None. Why: the person mentioned last is often someone else ("Putin praised
        Trump ... the Russian leader said")."""
        pattern = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in modifiers) + r")" + _REST_OF_NAME_PHRASE)
        described = self.doc[self.token_at(char)]
        own_sentence, own_start = described.sent.start_char, described.left_edge.idx
        for m, entity in self._mentions_back(char, "PERSON"):
            if own_sentence <= m.start_char < own_start and self._is_subject_mention(m):
                continue
            line_start = self.text.rfind("\n", 0, m.start_char) + 1
            if pattern.search(self.text[max(line_start, m.start_char - 40):m.start_char]):
                return entity
        return None

    def _salience_start(self, char: int) -> int:
        """Where the sentences a pronoun or description most likely continues begin: SALIENT_SENTENCES
        sentences back from ``char``."""
        tok = self.doc[self.token_at(char)]
        sent = tok.sent
        for _ in range(SALIENT_SENTENCES):
            if sent.start == 0:
                break
            sent = self.doc[sent.start - 1].sent
        return sent.start_char

    def _is_subject_mention(self, m: Mention) -> bool:
        """Whether a mention is the subject of its sentence's main clause ("Smith said", "Gov. Jane Doe (R) said"),
        not of a clause inside it ("Smith said it was a pity that Doe did not call")."""
        tok = self.doc[self.token_at(m.end_char - 1)]
        while tok.dep_ in ("compound", "appos", "flat") and tok.head.i != tok.i:
            tok = tok.head
        verb = tok.head
        return tok.dep_ in ("nsubj", "nsubjpass") and (verb.dep_ == "ROOT" or verb.dep_ == "conj" and verb.head.dep_ == "ROOT")


def subject_of(verb: Token, quoted: Callable[[int], bool]) -> Token | None:
    """The subject of a speech verb outside quotes, climbing from "saying", "by saying" and "and said"
    clauses to the verb they join. The parser often hangs a word of the quote (or of a quoted title
    nearby) on the cue as its subject, hence the exclusion."""
    for _ in range(4):
        deps = ("nsubj",) if verb.lower_ in ADDRESSEE_PASSIVES else ("nsubj", "nsubjpass")
        subjects = [c for c in verb.children if c.dep_ in deps and not quoted(c.idx)]
        if subjects:  # the nearest one before the verb; after it only when inverted ('said Smith')
            before = [c for c in subjects if c.i < verb.i]
            # after it, a person or a proper noun among several (the parse splits 'said Harbor Radio co-host Tom Hale' into
            # three subjects) before the first
            return max(before, key=lambda c: c.i) if before else min(
                subjects, key=lambda c: (c.ent_type_ != "PERSON", c.tag_ not in ("NNP", "NNPS"), c.i))
        agent = next((c for c in verb.children if c.dep_ == "agent"), None)  # 'was asked by Bill Maher'
        if agent is not None and (obj := next((c for c in agent.children if c.dep_ == "pobj"), None)) is not None:
            return obj
        if verb.tag_ == "VBG" and verb.dep_ in ("xcomp", "advcl", "acl") and verb.i > 0 \
                and (shown := verb.doc[verb.i - 1]).ent_type_ == "PERSON" and shown.dep_ in ("pobj", "dobj"):
            return shown  # 'The ad uses footage of Hillary Clinton asking': the person shown is who asks
        if verb.dep_ in ("acl", "relcl") and verb.head is not verb:
            return verb.head
        if verb.dep_ in ("conj", "advcl", "xcomp", "pcomp", "prep") and verb.head is not verb:
            verb = verb.head
            while quoted(verb.idx) and verb.head.i != verb.i:  # '"...," adding' hung from a verb of the quote:
                verb = verb.head  # the clause is the attribution's, not the quote's
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


def looks_like_name(tok: Token) -> bool:
    """A capitalised word that can be (part of) a name, including ones the small tagger calls common
    nouns or adverbs ("Hannity said" as NN, "said Skelly" as RB), but not dates or sentence-initial words
    that are not tagged as proper nouns."""
    if not _NAME_WORD.fullmatch(tok.text) or tok.lower_.rstrip(".") in PERSON_TITLES or tok.lower_ in DATE_WORDS:
        return False
    if tok.ent_type_ in _NOT_NAME_ENTITIES or tok.tag_ in ("PRP", "PRP$", "DT", "WP", "WDT", "EX", "CC", "IN"):
        return False
    return tok.tag_ in ("NNP", "NNPS") or not tok.is_sent_start


def name_span(tok: Token) -> tuple[int, int] | None:
    """Character bounds of a proper name around ``tok`` (its capitalised compound modifiers included)."""
    if not looks_like_name(tok):
        return None
    first = tok
    for child in tok.lefts:
        if child.dep_ == "compound" and child.i < first.i and looks_like_name(child):
            first = child
    return first.idx, tok.idx + len(tok.text)


# Nouns for people that are not titles or roles: the subject of a speech verb headed by one is someone
# the parse did not name ('said a longtime adviser to the senator, Jane Doe'), so a name near the cue may
# still be theirs. Agent nouns made with these endings are people too ("strategist", "narrator").
PERSON_NOUNS = frozenset(
    """aide adviser advisor source person people man woman friend member insider expert observer ally critic
    supporter voter resident witness colleague neighbour neighbor staffer host co-host guest fan parent mother
    father son daughter wife husband brother sister child student worker employee executive chief head
    strategist""".split()
)
# People a name before them only describes, who do not speak for it: "a Trump supporter", "a Yasuj
# resident", "a Salesforce employee" say their own words, not Trump's, the town's or the company's (an
# aide, adviser or staffer speaks for the principal, as a spokesperson does).
BYSTANDER_NOUNS = frozenset(
    """supporter supporters voter voters resident residents fan fans critic critics friend friends neighbour
    neighbor neighbours neighbors student students worker workers employee employees parent parents customer
    customers user users viewer viewers reader readers listener listeners rival rivals opponent opponents
    protester protesters native natives""".split()
)
_AGENT_ENDING = re.compile(r"(?:ist|ian|eer|or|er|man|woman|person)s?$")


def could_be_person(tok: Token) -> bool:
    """Whether a cue's subject could be a person the resolver did not identify: a pronoun, a name, or a
    noun for people ("a longtime adviser", "the co-host"). A noun for a thing ("the advertisement", "the
    report", "a letter") cannot speak, so no name nearby is credited with its words."""
    word = tok.lower_
    if tok.tag_ in ("PRP", "NNP", "NNPS", "WP") or word in ROLE_NOUNS or word in PERSON_NOUNS or word in SPOKES_NOUNS:
        return True
    if word in DOCUMENT_NOUNS or word in OUTLET_NOUNS or not tok.tag_.startswith("NN"):
        return False
    return bool(_AGENT_ENDING.search(word.rstrip("s") if word.endswith("ss") else word))


# A dateline opening a paragraph: a place in capitals, maybe its state or country and the agency, then a
# dash ("WASHINGTON --", "JACKSON, Miss. -", "LONDON (Agency) —").
_DATELINE = re.compile(r"[A-Z][A-Z.' -]*[A-Z.](?:, [A-Z][\w.]*)?\s*(?:\([^)\n]{1,30}\)\s*)?(?:--|[—–-])\s")


def _is_dateline(tok: Token) -> bool:
    """Whether a token is (in) the dateline that opens its sentence (every paragraph starts one)."""
    if not tok.text.isupper() or len(tok.text) < 2:
        return False
    sent = tok.sent
    opening = sent.doc[sent.start:min(sent.end, sent.start + 12)]
    m = _DATELINE.match(opening.text)
    return m is not None and tok.idx < sent.start_char + m.end()


def _is_description(tok: Token) -> str | None:
    """The role word when ``tok`` heads a definite description of a person ("the president")."""
    if not any(c.lower_ == "the" and c.dep_ == "det" for c in tok.children):
        return None
    word = tok.lower_
    if tok.i >= 2 and tok.doc[tok.i - 1].tag_ == "HYPH" and f"{tok.doc[tok.i - 2].lower_}-{word}" in ROLE_NOUNS:
        word = f"{tok.doc[tok.i - 2].lower_}-{word}"  # "front-runner", split by the tokenizer
    if word in ROLE_NOUNS or re.match(r"\d+-year-old$", word):
        return word
    if word == "old" and any(c.lower_ == "year" for c in tok.subtree):  # "the 79-year-old"
        return word
    return None


class SpeakerResolver:
    """Turns the subject of a cue into an entity, adding missed names as PERSON entities."""

    def __init__(self, article: ArticleContext) -> None:
        self.article = article

    def speaker(self, tok: Token | None, depth: int = 0) -> Entity | None:
        """The entity a cue's subject stands for, or None when it names nobody we can tell.

        In order: a relative pronoun's antecedent; the entity the word is a mention of (of any type: the
        subject of a speech verb is someone, whatever NER said); a person or organisation in apposition
        ("a spokesman, Brian Fallon") or in compound, whom the speaker speaks for ("Time magazine", "the
        Clinton campaign", "a Clinton aide"; not with a role noun: "the Vermont senator"); a gendered
        pronoun's antecedent; a capitalised name the
        model missed (added as a PERSON); a spokesperson's principal; a definite description's referent.
        """
        if tok is None or depth > 2:
            return None
        a = self.article
        if tok.lower_ in _RELATIVES and tok.head.dep_ == "relcl":
            return self.speaker(tok.head.head, depth + 1)
        if _is_dateline(tok):  # 'WASHINGTON -- President Doe, opening the museum, said': the parse's subject is
            # the dateline, the speaker its apposition
            return next((self.speaker(c, depth + 1) for c in tok.children if c.dep_ == "appos"), None)
        entity = a.entity_of(tok)
        if entity is not None:  # any type: the subject of a speech verb is someone whatever NER said
            return entity
        for child in tok.children:  # "a spokesman, Brian Fallon"; "Time magazine"; "the Clinton campaign"
            if child.dep_ in ("appos", "compound") and (entity := a.entity_of(child)) is not None:
                if entity.type in ("PERSON", "ORG") and (child.dep_ == "appos" or tok.lower_ in SPOKES_NOUNS
                                                         or tok.lower_ not in ROLE_NOUNS | BYSTANDER_NOUNS):
                    return entity
        if tok.tag_ == "PRP":
            if tok.lower_ not in PRONOUN_GENDERS:
                return None
            gender = PRONOUN_GENDERS[tok.lower_]
            return (self._previous_subject(tok, gender) or self._earlier_pronoun(tok, gender, depth)
                    or a.recent_person(tok.idx, gender=gender))
        if (span := name_span(tok)) is not None or (span := self._name_at_sentence_start(tok)) is not None:
            a.ents, entity = with_person_mention(a.ents, a.text, *span)
            return entity
        for child in tok.children:
            if child.dep_ == "appos":
                return self.speaker(child, depth + 1)
        if tok.lower_ in SPOKES_NOUNS:
            for t in tok.subtree:  # "a spokesman for the Pentagon, Maj. Gen. Pat Ryder, said": the parse hangs
                # the spokesperson's name on the principal; a named spokesperson's words are theirs
                if t.dep_ == "appos" and t.i > tok.i and (named := a.entity_of(t)) is not None and named.type == "PERSON":
                    return named
            principal = self._principal(tok)
            if principal is not None or not any(c.lower_ == "the" and c.dep_ == "det" for c in tok.children):
                return principal
            return a.recent_organisation(tok.idx, named=tok.lower_)  # "the ministry said": the Ministry of X
        if tok.lower_ in OUTLET_NOUNS and any(c.lower_ == "the" and c.dep_ == "det" for c in tok.children):
            return a.recent_organisation(tok.idx)  # "the paper said in an editorial": the outlet named last
        role = _is_description(tok)
        if role is not None and (named := self._detached_name(tok)) is not None:
            return named
        if role is not None:
            modifiers = tuple(t.text for t in tok.subtree if t.i < tok.i and t.text[:1].isupper() and t.is_alpha
                              and t.lower_ != "the")
            return a.recent_person(tok.idx, title=role if role in PERSON_TITLES else None, description=True,
                                   modifiers=modifiers, continuing=lambda: self._pronoun_subject_before(tok, depth))
        if (tok.tag_ in ("NN", "NNS") and tok.lower_ not in DOCUMENT_NOUNS  # a document speaks for its issuer
                and any(c.lower_ == "the" and c.dep_ == "det" for c in tok.children)):
            return a.recent_organisation(tok.idx, named=tok.lower_)  # "the company said in a statement"
        return None

    def _detached_name(self, tok: Token) -> Entity | None:
        """The person a description is in apposition with when the parse hung the name elsewhere ('wrote the
        American ambassador at the time, John E. Herbst.'): a name right after the description's phrase and a
        comma, ending its clause, with no other name, quote or clause break before it."""
        a, doc = self.article, tok.doc
        for i in range(tok.right_edge.i + 1, min(len(doc) - 1, tok.right_edge.i + 8)):
            t = doc[i]
            if t.text != ",":
                if t.text in ".;:!?\n" or t.is_space or a.in_quote(t.idx) or a.entity_of(t) is not None:
                    return None
                continue
            entity = a.entity_of(doc[i + 1])
            if entity is None or entity.type != "PERSON":
                return None
            end = i + 1
            while end + 1 < len(doc) and a.entity_of(doc[end + 1]) is entity:
                end += 1
            after = doc[end + 1].text if end + 1 < len(doc) else "."
            return entity if after in (".", ",", ";") or doc[end + 1].is_space else None
        return None

    def _earlier_pronoun(self, tok: Token, gender: str, depth: int) -> Entity | None:
        """What an earlier subject pronoun of the same gender stands for, when no person is named between it
        and ``tok``: in 'Solberg met Quiroga. She told reporters ... "…," she said.' the second "she" goes on
        with the first, which opened its sentence after Solberg's, not with the person named last."""
        a = self.article
        floor = a.token_at(max(0, tok.idx - ANTECEDENT_WINDOW_CHARS))
        for i in range(tok.i - 1, floor - 1, -1):
            t = a.doc[i]
            if a.in_quote(t.idx):
                continue
            if t.tag_ == "PRP" and t.dep_ == "nsubj" and PRONOUN_GENDERS.get(t.lower_) == gender:
                return self._previous_subject(t, gender) if depth < 2 else None
            if (entity := a.entity_of(t)) is not None and entity.type == "PERSON":
                return None
        return None

    def _pronoun_subject_before(self, tok: Token, depth: int) -> Entity | None:
        """The person a description continues when the sentence before has a pronoun as its subject ('And he
        even inserted himself into the race, speaking highly of Mr. Trump. "X," the Russian leader said.' is
        whom "he" is, not Trump, the person named last)."""
        a = self.article
        previous = tok.sent
        for _ in range(3):  # back over the sentences of the quote the description attributes
            if previous.start == 0:
                return None
            previous = a.doc[previous.start - 1].sent
            if not a.in_quote(previous.root.idx) and any(t.is_alpha for t in previous):
                break  # not the quote's own sentences, nor a mark the parse split off
        else:
            return None
        subject = subject_of(previous.root, a.in_quote)
        if subject is None or subject.lower_ not in PRONOUN_GENDERS or subject.tag_ != "PRP":
            return None
        entity = self.speaker(subject, depth + 1)
        return entity if entity is not None and entity.type == "PERSON" else None

    def _previous_subject(self, tok: Token, gender: str, depth: int = 0) -> Entity | None:
        """The person the subject pronoun of a sentence's main clause continues: the subject of the sentence
        before ('Obama said after meeting Putin. He did not suggest retaliation.' is Obama), when that is a
        named person of the pronoun's gender or of none known, or a pronoun of that gender that continues one
        in turn. Subjects stay subjects more often than the last name mentioned does."""
        a = self.article
        sent = tok.sent
        if tok.dep_ != "nsubj" or tok.head.i != sent.root.i or sent.start == 0:
            return None
        previous = a.doc[sent.start - 1].sent
        subject = subject_of(previous.root, a.in_quote) if not a.in_quote(previous.root.idx) else None
        if subject is not None and subject.tag_ == "PRP" and PRONOUN_GENDERS.get(subject.lower_) == gender and depth < 3:
            return self._previous_subject(subject, gender, depth + 1)  # 'Doe spoke. Then he left. And he said'
        entity = a.entity_of(subject) if subject is not None and subject.tag_ != "PRP" else None
        if entity is None or entity.type != "PERSON" or a.genders.get(entity.entity_id, gender) != gender:
            return None
        return entity

    def _name_at_sentence_start(self, tok: Token) -> tuple[int, int] | None:
        """A capitalised word opening a sentence that the tagger took for a common noun ("Hannity
        interjected:"), when the article also writes it capitalised inside a sentence, where only names
        are: capitalisation at a sentence start alone says nothing."""
        if not tok.is_sent_start or tok.tag_ != "NN" or not _NAME_WORD.fullmatch(tok.text) \
                or tok.lower_ in PRONOUNS or tok.lower_ in GENERIC_INSTITUTIONS or any(c.dep_ == "det" for c in tok.children):
            return None
        for other in self.article.doc:
            if other.text == tok.text and not other.is_sent_start and other.i != tok.i:
                return tok.idx, tok.idx + len(tok.text)
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


def is_cue(tok: Token) -> bool:
    """Whether a token is a speech verb (:data:`transform.nlp.cues.CUE_FORMS`, tagged as a verb).

    "Put" speaks only with "it" as its object ('as Smith put it', 'she put it this way'); otherwise it is a
    verb of doing ('he has put together "the best ground game"'), and the quote is not its subject's."""
    if tok.lower_ in _FINDING_FORMS and tok.tag_.startswith("VB") \
            and any(c.dep_ == "nsubj" and c.lower_ in DOCUMENT_NOUNS for c in tok.children):
        return True
    if tok.lower_ not in CUE_FORMS or not tok.tag_.startswith("VB"):
        return False
    if tok.lower_ == "beginning" and _opens_time(tok):
        return False  # 'took to the airwaves beginning Wednesday night': when, not a speech verb
    return tok.lower_ not in _PUT_FORMS or any(c.lower_ == "it" and c.dep_ == "dobj" for c in tok.children)


def _opens_time(tok: Token) -> bool:
    """Whether a time expression follows ``tok`` ('beginning Wednesday night', 'beginning in 2017')."""
    doc = tok.doc
    nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
    if nxt is not None and nxt.tag_ == "IN" and tok.i + 2 < len(doc):
        nxt = doc[tok.i + 2]
    return nxt is not None and nxt.ent_type_ in ("DATE", "TIME")


def cue_in(doc: Doc, lo: int, hi: int) -> Token | None:
    """The first speech cue among tokens ``lo:hi`` ("according" stands for "according to")."""
    for tok in doc[max(0, lo):max(0, hi)]:
        if is_cue(tok):
            return tok
        if tok.lower_ == "according" and tok.i + 1 < len(doc) and doc[tok.i + 1].lower_ == "to":
            return tok
    return None


def cue_subject(tok: Token, quoted: Callable[[int], bool]) -> Token | None:
    """Who a cue is attributed to: the object of "according to", else the verb's subject outside quotes,
    else the name right after the verb."""
    if tok.lower_ == "according":
        return _according_to(tok)
    subject = subject_of(tok, quoted)
    if subject is not None and subject.tag_ in ("IN", "TO"):
        subject = None  # 'Of Carson, Levine said': the parse took the fronted preposition for the subject
    if (subject is None or subject.i == tok.head.i) and tok.dep_ == "acl" and tok.head.lower_ in DOCUMENT_NOUNS \
            and tok.head.head.i != tok.head.i:
        subject = subject_of(tok.head.head, quoted)  # "X issued a statement saying": X's words
    doc = tok.doc
    if subject is None and tok.i > 0 and doc[tok.i - 1].dep_ not in ("nsubj", "nsubjpass") \
            and doc[tok.i - 1].tag_ not in ("NNP", "NNPS") and looks_like_name(doc[tok.i - 1]) \
            and not quoted(doc[tok.i - 1].idx):
        return doc[tok.i - 1]  # 'And Skelly called Braynard "a smart guy"' with Skelly tagged as an adverb
    if subject is None and tok.i + 1 < len(doc) and tok.lower_ not in _ADDRESSEE_CUES \
            and (doc[tok.i + 1].tag_ == "PRP" or looks_like_name(doc[tok.i + 1])):
        subject = doc[tok.i + 1]  # '"X," said Smith' parsed with Smith as an object; 'tells Acme News' is the listener
        while subject.i + 1 < len(doc) and looks_like_name(doc[subject.i + 1]):
            subject = doc[subject.i + 1]
        if subject.ent_type_ != "PERSON":  # 'mused Blaze co-host Stu Burguiere': the person the phrase ends in
            for t in doc[subject.i + 1:min(len(doc), tok.i + INVERTED_SUBJECT_TOKENS)]:
                if t.text in ",.;:!?" or t.is_space or quoted(t.idx):
                    break
                if t.ent_type_ == "PERSON":
                    subject = t
                    while subject.i + 1 < len(doc) and doc[subject.i + 1].ent_iob_ == "I":
                        subject = doc[subject.i + 1]
                    break
    return subject


