"""Hand-written articles, one per failure class of entities and speakers, with the real spaCy model.

Each case in ``tests/fixtures/articles/cases.json`` lists every entity the article must yield (one row
per real-world entity, its type, and nothing else of the types analysts count) and every quote with its
speaker. The prose is invented for these tests (see the README beside the cases).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newswatch.models import CONFIDENT_SPEAKER_LEVELS, ArticleAnalysis
from transform.alerts import AlertRule, QuoteRow, StoryAlert, StoryCopy, alert_message, story_alert
from transform.nlp.analysis import analyses_of_articles, load_pipeline

CASES = json.loads((Path(__file__).parent / "fixtures" / "articles" / "cases.json").read_text(encoding="utf-8"))
COUNTED_TYPES = ("PERSON", "ORG", "GPE", "LOC")
PRONOUNS = {"he", "she", "they", "it", "we", "i", "you", "him", "her", "them"}


@pytest.fixture(scope="module")
def analyses() -> dict[str, ArticleAnalysis]:
    nlp = load_pipeline()
    found = analyses_of_articles(nlp, [(c.get("title"), c["text"]) for c in CASES])
    return {c["name"]: a for c, a in zip(CASES, found, strict=True)}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_every_entity_is_one_row_of_the_right_type_and_nothing_else_is_an_entity(case, analyses) -> None:
    analysis = analyses[case["name"]]
    got = [(e.entity_id, e.type) for e in analysis.entities if e.type in COUNTED_TYPES]
    assert len({eid for eid, _ in got}) == len(got)
    assert dict(got) == case["entities"]
    counted = {eid for eid, _ in got}
    text = case["text"]
    for m in analysis.mentions:  # every mention is a span of the text, of an entity the article has
        assert text[m.start_char:m.end_char] == m.surface
        assert m.entity_id in {e.entity_id for e in analysis.entities}
        if m.entity_id in counted:
            assert not m.surface.endswith(("'s", "’s", "‘s", "ʼs"))  # a possessive is not part of a name


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_every_quote_has_its_speaker(case, analyses) -> None:
    quotes = analyses[case["name"]].quotes
    assert [(q.text[:len(start)], q.speaker) for q, (start, _) in zip(quotes, case["quotes"], strict=False)] \
        == [tuple(pair) for pair in case["quotes"]]
    assert len(quotes) == len(case["quotes"])
    assert not any(q.speaker.lower() in PRONOUNS for q in quotes)
    ids = {e.entity_id for e in analyses[case["name"]].entities}
    assert all(q.speaker_entity_id in ids for q in quotes if q.speaker)


# The same quote, once carried over from a sentence about the senator (no speech cue anywhere near it),
# once attributed by its own sentence. Only the second may stand in an alert under her name.
CARRIED_OVER = ("Senator Lena Okafor spent the morning at the shipyard, where workers had gathered to hear about "
                "the contract.\n“Nobody here will lose a job because of this deal.”\nThe union welcomed the visit.")
NAMED = ("Senator Lena Okafor spent the morning at the shipyard, where workers had gathered to hear about "
         "the contract.\n“Nobody here will lose a job because of this deal,” Okafor told them.\n"
         "The union welcomed the visit.")


def _alert_for(text: str) -> StoryAlert | None:
    [analysis] = analyses_of_articles(load_pipeline(), [("Senator visits the shipyard", text)])
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    copy = StoryCopy("s1", "a1", "f1", "Harbour Gazette", "Senator visits the shipyard", "https://example.test/a1",
                     now - timedelta(hours=1), "en", now - timedelta(hours=1), topic="shipyard",
                     matched_terms=("shipyard",))
    quotes = [QuoteRow("a1", q.text, q.speaker, q.start_char, q.confidence) for q in analysis.quotes]
    return story_alert(AlertRule("shipyard", "shipyard"), [copy], quotes, now=now)


def test_a_quote_whose_speaker_is_only_carried_over_is_not_the_alerts_top_quote() -> None:
    [analysis] = analyses_of_articles(load_pipeline(), [(None, CARRIED_OVER)])
    [quote] = analysis.quotes
    assert quote.confidence not in CONFIDENT_SPEAKER_LEVELS
    alert = _alert_for(CARRIED_OVER)
    assert alert is not None and alert.quote is None and alert.speaker is None
    assert "Nobody here" not in alert_message(alert).body
    named = _alert_for(NAMED)
    assert named is not None and named.quote is not None and named.quote.startswith("Nobody here will lose a job")
    assert named.speaker == "Lena Okafor"
