"""Direct quotes and their speakers, on hand-written articles, with the real spaCy model."""

from __future__ import annotations

import pytest
from spacy.tokens import Doc

from newswatch.models import ArticleAnalysis, Entity
from transform.nlp.analysis import analyses_of_articles, load_pipeline
from transform.nlp.quotes import is_quotation, quotation_text, quoted_spans
from transform.nlp.speaker_context import cue_subject, subject_of


@pytest.fixture(scope="module")
def nlp():
    return load_pipeline()


def analysed(nlp, text: str, title: str | None = None) -> ArticleAnalysis:
    (analysis,) = analyses_of_articles(nlp, [(title, text)])
    names = {e.entity_id: e.name for e in analysis.entities}
    for q in analysis.quotes:
        assert text[q.start_char:q.end_char].replace("\n“", "\n") == q.text
        assert q.speaker == (names[q.speaker_entity_id] if q.speaker_entity_id else "")
    return analysis


def quote_rows(analysis: ArticleAnalysis) -> list[tuple[str, str, str | None, str | None]]:
    return [(q.text, q.speaker, q.speaker_entity_id, q.cue) for q in analysis.quotes]


def entity(analysis: ArticleAnalysis, entity_id: str) -> Entity:
    return next(e for e in analysis.entities if e.entity_id == entity_id)


def test_a_trailing_attribution_in_straight_marks_names_the_speaker_by_full_name(nlp):
    a = analysed(nlp, 'Jane Doe is the mayor of Springfield.\n"We will rebuild the bridge by spring," Doe said on Monday.')
    assert quote_rows(a) == [("We will rebuild the bridge by spring", "Jane Doe", "jane doe", "said")]
    assert entity(a, "jane doe") == Entity("jane doe", "Jane Doe", "PERSON", ("Doe", "Jane Doe"))


def test_a_colon_introduced_quote_in_curly_marks_resolves_the_pronoun(nlp):
    a = analysed(nlp, "Prime Minister Anna Berg spoke in Oslo on Tuesday. She added: “The talks are not over yet.”")
    assert quote_rows(a) == [("The talks are not over yet.", "Anna Berg", "anna berg", "added")]
    assert entity(a, "anna berg").type == "PERSON"


def test_a_quote_split_by_its_attribution_keeps_one_speaker(nlp):
    a = analysed(nlp, "“The deal is dead,” Senator Tom Harlan told reporters. “Nobody wants it anymore.”")
    assert quote_rows(a) == [
        ("The deal is dead", "Tom Harlan", "tom harlan", "told"),
        ("Nobody wants it anymore.", "Tom Harlan", "tom harlan", "told"),
    ]


def test_a_quote_running_over_two_paragraphs_is_one_quote(nlp):
    text = ("Maria Lopez, the union leader, spoke at the rally in Detroit.\n"
            "“We have waited ten years for this contract.\n"
            "“Now we will not wait any longer,” Lopez said.")
    a = analysed(nlp, text)
    assert quote_rows(a) == [("We have waited ten years for this contract.\nNow we will not wait any longer",
                              "Maria Lopez", "maria lopez", "said")]
    q = a.quotes[0]
    assert (q.start_char, q.end_char) == (text.index("We have"), text.index(",” Lopez"))


def test_according_to_names_its_object(nlp):
    a = analysed(nlp, "According to Mark Chen, “the budget will be cut by half next year.”")
    assert quote_rows(a) == [("the budget will be cut by half next year.", "Mark Chen", "mark chen", "according to")]


def test_a_title_description_resolves_to_the_person_introduced_with_that_title(nlp):
    a = analysed(nlp, 'President Donald Trump held a rally in Ohio on Saturday.\n'
                      '"We are going to win big in November," the president said.')
    assert quote_rows(a) == [("We are going to win big in November", "Donald Trump", "donald trump", "said")]


def test_an_age_description_resolves_to_the_person_last_named(nlp):
    a = analysed(nlp, 'Senator Bernie Sanders spoke in Vermont on Sunday.\n'
                      '"I am not retiring from the Senate," the 79-year-old said.')
    assert quote_rows(a) == [("I am not retiring from the Senate", "Bernie Sanders", "bernie sanders", "said")]


def test_a_pronoun_agrees_with_the_gender_an_honorific_gave(nlp):
    a = analysed(nlp, 'Mr. Paul Stone met Ms. Rita Vance in Boston on Friday. "The merger is off for now," she said.')
    assert quote_rows(a) == [("The merger is off for now", "Rita Vance", "rita vance", "said")]


def test_a_dash_after_the_quote_names_its_author(nlp):
    a = analysed(nlp, "“Democracy dies in darkness and we must all stay awake.” — Jane Roe")
    assert quote_rows(a) == [("Democracy dies in darkness and we must all stay awake.", "Jane Roe", "jane roe", None)]


def test_single_marks_british_style_are_quotes_too(nlp):
    a = analysed(nlp, "'The railway line will reopen in May,' said Transport Secretary Louise Haigh.")
    assert quote_rows(a) == [("The railway line will reopen in May", "Louise Haigh", "louise haigh", "said")]


def test_a_colon_ending_the_paragraph_before_introduces_the_quote(nlp):
    a = analysed(nlp, "Governor Ada Brook visited the flooded towns on Friday. In a statement, she wrote:\n"
                      "“We have declared an emergency in three counties.”")
    assert quote_rows(a) == [("We have declared an emergency in three counties.", "Ada Brook", "ada brook", "wrote")]


def test_a_quote_nobody_can_be_credited_with_keeps_an_empty_speaker(nlp):
    a = analysed(nlp, "Residents woke to find the message painted on the wall overnight.\n"
                      "“This town belongs to all of us.”")
    assert quote_rows(a) == [("This town belongs to all of us.", "", None, None)]


def test_titles_nicknames_and_scare_quotes_are_not_quotes(nlp):
    a = analysed(nlp, "Critics called the plan a “fake fix” and compared it to “Groundhog Day,” the film. "
                      "She appeared on “Saturday Night Live” last year. Voters call him “Little Marco.”")
    assert a.quotes == ()


def test_unbalanced_marks_never_fail_and_offsets_stay_valid(nlp):
    text = 'He said "we will see what happens. And then he left.\nThe 6" pipe burst. “Odd ” marks ” everywhere “'
    a = analysed(nlp, text)
    assert [q.text for q in a.quotes] == ["we will see what happens. And then he left."]
    assert a.quotes[0].speaker == ""  # "He" names nobody in this article: no guess


def test_a_speaker_is_never_a_pronoun(nlp):
    a = analysed(nlp, '"We will not give up on this town," he said. "Never," she added.')
    assert [q.speaker for q in a.quotes] == [""]


def test_quoted_spans_pair_marks_per_paragraph_and_report_unterminated_ones():
    text = 'Alpha "one two three" beta.\n“Four five six\n“seven eight.”\nA stray " mark here and there'
    spans = quoted_spans(text)
    assert [text[s.start:s.end] for s in spans] == ["one two three", "Four five six\n“seven eight.",
                                                    " mark here and there"]
    assert spans[1].continuation_marks == (text.index("“seven"),)
    assert quotation_text(text, spans[1]) == "Four five six\nseven eight."
    assert spans[2].close_mark is None and not is_quotation(text, spans[2])


def test_two_apostrophes_are_a_double_quotation_mark():
    text = "''We are ready for the vote,'' Mr. Cole said."
    (span,) = quoted_spans(text)
    assert text[span.start:span.end] == "We are ready for the vote," and is_quotation(text, span)


def test_each_attribution_records_how_its_speaker_was_found(nlp):
    text = ("Jane Doe, the mayor, toured the flood defences on Monday.\n"
            "“We will rebuild the bridge by spring,” Doe said. “Nobody will be left without a road.”\n"
            "“The money is already there,” she told reporters.\n"
            "Doe spent an hour on the riverbank.\n“The water came up to here.”")
    a = analysed(nlp, text)
    assert [(q.speaker, q.confidence) for q in a.quotes] == [
        ("Jane Doe", "subject"), ("Jane Doe", "neighbour"), ("Jane Doe", "sentence"), ("Jane Doe", "guess")]


def test_a_quotation_mark_typed_without_its_space_does_not_hide_the_speaker(nlp):
    a = analysed(nlp, "“We have seen nothing like it in years,”Moreno said. Then Moreno said,“Look, the river is back.”")
    assert [(q.speaker, q.confidence) for q in a.quotes] == [("Moreno", "subject"), ("Moreno", "subject")]


def test_an_inverted_cue_before_a_colon_names_the_speaker(nlp):
    a = analysed(nlp, "Roger Lindell spoke on the radio on Monday.\nStated Lindell:\n“I think the stakes are very high "
                      "for everyone.”\nContinued Lindell: “So I think it is a very real problem.”")
    assert [q.speaker for q in a.quotes] == ["Roger Lindell", "Roger Lindell"]
    assert [e.entity_id for e in a.entities] == ["roger lindell"]


def test_put_is_a_cue_only_as_put_it(nlp):
    a = analysed(nlp, "Ana Ruiz praised the campaign of Tom Berg, noting that he had put together “the best "
                      "ground game in the state.”\n“It was a disaster,” as Berg put it.")
    assert [q.speaker for q in a.quotes] == ["Ana Ruiz", "Tom Berg"]


def test_the_clause_a_colon_ends_beats_an_earlier_speech_verb(nlp):
    a = analysed(nlp, "When Tom Berg suggested a delay, Ana Ruiz fired back: “We have waited long enough for this.”")
    assert [q.speaker for q in a.quotes] == ["Ana Ruiz"]


def test_a_pronoun_continues_the_subject_of_the_sentence_before_not_its_object(nlp):
    a = analysed(nlp, "Tom Bryce criticised Frank Olsen at the council meeting on Monday. "
                      "\"It is a disgrace to this city,\" he said.")
    assert [(q.speaker, q.confidence) for q in a.quotes] == [("Tom Bryce", "sentence")]


def test_a_name_in_what_a_leading_cue_reports_is_not_its_speaker(nlp):
    a = analysed(nlp, "An Israeli official said on Monday that Prime Minister Dov Lerner \"will meet any candidate "
                      "who asks for a meeting.\"")
    assert [q.speaker for q in a.quotes] == [""]


def test_a_name_after_a_cue_whose_subject_comes_first_is_not_its_speaker(nlp):
    a = analysed(nlp, "Only half of the voters agreed that the plan was \"good enough to pass the council,\" while "
                      "40 percent said the same of Mayor Rita Olsen.")
    assert [q.speaker for q in a.quotes] == [""]


def test_a_speech_verb_inside_a_quote_attributes_nothing_outside_it(nlp):
    a = analysed(nlp, "''Sometimes they say, 'Yeah, Olsen is right, you guys have to all go back to your country,''' "
                      "said Mr. Ortega, who was born in Lima and moved here as a teenager. ''This is my country. I "
                      "can't go back to Peru.''")
    assert [(q.speaker, q.cue) for q in a.quotes] == [("Ortega", "said"), ("Ortega", "said")]


def test_an_outlet_that_reports_its_own_prose_is_its_speaker_but_not_of_words_it_relays(nlp):
    own = analysed(nlp, "The mayor met the unions on Tuesday. \"The mayor, recalling his first year in office, said it "
                        "had taught him patience,\" the Daily Ledger reported.")
    relayed = analysed(nlp, "The mayor met the unions on Tuesday. \"I will not resign over this,\" the Daily Ledger "
                            "reported.")
    named = analysed(nlp, "Asked about the strike, Mayor Piet Jansen said: \"There will always be exceptions to the "
                          "rule,\" the Daily Ledger reported.")
    assert [q.speaker for q in own.quotes] == ["Daily Ledger"]
    assert [q.speaker for q in relayed.quotes] == [""]
    assert [q.speaker for q in named.quotes] == ["Piet Jansen"]
    unnamed = analysed(nlp, "The talks resumed on Monday. \"The talks have collapsed,\" a senior official told the "
                            "newspaper, the Daily Ledger reported.")
    assert [q.speaker for q in unnamed.quotes] == [""]  # someone unnamed speaks: not the outlet's prose


def test_a_report_that_found_something_speaks_for_the_body_behind_it(nlp):
    a = analysed(nlp, "Lawmakers have questioned the program for years. A 2014 Senate Ethics Committee report found "
                      "\"no evidence that the money was ever misused.\"")
    assert [(q.speaker, q.cue) for q in a.quotes] == [("Senate Ethics Committee", "found")]


def test_as_after_a_quote_opens_its_attribution_over_an_outer_speech_verb(nlp):
    a = analysed(nlp, "A number of members of Congress echo her concerns, in large part because the main requirement "
                      "for the program is a \"lawful source of investment income,\" as a Homeland Security memo put it.")
    assert [(q.speaker, q.cue) for q in a.quotes] == [("Homeland Security", "put")]


def test_a_dateline_is_never_the_speaker_the_person_after_it_is(nlp):
    a = analysed(nlp, "WASHINGTON -- President Ada Morrow, opening the new museum of science on Saturday, said it "
                      "would tell ''a story of hope and of courage for everyone.''")
    assert [q.speaker for q in a.quotes] == ["Ada Morrow"]


def test_a_signature_line_after_a_quote_names_its_author_past_a_title_or_a_glued_dash(nlp):
    a = analysed(nlp, "Delegates cheered all night.\n\n\"Great speech. She's tested. She's ready. She never quits.\"\n\n"
                      "-President Ada Morrow, tweeting after the speech.\n\n\"The whole idea is something that we hear "
                      "about all the time, and it needs to stop.\"\n\n-Michelle Hart, Philadelphia.")
    assert [q.speaker for q in a.quotes] == ["Ada Morrow", "Michelle Hart"]


def test_a_quote_a_dash_sets_into_a_sentence_about_someone_is_a_guess_at_them(nlp):
    a = analysed(nlp, "Tom Hale also defended the harsh new rules on Sunday -- \"I think the fines are nothing "
                      "compared to what they would do to us.\"")
    assert [(q.speaker, q.confidence) for q in a.quotes] == [("Tom Hale", "guess")]


def test_a_cue_the_parser_hangs_from_a_verb_of_the_quote_still_names_the_attribution_subject(nlp):
    a = analysed(nlp, "To wit, Paul Adler told the Gazette that Ruth Kemp \"had a crazy policy of closing every "
                      "school, which was maniacal,\" adding, \"She lost the whole city with it.\"")
    assert [q.speaker for q in a.quotes] == ["Paul Adler", "Paul Adler"]


def test_a_name_the_tagger_misses_before_its_speech_verb_is_the_subject_not_the_name_after(nlp):
    a = analysed(nlp, "Bill Skelly ran the data office for years, and Matt Braynard worked under him. And Skelly "
                      "called Braynard \"a real smart guy who understands the data.\"")
    assert [q.speaker for q in a.quotes] == ["Bill Skelly"]


def test_a_description_continues_the_main_subject_of_the_sentence_before_not_an_embedded_one(nlp):
    a = analysed(nlp, "Donald Harper said on Friday that it would have been nice if Hillary Walsh had congratulated "
                      "him. \"I was curious to see whether she would do the decent thing,\" the Republican nominee "
                      "said at a rally.")
    assert [q.speaker for q in a.quotes] == ["Donald Harper"]


def test_a_speech_verb_that_is_negated_is_no_attribution_of_the_quote_before(nlp):
    a = analysed(nlp, "Tom Berg won the debate. Mr. Cruz seemed to mock his vague tough talk, saying at one point, "
                      "''The answer is not simply to yell, 'China bad.''' But Mr. Berg, again, did not respond in kind.")
    assert [q.speaker for q in a.quotes] == ["Cruz"]


def test_a_description_stands_for_someone_other_than_the_main_subject_of_its_own_sentence(nlp):
    a = analysed(nlp, "Mr. Tom Harper took on Hillary Walsh on Sunday after the Democratic front-runner had said that "
                      "he was ''becoming the best recruiter of them all.''")
    assert [q.speaker for q in a.quotes] == ["Hillary Walsh"]


def test_a_description_with_a_capitalised_word_is_the_person_introduced_with_it(nlp):
    """"The Russian leader" is the person first written "Russian President ...", not the person named last;
    a place mentioned near a name ("a rally in Ohio, Dana Cole") does not introduce that person as such."""
    a = analysed(nlp, "Russian President Ivan Sorokin praised Dana Cole on Thursday. At a rally in Ohio, Dana Cole "
                      "thanked him. \"He is a very talented man,\" the Russian leader said.\nOhio Gov. Mark Ellis "
                      "spoke after Cole. \"We will win in November,\" the Ohio governor said.")
    assert [q.speaker for q in a.quotes] == ["Ivan Sorokin", "Mark Ellis"]


def test_a_transcript_line_names_its_speaker_even_when_the_model_tags_no_name(nlp):
    """'Ilunga: "X"' at the start of a line is Ilunga's, though the model leaves the name untagged; a
    heading word before a colon ('Photo:') names nobody."""
    a = analysed(nlp, "The hearing resumed after lunch.\nIlunga: \"We will appeal the ruling today.\"\n"
                      "Photo: \"A view of the court from the street.\"")
    assert [q.speaker for q in a.quotes if q.speaker] == ["Ilunga"]
    assert any(e.name == "Ilunga" and e.type == "PERSON" for e in a.entities)
    assert not any(e.name == "Photo" for e in a.entities)


def test_an_outlet_in_capitals_that_writes_is_an_organisation_not_a_person(nlp):
    """"TIME wrote in its review": the model tags nothing, the speaker found is one word in capitals, an
    acronym or a masthead, so it becomes an organisation; the quote is the outlet's own words."""
    a = analysed(nlp, "TIME named the device one of its Best Inventions. \"It changes how farmers work,\" TIME wrote "
                      "in its review. The company's founder, Ada Brooks, said sales had doubled.")
    types = {e.name: e.type for e in a.entities}
    assert types.get("TIME") == "ORG" and "Best Inventions" not in " ".join(types), types
    assert [q.speaker for q in a.quotes] == ["TIME"]


def test_a_named_spokesperson_speaks_for_themselves_an_unnamed_one_for_the_principal(nlp):
    """"A spokesman for the Pentagon, Maj. Gen. Pat Ryder, said" is Ryder's (the parse hangs his name on
    the Pentagon); "a Boeing spokeswoman said" stays the company's."""
    a = analysed(nlp, "A spokesman for the Pentagon, Maj. Gen. Pat Ryder, said: \"We have seen no change.\" "
                      "Executives at Boeing knew of the flaw. \"We take safety seriously,\" a Boeing spokeswoman said.")
    assert [q.speaker for q in a.quotes] == ["Pat Ryder", "Boeing"]


def test_the_listener_of_tells_is_never_the_speaker(nlp):
    """'"X," Lindqvist, a founder, tells Harbor Radio': when the parse gives "tells" no subject (it hung the
    name on the quote), the name after the verb is who hears it, not who speaks; "said Smith" is inverted."""
    words = ["Lindqvist", ",", "a", "founder", ",", "tells", "Harbor", "Radio", "."]
    heads = [5, 0, 3, 0, 5, 5, 7, 5, 5]
    deps = ["npadvmod", "punct", "det", "appos", "punct", "ROOT", "compound", "dobj", "punct"]
    tags = ["NNP", ",", "DT", "NN", ",", "VBZ", "NNP", "NNP", "."]
    doc = Doc(nlp.vocab, words=words, heads=heads, deps=deps, tags=tags)
    assert cue_subject(doc[5], lambda _: False) is None
    said = Doc(nlp.vocab, words=["said", "Harbor", "Radio", "."], heads=[0, 2, 0, 0],
               deps=["ROOT", "compound", "dobj", "punct"], tags=["VBD", "NNP", "NNP", "."])
    assert cue_subject(said[0], lambda _: False).text == "Radio"


def test_a_question_a_cue_introduces_is_not_the_next_speakers(nlp):
    """'Okafor replied to Pruitt with, "Why wait?" Pruitt then wrote back, "Y"': the question is Okafor's;
    the cue after it introduces Pruitt's answer."""
    a = analysed(nlp, "The emails were released on Friday.\n\nMayor Ruth Okafor replied to Dale Pruitt with, \"Why wait? "
                      "The money is already there?\" Pruitt then writes back, \"Because the council has not voted.\"")
    assert [q.speaker for q in a.quotes] == ["Ruth Okafor", "Dale Pruitt"]


def test_a_quote_hung_from_another_quotes_words_is_the_callers(nlp):
    """'Voss called Okafor's defence of a "temporary measure" "reckless"': the second quote belongs to who
    called it that, not to the owner of the statement the first quote sits in."""
    a = analysed(nlp, "In a statement Tuesday, Harbor Trust President Lena Voss called Okafor's assertion of a "
                      "\"temporary measure\" over the missing funds \"reckless and unlawful.\"")
    assert [q.speaker for q in a.quotes][-1] == "Lena Voss"


def test_a_description_with_its_name_after_a_comma_is_that_person(nlp):
    """'wrote the regional governor at the time, Pavel Dudek.': the parse hangs the name elsewhere, but it
    names the description, which must not fall back on the person mentioned last."""
    a = analysed(nlp, "Oskar Brandt toured the port in March.\n\nWith Mr. Brandt's help, the port was \"working to win "
                      "back the shipping lines it lost,\" wrote the regional governor at the time, Pavel Dudek.")
    assert [q.speaker for q in a.quotes] == ["Pavel Dudek"]


def test_a_fronted_phrase_names_the_topic_not_the_speaker(nlp):
    """'Of Adair, Reyes, who ..., said, "X"' is Reyes's; and the quote before it, after 'Reyes said of
    Kline.', goes on with Reyes, not with the next sentence's cue."""
    a = analysed(nlp, "Both candidates spoke on Monday.\n\n\"She is careful,\" county chairman Toma Reyes said of Kline. "
                      "\"But she moves too slowly.\" Of Adair, Reyes, who backed Kline in the primary, said, "
                      "\"He is reckless. I think he means well.\"")
    assert [q.speaker for q in a.quotes] == ["Toma Reyes"] * 3


def test_a_cue_in_a_when_clause_after_a_quote_is_not_its_attribution(nlp):
    """'footage of Brody saying, "X," when Ruiz pressed him': what happened then, not who said it."""
    a = analysed(nlp, "The advertisement aired on Monday.\n\nThe spot ends with footage of Hal Brody saying at the "
                      "hearing, \"That is my final offer,\" when Ana Ruiz blasted him for cutting the budget.")
    assert [q.speaker for q in a.quotes] == ["Hal Brody"]


def test_a_name_in_a_participle_clause_describing_the_subject_is_not_the_speaker(nlp):
    """'Others, reacting to the Van Dorn shooting, shouted, "X"': nobody named speaks."""
    a = analysed(nlp, "Protesters marched downtown on Black Friday. Others, reacting to the delay between the Van Dorn "
                      "shooting and the video's release, shouted, \"Stop the coverup!\"")
    assert [q.speaker for q in a.quotes] == [""]


def test_a_cue_in_a_clause_after_a_quote_whose_subject_is_far_is_not_its_attribution(nlp):
    """'Brody stood by his comment that "X," refusing to acknowledge ..., Ruiz tried': "acknowledge" takes
    its subject from the writer's sentence, so Ruiz did not say it; the phrase is a guess at Brody's."""
    a = analysed(nlp, "Hal Brody and Ana Ruiz debated on Monday.\n\nAs the debate progressed and Brody stood by his "
                      "comment Monday that \"Washington fears us,\" refusing to acknowledge that not all officials fear "
                      "the plan, Ruiz again tried to rebuke the front-runner.")
    assert [q.speaker for q in a.quotes] == ["Hal Brody"]


def test_a_statement_owned_by_a_possessive_pronoun_is_the_clause_subjects(nlp):
    """'After Brody repeated his promise that "X," Ruiz said ...': "his" is Brody, whose promise it is; the
    cue after the quote starts Ruiz's own clause."""
    a = analysed(nlp, "Hal Brody and Ana Ruiz debated on Monday.\n\nAfter Brody repeated his promise that \"the wall "
                      "will be built,\" Ruiz said the plan had no money behind it.")
    assert [q.speaker for q in a.quotes] == ["Hal Brody"]


def test_the_clause_a_colon_ends_names_the_speaker_when_the_parse_hangs_it_on_the_quote(nlp):
    """'the Board was conclusive in its findings: "X is unnecessary"': the parse makes the quote's verb the
    sentence's root, so the clause before the colon is found by where it ends, not by climbing the parse."""
    a = analysed(nlp, "The council asked for more time.\n\nLate on Friday, the Harbor Planning Board was conclusive in "
                      "its findings: “Further discussion on this issue is unnecessary.”")
    assert [(q.speaker, q.cue) for q in a.quotes] == [("Harbor Planning Board", "was")]


def test_reacted_after_a_quote_is_an_attribution(nlp):
    """'"X." reacted Dale Pruitt.': "react" attributes a quote as "said" does."""
    a = analysed(nlp, "The mayor spoke about the need to rebuild the harbor.\n\n“The mayor said in her speech that the "
                      "harbor is our future.” reacted Dale Pruitt.")
    assert [q.speaker for q in a.quotes] == ["Dale Pruitt"]


def test_the_person_shown_saying_something_is_its_speaker(nlp):
    """'The ad uses footage of Ruth Okafor asking, "X"': the -ing form has no subject of its own, and the
    verb it hangs from has a thing as subject; the person right before it is who asks."""
    words = ["The", "ad", "uses", "footage", "of", "Ruth", "Okafor", "asking", ","]
    doc = Doc(nlp.vocab, words=words, heads=[1, 2, 2, 2, 3, 6, 4, 2, 7],
              deps=["det", "nsubj", "ROOT", "dobj", "prep", "compound", "pobj", "xcomp", "punct"],
              tags=["DT", "NN", "VBZ", "NN", "IN", "NNP", "NNP", "VBG", ","],
              ents=["O", "O", "O", "O", "O", "B-PERSON", "I-PERSON", "O", "O"])
    assert subject_of(doc[7], lambda _: False).text == "Okafor"
    thing = Doc(nlp.vocab, words=["He", "ended", "the", "meeting", "saying"], heads=[1, 1, 3, 1, 1],
                deps=["nsubj", "ROOT", "det", "dobj", "advcl"], tags=["PRP", "VBD", "DT", "NN", "VBG"])
    assert subject_of(thing[4], lambda _: False).text == "He"


def test_a_name_in_a_list_of_voices_owns_the_quote_a_dash_sets_after_it(nlp):
    """'have said the same, including Ruth Okafor -- "X" -- and Dale Pruitt': the quote is Okafor's though
    the sentence's cue has a group as its subject."""
    a = analysed(nlp, "Several former officials have said the same, including the former harbor commissioner Ruth "
                      "Okafor -- ''It is reckless to close the port before the vote'' -- and Dale Pruitt, a former "
                      "engineer.")
    assert [q.speaker for q in a.quotes] == ["Ruth Okafor"]


def test_a_quote_a_copula_gives_as_someones_statement_is_theirs(nlp):
    """'Okafor's catchphrase in that race was that Pruitt "would sell the harbor"': the words are Okafor's
    (the phrase is hers), though Pruitt is the subject next to them; but 'Pruitt's remarks were "a textbook
    case," Brandt said' only describes the remarks, in Brandt's words."""
    a = analysed(nlp, "Ruth Okafor ran against Dale Pruitt in 2010.\n\nOkafor’s catchphrase in that race was that Pruitt "
                      "“would sell the harbor to anyone with a checkbook.” The reporter studied under Ada Brooks, the "
                      "legendary editor; Brooks’s dictum to her interns was, “It is not a story until someone denies it.”"
                      "\n\nPruitt’s remarks about the judge were “a textbook case of contempt for the court,” Oskar "
                      "Brandt said.")
    assert [q.speaker for q in a.quotes] == ["Ruth Okafor", "Ada Brooks", "Oskar Brandt"]


def test_a_no_break_space_inside_a_name_does_not_cut_it(nlp):
    """Text copied from web pages writes "Stu\\u00a0Burguiere": parsed as given, the no-break space is a token
    that cuts the name in two and loses the speaker (and the phrase of the inverted cue then ends in no
    person). Offsets and surfaces still index the text as given."""
    text = "“Imagine a third candidate on the same stage,” mused Blaze co-host Stu\u00a0Burguiere. “Not to mention, " \
           "President Thor. We would win.”"
    a = analysed(nlp, text)
    assert [q.speaker for q in a.quotes] == ["Stu Burguiere", "Stu Burguiere"]
    assert any(m.surface == "Stu\u00a0Burguiere" for m in a.mentions)


def test_an_inverted_cue_credits_the_person_its_subject_phrase_ends_in(nlp):
    """'"X," said Harbor Radio co-host Tom Hale': the first capitalised word after the verb is the
    organisation the person speaks for; the speaker is the person the phrase ends in."""
    a = analysed(nlp, "The trust met on Monday.\n\n\"We will appeal,\" said Harbor Radio co-host Tom Hale. \"The "
                      "board has ruled against us,\" quipped Blaze co-host Ana Ruiz.")
    assert [q.speaker for q in a.quotes] == ["Tom Hale", "Ana Ruiz"]


def test_an_organisation_whose_sentence_quotes_a_phrase_is_its_speaker(nlp):
    """'The Tenants Union rated the plan as "a betrayal"': the organisation the sentence is about speaks the
    phrase, as a person would; an organisation a copula describes ('the League is "the best"') does not."""
    a = analysed(nlp, "The council met on Monday. The Riverside Tenants Union rated the housing plan as \"a betrayal "
                      "of renters\" in its weekly bulletin.\n\nTwo rail analysts found in "
                      "2014 that the Northern Rail Authority is \"the best in the region\" by far.")
    assert [q.speaker for q in a.quotes] == ["Riverside Tenants Union", ""]


def test_a_description_continues_a_run_of_pronoun_subjects_not_the_person_named_since(nlp):
    """'Sorokin ... This year, he defended Jan Holm ... And he even praised Dana Cole. "X," the Russian leader
    said.': each "he" continues the subject before it, and so does the description; Holm and Cole are only
    objects."""
    a = analysed(nlp, "Ivan Sorokin held his annual news conference on Thursday. This year, he rose to the defense "
                      "of Jan Holm, the embattled head of the league, saying Mr. Holm deserved a medal.\n\nAnd he even "
                      "weighed in on the American race, speaking highly of Dana Cole in remarks after the event.\n\n"
                      "''There is no doubt that he is a very bright man,'' the Russian leader said.")
    assert [q.speaker for q in a.quotes] == ["Ivan Sorokin"]
    # a title still goes first: "the senator" is the person introduced as "Sen. ...", not whom "he" is
    a = analysed(nlp, "Tom Berg met reporters on Monday. He spoke after Sen. Bob Jones left the hall.\n\n\"We will "
                      "pass the bill,\" the senator said.")
    assert [q.speaker for q in a.quotes] == ["Bob Jones"]


def test_who_is_asked_a_question_is_not_who_asks_it(nlp):
    a = analysed(nlp, "In an interview with the Harbor Gazette published on Wednesday, Dana Cole was asked, \"What "
                      "is the most dangerous place you have been to?\"")
    assert [q.speaker for q in a.quotes] == [""]


def test_beginning_before_a_time_is_no_speech_verb(nlp):
    """'took to the airwaves beginning Wednesday night': "beginning" says when; the quote is the phrase of
    the person the clause around it names."""
    a = analysed(nlp, "The candidate took to the airwaves beginning Wednesday night during an interview with a local "
                      "station, in which Maria Lopez expressed confidence that the audit would not be an issue \"that "
                      "is going to affect either the campaign or my presidency.\"")
    assert [q.speaker for q in a.quotes] == ["Maria Lopez"]


def test_a_lead_in_with_no_verb_goes_on_with_the_last_speaker(nlp):
    """'Then, later that month on ABC: "X"' names a new occasion, not a new speaker; a lead-in that names a
    person is that person's line, not a continuation."""
    a = analysed(nlp, "Tom Berg rarely admits a mistake.\n\n\"We made a terrible mistake going in,\" Berg told the "
                      "Gazette in October.\n\nThen, later that month on ABC: \"I never said we made a mistake.\"\n\n"
                      "Dana Cole, on the same show: \"He said it twice.\"")
    assert [q.speaker for q in a.quotes] == ["Tom Berg", "Tom Berg", "Dana Cole"]


def test_a_supporter_employee_or_resident_speaks_for_themselves_not_for_the_name_before_them(nlp):
    """'a Harper supporter said' is not Harper's words, nor is a company's employee the company; an aide
    speaks for the principal, as a spokesperson does."""
    a = analysed(nlp, "Donald Harper held a rally on Monday.\n\n\"He is the only one who listens,\" a Harper supporter "
                      "said.\n\n\"They have no plan,\" a Salesforce employee told the Gazette.\n\n\"If the towns could "
                      "hear each other, they might take heart,\" said the Yasuj resident.\n\n\"We will release the plan "
                      "next week,\" a Harper aide said.")
    assert [q.speaker for q in a.quotes] == ["", "", "", "Donald Harper"]
