"""Story grouping on a syndication set built at run time from real article bodies.

Why: the warehouse must fold a wire story's copies into one story and never merge two stories. The
copies here are what newsrooms make of a story (another site's template, a new headline, a dropped or
added paragraph, a credit line, a trimmed version, an "UPDATED" version) built with a seeded RNG from
the ``articleBody`` texts of the evaluation set's extraction/aeb_dev/ground-truth.json; every other
article is a negative. The copies are never written anywhere. The real ``StoryIndex`` runs against an
in-memory DuckDB built by ``migrate``, in batches with reloads in between (as cycles do).

Usage:
    python eval/eval_stories.py                # pairwise precision/recall, merged stories, methods
    python eval/eval_stories.py --analyse      # score distributions, threshold sweep, k, LSH, SimHash
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402

from newswatch.models import Article  # noqa: E402
from transform.stories import (  # noqa: E402
    CONTAINMENT_MIN_SIZE_RATIO,
    NUM_PERM,
    LshIndex,
    _mix64,
    content_hash,
    near_duplicate_score,
    shingle_hashes,
    shingle_similarity,
    text_fingerprint,
    text_tokens,
)
from transform.urls import article_id_for, normalized_url  # noqa: E402
from warehouse.migrations import migrate  # noqa: E402
from warehouse.stories import StoryIndex  # noqa: E402

GROUND_TRUTH = ROOT.parent / "shared" / "eval" / "extraction" / "aeb_dev" / "ground-truth.json"

# Hand-written newsroom material (ours, not the eval's): site wrappers, credit lines, added paragraphs.
_HEADERS = ["Advertisement", "Share this article: Facebook Twitter Email", "Wire report | Updated {time}",
            "Listen to this article", "{agency} | {city}"]
_FOOTERS = [
    "Copyright {year} {agency}. All rights reserved. This material may not be published, broadcast, "
    "rewritten or redistributed without permission.",
    "Sign up for our morning newsletter to get the day's top headlines delivered to your inbox.",
    "Have a news tip? Contact our newsroom by email or phone, day or night.",
    "Related coverage: more stories from our {city} bureau and the wire.",
]
_NAMES = ["Maria Lopez", "John Carter", "Aiko Tanaka", "Samuel Okafor", "Ingrid Berg", "Rahul Mehta"]
_CITIES = ["Chicago", "London", "Seoul", "Nairobi", "Denver", "Lisbon"]
_AGENCIES = ["Wire Services", "Metro News Service", "Global Press Agency"]
_ADDED = [
    "{name}, a spokesperson for the organisation, did not immediately respond to a request for comment on {day}.",
    "Local officials said they were monitoring the situation and would share further details later this week.",
    "{name} contributed reporting from {city}.",
    "Readers in the {city} area can find more coverage of this topic in our regional section.",
    "The newspaper reached out to several people named in this report, and will update it if they respond.",
    "Earlier on {day}, a smaller group had gathered outside the offices in {city} to discuss the plans.",
]
_CREDITS = ["(Reporting by {name} in {city}; Editing by {name2})", "{name} contributed to this report.",
            "This article was written with contributions from {name} and {name2}."]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def _fill(rng: random.Random, template: str) -> str:
    return template.format(name=rng.choice(_NAMES), name2=rng.choice(_NAMES), city=rng.choice(_CITIES),
                           agency=rng.choice(_AGENCIES), day=rng.choice(_DAYS), year=2024,
                           time=f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d} p.m.")


def _paragraphs(body: str) -> list[str]:
    paras = [p.strip() for p in re.split(r"\n+", body) if p.strip()]
    if len(paras) >= 3:
        return paras
    sentences = re.split(r"(?<=[.!?])\s+", body.strip())
    paras = [" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2)]
    if len(paras) >= 3:
        return paras
    words = body.split()
    step = -(-len(words) // 3)
    return [" ".join(words[i : i + step]) for i in range(0, len(words), step)]


def _copyedit(rng: random.Random, paras: list[str], edits: int) -> list[str]:
    """Small copy-desk edits: straight quotes, a few dropped or changed words."""
    out = [p.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"') for p in paras]
    for _ in range(edits):
        i = rng.randrange(len(out))
        words = out[i].split()
        if len(words) > 8:
            j = rng.randrange(len(words))
            words[j : j + 1] = [] if rng.random() < 0.5 else [rng.choice(["also", "reportedly", "now", "said"])]
            out[i] = " ".join(words)
    return out


def _title(url: str, paras: list[str]) -> str:
    slug = [w for w in re.split(r"[-_]", url.rstrip("/").rsplit("/", 1)[-1].split(".")[0]) if w.isalpha()]
    return " ".join(slug).capitalize() if len(slug) >= 4 else " ".join(paras[0].split()[:10])


def copies_of(rng: random.Random, url: str, body: str, other: str) -> list[tuple[str, str, str, str]]:
    """The original and its newsroom copies as (kind, url, title, text).

    ``other`` is another story's body: the "background" copy borrows up to two of its paragraphs, at
    most a quarter of the copy (a follow-up reusing background), which must not glue the two stories.
    """
    paras = _paragraphs(body)
    title = _title(url, paras)
    slug = re.sub(r"\W+", "-", title.lower()).strip("-")[:60]
    host = lambda i: f"https://www.partner{i}-news.example/{rng.choice(['news', 'world', 'wire'])}/{slug}"  # noqa: E731
    new_title = " ".join(paras[0].split()[:9]).rstrip(",.;:") + "..."
    out = [("original", url, title, "\n\n".join(paras))]
    wrapped = [_fill(rng, rng.choice(_HEADERS))] + _copyedit(rng, paras, 1) + [_fill(rng, f) for f in rng.sample(_FOOTERS, 2)]
    out.append(("template", host(1), title, "\n\n".join(wrapped)))
    out.append(("headline", host(2), new_title, "\n\n".join(_copyedit(rng, paras, 0))))
    dropped = list(paras)
    del dropped[rng.randrange(1, len(dropped))]
    out.append(("dropped", host(3), title, "\n\n".join(_copyedit(rng, dropped, 1))))
    added = list(paras)
    added.insert(rng.randrange(1, len(added) + 1), " ".join(_fill(rng, s) for s in rng.sample(_ADDED, 2)))
    out.append(("added", host(4), new_title, "\n\n".join(added)))
    credited = _copyedit(rng, paras, 2)
    credited[0] = f"{rng.choice(_CITIES).upper()} ({rng.choice(_AGENCIES)}) \u2014 {credited[0]}"
    out.append(("credit", host(5), title, "\n\n".join(credited + [_fill(rng, rng.choice(_CREDITS))])))
    keep = max(2, round(len(paras) * rng.uniform(0.55, 0.75)))
    out.append(("trimmed", host(6), title, "\n\n".join(_copyedit(rng, paras[:keep], 1))))
    updated = _copyedit(rng, paras, 2)
    updated.insert(1, " ".join(_fill(rng, s) for s in rng.sample(_ADDED, 2)))
    stamp = _fill(rng, "UPDATED {time}: This story has been updated with new information.")
    marker = rng.choice(["-updated", "-update-2"])
    path, dot, ext = url.partition("?")[0].rpartition(".") if re.search(r"\.\w{2,5}$", url) else (url, "", "")
    upd_url = f"{path}{marker}{dot}{ext}" if dot else f"{url.rstrip('/')}{marker}"
    out.append(("updated", upd_url, f"UPDATED: {title}", "\n\n".join([stamp, *updated])))
    combo = _copyedit(rng, paras[: max(2, len(paras) - 1)], 2)
    combo = [_fill(rng, rng.choice(_HEADERS)), *combo, _fill(rng, rng.choice(_CREDITS)), _fill(rng, rng.choice(_FOOTERS))]
    out.append(("combo", host(7), new_title, "\n\n".join(combo)))
    budget = len(body.split()) // 4  # background is a minor part of a follow-up: at most a quarter
    borrowed = [p for p in rng.sample(_paragraphs(other), min(3, len(_paragraphs(other)))) if len(p.split()) <= budget][:2]
    borrowed = borrowed or [" ".join(_paragraphs(other)[0].split()[: max(budget, 8)])]
    background = list(paras)
    background[rng.randrange(1, len(background) + 1) : 0] = borrowed
    out.append(("background", host(8), title, "\n\n".join(background)))
    return out


def syndication_set(seed: int = 20241127) -> list[tuple[int, str, Article]]:
    """(cluster, kind, article) for every original and copy, with realistic times over six days."""
    truth = json.loads(GROUND_TRUTH.read_text(encoding="utf-8"))
    rng = random.Random(seed)
    start = datetime(2024, 11, 1, 6, tzinfo=UTC)
    out: list[tuple[int, str, Article]] = []
    keys = sorted(truth)
    for cluster, key in enumerate(keys):
        t0 = start + timedelta(minutes=rng.uniform(0, 6 * 24 * 60))
        other = truth[keys[(cluster + rng.randrange(1, len(keys))) % len(keys)]]["articleBody"]
        for kind, url, title, text in copies_of(rng, truth[key]["url"], truth[key]["articleBody"], other):
            delay = timedelta(0) if kind == "original" else timedelta(minutes=rng.uniform(5, 10 * 60))
            published = t0 + delay
            canonical = normalized_url(url)
            out.append((cluster, kind, Article(
                article_id=article_id_for(canonical), url=url, canonical_url=canonical, feed_id=f"feed-{kind}",
                title=title, author=None, published_at=published, published_at_source="feed",
                fetched_at=published + timedelta(minutes=rng.uniform(1, 20)), language="en", text=text,
                word_count=len(text.split()), content_hash=content_hash(text))))
    return out


def dated_back(items: list[tuple[int, str, Article]], months: int) -> list[tuple[int, str, Article]]:
    """The same set with every feed date ``months`` (of 30 days) earlier and the fetch times unchanged:
    a back catalogue, a backfill, or feeds whose dates are wrong, read today."""
    shift = timedelta(days=30 * months)
    return [(c, k, dataclasses.replace(a, published_at=a.published_at - shift)) for c, k, a in items]


def assigned_stories(items: list[tuple[int, str, Article]], batch: int = 20, reload_every: int = 5):
    """Run the real StoryIndex over the set in fetch order, reloading it from DuckDB every few batches."""
    con = duckdb.connect(":memory:")
    migrate(con)
    arts = sorted((a for _, _, a in items), key=lambda a: a.fetched_at)
    result = {}
    index = None
    for n, i in enumerate(range(0, len(arts), batch)):
        chunk = arts[i : i + batch]
        if index is None or n % reload_every == 0:
            index = StoryIndex.load(con, now=max(a.fetched_at for a in chunk))
        con.execute("BEGIN")
        for s in index.assign(con, chunk):
            result[s.article_id] = s
        con.execute("COMMIT")
    again = StoryIndex.load(con, now=arts[-1].fetched_at).assign(con, arts[:50])  # idempotent rerun
    assert all(result[s.article_id] == s for s in again), "a rerun changed an assignment"
    count = con.execute("SELECT sum(article_count) FROM stories").fetchone()
    assert count is not None and count[0] == len(arts), "stories.article_count does not add up"
    return result


def pairwise(items: list[tuple[int, str, Article]], story_of: dict[str, str]) -> dict[str, float]:
    """Pairwise precision/recall of predicted stories against the true clusters, and merged stories."""
    true_pairs, pred_pairs = set(), set()
    by_cluster, by_story = defaultdict(list), defaultdict(list)
    for cluster, _, a in items:
        by_cluster[cluster].append(a.article_id)
        by_story[story_of[a.article_id]].append(a.article_id)
    for ids in by_cluster.values():
        true_pairs.update(frozenset(p) for p in combinations(ids, 2))
    for ids in by_story.values():
        pred_pairs.update(frozenset(p) for p in combinations(ids, 2))
    cluster_of = {a.article_id: c for c, _, a in items}
    merged = sum(1 for ids in by_story.values() if len({cluster_of[i] for i in ids}) > 1)
    hit = len(true_pairs & pred_pairs)
    return {"articles": len(items), "true_pairs": len(true_pairs), "predicted_pairs": len(pred_pairs),
            "precision": hit / len(pred_pairs) if pred_pairs else 1.0, "recall": hit / len(true_pairs),
            "stories": len(by_story), "true_stories": len(by_cluster), "merged_distinct": merged}


def _pr(decisions: list[tuple[bool, bool]]) -> str:
    tp = sum(1 for same, d in decisions if same and d)
    fp = sum(1 for same, d in decisions if d and not same)
    fn = sum(1 for same, d in decisions if same and not d)
    return f"P={tp / (tp + fp) if tp + fp else 1:.4f} R={tp / (tp + fn) if tp + fn else 1:.4f}"


def _simhash(shingles: np.ndarray) -> int:
    """64-bit SimHash of a shingle set (each shingle one unit weight)."""
    h = _mix64(shingles.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    bits = ((h[:, None] >> np.arange(64, dtype=np.uint64)[None, :]) & np.uint64(1)).astype(np.int64)
    return sum(1 << i for i, v in enumerate((2 * bits - 1).sum(axis=0).tolist()) if v > 0)


def analyse(items: list[tuple[int, str, Article]], clusters: int = 45) -> None:
    """The measurements behind the choices in transform/stories.py (pair-level parts on ``clusters`` stories)."""
    print("shingle size k: all originals as negatives, max J and max guarded C; copies vs their original, 5th pct")
    for k in (3, 4, 5, 6, 8):
        sh = {a.article_id: shingle_hashes(text_tokens(a.text), k) for _, _, a in items}
        origs = {c: a for c, kind, a in items if kind == "original"}
        neg = [shingle_similarity(sh[a.article_id], sh[b.article_id]) for a, b in combinations(origs.values(), 2)]
        guarded = [s.containment for s in neg if s.smaller >= 25 and s.smaller >= CONTAINMENT_MIN_SIZE_RATIO * s.larger]
        pos = [shingle_similarity(sh[origs[c].article_id], sh[a.article_id]) for c, kind, a in items
               if kind not in ("original", "background")]
        print(f"  k={k}: negatives J {max(s.jaccard for s in neg):.3f} C {max(guarded):.3f} | "
              f"copies J {np.percentile([s.jaccard for s in pos], 5):.3f} C {np.percentile([s.containment for s in pos], 5):.3f}")
    items = [t for t in items if t[0] < clusters]
    same = lambda i, j: items[i][0] == items[j][0]  # noqa: E731
    pairs = list(combinations(range(len(items)), 2))
    print(f"{len(items)} texts of {clusters} stories, {sum(same(i, j) for i, j in pairs)} true pairs of {len(pairs)}")
    fps = [text_fingerprint(a.text) for _, _, a in items]
    pairs = [(i, j) for i, j in pairs if fps[i].signature is not None and fps[j].signature is not None]
    sims = {p: shingle_similarity(fps[p[0]].shingles, fps[p[1]].shingles) for p in pairs}
    verified = {p for p, s in sims.items() if same(*p) and near_duplicate_score(s) is not None}
    negatives = [p for p in pairs if not same(*p)]
    print("LSH banding: recall of verified true pairs, false candidates per negative pair")
    for bands, rows in ((42, 3), (32, 4), (64, 2), (25, 5)):
        lsh = LshIndex(bands, rows)
        keys = [set(lsh.band_keys(f.signature).tolist()) for f in fps]
        found = sum(bool(keys[i] & keys[j]) for i, j in verified) / len(verified)
        false = sum(bool(keys[i] & keys[j]) for i, j in negatives) / len(negatives)
        print(f"  {bands}x{rows}: recall {found:.4f}, false candidates {false:.1e}")
    print("pair decisions (true = same story):")
    print(f"  exact shingles, near_duplicate_score: {_pr([(same(*p), near_duplicate_score(s) is not None) for p, s in sims.items()])}")
    est = {p: float(np.mean(fps[p[0]].signature == fps[p[1]].signature)) for p in pairs}
    for t in (0.3, 0.5):
        print(f"  MinHash estimate alone, J >= {t}: {_pr([(same(*p), e >= t) for p, e in est.items()])}")
    err = [est[p] - s.jaccard for p, s in sims.items() if s.jaccard >= 0.2]
    print(f"  MinHash-{NUM_PERM} estimate error where J >= 0.2: sd {np.std(err):.3f}, max {np.max(np.abs(err)):.3f}")
    simh = [_simhash(f.shingles) for f in fps]
    for d in (6, 10, 13, 16, 20):
        print(f"  SimHash-64 Hamming <= {d}: {_pr([(same(*p), bin(simh[p[0]] ^ simh[p[1]]).count('1') <= d) for p in pairs])}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--analyse", action="store_true", help="score distributions, sweeps, LSH and SimHash")
    ap.add_argument("--seed", type=int, default=20241127)
    ap.add_argument("--months-back", type=int, default=0, metavar="N",
                    help="date every article N months before it is fetched (stories for old news)")
    args = ap.parse_args(argv)
    if not GROUND_TRUTH.exists():
        print(f"no eval data at {GROUND_TRUTH}")
        return 0
    items = syndication_set(args.seed)
    if args.months_back:
        items = dated_back(items, args.months_back)
    if args.analyse:
        analyse(items)
        return 0
    assigned = assigned_stories(items)
    scores = pairwise(items, {k: v.story_id for k, v in assigned.items()})
    print(json.dumps(scores, indent=1))
    kind_of = {a.article_id: k for _, k, a in items}
    methods = Counter((kind_of[k], v.method) for k, v in assigned.items())
    print("kind -> method:", dict(sorted(methods.items())))
    missed = Counter(kind_of[k] for k, v in assigned.items() if v.method == "first" and kind_of[k] != "original")
    print("copies that started their own story, by kind:", dict(missed))
    ok = scores["precision"] >= 0.98 and scores["recall"] >= 0.95 and scores["merged_distinct"] == 0
    print("PASS" if ok else "FAIL", "(precision >= 0.98, recall >= 0.95, no distinct stories merged)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
