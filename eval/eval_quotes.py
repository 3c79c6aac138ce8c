"""Direct-quote precision/recall/F1 and speaker accuracy on PolNeAR (metric: the evaluation set's README).

Run from the repository root: ``python eval/eval_quotes.py [--half tune|report|all] [--limit N] [--model NAME]
[--errors FILE]``. ``--half`` keeps half of the articles by a stable hash of the article id (eval/splits.py):
tune on ``tune``, quote ``report``; ``--split`` is the corpus's own train/dev field.
Reads ``../shared/eval/quotes/polnear_train_dev.jsonl`` relative to the repository and exits with a message
when it is absent; nothing from it is ever written into the repository.

The metric, as the README defines it:
- a gold quote is each string between quotation marks, of three tokens or more, inside an attribution's
  content span; its speaker is that attribution's source span;
- a predicted quote matches a gold one when it contains at least half of the gold quote's tokens, one
  prediction per gold quote; precision, recall and F1 are pooled over all annotation files;
- speaker accuracy is scored on matched quotes whose gold source contains a capitalised name: right when
  the predicted speaker shares a name token with it. A pronoun as a predicted speaker is always wrong and
  is counted separately.
Tokens are ``\\w+`` runs, as in the README's other metrics. Quotation marks are straight and curly
double marks and, by default, two apostrophes (``''``), which is how the New York Times articles of the
corpus mark every quotation; ``--no-apostrophe-marks`` scores without them (those quotes then count as
unowned strings against precision).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from eval.splits import SPLITS, in_split  # noqa: E402

DATA = REPO.parent / "shared" / "eval" / "quotes" / "polnear_train_dev.jsonl"

_TOKEN = re.compile(r"\w+")
_OPENING = "“"
_CLOSING = "”"
PRONOUNS = frozenset("i me my he him his she her hers it its we us our they them their you your who whom one "
                     "this that these those someone somebody".split())
# Capitalised words that are not names: sentence-initial pronouns and determiners, and honorifics.
_NOT_NAMES = PRONOUNS | frozenset("the a an mr mrs ms dr sen rep gov president".split())


@dataclass(frozen=True)
class GoldQuote:
    start: int
    end: int
    tokens: tuple[tuple[int, int], ...]  # character spans of the quote's \w+ tokens
    source: str


def _strings_between_marks(text: str, start: int, end: int, apostrophes: bool = True) -> list[tuple[int, int]]:
    """Content spans between paired double marks inside ``text[start:end]``.

    A straight mark toggles; a curly opening mark after a paragraph break, while a quote is open, continues
    the quote (multi-paragraph quotes); a quote left open runs to the end of the annotated span. Two
    apostrophes are a double mark too (``apostrophes``): the New York Times articles of PolNeAR type every
    quotation that way, and their attributions own those strings like any other.
    """
    out: list[tuple[int, int]] = []
    open_at: int | None = None
    i = start - 1
    while i + 1 < end:
        i += 1
        ch = text[i]
        if apostrophes and text.startswith("''", i):  # two apostrophes: the NYT archive's quotation mark
            ch = '"'
            if open_at is None:
                open_at = i + 2
                i += 1
                continue
            out.append((open_at, i))
            open_at = None
            i += 1
            continue
        if ch == '"':
            if open_at is None:
                open_at = i + 1
            else:
                out.append((open_at, i))
                open_at = None
        elif ch in _OPENING:
            if open_at is None:
                open_at = i + 1
            elif "\n" not in text[open_at:i]:
                open_at = i + 1
        elif ch in _CLOSING and open_at is not None:
            out.append((open_at, i))
            open_at = None
    if open_at is not None:
        out.append((open_at, end))
    return out


def gold_quotes(row: dict, apostrophes: bool = True) -> list[GoldQuote]:
    """The gold direct quotes of one annotation file (``apostrophes``: see _strings_between_marks)."""
    text = row["text"]
    quotes: list[GoldQuote] = []
    for attribution in row["attributions"]:
        source = " ".join(s["text"] for s in attribution["source"])
        for piece in attribution["content"]:
            for a, b in _strings_between_marks(text, piece["start"], piece["end"], apostrophes):
                tokens = tuple(m.span() for m in _TOKEN.finditer(text, a, b))
                if len(tokens) >= 3:
                    quotes.append(GoldQuote(a, b, tokens, source))
    return quotes


def name_tokens(source: str) -> set[str]:
    """Capitalised tokens of a gold source that can be part of a name (lower-cased)."""
    return {t.lower() for t in _TOKEN.findall(source) if t[0].isupper() and t.lower() not in _NOT_NAMES}


@dataclass
class Tally:
    gold: int = 0
    predicted: int = 0
    matched: int = 0
    speaker_scored: int = 0
    speaker_right: int = 0
    pronoun_speakers: int = 0
    by_confidence: dict[str, list[int]] = field(default_factory=dict)  # level -> [scored, right]

    def report(self) -> str:
        p = self.matched / self.predicted if self.predicted else 0.0
        r = self.matched / self.gold if self.gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        acc = self.speaker_right / self.speaker_scored if self.speaker_scored else 0.0
        return (f"gold {self.gold}  predicted {self.predicted}  matched {self.matched}\n"
                f"quote P {p:.3f}  R {r:.3f}  F1 {f:.3f}\n"
                f"speaker accuracy {acc:.3f} ({self.speaker_right}/{self.speaker_scored})  "
                f"pronoun speakers {self.pronoun_speakers}\n"
                + "speaker accuracy by confidence: " + "  ".join(
                    f"{level or 'none'} {right / n:.3f} ({right}/{n})"
                    for level, (n, right) in sorted(self.by_confidence.items())))


def scored(tally: Tally, gold: Sequence[GoldQuote], predicted: Sequence[tuple[int, int, str]],
           errors: list[dict] | None = None, confidences: Sequence[str] = ()) -> None:
    """Add one file's gold and predicted quotes ``(start, end, speaker)`` to ``tally``; ``confidences``
    (one per predicted quote, as ``Quote.confidence``) break speaker accuracy down by level."""
    tally.gold += len(gold)
    tally.predicted += len(predicted)
    tally.pronoun_speakers += sum(1 for *_, spk in predicted if spk.strip().lower() in PRONOUNS)
    used: set[int] = set()
    for g in gold:
        best, best_n = None, 0
        for k, (ps, pe, _) in enumerate(predicted):
            if k in used:
                continue
            n = sum(1 for a, b in g.tokens if ps <= a and b <= pe)
            if 2 * n >= len(g.tokens) and n > best_n:
                best, best_n = k, n
        if best is None:
            if errors is not None:
                errors.append({"kind": "missed", "gold": [g.start, g.end], "source": g.source})
            continue
        used.add(best)
        tally.matched += 1
        names = name_tokens(g.source)
        if names:
            tally.speaker_scored += 1
            spk = predicted[best][2]
            ok = spk.strip().lower() not in PRONOUNS and bool(names & {t.lower() for t in _TOKEN.findall(spk)})
            tally.speaker_right += ok
            if confidences:
                level = tally.by_confidence.setdefault(confidences[best], [0, 0])
                level[0] += 1
                level[1] += ok
            if not ok and errors is not None:
                errors.append({"kind": "speaker", "gold": [g.start, g.end], "source": g.source, "predicted": spk,
                               "confidence": confidences[best] if confidences else None})
    if errors is not None:
        for k, (ps, pe, spk) in enumerate(predicted):
            if k not in used:
                errors.append({"kind": "spurious", "predicted": [ps, pe], "speaker": spk})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="score only the first N annotation files")
    parser.add_argument("--model", default="en_core_web_sm")
    parser.add_argument("--split", choices=["train", "dev", "all"], default="all")
    parser.add_argument("--half", choices=SPLITS, default="all", help="half of the articles (eval/splits.py)")
    parser.add_argument("--errors", help="write every miss, spurious quote and wrong speaker to this JSONL file")
    parser.add_argument("--no-apostrophe-marks", action="store_true",
                        help="do not count strings between two-apostrophe marks ('') as gold quotes")
    args = parser.parse_args(argv)
    if not DATA.exists():
        print(f"skipped: {DATA} is absent")
        return 0
    from transform.nlp.analysis import analyses_of_articles, load_pipeline

    rows = [json.loads(line) for line in DATA.open(encoding="utf-8")]
    if args.split != "all":
        rows = [r for r in rows if r["split"] == args.split]
    rows = [r for r in rows if in_split(r["article"], args.half)]
    if args.limit:
        rows = rows[: args.limit]
    texts = sorted({r["text"] for r in rows})  # several annotators may share one article
    nlp = load_pipeline(args.model)
    started = time.perf_counter()
    analyses = dict(zip(texts, analyses_of_articles(nlp, [(None, t) for t in texts]), strict=True))
    elapsed = time.perf_counter() - started
    tally = Tally()
    errors: list[dict] | None = [] if args.errors else None
    for row in rows:
        predicted = [(q.start_char, q.end_char, q.speaker) for q in analyses[row["text"]].quotes]
        before = len(errors) if errors is not None else 0
        scored(tally, gold_quotes(row, not args.no_apostrophe_marks), predicted, errors,
               [q.confidence for q in analyses[row["text"]].quotes])
        if errors is not None:
            for e in errors[before:]:
                e["article"] = row["article"]
    print(f"{len(rows)} annotation files, {len(texts)} distinct articles, analysed in {elapsed:.1f} s")
    print(tally.report())
    if args.errors and errors is not None:
        with open(args.errors, "w", encoding="utf-8") as fh:
            for e in errors:
                fh.write(json.dumps(e) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
