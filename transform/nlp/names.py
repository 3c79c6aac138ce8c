"""Names: the word lists the entity and speaker stages share, and the normalised key of a name.

Why: the small spaCy model does not know that "Senator" before a name makes it a person, that
"Belarus" is a country whatever sentence it is in, or that "Pirelli SpA" is a company. These lists are
general knowledge about names in English news, not tuned to any data set; each is used as evidence
(votes, stripping), never as the only way an entity is found. :func:`entity_key` is the one place that
decides when two names are the same name (the ``entity_id`` of the warehouse).
"""

from __future__ import annotations

import re
import unicodedata

# Honorifics and office titles stripped from the front of a person's name ("President Donald Trump",
# "Sen. Warren", "Secretary of State Mike Pompeo"). The same words right before a name are strong
# evidence that it is a PERSON, and a definite description made of them ("the president") refers to a
# person introduced with that title.
PERSON_TITLES = frozenset(
    """mr mrs ms miss mx dr prof professor sir dame lord lady madam president vice prime minister premier
    chancellor secretary senator sen rep representative congressman congresswoman gov governor lt gen general
    col colonel capt captain adm admiral sgt sergeant cmdr commander judge justice king queen prince princess
    emperor empress pope cardinal archbishop bishop rev reverend rabbi imam sheikh ayatollah mayor ambassador
    chairman chairwoman chairperson ceo spokesman spokeswoman spokesperson deputy acting former late
    first attorney inspector superintendent commissioner sheriff detective officer coach
    president-elect leader speaker minority majority house senate foreign state defense defence interior
    finance home health trade treasury labour labor education energy chief executive director
    supreme opposition party candidate nominee hopeful councillor councilor councilman councilwoman
    alderman alderwoman assemblyman assemblywoman assemblymember""".split()
)
# Words that keep a title phrase going ("Secretary of State", "Leader of the Opposition").
TITLE_LINKS = frozenset({"of", "the", "for", "and", "&"})
# Lower-case words that occur inside names ("Bank of America", "Charles de Gaulle", "Osama bin Laden",
# "Gone with the Wind"); any other lower-case word inside an NER span ends the name there.
NAME_PARTICLES = frozenset(
    """of the and for in on at to a an with de la le les du des di da do dos das del della van von der den
    ten ter al el bin ibn y e et upon""".split()
)
# Titles stripped even when the model did not call the name a PERSON ("President Trump" tagged ORG).
HONORIFICS = frozenset("mr mrs ms miss dr president sen senator rep gov governor prime minister".split())
# Forms of address that, right before a capitalised name, make it a person whatever the model or the
# other mentions say ("President Trump" in an article where the model calls "Trump" an ORG twelve times).
PERSON_HONORIFICS = frozenset(
    """mr mrs ms miss mx dr sir dame president senator sen rep representative congressman congresswoman gov
    governor ambassador judge mayor king queen prince princess pope rev reverend""".split()
)
DETERMINERS = frozenset({"the", "a", "an", "this", "that", "these", "those"})
# Words that are never a name, whatever the model tagged ("She" at the start of a sentence as PERSON).
PRONOUNS = frozenset(
    """i me my mine we us our ours you your yours he him his she her hers it its they them their theirs
    who whom whose this that these those one someone somebody everyone anyone nobody""".split()
)
# Common nouns for institutions that the small model takes for a name when capitalised alone ("the State
# must act"); alone they name no particular body. Inside a name ("State Department") they are kept.
GENERIC_INSTITUTIONS = frozenset(
    """state government ministry department court police army navy city county council committee party
    administration agency authority board commission company firm office bureau union""".split()
)
# Dates the model glues to a name ("September Treasury", "Monday Trump").
MONTHS = frozenset("january february march april may june july august september october november december".split())
WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
DATE_WORDS = MONTHS | WEEKDAYS
# Legal forms dropped from a company's key, so that "Apple Inc." and "Apple" are one entity across articles.
LEGAL_FORMS = frozenset(
    "inc inc. corp corp. co co. ltd ltd. llc plc ag sa s.a. nv n.v. spa s.p.a. gmbh bv ab asa oyj limited".split()
)
# Endings that make a name a company whatever the model says ("Pirelli SpA", "Acme Holdings").
CORPORATE_SUFFIXES = frozenset(
    """inc inc. corp corp. corporation co co. company ltd ltd. llc plc ag sa s.a. nv n.v. spa s.p.a. gmbh
    bv ab asa oyj group holdings holding bancorp bancshares partners""".split()
)
# Expansions of abbreviations too common to leave as separate entities (keys are entity_key forms).
KEY_ALIASES = {
    "us": "united states", "usa": "united states", "u s": "united states", "u s a": "united states",
    "united states of america": "united states", "america": "united states",
    "uk": "united kingdom", "u k": "united kingdom", "britain": "united kingdom", "great britain": "united kingdom",
    "un": "united nations", "u n": "united nations", "eu": "european union", "e u": "european union",
    "uae": "united arab emirates", "dprk": "north korea", "ussr": "soviet union",
}
# Sovereign states and a few territories, as entity keys. A name that is a country votes GPE (the small
# model calls "Belarus" an ORG and "Liechtenstein" a PERSON in lists and results tables).
COUNTRIES = frozenset(
    name.strip()
    for name in """afghanistan|albania|algeria|andorra|angola|antigua and barbuda|argentina|armenia|australia|
    austria|azerbaijan|bahamas|bahrain|bangladesh|barbados|belarus|belgium|belize|benin|bhutan|bolivia|bosnia|
    bosnia and herzegovina|botswana|brazil|brunei|bulgaria|burkina faso|burundi|cambodia|cameroon|canada|
    cape verde|central african republic|chad|chile|china|colombia|comoros|congo|costa rica|croatia|cuba|cyprus|
    czech republic|czechia|denmark|djibouti|dominica|dominican republic|east timor|ecuador|egypt|el salvador|
    equatorial guinea|eritrea|estonia|eswatini|ethiopia|fiji|finland|france|gabon|gambia|georgia|germany|ghana|
    greece|grenada|guatemala|guinea|guinea bissau|guyana|haiti|honduras|hungary|iceland|india|indonesia|iran|
    iraq|ireland|israel|italy|ivory coast|jamaica|japan|jordan|kazakhstan|kenya|kiribati|kosovo|kuwait|
    kyrgyzstan|laos|latvia|lebanon|lesotho|liberia|libya|liechtenstein|lithuania|luxembourg|madagascar|malawi|
    malaysia|maldives|mali|malta|marshall islands|mauritania|mauritius|mexico|micronesia|moldova|monaco|
    mongolia|montenegro|morocco|mozambique|myanmar|burma|namibia|nauru|nepal|netherlands|holland|new zealand|
    nicaragua|niger|nigeria|north korea|north macedonia|macedonia|norway|oman|pakistan|palau|palestine|panama|
    papua new guinea|paraguay|peru|philippines|poland|portugal|qatar|romania|russia|rwanda|samoa|san marino|
    saudi arabia|senegal|serbia|seychelles|sierra leone|singapore|slovakia|slovenia|solomon islands|somalia|
    south africa|south korea|south sudan|spain|sri lanka|sudan|suriname|sweden|switzerland|syria|taiwan|
    tajikistan|tanzania|thailand|togo|tonga|trinidad and tobago|tunisia|turkey|turkmenistan|tuvalu|uganda|
    ukraine|united arab emirates|united kingdom|united states|uruguay|uzbekistan|vanuatu|vatican|venezuela|
    vietnam|yemen|zambia|zimbabwe|england|scotland|wales|northern ireland|hong kong|puerto rico|greenland|
    gaza|west bank|crimea|chechnya|kashmir|tibet|soviet union|yugoslavia""".split("|")
)


_LEGAL_FORM_TOKENS = frozenset(t.replace(".", "") for t in LEGAL_FORMS)
# Apostrophes as typed in the wild: straight, right single mark, and the left single mark, modifier
# letter, acute and grave accents and prime that keyboards and CMSs substitute for it ("Trump‘s",
# "Haddadʼs", "Trump´s", "Trump`s").
APOSTROPHES = "'’‘ʼ´`′"
# The substitutes alone, which the tokenizer does not split off a word by itself.
SUBSTITUTE_APOSTROPHES = "‘ʼ´`′"
_POSSESSIVE_S = re.compile(rf"[{APOSTROPHES}]s\b", re.IGNORECASE)
_DOTTED = re.compile(r"(?<![\w.])((?:[^\W\d_]\.){2,})")


def _folded(text: str) -> str:
    """Lower-case, accents removed: the form names are compared in."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_tokens(text: str) -> list[str]:
    """Comparison tokens of a name: folded words, hyphens split, dotted abbreviations closed up.

    "Kim Jong-un" -> [kim, jong, un]; "U.S." -> [us]; "Kim Jong Un's" -> [kim, jong, un].
    """
    text = _DOTTED.sub(lambda m: m.group(1).replace(".", ""), text)
    text = _folded(_POSSESSIVE_S.sub("", text)).replace("&", " and ")  # before folding splits "´" off
    return re.findall(r"[^\W_]+", text)


def entity_key(name: str) -> str:
    """The normalised, type-independent key of an entity's canonical name (used as ``entity_id``).

    Args:
        name: the canonical name, e.g. "Donald J. Trump".
    Returns:
        Space-joined folded tokens with a leading article, single-letter middle initials and a company's
        legal form dropped, e.g. "donald trump", "apple", "hague"; a few common abbreviations expanded
        ("U.S." -> "united states").
    """
    tokens = name_tokens(name)
    if len(tokens) > 1 and tokens[0] == "the":  # "The Hague" and "the Hague" are one name
        tokens = tokens[1:]
    while len(tokens) > 1 and tokens[-1] in _LEGAL_FORM_TOKENS:
        tokens = tokens[:-1]
    if len(tokens) > 2:  # "Donald J. Trump"; but the "O" of "Martin O'Malley" is part of the surname
        glued = {m.group(1).casefold() for m in re.finditer(rf"\b([^\W\d_])[{APOSTROPHES}][^\W\d_]", name)}
        tokens = [t for k, t in enumerate(tokens) if len(t) > 1 or k in (0, len(tokens) - 1) or t in glued]
    key = " ".join(tokens)
    return KEY_ALIASES.get(key, key)
