"""Name mentions in one parsed text: spaCy's entity spans cleaned into names, plus wire datelines.

Why: the small model's spans are often not names: "the United States", "President Donald Trump",
"Kim Jong Un's", "Oval, London", "Trump told The Associated Press". A name starts at its first
capitalised word, loses honorifics, office titles and possessives, and ends at commas, brackets,
quotation marks and lower-case words that are not name particles. A dateline ("WASHINGTON (Reuters) -")
is a place even when the model misses it in capitals. Grouping the mentions into entities is
:mod:`transform.nlp.entities`' job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.tokens import Doc, Span, Token
from spacy.vocab import Vocab

from transform.nlp.cues import CUE_FORMS, inflections
from transform.nlp.names import (
    APOSTROPHES,
    CORPORATE_SUFFIXES,
    COUNTRIES,
    DETERMINERS,
    GENERIC_INSTITUTIONS,
    HONORIFICS,
    KEY_ALIASES,
    MONTHS,
    NAME_PARTICLES,
    PERSON_HONORIFICS,
    PERSON_TITLES,
    PRONOUNS,
    TITLE_LINKS,
    WEEKDAYS,
    entity_key,
)

# A line with at least this share of its letters in capitals is a headline or a kicker, where the small
# model's entities are unreliable; names in capitals there are dropped (countries kept). CoNLL-2003 testa
# mention F1: 0.737 without the rule, 0.737 at 0.5, 0.738 at 0.6 and 0.8 (precision 0.788 -> 0.800).
SHOUTING_SHARE = 0.6
_SEPARATORS = frozenset({",", "(", ")", "[", "]", ";", "|", '"', "“", "”", "«", "»"})
# spaCy labels kept as entities; numbers, dates and amounts are not things an analyst follows.
ENTITY_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW"})
_POSSESSIVE = re.compile(rf"(?:[{APOSTROPHES}]s?|[{APOSTROPHES}]S)$")
_POSSESSIVE_TOKENS = frozenset(a + s for a in APOSTROPHES for s in ("s", ""))
# A dateline opens a wire story: "WASHINGTON (Reuters) -", "LONDON, June 3 -", "BEIRUT — Officials said",
# "BONN 1996-08-30". Its capitalised words are a place, which the small model misses in capitals.
_DATELINE = re.compile(
    r"^([A-Z][A-Z.'’-]+(?:[ ][A-Z][A-Z.'’-]+){0,3})(?=,?[ ]+(?:\(|[-—–][ ]|\d{4}-\d\d-\d\d"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?[ ]+\d))",
    re.MULTILINE,
)


@dataclass
class NameCandidate:
    """One cleaned mention of a name, in the text or in the headline."""

    start: int  # offsets into the doc's text
    end: int
    surface: str
    label: str
    key: str
    titled: bool  # a person title stood before or at the head of the span
    in_title: bool  # from the headline, not the body: informs typing and naming only
    described_org: bool = False  # a noun for an organisation stands beside it ("the news agency X")
    speaks: bool = False  # the bare subject of a verb of saying ("X said"), as people are named
    addressed: bool = False  # a form of address stands right before it ("President X", "Mr. X")
    located: str = ""  # where places go: "noun" ("the town of X", "east of X"), "preposition" ("in X")
    determined: bool = False  # a determiner stands before it ("the X"), as it does not before a person's name
    country_after: bool = False  # a country in brackets follows it ("Marion Clignet ( France )")
    aged: bool = False  # an age follows it in commas ("Duran, 45, takes on ..."), as news writes people
    tabled: bool = False  # it leads a row of figures in a results table ("Wigan 22 19 1 2 902"), as teams do


def _is_title_word(token: Token) -> bool:
    return token.lower_.rstrip(".") in PERSON_TITLES


def _hyphenated(doc: Doc, tok: Token) -> bool:
    """Whether a token continues a hyphenated word ("Jong-un", "Yo-jong")."""
    return tok.i > 1 and doc[tok.i - 1].text == "-" and not doc[tok.i - 1].whitespace_ \
        and not doc[tok.i - 2].whitespace_


def _is_separator(doc: Doc, tok: Token) -> bool:
    """Commas, brackets, quotation marks, line breaks, spaced dashes and lower-case words other than
    name particles ("Trump told The Associated Press") end a name."""
    if tok.text in _SEPARATORS or tok.is_space or "\n" in tok.text:
        return True
    if tok.is_lower and tok.is_alpha and tok.lower_ not in NAME_PARTICLES and not _hyphenated(doc, tok):
        return True
    spaced = bool(tok.whitespace_) and tok.i > 0 and bool(doc[tok.i - 1].whitespace_)
    return tok.text in {"-", "—", "–", "--"} and spaced


# Labels of names that can hold a possessive ("People’s Liberation Army", "Children’s Hospital"); a
# person's or a place's name never does, there the possessive ends the name ("Trump’s Jewish ...").
_POSSESSIVE_NAME_LABELS = frozenset({"ORG", "FAC", "WORK_OF_ART", "EVENT", "PRODUCT"})


def _is_possessive(tok: Token) -> bool:
    return tok.tag_ == "POS" or tok.lower_ in _POSSESSIVE_TOKENS


# Plural nouns without an -s that own institutions' names ("People’s", "Children’s").
_PLURAL_OWNERS = frozenset({"people", "men", "women", "children"})


def _possessive_in_name(span: Span, pos: Token) -> bool:
    """Whether the possessive ``pos`` is part of the name: in an organisation-like span, followed by a
    capitalised word, after the one word that opens the name ("The People’s Courier") or after a plural
    owner, however many words come first ("the Korean People’s Army", "Democratic People’s Republic")."""
    doc = span.doc
    if span.label_ not in _POSSESSIVE_NAME_LABELS or pos.i + 1 >= span.end:
        return False
    before = [t for t in doc[span.start:pos.i] if t.lower_ not in DETERMINERS]
    if not before or not all(t.text[:1].isupper() for t in before) or not doc[pos.i + 1].text[:1].isupper():
        return False
    return len(before) == 1 or before[-1].tag_ in ("NNS", "NNPS") or before[-1].lower_ in _PLURAL_OWNERS


def _with_plural_owner(doc: Doc, ent: Span) -> Span:
    """The span with a capitalised plural owner before it ("People’s" + "Daily"), typed ORG.

    The small model often leaves the owner of such a name out and calls the rest a person ("Daily");
    a capitalised plural common noun with a possessive is how institutions are named, not people.
    """
    i = ent.start
    if i >= 2 and _is_possessive(doc[i - 1]) and doc[i - 2].tag_ in ("NNPS", "NNS") \
            and doc[i - 2].text[:1].isupper() and doc[i - 2].ent_iob_ == "O" and not doc[i - 1].whitespace_:
        start = i - 3 if i >= 3 and doc[i - 3].lower_ in DETERMINERS else i - 2
        return Span(doc, start, ent.end, label="ORG")
    return ent


# Lower-case particles inside family names ("Ursula von der Leyen", "Charles de Gaulle", "Mohammed bin Salman").
SURNAME_PARTICLES = frozenset("von van der den de du da di del della la le ter ten bin ibn al el dos das".split())


def _name_word(doc: Doc, i: int) -> bool:
    """Whether token ``i`` can be one word of a person's name that the model left outside the span: a
    capitalised proper noun in no other entity, neither a title nor a dictionary word."""
    tok = doc[i]
    return (tok.is_alpha and tok.is_title and tok.tag_ == "NNP" and tok.ent_iob_ == "O"
            and not _is_title_word(tok) and not _dictionary_word(doc, i))


def _widened_person(doc: Doc, ent: Span) -> Span:
    """A person's span with the parts of the name the small model cut off: a surname after particles it
    stopped at ("Ursula von der" + "Leyen", which it calls a place) and a first name opening the sentence
    ("Ilya" + "Petrenko, a farmer, said"). Why: otherwise one person becomes two entities, or the first
    mention of a full name becomes its surname."""
    if ent.label_ != "PERSON":
        return ent
    start, end = ent.start, ent.end
    j = end
    while j < len(doc) and doc[j].lower_ in SURNAME_PARTICLES and doc[j].is_lower:
        j += 1
    if doc[end - 1].lower_ in SURNAME_PARTICLES or j > end:
        if j < len(doc) and doc[j].is_alpha and doc[j].is_title and doc[j].ent_type_ in ("", "PERSON", "GPE", "ORG", "NORP"):
            end = j + 1
    if start > 0 and end - start == 1 and doc[start - 1].is_sent_start and _name_word(doc, start - 1):
        start -= 1
    return ent if (start, end) == (ent.start, ent.end) else Span(doc, start, end, label="PERSON")


def _pieces(span: Span) -> list[tuple[int, int]]:
    """Token bounds of the parts of an NER span split at separators.

    The small model runs lists and asides into one span ("Oval, London", "Natalya Shikolen ( Belarus",
    "Romania - Cosmin Contra"); a name never contains those, so each part is a name of its own.
    """
    out: list[tuple[int, int]] = []
    start = span.start
    for tok in span:
        if _is_possessive(tok) and tok.i + 1 < span.end and not _possessive_in_name(span, tok):
            out.append((start, tok.i + 1))  # "Trump's Jewish": what follows a possessive is another thing
            return out
        if _is_separator(span.doc, tok):
            if tok.i > start:
                out.append((start, tok.i))
            start = tok.i + 1
    if span.end > start:
        out.append((start, span.end))
    return out


def _article_of_name(doc: Doc, start: int, end: int) -> bool:
    """Whether a capitalised "The" inside a sentence is part of the name ("at The Oval", "in The Hague"):
    news style writes the article in lower case unless the name has it. Its key is the same either way."""
    return (doc[start].text == "The" and start + 1 < end and start > 0 and not doc[start].is_sent_start
            and not doc[start - 1].is_quote and not doc[start - 1].is_space and not doc[start - 1].is_punct)


# Irregular past forms of speech verbs that open an inverted attribution ('Said Comey, "X"').
_PAST_CUES = frozenset({"said", "told", "wrote", "spoke", "put"})
# Tags of words that are never part of a name, though capitalised at a sentence start ("Amid", "Then").
_FUNCTION_TAGS = frozenset({"IN", "DT", "RB", "CC", "TO", "MD", "PRP", "WRB", "WDT"})


def _trimmed(doc: Doc, start: int, end: int, label: str) -> tuple[int, int, bool] | None:
    """Token bounds of a name inside (part of) an NER span, without determiners, titles and possessives.

    Returns (start, end, titled) in token indices, or None when nothing name-like is left. ``titled`` says
    a person title stood at the head of the span or right before it.
    """
    titled = start > 0 and _is_title_word(doc[start - 1]) and doc[start - 1].text[0].isupper()
    while start < end and (doc[start].is_punct or doc[start].is_space
                           or (doc[start].lower_ in DETERMINERS and not _article_of_name(doc, start, end))
                           or (doc[start].is_lower and start + 1 < end and doc[start + 1].text == "-"
                               and doc[start].lower_ not in NAME_PARTICLES)):
        start += 1  # "the United States", "ex-England" (but "al-Aqsa"): a name starts at its first capital
    if label == "PERSON" and start < end - 1 and doc[start].is_sent_start and (
            doc[start].lower_ in CUE_FORMS and (doc[start].lower_.endswith("ed") or doc[start].lower_ in _PAST_CUES)
            or doc[start].lower_.endswith("ing") and _dictionary_word(doc, start)):
        start += 1  # 'Stated Stone:', 'Said Comey, "X"': an inverted cue opening the line is not a first name;
        # nor is a gerund that opens the sentence ('Bashing Trump may be job one')
    while start < end - 1 and (doc[start].lower_ in MONTHS and label != "PERSON"
                                or doc[start].lower_ in WEEKDAYS and label in ("GPE", "LOC", "NORP", "FAC")):
        start += 1  # "September Treasury"; but "Sunday Times" and "Saturday Night Live" keep their day
    title_end = start
    allowed = PERSON_TITLES if label == "PERSON" else HONORIFICS
    while title_end < end - 1 and (doc[title_end].lower_.rstrip(".") in allowed
                                   or (title_end > start and doc[title_end].lower_ in TITLE_LINKS)):
        title_end += 1
    if title_end > start and doc[title_end].text[:1].isupper() and doc[title_end].lower_ not in TITLE_LINKS:
        start, titled = title_end, True
    elif (label != "PERSON" and end - start == 2 and doc[start].lower_.rstrip(".") in PERSON_TITLES
          and doc[start + 1].text[:1].isupper() and doc[start + 1].is_alpha and not _dictionary_word(doc, start + 1)):
        start, titled = start + 1, True  # "General Petraeus" called an organisation: a title and a surname (but
        # "General Motors", "State Farm": the word after the title is a common one)
    while end > start and (doc[end - 1].tag_ == "POS" or doc[end - 1].is_punct or doc[end - 1].is_space
                           or doc[end - 1].lower_ in _POSSESSIVE_TOKENS or doc[end - 1].like_num
                           or (doc[end - 1].is_lower and end - start > 1 and not _hyphenated(doc, doc[end - 1]))):
        end -= 1  # "Kim Jong Un's", "Durham 114", "Interfax news agency"
    if label == "PERSON":  # 'posted on X. Amid the row': a function word opening the next sentence ends the name
        end = next((k for k in range(start + 1, end) if doc[k].tag_ in _FUNCTION_TAGS and (
            doc[k].is_sent_start or doc[k - 1].text.endswith(".") and len(doc[k - 1].text) <= 2)), end)
    if end <= start or not any(c.isupper() for c in doc[start:end].text):
        return None
    if label == "PERSON" and end - start == 1 and len(doc[start].text.rstrip(".")) == 1:
        return None  # a lone initial is no person's name (but "X" is a platform's)
    return start, end, titled


def _surface_bounds(doc: Doc, text: str, start: int, end: int) -> tuple[int, int]:
    """Character bounds of tokens ``start:end``, with a possessive glued to the last token removed."""
    a, b = doc[start].idx, doc[end - 1].idx + len(doc[end - 1].text)
    m = _POSSESSIVE.search(text[a:b])
    if m and b - a > len(m.group()) + 1:
        b -= len(m.group())
    return a, b


# A word with a capital inside it that no name prefix explains ("OpenAI", "TikTok", "XPeng", "JPMorgan").
_BRAND_CASE = re.compile(r"(?!(?:Mc|Mac|De|Di|Da|Du|Del|Della|La|Le|Ja|Van|Von|St|Fitz|Ben|Bin|Abu|Al|El)[A-Z])"
                         r"(?:[A-Z]{2,}[a-z]|[A-Z]?[a-z]+[A-Z])")


def _label(doc: Doc, start: int, end: int, label: str) -> str:
    """The model's label, overruled where a name's form settles its type."""
    if end - start > 1 and doc[end - 1].lower_ in CORPORATE_SUFFIXES:
        return "ORG"
    if end - start > 2 and any(t.text == "v." for t in doc[start + 1:end - 1]):
        return "LAW"  # "Trump v. Trump", "Roe v. Wade": a case, named for its parties, is neither of them (a
        # fixture is written "Leeds v Chelsea", without the point)
    if label == "PERSON" and end - start == 1 and len(doc[start].text) >= 2 and doc[start].text.isupper() \
            and doc[start].is_alpha:
        return "ORG"  # "TIME wrote", "NASA said": body text writes people's names in lower case, acronyms not
    if label == "PERSON" and any(_BRAND_CASE.match(t.text) for t in doc[start:end]):
        return "ORG"  # "OpenAI", "XPeng", "YouTube Kids": a capital inside a word, as brands write it (but
        # "McConnell", "DeSantis", "LeBron" are people's)
    return label


# Common nouns that describe an organisation when they stand right beside its name, in apposition
# ("the news agency X", "X news agency", "the broadcaster X", "X newspaper"). The small model calls a
# one-word agency or paper a person when nothing in the name itself says what it is.
ORGANISATION_NOUNS = frozenset(
    """agency agencies newspaper newspapers daily weekly magazine tabloid broadcaster broadcasters
    outlet outlets website channel network wire newswire publisher""".split()
)


def _described_as_organisation(doc: Doc, start: int, end: int) -> bool:
    """Whether a lower-case organisation noun stands right before the name or right after it ("news
    agency"), the name relays what others said ("X quoted him as saying"), or it is the agency credited
    in brackets after a dateline ("BERLIN (X) -")."""
    before = doc[start - 1] if start > 0 else None
    if before is not None and before.is_lower and before.lower_ in ORGANISATION_NOUNS:
        return True
    after = doc[end:end + 2]
    if after and after[0].is_lower and (after[0].lower_ in ORGANISATION_NOUNS or (
            after[0].lower_ == "news" and len(after) > 1 and after[1].lower_ in ORGANISATION_NOUNS)):
        return True
    head = doc[end - 1]
    if head.dep_ == "nsubj" and head.head.lower_ in _RELAYING_VERBS:
        return True  # "X quoted the minister as saying", "X reported": how agencies and papers are cited
    return (before is not None and before.text == "(" and end + 1 < len(doc) and doc[end].text == ")"
            and doc[end + 1].text in ("-", "—", "–", "--") and start >= 2 and doc[start - 2].is_upper)


_RELAYING_VERBS = frozenset({"quoted", "quotes", "reported", "reports"})


def _speaks(doc: Doc, start: int, end: int) -> bool:
    """Whether the name, without a determiner, is the subject of a verb of saying ("Volker said")."""
    head = doc[end - 1]
    return (head.dep_ == "nsubj" and head.head.lower_ in _SPEECH_VERBS
            and not any(t.lower_ in DETERMINERS for t in head.children)
            and (start == 0 or doc[start - 1].lower_ not in DETERMINERS))


# Possessive determiners: an acronym after one is a common noun ("his RBI", "their IPO"), not a name.
_POSSESSIVE_DETERMINERS = frozenset("my your his her its our their".split())


def _counted(doc: Doc, i: int) -> bool:
    """Whether the acronym at ``i`` is counted or owned ("121 RBI", "his RBI"), as names are not."""
    return i > 0 and (doc[i - 1].like_num or doc[i - 1].lower_ in _POSSESSIVE_DETERMINERS)


def _irregular_plural_owner(doc: Doc, i: int) -> bool:
    """Whether the word is a plural that takes "'s" ("Men's 400 metres", "Children's ward") owning a
    common word: a plural name takes a bare apostrophe ("the Democrats' plan"), so this is a common noun
    capitalised by its position. "People's Daily" (a capital after the possessive) is a name."""
    tok = doc[i]
    if tok.tag_ not in ("NNS", "NNPS") or tok.lower_.endswith("s") or i + 1 >= len(doc):
        return False
    nxt = doc[i + 1]
    return nxt.lower_ in _POSSESSIVE_TOKENS and nxt.lower_.endswith("s") and not (
        i + 2 < len(doc) and doc[i + 2].text[:1].isupper())


def _aged(doc: Doc, end: int) -> bool:
    """Whether an age stands in commas right after the name ("Duran, 45, takes on ...")."""
    return (end + 2 < len(doc) and doc[end].text == "," and doc[end + 2].text == ","
            and doc[end + 1].text.isdigit() and 0 < int(doc[end + 1].text) < 110)


def _country_after(doc: Doc, end: int) -> bool:
    """Whether a country in brackets follows the name, as in lists of athletes, delegates or victims."""
    if end + 2 >= len(doc) or doc[end].text != "(":
        return False
    close = next((t.i for t in doc[end + 1:end + 6] if t.text == ")"), None)
    return close is not None and entity_key(doc[end + 1:close].text) in COUNTRIES


def _determined(doc: Doc, start: int, end: int) -> bool:
    """Whether a determiner stands before the name and the name is not the modifier of a noun after it:
    "the Tribune said" treats the name as a thing's, "the Obama administration" does not."""
    if start == 0 or doc[start - 1].lower_ not in DETERMINERS or doc[start - 1].tag_ in ("WDT", "IN"):
        return False  # 'a contest that Sanders must win': "that" opens a clause, it determines no name
    return not (end < len(doc) and doc[end].is_lower and doc[end].tag_ in ("NN", "NNS"))


def _addressed(doc: Doc, start: int) -> bool:
    """Whether a capitalised form of address stands right before the name ("President X", "Mr. X")."""
    return start > 0 and doc[start - 1].text[:1].isupper() and doc[start - 1].lower_.rstrip(".") in PERSON_HONORIFICS


# Prepositions after which a name is a place, and (unlike "to", "from", "with") hardly ever a person.
_PLACE_PREPOSITIONS = frozenset("in at near outside inside across throughout".split())
# Common nouns and directions that make the name after "of" a place ("the town of X", "east of X").
PLACE_NOUNS = frozenset(
    """town city village capital province region district county island port suburb outskirts centre
    center towns cities villages provinces regions districts islands ports north south east west northeast
    northwest southeast southwest""".split()
)


def _located(doc: Doc, start: int, end: int) -> str:
    """Whether the text puts the name where places go: after a place noun or a direction ("the town of
    X", "east of X"), or as the subject of "is a town" ("noun"), or after a preposition of place ("a
    rally in Tampere": "preposition"). An owner ("in X's view") is not a place."""
    if end < len(doc) and _is_possessive(doc[end]):
        return ""
    head = doc[end - 1]
    if head.dep_ == "nsubj" and head.head.lower_ in ("is", "was") and any(
            t.dep_ == "attr" and t.lower_ in PLACE_NOUNS for t in head.head.children):
        return "noun"
    if start == 0:
        return ""
    before = doc[start - 1]
    if before.lower_ == "of" and start >= 2 and doc[start - 2].lower_ in PLACE_NOUNS and doc[start - 2].is_lower:
        return "noun"
    return "preposition" if before.lower_ in _PLACE_PREPOSITIONS and before.is_lower else ""


# Verbs of saying that people, far more than institutions, are the bare subject of.
_SPEECH_VERBS = frozenset(f for base in ("say", "tell", "add", "tweet", "testify", "recall", "insist", "explain")
                          for f in inflections(base))


def _shouting(text: str, at: int) -> bool:
    """Whether the line around ``at`` is mostly in capitals (a headline, a kicker, a slug)."""
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    letters = [c for c in text[start:end if end >= 0 else len(text)] if c.isalpha()]
    return sum(c.isupper() for c in letters) >= SHOUTING_SHARE * len(letters)


# Penn tags of words that are not proper nouns: a one-word "name" the tagger reads as one of these at the
# start of a sentence is an ordinary word capitalised by position ("Time is running out").
_COMMON_TAGS = frozenset({"NN", "NNS", "JJ", "JJR", "JJS", "RB", "VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "IN", "DT"})


def _opens_sentence(doc: Doc, i: int) -> bool:
    return i == 0 or bool(doc[i].is_sent_start) or doc[i - 1].is_quote or doc[i - 1].is_space


def _capitalised_by_position(doc: Doc, start: int, end: int, label: str, lower_words: frozenset[str]) -> bool:
    """Whether a one-word name opening a sentence or a quote could be a common word capitalised by its
    position: the tagger reads it as a common word there, or the text writes the same word in lower case
    elsewhere (``lower_words``: "Time is running out" ... "for the first time"). The caller then checks
    that the text never capitalises it inside a sentence.

    For persons both must hold: the tagger often calls a surname that opens a sentence a common noun
    ("Waters said"), but the text writing the word in lower case too ("Death is ..." ... "feared death")
    settles it.
    """
    if end - start != 1:
        return False
    tok = doc[start]
    common = (tok.tag_ in _COMMON_TAGS and tok.lower_ in lower_words if label == "PERSON"
              else tok.tag_ in _COMMON_TAGS or tok.lower_ in lower_words)
    return common and not tok.is_upper and _opens_sentence(doc, start)


# The vocabulary's lookup table of dictionary words (lower case), filled from the model's lemmatizer data
# when the pipeline is loaded (``transform.nlp.analysis``); absent, the test below never fires.
DICTIONARY_TABLE = "newswatch_dictionary_words"


def is_dictionary_word(vocab: Vocab, word: str) -> bool:
    """Whether ``word`` is a common dictionary word (or a regular plural of one), in any case."""
    if not vocab.lookups.has_table(DICTIONARY_TABLE):
        return False
    table = vocab.lookups.get_table(DICTIONARY_TABLE)
    word = word.lower()
    return word in table or (word.endswith("s") and word[:-1] in table)


def _dictionary_word(doc: Doc, i: int) -> bool:
    """Whether the token is a common dictionary word (or a regular plural of one) in lower case."""
    return is_dictionary_word(doc.vocab, doc[i].text)


def _written_in_capitals_elsewhere(doc: Doc, text: str, start: int, end: int) -> bool:
    """Whether a one-word dictionary word opening a sentence ("Time is running out") is a name the text
    writes in capitals elsewhere in running text ("TIME wrote"): the name is the masthead, the word at the
    sentence start is the common word. The caller then checks that the text never writes it so inside a
    sentence."""
    word = doc[start].text
    if end - start != 1 or not word.istitle() or len(word) <= 2 or not _dictionary_word(doc, start):
        return False
    # in running text: a headline in capitals ("SOCCER - READING WIN") writes every word so
    return any(not _shouting(text, m.start()) for m in re.finditer(rf"\b{re.escape(word.upper())}\b", text))


def _common_word_as_person(doc: Doc, start: int, person_words: set[str]) -> bool:
    """Whether a one-word "person" opening a sentence is a dictionary word that nothing in the text makes a
    name: no longer name of a person has it ("Maxine Waters" ... "Waters said"), no form of address stands
    before it, and it is not the subject of a verb of saying ("Burton said"). "Turnout was low" is a common
    noun the tagger read as a proper noun because of its capital. The caller then checks that the text never
    capitalises it inside a sentence.
    """
    tok = doc[start]
    return (tok.text not in person_words and _dictionary_word(doc, start) and not _addressed(doc, start)
            and not _speaks(doc, start, start + 1))


def _person_words(doc: Doc) -> set[str]:
    """The words of the doc's persons of more than one word."""
    return {t.text for ent in doc.ents if ent.label_ == "PERSON" and len(ent) > 1 for t in ent}


def _midsentence_capitals(doc: Doc) -> set[str]:
    """Capitalised words of the doc that stand inside a sentence (where capitals mark names)."""
    return {t.text for t in doc if t.text[:1].isupper() and not _opens_sentence(doc, t.i)}


_LOWER_WORD = re.compile(r"\b[a-z]+\b")
# A line of a results table: a rank, a name, the country in brackets ("3. Vasily Kaptyukh ( Belarus ) 66.24"),
# as wire services list athletes, and the model leaves most of these names untagged.
_RANKED = re.compile(r"^\d{1,3}\.?[ \t]+([A-Z][\w'’.-]*(?:[ ][A-Z][\w'’.-]*){0,3})[ ]\([ ]?([A-Z][\w. ]*?)[ ]?\)",
                     re.MULTILINE)
# A row of a standings or results table: a name, then only figures ("Wigan 22 19 1 2 902 326 39", "CHICAGO
# 69 59 .539 7 1/2"), at least two of them. Tables list teams this way; athletes come with their country in
# brackets (_RANKED) or are typed as people by the model. One figure is not enough: "NEW YORK 1996-08-22" is a
# dateline.
_TEAM = r"([A-Z][\w.'’&-]*(?:[ ][A-Z][\w.'’&-]*){0,3})"
_TABLE_ROW = re.compile(rf"^[ \t]*{_TEAM}(?:[ \t]+(?:\d[\d.,:/-]*|-)){{2,}}[ \t.]*$", re.MULTILINE)
# A line of results: two teams, each with its score ("California 7 NEW YORK 1").
_SCORE_ROW = re.compile(rf"^[ \t]*{_TEAM}[ \t]+\d+[ \t]+{_TEAM}[ \t]+\d+[ \t.]*$", re.MULTILINE)
# An initial and a capitalised surname ("P. Simmons", "K. Curran"), as scorecards, lists and bylines write
# people: the small model leaves most of them untagged. Not after a letter or a dot ("U.S. Steel"), and "I." is
# a numeral more often than an initial.
_INITIALLED = re.compile(r"(?<![\w.’'-])([A-HJ-Z])\. ?([A-Z][a-z]+(?:[-’'][A-Z][a-z]+)?)\b(?![-’'.]?\w)")


def _expanded_acronyms(text: str) -> frozenset[str]:
    """Acronyms the text spells out in lower-case words ("artificial intelligence (AI)"): common nouns."""
    out = set()
    for m in re.finditer(r"((?:\b[A-Za-z][\w-]*\s+){1,6})\(([A-Z]{2,6})\)", text):
        acronym = m.group(2)
        words = m.group(1).split()[-len(acronym):]
        if len(words) < len(acronym) or "".join(w[0] for w in words).upper() != acronym:
            continue
        at = m.start(1) + m.group(1).index(words[0]) if words else 0
        sentence_initial = not text[:at].strip() or text[:at].rstrip()[-1] in ".!?:\n"
        if all(w.islower() for w in words[1:]) and (words[0].islower() or sentence_initial):
            out.add(acronym)
    return frozenset(out)


def _spelled_out(text: str, acronym: str) -> bool:
    """Whether the text writes the acronym's words out in lower case anywhere ("... turning to artificial
    intelligence ... AI is"): then the acronym abbreviates a common noun, not a name."""
    if not 2 <= len(acronym) <= 6 or not acronym.isalpha():
        return False
    pattern = r"\b" + r"[ -]".join(f"({ch.lower()}[a-z]+)" for ch in acronym) + r"\b"
    return any(all(len(w) > 2 and w not in STOP_WORDS for w in m.groups()) for m in re.finditer(pattern, text))


# An unknown acronym typed as a place is kept only where the text uses it as one; longer words in
# capitals are names written in capitals (datelines: "NABLUS , West Bank"), not acronyms.
MAX_PLACE_ACRONYM = 4
# Prepositions after which a name is a place ("in AI" aside, acronyms of places are used there).
# Prepositions that put an acronym where only places go. Not "in", "to", "into" or "at": fields and
# technologies follow them as often ("invest in AI", "access to AI", "at AI labs"), unless the acronym is
# written with points, as place names are and fields hardly ever ("in D.C.").
_LOCATIVE = frozenset("from across near outside inside throughout around via".split())
_FIELD_PREPOSITIONS = frozenset("in to into at".split())


def _mostly_placed(doc: Doc, surface: str) -> bool:
    """Whether the model types at least half of an acronym's mentions as a place. Its label varies by mention
    ("AI" a GPE here, an ORG there), so the verdict is the article's, not the first mention's."""
    labels = [e.label_ in ("GPE", "LOC") for e in doc.ents if e.text == surface]
    return 2 * sum(labels) >= len(labels) > 0


def _used_as_place(doc: Doc, surface: str) -> bool:
    """Whether the text puts an acronym where places go: after a locative preposition and not as the modifier
    of a common noun after it ("from AI models" is not a place), or as "X-based"."""
    places = _LOCATIVE | _FIELD_PREPOSITIONS if "." in surface else _LOCATIVE  # "in D.C.": written as a place
    for tok in doc:
        if tok.text != surface or tok.i == 0:
            continue
        if doc[tok.i + 1:tok.i + 3].text.lower() == "-based":
            return True
        modifies = tok.i + 1 < len(doc) and doc[tok.i + 1].is_lower and doc[tok.i + 1].tag_ in ("NN", "NNS")
        if doc[tok.i - 1].lower_ in places and not modifies:
            return True
    return False


# The model's labels for a club named for its town or as a company: a name of several words in mixed case
# leading a row of figures is made a team only with one of these.
_TEAM_LIKE_LABELS = frozenset({"ORG", "GPE", "LOC", "FAC", "NORP"})


def _with_table_teams(text: str, found: list[NameCandidate], body: list[bool] | None) -> list[NameCandidate]:
    """The mentions, with the names leading the rows of a results table (:data:`_TABLE_ROW`) or paired with
    scores on a results line (:data:`_SCORE_ROW`) made teams: organisations, whatever the model made of a
    city or county used as a club's name ("Barcelona", "ESSEX") or if it missed one in a table in capitals.
    A country stays a place (national sides are written as countries); a name the model types as a person
    stays one, and so does a name of several words in mixed case unless the model gave it a label a club
    has (a golfer's row of scores: "Niall Farrow 69 70"). Two such lines at least make a table."""
    lines = [m for m in (*_TABLE_ROW.finditer(text), *_SCORE_ROW.finditer(text)) if body is None or body[m.start(1)]]
    if len(lines) < 2:
        return found  # one line of figures is not a table
    out = list(found)
    for a, b in (m.span(k) for m in lines for k in range(1, m.re.groups + 1)):
        surface = text[a:b]
        key = entity_key(surface)
        if not key or key in PRONOUNS:
            continue
        inside = [c for c in out if c.start < b and a < c.end]
        if key in COUNTRIES:  # a national side: the country, which the model may have missed in a table
            if not inside:
                out.append(NameCandidate(a, b, surface, "GPE", key, False, False))
            continue
        if any(c.label == "PERSON" for c in inside):
            continue
        if " " in surface and not surface.isupper() and not any(c.label in _TEAM_LIKE_LABELS for c in inside):
            continue  # a "First Last" the model left untyped or called a product is as likely a golfer as a club
        out = [c for c in out if not (c.start < b and a < c.end)]
        out.append(NameCandidate(a, b, surface, "ORG", key, False, False, tabled=True))
    return out


def _function_word(doc: Doc, start: int, end: int) -> bool:
    """Whether the word at characters ``start:end`` is tagged as a function word ("posted on X. Amid the
    row, ...": a preposition opening a sentence, not a surname after an initial)."""
    span = doc.char_span(start, end)
    return span is not None and span[0].tag_ in _FUNCTION_TAGS


def _initialled_names(doc: Doc, text: str, found: list[NameCandidate], body: list[bool] | None,
                      lower_words: frozenset[str] | None) -> list[NameCandidate]:
    """People written as an initial and a surname, or on a ranked results line, that no other mention
    covers. The surname after an initial must be neither a dictionary word, nor a word the text also writes
    in lower case ("Plan B. Then they ..."), nor one the tagger calls a function word ("on X. Amid ..."),
    so a sentence break is not a name."""
    lower = frozenset(_LOWER_WORD.findall(text)) if lower_words is None else lower_words
    table = doc.vocab.lookups.get_table(DICTIONARY_TABLE) if doc.vocab.lookups.has_table(DICTIONARY_TABLE) else {}
    taken = [(c.start, c.end) for c in found]
    spans = [(*m.span(), False) for m in _INITIALLED.finditer(text)
             if m.group(2).lower() not in lower and m.group(2).lower() not in table
             and not _function_word(doc, m.start(2), m.end(2))]
    spans += [(*m.span(1), True) for m in _RANKED.finditer(text) if entity_key(m.group(2)) in COUNTRIES]
    out = []
    for a, b, ranked in sorted(spans):
        if (body is not None and not body[a]) or any(x < b and a < y for x, y in taken):
            continue
        taken.append((a, b))
        surface = text[a:b]
        out.append(NameCandidate(a, b, surface, "PERSON", entity_key(surface), False, False, country_after=ranked))
    return out


def name_candidates(doc: Doc, body: list[bool] | None, in_title: bool, text: str | None = None) -> list[NameCandidate]:
    """Cleaned NER mentions of one doc, plus datelines.

    Args:
        doc: the parsed text (the article body or its headline).
        body: per character, whether it is in a body line (see :func:`transform.body_lines.body_line_mask`);
            mentions outside body lines are dropped. None keeps everything (headlines).
        in_title: mark the mentions as the headline's.
        text: ``doc.text``, if already read.
    Returns:
        The mentions in text order (datelines last).
    """
    text = doc.text if text is None else text  # a property that joins every token: read it once
    out: list[NameCandidate] = []
    common_acronyms = _expanded_acronyms(text) if "(" in text else frozenset()
    midsentence: set[str] | None = None  # built on first need: most mentions are not in question
    lower_words: frozenset[str] | None = None
    person_words: set[str] | None = None
    acronym_verdicts: dict[str, bool] = {}
    widened_to = -1  # the end of the last span widened over tokens of the next entity
    for ent in doc.ents:
        if ent.label_ not in ENTITY_LABELS or ent.start < widened_to:
            continue
        ent = _with_plural_owner(doc, _widened_person(doc, ent))
        widened_to = max(widened_to, ent.end)
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
            if surface.isupper() and _shouting(text, a) and key not in COUNTRIES:
                continue  # the small model tags words in capitals almost at random ("INCREASE EXPECTATIONS")
            if end - start == 1:
                if key in GENERIC_INSTITUTIONS or surface in common_acronyms or _irregular_plural_owner(doc, start):
                    continue  # "the State", "artificial intelligence (AI)", "Women's 400 metres"
                if (start > 0 and doc[start - 1].lower_ in ("a", "an") and ent.label_ == "PERSON"
                        and not (end < len(doc) and doc[end].is_lower and doc[end].tag_ in ("NN", "NNS"))):
                    continue  # "a Briton", "an Afghan": one of a kind of people, not a name
                if surface.isupper() and key not in COUNTRIES and key not in KEY_ALIASES.values():
                    if _counted(doc, start):
                        continue  # "his 121 RBI", "three GB": a unit or a common noun, counted
                    if surface not in acronym_verdicts:
                        acronym_verdicts[surface] = _spelled_out(text, surface) or (
                            len(surface) <= MAX_PLACE_ACRONYM and _mostly_placed(doc, surface)
                            and not _used_as_place(doc, surface))
                    if acronym_verdicts[surface]:
                        continue  # "AI is changing how banks hire": a common noun, and not a place
                if _opens_sentence(doc, start) and not doc[start].is_upper:
                    if lower_words is None:
                        lower_words = frozenset(_LOWER_WORD.findall(text))
                    if _capitalised_by_position(doc, start, end, ent.label_, lower_words) or (
                            ent.label_ == "PERSON" and end - start == 1 and _common_word_as_person(
                                doc, start, person_words := _person_words(doc) if person_words is None else person_words)
                    ) or _written_in_capitals_elsewhere(doc, text, start, end):
                        midsentence = _midsentence_capitals(doc) if midsentence is None else midsentence
                        if doc[start].text not in midsentence:
                            continue  # "Time is running out", "Turnout was low"
            if key and key not in PRONOUNS:
                described = ent.label_ != "NORP" and _described_as_organisation(doc, start, end)
                label = "ORG" if described else _label(doc, start, end, ent.label_)
                out.append(NameCandidate(a, b, surface, label, key, titled, in_title, described, _speaks(doc, start, end),
                                         _addressed(doc, start), _located(doc, start, end),
                                         _determined(doc, start, end), _country_after(doc, end), _aged(doc, end)))
    if "." in text or "(" in text:
        out += _initialled_names(doc, text, out, body, lower_words)
    if any(c.isdigit() for c in text):
        out = _with_table_teams(text, out, body)
    if not in_title:
        for m in _DATELINE.finditer(text):
            a, b = m.span(1)
            rest = text[b:text.find("\n", b) % (len(text) + 1)]
            if re.match(r",?\s*[-—–]", rest) and not re.search(r"[a-z]", rest):
                continue  # "SOCCER - JAPAN WIN": a headline's kicker, not a dateline
            if body is None or body[a]:
                out = [c for c in out if c.end <= a or c.start >= b]
                out.append(NameCandidate(a, b, m.group(1), "GPE", entity_key(m.group(1)), False, False))
    return out
