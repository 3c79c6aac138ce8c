"""Story fingerprints and the matching cascade: the pure half of grouping copies of one story (warehouse/stories.py
loads the window and persists the decisions).

Why: one wire story reaches us from dozens of sites with a new headline, a site's boilerplate, a dropped
or added paragraph, a credit line, an "UPDATED" version. Each article gets a fingerprint:

- ``content_hash``: sha1 of the text with case, punctuation and whitespace removed (exact copies);
- word 5-shingles hashed to uint32, kept as a sorted array (exact Jaccard/containment for verification);
- a MinHash signature of those shingles, banded into an LSH index (candidate lookup in O(1) per article);
- URL identities with update markers removed, and a same-site headline key (updated versions).

An LSH candidate is only a candidate: the decision (``near_duplicate_score``) is made on the exact
shingle sets, which is what keeps two different stories on one topic apart.

Measured with eval/eval_stories.py on a syndication set built from the 91 real article bodies of aeb_dev
(each with 9 newsroom copies: template, headline, dropped/added paragraph, credit line, trimmed,
UPDATED, a combination, and a copy carrying two background paragraphs of another story):

- MinHash-LSH vs SimHash (``--analyse``, 450 texts, 101,025 pairs, decisions pair by pair). SimHash-64
  over the same shingles reaches P 1.000 R 0.80 at Hamming <= 13, P 0.997 R 0.91 at <= 16, P 0.899
  R 0.98 at <= 20: a trimmed copy moves too many bits, and a radius of 16 would need 17 block tables of
  ~4 bits, so each lookup reads 1/16 of the index (linear). MinHash + exact verification: P 1.000
  R 0.966 (pairs of two copies that only connect through the original count as misses here).
  Chosen: MinHash-LSH.
- Verification on exact shingles, not on the MinHash estimate: the estimate's error where J >= 0.2 has
  sd 0.035 and reaches 0.159, enough to flip a decision near a threshold.
- Banding (NUM_PERM 128): 42x3 finds 99.9% of the verified pairs with 1.0e-5 false candidates per
  pair; 32x4 finds 97.4%, 25x5 92.6%; 64x2 finds 100% with 1.1e-3 false candidates (110x the work).
- Shingle size: originals as negatives reach max J 0.166/0.137/0.113 and max containment 0.309/0.267/
  0.227 for k = 3/5/8 (the closest: two press releases sharing an "About us" paragraph); the 5th
  percentile of copies vs their original is J 0.595/0.566/0.545, containment 0.938/0.919/0.873. The
  margins are alike; 5 is the middle and the usual choice.
- Thresholds (clustering all pairs by the rule, 3 seeds x 910 texts): no distinct stories merge for
  Jaccard >= 0.3 with containment >= 0.8 and size ratio >= 0.2; containment 0.7 merges 1-2, dropping
  the size-ratio guard merges 3-5 (a short text inside a long one). Jaccard 0.5 rather than 0.3 keeps a
  margin for follow-up stories that reuse background paragraphs, for 0.35 points of recall.
- End to end (``python eval/eval_stories.py``, 910 texts, 4,095 true pairs, batches of 20 with reloads
  from DuckDB): precision 1.000, recall 0.985, no distinct stories merged (seeds 1-3: recall 0.991,
  0.993, 0.993). The misses are copies of a 42-word paywall teaser and of a page of console commands.
- Speed (bench/stories.py: 100,000 synthetic ~600-word articles, 13% copies, through ``assign`` in
  batches of 500 into a DuckDB file, on the shared 2-core box): CPU per new article 0.69 ms with ~1k
  articles indexed, 0.89 ms at ~10k, 0.66 ms at ~100k (ratio 0.95: flat); ~0.4 ms of it is the
  fingerprint itself. Rebuilding a 100k-article window from DuckDB takes 1.4-1.8 s CPU; the index holds
  3.9 KiB per article (2.3 KiB of it the shingles).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np

from transform.urls import normalized_url

# Words per shingle: 5 (module docstring: k=3..8 give alike margins; shorter shingles are shared more by
# different stories on one topic, longer ones are broken more by copy edits).
SHINGLE_WORDS = 5
# MinHash permutations and the LSH banding (BANDS x ROWS <= NUM_PERM). P(candidate | Jaccard j) is
# 1 - (1 - j**ROWS)**BANDS: 42 x 3 gives 0.68 at j=0.3 (the lowest Jaccard the containment rule can
# accept), 0.94 at 0.4, 0.996 at 0.5 and 0.005 at 0.05 (same-topic pairs). Measured: 99.9% of verified
# pairs found, 1.0e-5 false candidates per pair (module docstring).
NUM_PERM = 128
LSH_BANDS = 42
LSH_ROWS = 3
# Verification. One story when the shingle Jaccard reaches NEAR_JACCARD, or when the smaller text is
# inside the larger (containment >= NEAR_CONTAINMENT) and is at least CONTAINMENT_MIN_SIZE_RATIO of it.
# Measured (module docstring): copies vs original, 5th percentile J 0.566 / containment 0.919; different
# stories at most J 0.137 / containment 0.267. Containment 0.7 or no size guard merged distinct stories
# in the sweep; Jaccard 0.5 leaves room for follow-ups that reuse background paragraphs.
NEAR_JACCARD = 0.5
NEAR_CONTAINMENT = 0.8
CONTAINMENT_MIN_SIZE_RATIO = 0.4
# Texts under 12 words are too generic to identify a story ("Subscribe to continue reading", teasers):
# they never match, they only start their own story. The containment rule needs 25 shingles (~29 words)
# on the smaller side: below that, a few common phrases make a short text "contained" anywhere.
MIN_MATCH_WORDS = 12
MIN_CONTAINMENT_SHINGLES = 25
# A same-site page with the same headline (after removing "UPDATED:" and the like) is an updated version
# when it keeps half of the smaller text: a weaker bar than a near-duplicate, as site + headline are
# strong evidence, but above the 0.27 measured between two different press releases of one site that
# share an "About us" paragraph (a recurring column title with a shared footer must not merge).
HEADLINE_UPDATE_MIN_CONTAINMENT = 0.5
MIN_HEADLINE_WORDS = 5

_NONWORD = re.compile(r"[\W_]+")


def normalized_text(text: str) -> str:
    """The text as hashed: NFKC, case-folded, every run of punctuation/whitespace turned into one space."""
    return _NONWORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def content_hash(text: str) -> str:
    """sha1 hex of ``normalized_text(text)``: equal for copies that differ only in case, punctuation or spacing."""
    return hashlib.sha1(normalized_text(text).encode("utf-8")).hexdigest()


def text_tokens(text: str) -> list[str]:
    """The words of ``text`` as shingled (the tokens of ``normalized_text``)."""
    return normalized_text(text).split()


@lru_cache(maxsize=1 << 17)
def _token_hash(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the output (vectorised, wraps mod 2**64)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def shingle_hashes(tokens: list[str], k: int = SHINGLE_WORDS) -> np.ndarray:
    """Sorted unique uint32 hashes of the ``k``-word windows of ``tokens``.

    A text shorter than ``k`` words is one shingle; an empty text has none. The hash is deterministic
    (blake2b per word, a polynomial over the window, splitmix64), since the shingles are stored.
    """
    if not tokens:
        return np.empty(0, dtype=np.uint32)
    words = np.fromiter((_token_hash(t) for t in tokens), dtype=np.uint64, count=len(tokens))
    m = max(len(tokens) - k + 1, 1)
    h = words[:m].copy()
    for j in range(1, min(k, len(tokens))):
        h = h * np.uint64(0x100000001B3) + words[j : j + m]
    return np.unique((_mix64(h) >> np.uint64(32)).astype(np.uint32))


def _perm_params() -> tuple[np.ndarray, np.ndarray]:
    """The NUM_PERM (a, b) pairs of the multiply-shift hashes, derived from fixed labels so they never change."""
    raw = [hashlib.blake2b(f"newswatch-minhash-{i}".encode(), digest_size=16).digest() for i in range(NUM_PERM)]
    a = np.array([int.from_bytes(r[:8], "little") | 1 for r in raw], dtype=np.uint64)
    b = np.array([int.from_bytes(r[8:], "little") for r in raw], dtype=np.uint64)
    return a, b


_PERM_A, _PERM_B = _perm_params()


def minhash_signature(shingles: np.ndarray) -> np.ndarray | None:
    """The NUM_PERM-value MinHash (uint32) of a shingle set, or None for an empty set.

    Each permutation is ``(a*x + b) mod 2**64 >> 32``; the fraction of equal positions of two signatures
    estimates the Jaccard similarity of the two sets.
    """
    if shingles.size == 0:
        return None
    x = shingles.astype(np.uint64)[:, None]
    return ((x * _PERM_A[None, :] + _PERM_B[None, :]) >> np.uint64(32)).min(axis=0).astype(np.uint32)


@dataclass(frozen=True, slots=True, eq=False)
class TextFingerprint:
    """Everything story matching needs from an article's text."""

    content_hash: str
    word_count: int
    shingles: np.ndarray  # sorted unique uint32
    signature: np.ndarray | None  # uint32[NUM_PERM]; None when the text is too short to near-match


def text_fingerprint(text: str) -> TextFingerprint:
    """The fingerprint of ``text``. Texts under MIN_MATCH_WORDS words get no signature (exact matching only)."""
    tokens = text_tokens(text)
    shingles = shingle_hashes(tokens)
    signature = minhash_signature(shingles) if len(tokens) >= MIN_MATCH_WORDS else None
    digest = hashlib.sha1(" ".join(tokens).encode("utf-8")).hexdigest()
    return TextFingerprint(digest, len(tokens), shingles, signature)


@dataclass(frozen=True, slots=True)
class Similarity:
    """Exact overlap of two shingle sets: Jaccard, and containment of the smaller in the larger."""

    jaccard: float
    containment: float
    smaller: int
    larger: int


def shingle_similarity(a: np.ndarray, b: np.ndarray) -> Similarity:
    """Jaccard and containment of two sorted unique shingle arrays."""
    if a.size == 0 or b.size == 0:
        return Similarity(0.0, 0.0, min(a.size, b.size), max(a.size, b.size))
    inter = int(np.intersect1d(a, b, assume_unique=True).size)
    small, large = sorted((int(a.size), int(b.size)))
    return Similarity(inter / (small + large - inter), inter / small, small, large)


def near_duplicate_score(
    sim: Similarity, *, jaccard_threshold: float = NEAR_JACCARD, containment_threshold: float = NEAR_CONTAINMENT
) -> float | None:
    """The similarity that makes two texts one story, or None when they are different stories.

    Jaccard reaching ``jaccard_threshold`` is enough. A trimmed copy (paragraphs dropped) or a padded one
    (a site's boilerplate, an added paragraph) has a lower Jaccard but most of the smaller text inside
    the larger: that counts when the containment reaches ``containment_threshold``, the smaller text is
    not tiny (MIN_CONTAINMENT_SHINGLES) and it is at least CONTAINMENT_MIN_SIZE_RATIO of the larger, so a
    short brief quoted inside a long round-up does not swallow it.

    Returns:
        The containment when the containment rule holds (it is never below the Jaccard), else the
        Jaccard when it reaches its threshold, else None.
    """
    if (
        sim.containment >= containment_threshold
        and sim.smaller >= MIN_CONTAINMENT_SHINGLES
        and sim.smaller >= CONTAINMENT_MIN_SIZE_RATIO * sim.larger
    ):
        return sim.containment
    if sim.jaccard >= jaccard_threshold:
        return sim.jaccard
    return None


# Update markers: a slug suffix (-updated, -update-2, -v2, -amp), a last path segment (/amp, /update) or
# query parameters that version a page without changing which article it is.
_SLUG_MARKER = re.compile(r"[-_](?:updated?|updates|v\d{1,2}|amp|rev\d{0,2})(?:[-_]\d{1,3})?(?=\.\w{2,5}$|$)", re.I)
_SEGMENT_MARKERS = frozenset({"amp", "update", "updated", "updates", "latest"})
_VERSION_PARAMS = frozenset({"update", "updated", "version", "rev", "revision", "amp", "outputtype", "output"})


def url_version_key(url: str) -> str | None:
    """The identity of the article at ``url`` across its updated versions, or None when too generic.

    ``normalized_url`` without update markers: ``/2024/05/kim-summit-updated.html``, ``.../kim-summit/amp``
    and ``.../kim-summit?update=2`` all give ``host/2024/05/kim-summit.html``. A key with a trivial path
    (the home page, a section front) is None: many different articles link there.
    """
    parts = urlsplit(normalized_url(url))
    segments = [s for s in parts.path.split("/") if s]
    while segments and segments[-1].lower() in _SEGMENT_MARKERS:
        segments.pop()
    if segments:
        segments[-1] = _SLUG_MARKER.sub("", segments[-1])
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in _VERSION_PARAMS]
    path = "/".join(segments)
    if not query and (len(segments) < 2 and len(path) < 16) and not re.search(r"\d{4,}", path):
        return None
    return f"{parts.hostname or ''}/{path}?{urlencode(query)}"


_HEADLINE_MARKER = re.compile(
    r"^\s*(?:\(?(?:updated?|update\s*+\d*+|corrected|refile|breaking|live|exclusive)\)?\s*+(?:\d++\s*+)?[-:|]\s*)+"
    # (?<!\s): start only at the first space of a run, or a run of spaces is rescanned from each one.
    r"|(?<!\s)\s*[-(\[|]\s*(?:updated?|corrected)\b.*$",
    re.I,
)


def headline_key(url: str, title: str | None) -> str | None:
    """``host|headline`` with update markers ("UPDATE 2-", "UPDATED:", "(updated)") removed, or None.

    None when the headline has fewer than MIN_HEADLINE_WORDS words: short headlines ("Live updates",
    "Morning briefing") recur on a site for different stories.
    """
    if not title:
        return None
    words = text_tokens(_HEADLINE_MARKER.sub("", title))
    if len(words) < MIN_HEADLINE_WORDS:
        return None
    return f"{urlsplit(normalized_url(url)).hostname or ''}|{' '.join(words)}"


@dataclass(frozen=True, slots=True, eq=False)
class StoryCandidate:
    """An article as story matching sees it: one earlier copy a new article may join, or the new article."""

    article_id: str
    story_id: str
    time: float  # epoch seconds of the article time
    content_hash: str
    word_count: int
    url_keys: tuple[str, ...]  # ``url_version_key`` of its canonical and fetched URLs, sorted
    headline_key: str | None
    shingles: np.ndarray  # sorted unique uint32
    indexed: bool  # long enough to have a MinHash signature (so it is in the LSH)


@dataclass(frozen=True, slots=True, eq=False)
class StoryMatch:
    """The earlier copy a new article joins, by which rule, and how similar the two are."""

    candidate: StoryCandidate
    method: str  # exact | near | url_update
    similarity: float


class StoryLookup(Protocol):
    """Where the matcher finds earlier copies by key (the warehouse's index of the window)."""

    def with_content_hash(self, content_hash: str) -> StoryCandidate | None: ...

    def with_url_key(self, key: str) -> StoryCandidate | None: ...

    def with_headline_key(self, key: str) -> StoryCandidate | None: ...


def story_match(
    new: StoryCandidate,
    lookup: StoryLookup,
    near: Callable[[], Iterable[StoryCandidate]],
    *,
    jaccard_threshold: float = NEAR_JACCARD,
    containment_threshold: float = NEAR_CONTAINMENT,
) -> StoryMatch | None:
    """The earlier copy ``new`` belongs with, or None when it starts its own story.

    The cascade, cheapest and surest first: the same content hash (``exact``); the same URL identity
    across updates (``url_update``); the best LSH candidate that ``near_duplicate_score`` accepts on exact
    shingles (``near``; ties go to the oldest); the same site and headline when it keeps
    ``HEADLINE_UPDATE_MIN_CONTAINMENT`` of the smaller text (``url_update``). Texts under
    ``MIN_MATCH_WORDS`` words never match.

    Args:
        new: the article to place.
        lookup: earlier copies by content hash, URL key and headline key.
        near: the LSH candidates sharing a band with ``new``; called only when the keyed rules found nothing.
        jaccard_threshold: see ``near_duplicate_score``.
        containment_threshold: see ``near_duplicate_score``.
    """
    if new.word_count < MIN_MATCH_WORDS:
        return None
    same = lookup.with_content_hash(new.content_hash)
    if same is not None:
        return StoryMatch(same, "exact", 1.0)
    for key in new.url_keys:
        old = lookup.with_url_key(key)
        if old is not None:
            sim = shingle_similarity(new.shingles, old.shingles)
            return StoryMatch(old, "url_update", round(max(sim.jaccard, sim.containment), 4))
    best: tuple[float, float, StoryCandidate] | None = None
    for old in near():
        score = near_duplicate_score(shingle_similarity(new.shingles, old.shingles),
                                     jaccard_threshold=jaccard_threshold, containment_threshold=containment_threshold)
        if score is not None and (best is None or (score, -old.time) > best[:2]):
            best = (score, -old.time, old)
    if best is not None:
        return StoryMatch(best[2], "near", round(best[0], 4))
    old = lookup.with_headline_key(new.headline_key) if new.headline_key else None
    if old is not None:
        sim = shingle_similarity(new.shingles, old.shingles)
        if old.word_count >= MIN_MATCH_WORDS and sim.containment >= HEADLINE_UPDATE_MIN_CONTAINMENT:
            return StoryMatch(old, "url_update", round(sim.containment, 4))
    return None


class LshIndex:
    """Banded MinHash LSH over integer item ids; ``candidates`` costs O(bands), whatever the index size.

    Each band of LSH_ROWS signature values is hashed to one 64-bit key (band number mixed in). Keys live
    in two sorted numpy arrays (key, item), 16 bytes per band and item, instead of a dict of buckets
    (~75 bytes per entry in CPython: measured 7.1 vs 3.8 KiB per indexed article in total), with a
    directory on the keys' top bits (~4 keys per slot) so a lookup is two array reads, not a binary
    search (15 us vs 34 us for 42 bands at 4.2M keys). Items added since the last compaction wait in a
    small dict; removed items are tombstones. Both are folded into the arrays when they exceed a quarter
    of the index, so the sort's O(n log n) is paid once per n/4 changes: O(log n) amortised.
    """

    def __init__(self, bands: int = LSH_BANDS, rows: int = LSH_ROWS) -> None:
        if bands * rows > NUM_PERM:
            raise ValueError(f"{bands} bands x {rows} rows exceed {NUM_PERM} permutations")
        self.bands, self.rows = bands, rows
        self._salt = np.arange(1, bands + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        self._keys = np.empty(0, dtype=np.uint64)
        self._items = np.empty(0, dtype=np.int64)
        self._shift = np.uint64(63)
        self._directory = np.zeros(3, dtype=np.int64)
        self._recent: dict[int, list[int]] = {}
        self._recent_items = 0
        self._dead: set[int] = set()
        self._size = 0

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """uint64 band keys of one signature (shape ``(bands,)``) or of a stack of them (``(n, bands)``)."""
        sig = np.atleast_2d(signatures)[:, : self.bands * self.rows].astype(np.uint64)
        sig = sig.reshape(sig.shape[0], self.bands, self.rows)
        h = sig[:, :, 0].copy()
        for j in range(1, self.rows):
            h = h * np.uint64(0x100000001B3) + sig[:, :, j]
        keys = _mix64(h + self._salt[None, :])
        return keys[0] if signatures.ndim == 1 else keys

    def add(self, item: int, keys: np.ndarray) -> None:
        """Index ``item`` under its band ``keys`` (one row of ``band_keys``)."""
        for key in keys.tolist():
            self._recent.setdefault(key, []).append(item)
        self._recent_items += 1
        self._size += 1
        if self._recent_items > max(256, self._keys.size // (4 * self.bands)):
            self._compact()

    def add_many(self, items: np.ndarray, keys: np.ndarray) -> None:
        """Index many items at once (``keys`` of shape ``(len(items), bands)``): one sort, for a bulk load."""
        self._keys = np.concatenate([self._keys, keys.reshape(-1)])
        self._items = np.concatenate([self._items, np.repeat(items.astype(np.int64), self.bands)])
        self._size += len(items)
        self._compact()

    def remove(self, item: int) -> None:
        """Forget ``item`` (it must have been added)."""
        self._dead.add(item)
        self._size -= 1
        if len(self._dead) > max(256, self._size // 4):
            self._compact()

    def candidates(self, keys: np.ndarray) -> set[int]:
        """Items sharing at least one band with ``keys``."""
        found: set[int] = set()
        if self._keys.size:
            slot = (keys >> self._shift).astype(np.int64)
            lo, hi = self._directory[slot], self._directory[slot + 1]
            width = int((hi - lo).max())
            if width:
                at = lo[:, None] + np.arange(width)[None, :]
                inside = at < hi[:, None]
                at = np.where(inside, at, 0)
                found.update(self._items[at[inside & (self._keys[at] == keys[:, None])]].tolist())
        for key in keys.tolist():
            found.update(self._recent.get(key, ()))
        return found - self._dead if self._dead else found

    def _compact(self) -> None:
        """Fold recent items into the sorted arrays and drop tombstones."""
        if self._recent:
            pairs = [(k, i) for k, items in self._recent.items() for i in items]
            self._keys = np.concatenate([self._keys, np.array([k for k, _ in pairs], dtype=np.uint64)])
            self._items = np.concatenate([self._items, np.array([i for _, i in pairs], dtype=np.int64)])
        if self._dead:
            keep = ~np.isin(self._items, np.fromiter(self._dead, dtype=np.int64, count=len(self._dead)))
            self._keys, self._items = self._keys[keep], self._items[keep]
        order = np.argsort(self._keys)
        self._keys, self._items = self._keys[order], self._items[order]
        bits = max(1, int(np.log2(max(self._keys.size, 8) / 4)))
        self._shift = np.uint64(64 - bits)
        starts = np.arange(2**bits, dtype=np.uint64) << self._shift
        self._directory = np.append(np.searchsorted(self._keys, starts), self._keys.size).astype(np.int64)
        self._recent, self._recent_items, self._dead = {}, 0, set()

    def __len__(self) -> int:
        return self._size
