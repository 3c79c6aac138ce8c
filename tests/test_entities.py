"""Entities and mentions of hand-written articles, with the real spaCy model."""

from __future__ import annotations

import pytest
from spacy.tokens import Span

from newswatch.models import ArticleAnalysis, Entity
from transform.body_lines import body_line_mask, is_heading_like
from transform.nlp.analysis import analyses_of_articles, load_pipeline
from transform.nlp.entities import _grouped, article_entities, entity_key
from transform.nlp.entity_mentions import NameCandidate, name_candidates


@pytest.fixture(scope="module")
def nlp():
    return load_pipeline()


def analysed(nlp, text: str, title: str | None = None) -> ArticleAnalysis:
    (analysis,) = analyses_of_articles(nlp, [(title, text)])
    for m in analysis.mentions:
        assert text[m.start_char:m.end_char] == m.surface
    assert {m.entity_id for m in analysis.mentions} == {e.entity_id for e in analysis.entities}
    return analysis


def entity_rows(analysis: ArticleAnalysis) -> set[Entity]:
    return set(analysis.entities)


def entity(analysis: ArticleAnalysis, entity_id: str) -> Entity:
    return next(e for e in analysis.entities if e.entity_id == entity_id)


def mentions_of(analysis: ArticleAnalysis, entity_id: str) -> list[str]:
    return [m.surface for m in analysis.mentions if m.entity_id == entity_id]


KIM = ("North Korean leader Kim Jong Un arrived in Singapore on Sunday. Kim Jong Un's motorcade drove past "
       "the harbour.\nKim Jong-un later met officials at the hotel. Kim smiled for the cameras, and aides said "
       "Jong Un was tired.")


def test_every_form_of_kim_jong_un_is_one_person(nlp):
    a = analysed(nlp, KIM)
    assert entity_rows(a) == {
        Entity("kim jong un", "Kim Jong Un", "PERSON", ("Jong Un", "Kim", "Kim Jong Un", "Kim Jong-un")),
        Entity("north korean", "North Korean", "NORP", ("North Korean",)),
        Entity("singapore", "Singapore", "GPE", ("Singapore",)),
    }
    assert mentions_of(a, "kim jong un") == ["Kim Jong Un", "Kim Jong Un", "Kim Jong-un", "Kim", "Jong Un"]
    possessive = a.mentions[3]
    assert (possessive.start_char, possessive.surface) == (KIM.index("Kim Jong Un's"), "Kim Jong Un")


def test_titles_and_possessives_are_stripped_and_trump_is_one_person(nlp):
    text = ("President Trump spoke to reporters at the White House on Monday. Donald Trump said the talks would "
            "go ahead. Trump's aides were less sure, and Trump later left for Florida.")
    a = analysed(nlp, text)
    assert Entity("donald trump", "Donald Trump", "PERSON", ("Donald Trump", "Trump")) in entity_rows(a)
    assert mentions_of(a, "donald trump") == ["Trump", "Donald Trump", "Trump", "Trump"]
    assert a.mentions[0].start_char == text.index("Trump")  # "President" is not part of the name


def test_the_type_is_voted_by_all_mentions_of_the_article(nlp):
    # The small model tags a lone "Trump" as ORG about half the time; the article's full name decides.
    text = ("Donald Trump met the governors on Tuesday. Trump told them the plan was ready. Later Trump signed "
            "the order, and Trump thanked the staff.")
    a = analysed(nlp, text)
    assert [e.type for e in a.entities if e.entity_id == "donald trump"] == ["PERSON"]
    assert len(mentions_of(a, "donald trump")) == 4


def test_country_abbreviations_join_the_country(nlp):
    a = analysed(nlp, "The U.S. and China signed the agreement in Geneva. The United States will cut tariffs "
                      "next year.")
    assert Entity("united states", "United States", "GPE", ("U.S.", "United States")) in entity_rows(a)


def test_company_legal_forms_do_not_split_a_company(nlp):
    a = analysed(nlp, "Apple Inc. reported higher profits on Thursday. Apple said sales rose in Europe.")
    assert Entity("apple", "Apple Inc.", "ORG", ("Apple", "Apple Inc.")) in entity_rows(a)


def test_headings_captions_and_credits_yield_no_entities(nlp):
    text = ("Talks in Geneva\n"
            "The negotiators from Norway met again on Tuesday morning to discuss the border.\n"
            "Photo: John Smith/Reuters\n"
            "Jane Miller")
    a = analysed(nlp, text)
    assert entity_rows(a) == {Entity("norway", "Norway", "GPE", ("Norway",))}


def test_the_same_person_gets_the_same_id_in_every_article(nlp):
    first, second = analyses_of_articles(nlp, [
        (None, "Kim Jong-un arrived in Hanoi on Tuesday. Kim met the delegation at the station."),
        ("Kim Jong Un in Hanoi", "North Korean leader Kim Jong Un left Hanoi on Thursday by train."),
    ])
    assert {m.entity_id for m in first.mentions if m.surface.startswith("Kim")} == {"kim jong un"}
    assert {m.entity_id for m in second.mentions if m.surface.startswith("Kim")} == {"kim jong un"}


def test_the_headline_informs_names_but_yields_no_mentions(nlp):
    text = "The minister arrived in Paris on Monday and met the president."
    (a,) = analyses_of_articles(nlp, [("Angela Merkel visits Paris", text)])
    assert [(m.surface, m.entity_id) for m in a.mentions] == [("Paris", "paris")]
    assert all(m.end_char <= len(text) for m in a.mentions)


def test_results_come_back_in_order_and_empty_texts_are_fine(nlp):
    texts = ["Boris Johnson resigned in London.", "", "Emmanuel Macron spoke in Paris."]
    analyses = analyses_of_articles(nlp, [(None, t) for t in texts], batch_size=2)
    assert [[m.surface for m in a.mentions] for a in analyses] == [
        ["Boris Johnson", "London"], [], ["Emmanuel Macron", "Paris"]]


@pytest.mark.parametrize(("name", "key"), [
    ("Donald J. Trump", "donald trump"),
    ("Kim Jong-un", "kim jong un"),
    ("Kim Jong Un's", "kim jong un"),
    ("U.S.", "united states"),
    ("Britain", "united kingdom"),
    ("Pirelli SpA", "pirelli"),
    ("Zoë Kravitz", "zoe kravitz"),
    ("Donald Trump's", "donald trump"),
    ("Donald Trump’s", "donald trump"),
    ("Donald Trump‘s", "donald trump"),
    ("Donald Trump´s", "donald trump"),
    ("Donald Trump`s", "donald trump"),
    ("People’s Daily", "people daily"),
    ("Workers’ Tribune", "workers tribune"),
    ("Martin O’Malley", "martin o malley"),  # the surname keeps its "O", as it does alone
    ("O'Malley", "o malley"),
])
def test_entity_keys_ignore_case_accents_initials_hyphens_and_legal_forms(name, key):
    assert entity_key(name) == key


@pytest.mark.parametrize("apostrophe", ["'", "’", "‘", "´", "`"])
def test_a_possessive_is_not_part_of_the_name_whatever_the_apostrophe(nlp, apostrophe):
    text = (f"Marek Duda{apostrophe}s lawyers met the judge on Monday. Later Marek Duda{apostrophe}s son spoke "
            f"to reporters, and Duda{apostrophe}s aides left the court.")
    a = analysed(nlp, text)
    assert {e.entity_id for e in a.entities if e.type == "PERSON"} == {"marek duda"}
    assert mentions_of(a, "marek duda") == ["Marek Duda", "Marek Duda", "Duda"]


def _with_labels(nlp, text: str, labels: dict[str, str]):
    """The parsed text with its entities replaced: every whole-word occurrence of a key, labelled."""
    doc = nlp(text)
    spans = []
    for tok in doc:
        for name, label in labels.items():
            words = name.split()
            if [t.text for t in doc[tok.i:tok.i + len(words)]] == words:
                spans.append(doc[tok.i:tok.i + len(words)])
                spans[-1].label_ = label
    taken: set[int] = set()
    kept = []
    for span in sorted(spans, key=lambda s: (s.start, -len(s))):
        if not taken & set(range(span.start, span.end)):
            kept.append(span)
            taken |= set(range(span.start, span.end))
    doc.ents = kept
    return doc


def test_a_surname_the_model_calls_org_twelve_times_is_the_person_named_once(nlp):
    sentences = ["Ambassador Kurt Brennecke testified behind closed doors on Tuesday."]
    sentences += [f"In the {n} hour of questioning, Brennecke described another call." for n in range(12)]
    text = " ".join(sentences)
    doc = _with_labels(nlp, text, {"Kurt Brennecke": "PERSON", "Brennecke": "ORG"})
    ents = article_entities(doc)
    assert [(e.entity_id, e.type) for e in ents.entities] == [("kurt brennecke", "PERSON")]
    assert len(ents.mentions) == 13


def test_a_form_of_address_outweighs_the_models_org(nlp):
    text = "President Halvard met the envoys. " + "Later Halvard signed the treaty. " * 6
    doc = _with_labels(nlp, text, {"Halvard": "ORG"})
    assert [(e.entity_id, e.type) for e in article_entities(doc).entities] == [("halvard", "PERSON")]


def test_a_surname_the_text_treats_as_an_organisation_stays_one(nlp):
    text = ("Nora Lindgren founded the shop in 1990. The Lindgren chain now has forty stores, and the Lindgren "
            "board met on Monday. Shares of the Lindgren rose.")
    doc = _with_labels(nlp, text, {"Nora Lindgren": "PERSON", "Lindgren": "ORG"})
    types = {e.entity_id: e.type for e in article_entities(doc).entities}
    assert types == {"nora lindgren": "PERSON", "lindgren": "ORG"}


@pytest.mark.parametrize(("line", "heading"), [
    ("Halvorsen Warns There Will Be No Deal Unless The Opposition Backs Down", True),
    ("Why The Harbour Plan Could Cost The City Its Last Ferry?", True),
    ("The minister of Norland said on Tuesday that the talks with Velgrad had stalled.", False),
    ("SOCCER - LEADERS HELD AS THE CHASING PACK CLOSES THE GAP ON THEM AGAIN", False),
    ("Surrey 312 Kent 200 for five wickets at The Oval", False),
])
def test_headline_case_lines_are_headings_however_long(line, heading):
    assert is_heading_like(line) is heading


def test_a_credit_glued_to_the_first_sentence_is_not_body_text():
    text = "(Harbour News Business)The port of Calderon reported lower volumes on Monday than a year before."
    mask = body_line_mask(text)
    assert not any(mask[:text.index("The port")])
    assert all(mask[text.index("The port"):len(text)])


def test_people_written_with_an_initial_and_in_results_lines_are_people(nlp):
    """An initial and a surname, and a name on a ranked results line with the country in brackets, are
    people even when the model leaves them untagged; "U.S. Steel" and a sentence ending in a letter are not."""
    text = ("Somerset were bowled out for 212 on the second day.\nP. Trego c Hughes b Ashworth 41\n"
            "J. Overbury not out 17\nShares of U.S. Steel rose, and Plan B. Then the board voted.\n"
            "Women's javelin\n1. Mirela Oltean ( Romania ) 63.20 metres\n2. Kasia Brzeska ( Poland ) 61.05")
    a = analysed(nlp, text)
    types = {e.name: e.type for e in a.entities}
    for person in ("P. Trego", "J. Overbury", "Mirela Oltean", "Kasia Brzeska"):
        assert any(person in name and t == "PERSON" for name, t in types.items()), (person, types)
    assert not any(t == "PERSON" and ("Steel" in name or "Then" in name) for name, t in types.items()), types


def test_a_name_the_model_cut_at_a_particle_or_before_its_first_name_is_one_person(nlp):
    """"Ursula von der" + "Leyen" (which the model calls a place) and a first name opening the sentence
    outside the model's span ("Ilya" + "Petrenko") are one person with the full name; a sentence-opening
    dictionary word before a surname ("Meanwhile Petrenko") is not part of the name."""
    a = analysed(nlp, "The EU wants rules for new systems, Ursula von der Leyen said on Tuesday. Von der Leyen "
                      "then left for Paris.\nIlya Petrenko, a farmer near Kharkiv, said the harvest was late. "
                      "\"We lost a month to the rain,\" Petrenko said. Meanwhile Petrenko's neighbours agreed.")
    types = {e.entity_id: e.type for e in a.entities}
    assert types.get("ursula von der leyen") == "PERSON" and "leyen" not in types, types
    assert types.get("ilya petrenko") == "PERSON" and "petrenko" not in types, types
    assert not any("meanwhile" in k for k in types), types
    assert [q.speaker for q in a.quotes] == ["Ilya Petrenko"]


def test_a_full_name_the_model_calls_an_organisation_is_the_person_its_surname_is(nlp):
    """"Tarique Rahman's party" (typed ORG) and "says Rahman" (a person) are one person: the surname's
    evidence types the full name."""
    a = analysed(nlp, "\"We will win,\" says Rahman, referring to Tarique Rahman's party. Rahman spoke in Dhaka.")
    people = {e.entity_id: e.type for e in a.entities}
    assert people.get("tarique rahman") == "PERSON" and "rahman" not in people, people
    assert [q.speaker for q in a.quotes] == ["Tarique Rahman"]


def test_names_leading_rows_of_a_results_table_are_teams(nlp):
    """Standings rows ("Harborton 5 4 1 0 12 3 13") and results lines ("MILLBROOK 1 Eastvale 3") list
    teams, named for their towns: organisations, also in capitals, where the model types towns as places or
    misses them. A country stays a place (a national side), a golfer's row of scores stays a person's whatever
    the model made of the name (nothing, a person, a product), and a lone line of figures ("LONDON 1996-08-22",
    a dateline) is no table."""
    text = ("SOCCER - VALLEY LEAGUE\nLONDON 1996-08-22\nResults of Valley League matches on Wednesday:\n"
            "MILLBROOK 1 Eastvale 3\nRiverside 2 Harborton 2\nGermany 2 Brazil 1\n"
            "Standings (tabulate under played, won, drawn, lost, goals for, against, points):\n"
            "Harborton 5 4 1 0 12 3 13\nRiverside 5 3 1 1 9 5 10\nEastvale 5 1 0 4 4 10 3\n"
            "Leading scorer: Tom Hale of Harborton scored 7 goals.\nScores after the second round:\n"
            "Niall Farrow 69 70\nOrla Kinsale 70 68\nPeder Vask 71 72\n")
    a = analysed(nlp, text)
    types = {m.surface: next(e.type for e in a.entities if e.entity_id == m.entity_id) for m in a.mentions}
    for team in ("MILLBROOK", "Eastvale", "Riverside", "Harborton"):
        assert types.get(team) == "ORG", (team, types)
    assert types.get("Germany") == "GPE" and types.get("Brazil") == "GPE", types
    assert types.get("LONDON") == "GPE", types
    assert not {"Niall Farrow", "Orla Kinsale", "Peder Vask"} & {n for n, t in types.items() if t == "ORG"}, types


def test_a_possessive_after_a_plural_owner_stays_inside_an_organisations_name(nlp):
    """"the Korean People’s Army", "the National Children’s Hospital": a plural owner keeps the possessive in
    the name however many words come before it, while a person's possessive still ends the name ("Donald
    Trump’s Jewish supporters")."""
    a = analysed(nlp, "Officials said the Korean People’s Army had moved launchers. The National Children’s Hospital "
                      "in Ohio treated the crew, and Donald Trump’s Jewish supporters met on Monday.")
    names = {e.name: e.type for e in a.entities}
    assert names.get("Korean People’s Army") == "ORG" and names.get("National Children’s Hospital") == "ORG", names
    assert names.get("Donald Trump") == "PERSON" and "Korean People" not in names, names


def test_a_common_word_opening_a_sentence_is_not_the_masthead_written_in_capitals(nlp):
    """An article about TIME the magazine that also opens a sentence with "Time is running out": the model
    calls that "Time" an organisation, and the key would merge it into TIME; a dictionary word the text
    writes in capitals elsewhere is the common word at a sentence start."""
    a = analysed(nlp, "TIME named the device one of its inventions of the year. \"It changes how farmers irrigate,\" "
                      "TIME wrote in its review.\n\nTime is running out for growers in the valley. The growers met on "
                      "Monday.")
    assert [m.surface for m in a.mentions if m.entity_id == "time"] == ["TIME"]
    assert [q.speaker for q in a.quotes] == ["TIME"]


def test_a_court_case_named_for_its_parties_is_neither_party(nlp):
    """"Harper v. Harper" is a case, not a person: it must not take the surname "Harper" from the person
    the article is about, whose later mentions stay theirs."""
    a = analysed(nlp, "Donald Harper signed the deal in 1990. The terms surfaced in a 1992 state court case, "
                      "Harper v. Harper, in which the couple fought over their agreement. Harper later "
                      "said he had no regrets.")
    case = next(e for e in a.entities if e.name == "Harper v. Harper")
    assert case.type == "LAW"
    assert "Harper" not in case.aliases
    assert mentions_of(a, "donald harper") == ["Donald Harper", "Harper"]


def test_that_opening_a_clause_does_not_make_the_surname_after_it_an_organisation(nlp):
    """'a contest that Walden must win': "that" opens a clause; it is no determiner of the name, which
    would count as evidence of an organisation ("the Tribune")."""
    text = "Senator Bernie Walden led the polls. The primary is a contest that Walden must win."
    found = {c.surface: c for c in name_candidates(nlp(text), None, False, text)}
    assert found["Walden"].determined is False
    text = "The Tribune said the Walden plan would fail."
    assert {c.surface: c for c in name_candidates(nlp(text), None, False, text)}["Tribune"].determined


def test_a_title_and_a_surname_the_model_calls_an_organisation_are_the_person(nlp):
    """'"General Petraeus got in trouble"': a title before a word that is no common word ("General Motors"
    keeps its own row) names the person the article calls David Petraeus."""
    a = analysed(nlp, "Retired general David Petraeus spoke on Monday. Donald Harper claimed that \"General Petraeus "
                      "got in trouble for far less,\" but Petraeus acknowledged that he knew the rules. General Motors "
                      "said nothing.")
    assert mentions_of(a, "david petraeus") == ["David Petraeus", "Petraeus", "Petraeus"]
    assert entity(a, "general motors").type == "ORG"


def test_a_surname_the_model_calls_a_nationality_is_the_person(nlp):
    a = analysed(nlp, "Pate supported Charlie Crist in that election. Rubio's catch phrase in that election against "
                      "Crist was that Crist \"would say or do anything.\" He raised money from Crist donors.")
    assert mentions_of(a, "charlie crist") == ["Charlie Crist", "Crist", "Crist", "Crist"]
    assert not any(e.type == "NORP" for e in a.entities)


def test_an_inverted_said_or_a_gerund_opening_a_sentence_is_not_a_first_name(nlp):
    a = analysed(nlp, "James Comey spoke in the hall. Said Comey, \"The thought that an error was made is wrong.\"")
    assert [e.name for e in a.entities] == ["James Comey"]
    a = analysed(nlp, "Voters were angry. Bashing Harper may be job one, but the party needs a plan of its own.")
    assert [e.name for e in a.entities] == ["Harper"]


def test_a_surname_a_person_speaks_under_is_theirs_not_a_body_named_after_them():
    """"Harper University" ... "Harper" (which the model calls an organisation there) ... "Harper said":
    the short name goes to the person the text has speak, not to the university named before it."""
    def cand(start: int, surface: str, label: str, speaks: bool = False) -> NameCandidate:
        return NameCandidate(start, start + len(surface), surface, label, entity_key(surface), False, False,
                             speaks=speaks)

    groups = _grouped([cand(0, "Donald Harper", "PERSON"), cand(40, "Harper University", "ORG"),
                       *(cand(start, "Harper", "ORG") for start in (90, 110, 130)),
                       cand(150, "Harper", "PERSON", speaks=True)])
    assert sorted(([c.start for c in g], t) for g, t in groups) == [([0, 90, 110, 130, 150], "PERSON"), ([40], "ORG")]


def test_a_persons_surname_before_a_common_noun_names_a_thing_not_a_person(nlp):
    """"the Harper Shuttle", which the model calls a person: the article's Donald Harper gives the surname,
    "shuttle" is a common word, and nothing treats the name as a person's."""
    a = analysed(nlp, "The planes of the Harper Shuttle were old. Donald Harper bought the Harper Shuttle in 1989. "
                      "Harper said the planes were safe.")
    assert entity(a, "harper shuttle").type != "PERSON"
    assert mentions_of(a, "donald harper") == ["Donald Harper", "Harper"]


def test_a_surname_with_an_apostrophe_is_one_person_with_the_full_name(nlp):
    a = analysed(nlp, "Democratic candidate Martin O’Malley is shifting staff to Iowa as his campaign struggles to "
                      "raise money. Through September, O’Malley had raised $3.2 million. O’Malley’s move was first "
                      "reported by the Gazette.")
    assert mentions_of(a, "martin o malley") == ["Martin O’Malley", "O’Malley", "O’Malley"]


def test_a_letter_ending_a_sentence_and_the_word_opening_the_next_are_no_name(nlp):
    """'posted on X. Amid the row': the model's PERSON "X. Amid" crosses a sentence break at a preposition;
    an initial and a surname ("P. Simmons") is still a person."""
    a = analysed(nlp, "The minister posted the statement on X. Amid the row, the party called a meeting. P. Simmons "
                      "won the race.")
    assert [(e.name, e.type) for e in a.entities] == [("P. Simmons", "PERSON")]


def test_a_name_with_a_capital_inside_a_word_is_a_brand_not_a_person(nlp):
    """"XPeng", which the model calls a person, writes a capital inside the word as brands do; a name prefix
    ("McConnell") explains one in a person's name."""
    a = analysed(nlp, "Founded in 2015 as a nonprofit, OpenAI promised to develop AI in the way that is most likely "
                      "to benefit humanity. XPeng and TikTok declined to comment, and Mitch McConnell said nothing.")
    assert {(e.name, e.type) for e in a.entities} == {("OpenAI", "ORG"), ("XPeng", "ORG"), ("TikTok", "ORG"),
                                                      ("Mitch McConnell", "PERSON")}


def test_an_acronym_the_model_mostly_types_as_a_place_is_judged_on_all_its_mentions(nlp):
    """The model calls the first "AI" an organisation and the next two places, and the text never uses it as
    one: a common noun, under every label. An acronym mostly typed an organisation stays one."""
    text = "Powerful AI systems will arrive soon. Leaders argued that AI will unlock medicine and that AI helps."
    doc = nlp(text)
    at = [t.i for t in doc if t.text == "AI"]
    doc.ents = [Span(doc, at[0], at[0] + 1, label="ORG"), Span(doc, at[1], at[1] + 1, label="GPE"),
                Span(doc, at[2], at[2] + 1, label="GPE")]
    assert name_candidates(doc, None, False, text) == []
    doc.ents = [Span(doc, at[0], at[0] + 1, label="ORG"), Span(doc, at[1], at[1] + 1, label="ORG"),
                Span(doc, at[2], at[2] + 1, label="GPE")]
    assert [c.label for c in name_candidates(doc, None, False, text)] == ["ORG", "ORG", "GPE"]
