"""Cleaning what article extraction leaves behind: captions, credits, prompts, repeated lines.

Why: trafilatura finds the article body well, but the body container of a news page also holds
photo captions and credit lines ("Credit: Jane Doe / Getty Images"), "4 min read", share and follow
prompts, newsletter sign-ups, tag lists, "Related:" links, bylines and datelines, and pull quotes that
repeat a paragraph (docs/stack-notes.md#trafilatura). They pollute entities, quotes, topic matches and near-duplicate
detection downstream, so we drop them here, line by line, with rules that describe the *kind* of
line (never one site's markup). Each rule is bounded by a word count: boilerplate lines are short,
and a bound keeps a rule from ever eating a real paragraph that happens to start the same way.

Measured with eval/eval_extraction.py (figures in its docstring): on aeb_dev the cleaned text scores
a mean shingle F1 of 0.976 against trafilatura's 0.958; every rule was also checked against the
lines it drops on the 271 eval pages, and the prose lines it must keep are in tests/test_clean.py.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from transform.dates import parsed_datetime

# A line is compared with other lines by its lower-cased word tokens.
_TOKEN = re.compile(r"\w+", re.UNICODE)
# Characters that are invisible or layout-only in extracted text.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"), None)
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_URL_ONLY = re.compile(r"^(?:https?://|www\.)\S+$", re.IGNORECASE)
# "…the key point.Click To Tweet": a tweetable pull quote; the quote itself repeats a paragraph.
# Matched without the spaces before it (they are stripped after): a leading \s* would rescan a run of spaces
# from each of its characters.
_CLICK_TO_TWEET = re.compile(r"click to tweet\s*$", re.IGNORECASE)

# Repeated lines: a later *sentence* line (ending like prose) equal to an earlier one is a pull quote
# or a repeated caption, and is dropped from this many words on. Shorter or non-sentence repeats are
# legitimately repeated in structured articles (recipes, schedules, deal lists): on aeb_dev a
# threshold of 4 words and no prose test cost 0.005 mean F1, all of it on one recipe page.
MIN_REPEAT_WORDS = 10
# A sentence line wholly contained in another, longer line is a pull quote of that paragraph from
# this many words on. Below it, a short line inside a paragraph is usually a coincidence.
MIN_CONTAINED_WORDS = 8
# A line whose words are more than this share numbers is a list of quantities (recipes, results),
# legitimately repeated; a pull quote is prose. On aeb_dev the one recipe page repeats lines that
# are 36-40% numbers, while the repeated prose (a page whose body is printed twice) is 0-4%.
MAX_SENTENCE_DIGIT_SHARE = 0.25
_PROSE_END = re.compile(r"[.!?…\"”’»']\W{0,2}$")


@dataclass(frozen=True, slots=True)
class LineRule:
    """Drop a whole line that matches ``pattern`` and has at most ``max_words`` words."""

    name: str
    pattern: re.Pattern[str]
    max_words: int


def _rule(name: str, max_words: int, pattern: str, flags: int = re.IGNORECASE) -> LineRule:
    return LineRule(name, re.compile(pattern, flags), max_words)


_SOCIAL = r"(?:facebook|twitter|x|instagram|linkedin|youtube|tiktok|threads|bluesky|mastodon|whatsapp|telegram|pinterest|reddit|flipboard)"
# Credits name a photo agency, spelled as agencies spell themselves (case-sensitive: "(ePA)" in a
# German sentence or "Michael Bloomberg" in a heading are not credits).
_AGENCY = (
    r"(?:Getty(?: Images)?|GETTY(?: IMAGES)?|AFP|Reuters|REUTERS|AP(?: Photo)?|Associated Press|EPA(?:-EFE)?|EFE|"
    r"Shutterstock|SHUTTERSTOCK|iStock(?:photo)?|Alamy|PA(?: Media| Wire| Images)|Press Association|Xinhua|"
    r"Anadolu(?: Agency)?|SIPA(?: USA)?|Sipa(?: USA)?|REX|Rex Features|NurPhoto|Corbis|WireImage|FilmMagic|dpa|DPA|"
    r"ANSA|Kyodo|Yonhap|TASS|IMAGO|ZUMA(?: Press| Wire)?|Unsplash|Pexels|Pixabay|Wikimedia Commons)"
)
_RELATED_HEAD = (
    r"(?:related|related (?:articles?|stories|story|coverage|content|news|links?|reading|topics|videos?)|"
    r"read more|read next|read also|also read|must read|see also|see more|more|more stories|more news|more from [\w .'’&-]{1,40}|"
    r"recommended(?: for you| stories| reading)?|you (?:may|might) also like|don['’]?t miss|trending(?: now| stories)?|"
    r"most (?:read|popular|viewed|shared)(?: [\w .'’&-]{1,40})?|popular (?:stories|now)|top stories|editor['’]?s picks|"
    r"explore further|further reading|up next|watch next|what to read next|in other news|also on [\w .'’&-]{1,30}|"
    r"latest (?:news|stories|videos)|sponsored (?:stories|links|content))"
)

LINE_RULES: tuple[LineRule, ...] = (
    # Advertising slots and "continue reading" breaks.
    _rule("advert", 6, r"^(?:advertisement|advertising|ad|ads|sponsored(?: content)?|paid content|"
          r"(?:story|article) continues? (?:below|after)(?: (?:this )?(?:ad|advertisement))?|"
          r"continue reading(?: (?:below|the main story|the article|after (?:the )?ad(?:vertisement)?))?|"
          r"scroll (?:down )?to continue(?: reading)?|skip (?:the )?ad(?:vertisement)?)\W*$"),
    # Media-player, gallery and consent leftovers.
    _rule("media_ui", 6, r"^(?:loading(?: video| comments| \w+)?|play(?:ing)? video|watch video|video (?:duration|length)\b.*|now playing|"
          r"pause|mute|unmute|replay|close|expand|collapse|skip to (?:the )?(?:main )?content|(?:\d+:)?\d{1,2}:\d{2}|"
          r"listen(?: to)?(?: this)? (?:article|story)\b.*|(?:image|photo|slide|picture)\s*\d+\s*(?:of|/)\s*\d+|\d+ of \d+)\W*$"),
    _rule("cookies", 60, r"^.*\b(?:we|this (?:web)?site|our (?:web)?site) uses? cookies\b.*$"),
    # "4 min read", "Reading time: 3 minutes", "Lesezeit: 4 Minuten", "Tempo de leitura: 1 minuto".
    _rule("read_time", 8, r"^(?:\d++\s*+(?:(?:-|to)\s*+)?(?:\d++\s*+)?(?:min(?:ute)?s?\.?|minutos?|minuten|mn)\s+(?:read|reading|listen|de lecture|de leitura|de lectura|lesezeit|lettura)|"
          r"(?:estimated )?(?:read(?:ing)?|listening) time\W(?=.*\d).*|(?:tempo de leitura|tiempo de lectura|temps de lecture|lesezeit|tempo di lettura|leestijd)\W(?=.*\d).*|"
          r"\d+\s*min(?:ute)?s? (?:read|listen))\W*$"),
    # Rows of share buttons: nothing but share words and network names.
    _rule("share", 10, rf"^(?=.*\b(?:share|sharing|shares|tweet|print|e-?mail|copy|{_SOCIAL}|messenger|pocket)\b)"
          rf"(?:(?:share|sharing|shares|tweet|print|e-?mail|copy(?: the)? link|link copied|save|comment|comments|"
          rf"on|via|this|the|article|story|post|page|to|with|and|or|{_SOCIAL}|messenger|sms|pocket|google|tumblr|[|/·•,:-])\s*)+$"),
    _rule("share_prompt", 14, rf"^(?:share (?:this|the|your|on|via)\b.*|(?:click|tap) to share\b.*|click to tweet|tweet this|share on {_SOCIAL}.*)$"),
    # Tag and topic lists.
    _rule("tags", 40, r"^(?:tags?|tagged(?: with)?|topics?|filed under|categories|category|keywords|related topics|more (?:on|about)|"
          r"themen|schlagw(?:ö|oe)rter|etiquetas|mots-cl(?:é|e)s|temas|argomenti)\s*[:|»›]\s*.*$"),
    _rule("tags_heading", 3, r"^(?:tags|topics|related topics|filed under|categories)\W*$"),
    # Newsletter and subscription prompts.
    _rule("newsletter", 40, r"^(?=.*\b(?:newsletters?|inbox|mailing list)\b)(?=.*\b(?:sign(?:ing)?[ -]?up|subscribe|subscribing|register|"
          r"delivered|(?:to|in|into) your inbox|get (?:the|our)|enter your e-?mail|join (?:our|the))\b).*$"),
    _rule("newsletter_ack", 14, r"^(?:(?:thanks? (?:you )?for (?:signing up|subscribing|registering)|keep an eye on your inbox|"
          r"(?:sorry!? )?(?:there was an?|an) (?:error|problem) (?:processing|with) your (?:subscription|request|sign-?up)|"
          r"you(?:['’]re| are) (?:now )?subscribed)\b.*|(?:enter your e-?mail(?: address)?|invalid e-?mail(?: address)?|sorry!?)\W*)$"),
    _rule("subscribe_pitch", 50, r"^(?:subscribe(?: now| today)?\W*|subscribe (?:to|for|now|today)\b.*|already a (?:subscriber|member)\b.*|"
          r"become a (?:member|subscriber|supporter|patron)\b.*|support (?:our|independent|local|quality) journalism\b.*|"
          r"if you (?:enjoyed|liked|value|appreciate) (?:this|our) (?:article|story|journalism|reporting)\b.*|"
          r"(?:get|unlock) (?:unlimited|full|digital|premium) access\b.*)$"),
    # "Follow us on Twitter", "Follow Jane on Facebook", author contact lines.
    _rule("follow", 40, rf"^(?:.*[.!?]\s+)?(?:follow (?:us|him|her|them|me|[\w.'’@ -]{{1,40}})|(?:like|find|join) us) on {_SOCIAL}\b.*$"),
    _rule("contact", 40, r"^(?=.*[\w.+-]@[\w-]+\.\w)(?=.*\b(?:(?:can|may) be reached|reach (?:the |our )?(?:reporter|editor|author|writer|newsroom)|"
          r"have a (?:news )?tip|send (?:us )?(?:your )?(?:news )?tips?|letters? to the editor|write to (?:us|letters)|you can contact|"
          r"contact (?:us|the (?:reporter|author|writer|editor|newsroom))|e-?mail (?:us|the (?:reporter|author|writer|editor|newsroom)))\b).*$"),
    # Calls to action: apps, "click here".
    _rule("click_here", 25, r"^(?:(?:click|tap) here\b.*|.*\bby (?:clicking|tapping) here\W*|(?:get|download) (?:the|our) [\w .'’&-]{0,40}\bapp\b.*)$"),
    # "Related:", "READ MORE: headline", "Most read in world news", "Explore further".
    _rule("related_heading", 8, rf"^{_RELATED_HEAD}\s*(?::|\.\.\.|…)?\s*$"),
    _rule("related_link", 30, rf"^(?:{_RELATED_HEAD}|also|watch|listen|video|pictures|photos|gallery)\s*(?::|\||»|›|>>|–|—)\s*\S.*$"),
    _rule("bracket_label", 30, r"^.*\[(?:video|videos|photos?|pictures|pics|gallery|insight|reaction|poll|revealed|latest|"
          r"analysis|watch|listen|live|interview|update|comment|quiz)\]\W*$"),
    # Captions and credits.
    _rule("credit", 25, r"^\(?\s*(?:(?:file |main |top |featured |header |lead )?(?:photo|photograph|image|picture|pic|illustration|graphic|video|"
          r"foto|bild|imagen|immagine)s?(?: illustration)?(?: credits?| source| courtesy(?: of)?| by)?|credits?|(?:photo|image) courtesy(?: of)?|"
          r"quelle|crédit(?: photo)?|crédito|fonte)\s*[:：]\s*\S.*$|^\(?(?:photo|image|picture|video)s? (?:courtesy|credit) (?:of )?\S.*$"),
    _rule("credit_by", 10, r"^\(?(?i:photo|photograph|image|picture|video|illustration)s? by [A-Z].*$", 0),
    _rule("credit_trailing", 60, rf"^.*(?:^|[\s(/|.,:;–—-]){_AGENCY}(?:\s+(?:via|for)\s+[\w .'’&-]{{1,40}})?\s*\)?$", 0),
    _rule("credit_photographer", 60, rf"^.*\(?\b(?:{_AGENCY}|[Ss]taff|STAFF)\s*(?:[Pp]hoto|PHOTO|[Pp]hotograph|[Ii]mage|[Pp]ic)s?\s*/\s*[^()]{{1,60}}\)?\W*$", 0),
    # "© 2024 The Gazette", "Copyright 2023 Sunbeam Television Corp.", "copyright Inexhibit 2019"; not
    # "Copyright holders sued the company in 2023." (case-sensitive: a name or a year follows).
    _rule("copyright", 30, r"^(?:.*(?:©|\([Cc]\) ?\d{4}).*|.*\b(?:[Aa]ll [Rr]ights [Rr]eserved|ALL RIGHTS RESERVED)\b.*|"
          r"(?:[Cc]opyright|COPYRIGHT)\s+(?:(?:19|20)\d{2}|[A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*)*\s+(?:19|20)\d{2})\b.*)$", 0),
    _rule("source", 8, r"^source\s*:\s*\S.*$"),
    # Bylines, credits of the reporting, datelines and update stamps.
    _rule("byline", 14, r"^[Bb][Yy]:?\s+(?:[A-Z][\w.'’-]*\.?\s*){1,4}(?:(?:,|and|&|AND)\s+(?:[A-Z][\w.'’-]*\.?\s*){1,4})*"
          r"(?:\s*[,|/–—-]\s*(?:[A-Z][\w.'’-]*\s*){1,5})?$", 0),
    _rule("reporting_by", 40, r"^\(?\s*(?:additional |with additional )?(?:reporting|writing|editing|compiled|edited|research|contributing|"
          r"produced|fact-checked) by\b.*$"),
    _rule("stamp", 14, r"^(?:updated|published|posted|last updated|first published|modified|last modified)(?::|\s+(?:at|on)\b|\s+\d|"
          r"\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)[a-z]*\b)(?=.*\d).*$|"
          r"^\d+ (?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?) ago\W*$|^this article is more than .{1,20} old\W*$"),
    # Comment-section leftovers.
    _rule("comments", 10, r"^(?:\d+\s+)?(?:comments?|replies)\W*$|^(?:leave|post|add|write|view|show|see|read|load) (?:a |the |all |more )?(?:\d+ )?"
          r"comments?\b.*$|^(?:leave|post) a reply\b.*$|^(?:tell us what you think|join the (?:conversation|discussion|debate)|comments are closed|"
          r"be the first to comment)\b.*$|^have your say\W*$"),
    # Affiliate and commerce disclosures.
    _rule("affiliate", 45, r"^.*\b(?:affiliate (?:links?|commission|partnerships?)|earn (?:a|an affiliate) commission|"
          r"may (?:get|earn|receive) a (?:share|portion|small share) of (?:the )?(?:sale|revenue)|commission on (?:purchases|sales))\b.*$"),
)

# All-capitals lines from this many words on, without a sentence ending, are promos and related
# headlines ("SEAN SPICER ELIMINATED FROM 'DANCING WITH THE STARS'", "GET THE QUIZ: INSTANT
# DOWNLOAD!" is caught by its own rules). Shorter ones and questions are sub-headings ("WHO IS THE
# FRONT-RUNNER?"), which aeb_dev counts as article text.
MIN_SHOUTED_WORDS = 6
MAX_SHOUTED_WORDS = 20
_SENTENCE_END = re.compile(r"[.?!:…\"”]\W{0,2}$")
# After a "Related:" / "Read more" heading, the link items trafilatura renders as "- Headline".
_LINK_LIST_RULES = frozenset({"related_heading", "related_link"})
_LIST_ITEM = ("- ", "• ", "* ")

_DATE_WORDS = frozenset(
    "jan january feb february mar march apr april may jun june jul july aug august sep sept september oct october "
    "nov november dec december mon monday tue tues tuesday wed wednesday thu thur thurs thursday fri friday sat "
    "saturday sun sunday am pm a m p et est edt pt pst pdt ct cst cdt gmt bst cet cest utc ist at on de da do of "
    "the updated published posted".split()
)
_MONTH_OR_DAY = frozenset(
    "jan january feb february mar march apr april may jun june jul july aug august sep sept september oct october "
    "nov november dec december mon monday tue tues tuesday wed wednesday thu thur thurs thursday fri friday sat "
    "saturday sun sunday".split()
)
# A short line that is mostly date words and numbers is a dateline or timestamp, not prose.
MAX_DATELINE_WORDS = 12


def cleaned_text(text: str) -> str:
    """Article text without the boilerplate lines extraction leaves in.

    Normalises whitespace and invisible characters, removes lines matching ``LINE_RULES`` (each
    bounded by a word count), timestamp-only lines, shouted promo lines, bare URLs and lines without
    a word character, the link list under a "Related:" heading, then drops repeated lines and pull
    quotes contained in a longer paragraph.

    Args:
        text: extracted text, one paragraph per line.
    Returns:
        The cleaned text, paragraphs separated by a single ``"\\n"``; "" when nothing is left.
    """
    kept: list[str] = []
    in_link_list = False
    for raw in unicodedata.normalize("NFC", text).translate(_INVISIBLE).splitlines():
        line = _CLICK_TO_TWEET.sub("", _SPACES.sub(" ", raw).strip()).rstrip()
        if not line:
            continue
        rule = boilerplate_rule(line)
        if rule is None and in_link_list and line.startswith(_LIST_ITEM) and not _PROSE_END.search(line):
            rule = "related_list"
        if rule is not None:
            in_link_list = rule in _LINK_LIST_RULES or (in_link_list and rule != "empty_or_url")
            continue
        in_link_list = False
        kept.append(line)
    return "\n".join(_without_repeats(kept))


def boilerplate_rule(line: str) -> str | None:
    """The name of the rule that drops ``line`` (whitespace-normalised), or None for article prose."""
    words = _TOKEN.findall(line)
    if not words or _URL_ONLY.match(line):
        return "empty_or_url"
    n = len(words)
    if n <= MAX_DATELINE_WORDS and (_is_dateline(words) or parsed_datetime(line)):
        return "dateline"
    if MIN_SHOUTED_WORDS <= n <= MAX_SHOUTED_WORDS and _is_shouted(line, words):
        return "shouted"
    return next((rule.name for rule in LINE_RULES if n <= rule.max_words and rule.pattern.match(line)), None)


def _is_shouted(line: str, words: list[str]) -> bool:
    """An all-capitals headline-like line: no sentence ending, not a table row, few numbers."""
    if _SENTENCE_END.search(line) or "|" in line or not any(c.isalpha() for c in line):
        return False
    if sum(w.isdigit() for w in words) > len(words) * 0.3:
        return False
    return all(c.isupper() for c in line if c.isalpha())


def _is_dateline(words: list[str]) -> bool:
    """Mostly date words and numbers, with a year in it and a month/weekday name (digits alone are
    as likely a phone number or a score)."""
    lowered = [w.lower() for w in words]
    has_anchor = any(len(w) == 4 and w.isdigit() and w[:2] in ("19", "20") for w in lowered)
    has_name = any(w in _MONTH_OR_DAY for w in lowered)
    dateish = sum(1 for w in lowered if w.isdigit() or w in _DATE_WORDS)
    has_anchor = has_anchor and has_name
    return has_anchor and dateish >= max(2, len(lowered) - 2) and dateish / len(lowered) >= 0.6


def _is_sentence(line: str, key: str, n_words: int) -> bool:
    """Ends like prose and is not a line of quantities ("Portion: 1 green, 1 red, 1 tsp.")."""
    digits = sum(1 for word in key.split() if word.isdigit())
    return _PROSE_END.search(line) is not None and digits <= n_words * MAX_SENTENCE_DIGIT_SHARE


def _without_repeats(lines: list[str]) -> list[str]:
    """Drop repeated sentence lines and sentence lines contained in a longer line (pull quotes)."""
    keys = [" ".join(_TOKEN.findall(line.lower())) for line in lines]
    containers = _lines_by_opening(keys)
    seen: set[str] = set()
    out: list[str] = []
    for line, key in zip(lines, keys, strict=True):
        n = key.count(" ") + 1
        if n >= min(MIN_CONTAINED_WORDS, MIN_REPEAT_WORDS) and _is_sentence(line, key, n):
            if n >= MIN_REPEAT_WORDS and key in seen:
                continue
            if n >= MIN_CONTAINED_WORDS and _contained_in_longer(key, containers):
                continue
        seen.add(key)
        out.append(line)
    return out


# A line is looked for only in the first this many distinct longer lines sharing its opening words. A pull
# quote repeats one paragraph; dozens of distinct paragraphs sharing the same eight words are a generated page,
# and checking each of them for each line would make the cleaner quadratic.
MAX_CONTAINER_CHECKS = 16


def _lines_by_opening(keys: list[str]) -> dict[str, list[str]]:
    """Every run of ``MIN_CONTAINED_WORDS`` consecutive words -> the distinct keys it occurs in.

    A key contained in a longer key (word-aligned) has its first ``MIN_CONTAINED_WORDS`` words as such a
    run of the longer one, so this index finds every candidate container in time linear in the text, where
    searching the whole text once per line was quadratic.
    """
    index: dict[str, list[str]] = {}
    for key in dict.fromkeys(keys):
        words = key.split(" ")
        for gram in dict.fromkeys(" ".join(words[i:i + MIN_CONTAINED_WORDS]) for i in range(len(words) - MIN_CONTAINED_WORDS + 1)):
            index.setdefault(gram, []).append(key)
    return index


def _contained_in_longer(key: str, containers: dict[str, list[str]]) -> bool:
    padded = f" {key} "
    opening = " ".join(key.split(" ", MIN_CONTAINED_WORDS)[:MIN_CONTAINED_WORDS])
    longer = (other for other in containers.get(opening, ()) if len(other) > len(key))
    return any(padded in f" {other} " for _, other in zip(range(MAX_CONTAINER_CHECKS), longer, strict=False))


# A name written twice with nothing between: a link's text followed by its hover card's, flattened into
# one line by the extractor ("Rep. Jane Q. DoeJane Q. Doe"). Two or more capitalised words, so that
# glued words and initials ("AA", "Baden-Baden") are never touched.
_DOUBLED_NAME = re.compile(r"\b([A-Z][a-z][\w'’.-]*(?: [A-Z][\w'’.-]*){1,4})\1(?![a-z])")


def without_doubled_names(text: str) -> str:
    """The text with every name doubled by a hover card written once."""
    return _DOUBLED_NAME.sub(r"\1", text) if text else text
