"""Surname-only people join the one full name the warehouse knows, across articles; ambiguity is left alone."""

from datetime import UTC, datetime

from newswatch.models import ArticleAnalysis, Entity, Mention, Quote
from transform.nlp.entity_merge import merged_analysis, surname_targets
from warehouse.load import _with_full_names

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def _trump_only() -> ArticleAnalysis:
    return ArticleAnalysis(
        entities=(Entity("trump", "Trump", "PERSON", ("Trump",)), Entity("ohio", "Ohio", "GPE", ("Ohio",))),
        mentions=(Mention("trump", "Trump", 0, 5), Mention("ohio", "Ohio", 20, 24)),
        quotes=(Quote("We will win big in Ohio", "Trump", "trump", "said", 30, 55),),
    )


def test_a_unique_full_name_takes_the_surname():
    assert surname_targets({"trump", "kim"}, {"donald trump", "kim jong un", "kim yo jong"}) == {"trump": "donald trump"}


def test_the_merged_analysis_points_mentions_and_quotes_at_the_full_entity():
    merged = merged_analysis(_trump_only(), {"trump": "donald trump"}, {"donald trump": "Donald Trump"})
    assert [(e.entity_id, e.name) for e in merged.entities] == [("donald trump", "Donald Trump"), ("ohio", "Ohio")]
    assert [m.entity_id for m in merged.mentions] == ["donald trump", "ohio"]
    assert (merged.quotes[0].speaker, merged.quotes[0].speaker_entity_id) == ("Donald Trump", "donald trump")
    assert merged.mentions[0].surface == "Trump"  # offsets and surfaces are untouched


def test_the_warehouse_resolves_against_entities_loaded_before(mem_db):
    mem_db.execute("INSERT INTO entities VALUES ('donald trump', 'Donald Trump', 'PERSON', ['Donald Trump'], ?)", [NOW])
    [(aid, an)] = _with_full_names(mem_db, [("a1", _trump_only())])
    assert {e.entity_id for e in an.entities} == {"donald trump", "ohio"}


def test_an_ambiguous_surname_stays_as_it_is(mem_db):
    mem_db.execute("INSERT INTO entities VALUES ('john smith', 'John Smith', 'PERSON', [], ?), "
                   "('jane smith', 'Jane Smith', 'PERSON', [], ?)", [NOW, NOW])
    smith = ArticleAnalysis((Entity("smith", "Smith", "PERSON", ("Smith",)),), (Mention("smith", "Smith", 0, 5),), ())
    [(_, an)] = _with_full_names(mem_db, [("a1", smith)])
    assert an == smith
