"""Words per second of the NLP stage against bare ``nlp.pipe`` on the same synthetic news articles.

Run from the repository root: ``python bench/nlp_speed.py [--articles 200]``.

The articles are generated here (names, places, quotes in every shape the quote rules handle, about 700
words each), so the benchmark needs no third-party data. Printed rows:

- ``bare nlp.pipe (full model)``: ``spacy.load(model)`` with every component, ``nlp.pipe`` only;
- ``bare nlp.pipe (our components)``: the pipeline :func:`transform.nlp.analysis.load_pipeline` returns, ``nlp.pipe``
  only (what our analysis costs on top is the difference to the next row);
- ``analyses_of_articles``: entities, mentions and quotes, in one process (the pipeline's parallelism is
  its worker processes, measured by bench/throughput.py);
- ``... without parser``: what the parser costs (speaker attribution needs it).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FIRST = "Anna Maria John Peter Laura David Sofia Michael Elena James Fatima Ahmed Chen Olga Pierre Ines".split()
LAST = "Berg Lopez Harlan Chen Novak Okafor Schmidt Rossi Tanaka Kowalski Haddad Moreau Silva Jensen".split()
PLACES = "Berlin Lagos Ohio Geneva Manila Texas Warsaw Nairobi Lima Quebec Osaka Lisbon".split()
ORGS = ["the World Bank", "the European Commission", "Acme Corp.", "the Senate", "the United Nations",
        "Reuters", "the Ministry of Finance", "the city council"]
TOPICS = ["the budget", "the new bridge", "the trade agreement", "the election", "the strike", "the flood defences"]
FILLER = ("Officials said the plan had been discussed for months before it was presented to the public. "
          "Analysts expect the decision to shape the debate for the rest of the year. ")


def _article(rng: random.Random) -> str:
    """One synthetic news article: about 700 words, quotes in straight, curly and multi-paragraph form."""
    people = [(rng.choice(FIRST), rng.choice(LAST)) for _ in range(3)]
    place, org, topic = rng.choice(PLACES), rng.choice(ORGS), rng.choice(TOPICS)
    (f1, l1), (f2, l2), (f3, l3) = people
    paragraphs = [
        f"{place.upper()} (Reuters) - Minister {f1} {l1} defended {topic} on Monday, telling {org} that the "
        f"government would not change course. {FILLER}",
        f"\"We have listened to every objection and we will go ahead with {topic},\" {l1} said. "
        f"\"Nobody should expect a delay.\"",
        f"Opposition leader {f2} {l2} disagreed. She added: “This is the wrong decision for {place}.” {FILLER}",
        f"“People in {place} have waited long enough for an answer.",
        f"“They deserve better than another promise,” {l2} told reporters.",
        f"According to {f3} {l3}, an economist at {org}, “the costs will be higher than planned.” {FILLER}",
        f"{l1}'s office said the minister would travel to {rng.choice(PLACES)} later in the week. {FILLER}",
        f"Critics have called the plan a “quick fix”, and some compare it to “Groundhog Day.” {FILLER}",
        f"'We will keep fighting,' said {f2} {l2}. {FILLER}",
    ]
    return "\n".join(paragraphs + [FILLER * 3] * 4)


def _words_per_second(run: Callable[[], object], texts: list[str]) -> float:
    words = sum(len(t.split()) for t in texts)
    started = time.perf_counter()
    run()
    return words / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--model", default="en_core_web_sm")
    args = parser.parse_args(argv)

    import spacy

    from transform.nlp.analysis import FALLBACK_MODELS, analyses_of_articles, load_pipeline

    rng = random.Random(7)
    texts = [_article(rng) for _ in range(args.articles)]
    articles = [(f"{t.split(' ', 3)[2]} defends plan", t) for t in texts]
    words = sum(len(t.split()) for t in texts)
    print(f"{len(texts)} synthetic articles, {words} words ({words // len(texts)} per article)")
    try:
        full = spacy.load(args.model)
    except OSError:
        full = spacy.load(FALLBACK_MODELS[args.model])
    ours = load_pipeline(args.model)
    list(full.pipe(texts[:4]))
    analyses_of_articles(ours, articles[:4])  # warm both up

    bare_full = _words_per_second(lambda: list(full.pipe(texts, batch_size=64)), texts)
    bare_ours = _words_per_second(lambda: list(ours.pipe(texts, batch_size=64)), texts)
    analysed = _words_per_second(lambda: analyses_of_articles(ours, articles), texts)
    with ours.select_pipes(disable=["parser"]):
        no_parser = _words_per_second(lambda: list(ours.pipe(texts, batch_size=64)), texts)

    rows = [
        ("bare nlp.pipe (full model)", bare_full),
        ("bare nlp.pipe (our components)", bare_ours),
        ("analyses_of_articles, 1 process", analysed),
        ("bare nlp.pipe (our components) without parser", no_parser),
    ]
    for label, wps in rows:
        print(f"{label:48s} {wps:8.0f} words/s  {wps / (words / len(texts)):6.1f} articles/s")
    print(f"analysis / bare full model: {analysed / bare_full:.2f}   "
          f"analysis / bare same components: {analysed / bare_ours:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
