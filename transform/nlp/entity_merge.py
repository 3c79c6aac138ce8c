"""Across articles: a person named only by surname joins the one full name that surname belongs to.

Why: within an article, "Trump", "President Trump" and "Donald Trump" are already one entity
(``transform/nlp/entities.py``). But an article that only ever says "Trump" cannot know the full name by
itself, and would give ``entity_daily`` a second, separate "trump" row. At load time the warehouse
knows every full name seen so far: when exactly one PERSON's key ends with that surname, the
single-word entity is that person. With two candidates ("Kim Jong Un", "Kim Yo Jong" for "Kim") the
surname stays ambiguous and is left alone rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from newswatch.models import ArticleAnalysis, Entity


def surname_targets(surname_ids: Iterable[str], person_ids: Iterable[str]) -> dict[str, str]:
    """Map each single-word PERSON key to the one multi-word PERSON key ending with it, when unique."""
    by_surname: dict[str, set[str]] = {}
    for pid in person_ids:
        parts = pid.split(" ")
        if len(parts) > 1:
            by_surname.setdefault(parts[-1], set()).add(pid)
    out: dict[str, str] = {}
    for sid in surname_ids:
        if " " in sid:
            continue
        full = by_surname.get(sid, set())
        if len(full) == 1:
            out[sid] = next(iter(full))
    return out


def merged_analysis(an: ArticleAnalysis, targets: dict[str, str], names: dict[str, str]) -> ArticleAnalysis:
    """The analysis with surname-only entities renamed to their full entity (``names``: key -> display name)."""
    if not any(e.entity_id in targets for e in an.entities):
        return an
    merged: dict[str, Entity] = {}
    for e in an.entities:
        new_id = targets.get(e.entity_id, e.entity_id)
        if new_id != e.entity_id:
            e = Entity(new_id, names.get(new_id, e.name), e.type, e.aliases or (e.name,))
        if new_id in merged:
            old = merged[new_id]
            aliases = tuple(dict.fromkeys(old.aliases + e.aliases))
            e = Entity(new_id, old.name if " " in old.name else e.name, old.type, aliases)
        merged[new_id] = e
    mentions = tuple(replace(m, entity_id=targets.get(m.entity_id, m.entity_id)) for m in an.mentions)
    quotes = tuple(
        replace(q, speaker_entity_id=targets[q.speaker_entity_id], speaker=merged[targets[q.speaker_entity_id]].name)
        if q.speaker_entity_id in targets else q
        for q in an.quotes
    )
    return ArticleAnalysis(tuple(merged.values()), mentions, quotes)
