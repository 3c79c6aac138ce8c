"""Entity mention F1 on CoNLL-2003 English (metric: the evaluation set's README), ours vs bare spaCy.

Run from the repository root: ``python eval/eval_ner.py [--file eng.testa] [--split tune|report|all]
[--model NAME]``. ``--split`` keeps half of the documents by a stable hash of the document's first
sentence and position (CoNLL documents have no ids; eval/splits.py). Reads
``../shared/eval/ner/`` relative to the repository and exits with a message when it is absent.

Each CoNLL document becomes one article: tokens joined by spaces, sentences by newlines (the cleaner's
paragraph separator), no title. Per document the multiset of (surface, type) mentions is compared with
the gold one, PERSON -> PER, ORG -> ORG, GPE/LOC/FAC -> LOC (MISC and our other types are ignored);
micro precision/recall/F1. "bare" is ``nlp.pipe`` with the same model and its ``doc.ents`` unchanged.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from eval.splits import SPLITS, in_split  # noqa: E402

DATA = REPO.parent / "shared" / "eval" / "ner"

TYPE_MAP = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}
Sentence = list[tuple[str, str]]


def conll_documents(path: Path) -> Iterator[list[Sentence]]:
    """Documents of a CoNLL file as lists of sentences of (word, IOB tag)."""
    doc: list[Sentence] = []
    sent: Sentence = []
    for line in path.open(encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("-DOCSTART-"):
            if sent:
                doc.append(sent)
                sent = []
            if doc:
                yield doc
            doc = []
        elif not line.strip():
            if sent:
                doc.append(sent)
                sent = []
        else:
            parts = line.split(" ")
            sent.append((parts[0], parts[-1]))
    if sent:
        doc.append(sent)
    if doc:
        yield doc


def gold_mentions(doc: list[Sentence]) -> Counter[tuple[str, str]]:
    """The (surface, type) multiset of a document's PER/ORG/LOC mentions (IOB1 or IOB2)."""
    out: Counter[tuple[str, str]] = Counter()
    for sent in doc:
        words: list[str] = []
        kind = ""
        for word, tag in sent + [("", "O")]:
            starts = tag.startswith("B-") or (tag.startswith("I-") and tag[2:] != kind)
            if (tag == "O" or starts) and words:
                if kind in ("PER", "ORG", "LOC"):
                    out[(" ".join(words), kind)] += 1
                words, kind = [], ""
            if tag != "O":
                words.append(word)
                kind = tag[2:]
    return out


def prf(pairs: Sequence[tuple[Counter, Counter]]) -> tuple[float, float, float]:
    """Micro precision, recall and F1 over (gold, predicted) multisets."""
    tp = sum(sum((g & p).values()) for g, p in pairs)
    fp = sum(sum((p - g).values()) for g, p in pairs)
    fn = sum(sum((g - p).values()) for g, p in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default="eng.testa")
    parser.add_argument("--model", default="en_core_web_sm")
    parser.add_argument("--split", choices=SPLITS, default="all", help="half of the documents (eval/splits.py)")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare spaCy baseline")
    args = parser.parse_args(argv)
    path = DATA / args.file
    if not path.exists():
        print(f"skipped: {path} is absent")
        return 0
    from transform.nlp.analysis import analyses_of_articles, load_pipeline

    docs = [d for k, d in enumerate(conll_documents(path))
            if in_split(f"{args.file}:{k}:" + " ".join(w for w, _ in d[0]), args.split)]
    texts = ["\n".join(" ".join(w for w, _ in s) for s in d) for d in docs]
    golds = [gold_mentions(d) for d in docs]
    nlp = load_pipeline(args.model)
    started = time.perf_counter()
    analyses = analyses_of_articles(nlp, [(None, t) for t in texts])
    elapsed = time.perf_counter() - started
    ours = []
    for text, analysis in zip(texts, analyses, strict=True):
        types = {e.entity_id: e.type for e in analysis.entities}
        for m in analysis.mentions:
            assert text[m.start_char:m.end_char] == m.surface
        ours.append(Counter((m.surface, TYPE_MAP[types[m.entity_id]]) for m in analysis.mentions
                            if types[m.entity_id] in TYPE_MAP))
    p, r, f = prf(list(zip(golds, ours, strict=True)))
    print(f"{args.file}: {len(docs)} documents, {sum(sum(g.values()) for g in golds)} gold mentions")
    print(f"newswatch  P {p:.3f}  R {r:.3f}  F1 {f:.3f}   ({elapsed:.1f} s)")
    if not args.no_bare:
        import spacy

        from transform.nlp.analysis import FALLBACK_MODELS

        try:
            plain = spacy.load(args.model)
        except OSError:
            plain = spacy.load(FALLBACK_MODELS[args.model])
        bare = [Counter((e.text, TYPE_MAP[e.label_]) for e in d.ents if e.label_ in TYPE_MAP) for d in plain.pipe(texts)]
        p, r, f = prf(list(zip(golds, bare, strict=True)))
        print(f"bare spaCy P {p:.3f}  R {r:.3f}  F1 {f:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
