"""Cleaning extracted text: what goes (captions, credits, prompts, repeats) and what must stay."""

from __future__ import annotations

import pytest

from transform.clean import boilerplate_rule, cleaned_text

PROSE = "The council voted on Monday night to approve the repair of the bridge, after two years of argument."


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("Credit: Tom Reyes / Getty Images", "credit"),
        ("(Image credit: NASA/JPL-Caltech)", "credit"),
        ("Photograph: Jane Doe for The Gazette", "credit"),
        ("Photo courtesy of the Riverside Museum", "credit"),
        ("Traffic queues on the bridge on Monday. Photo: Tom Reyes/Reuters", "credit_trailing"),
        ("The WeWork logo outside a co-working space in New York.Reuters", "credit_trailing"),
        ("Protesters march through the city centre. Jane Doe/AFP via Getty Images", "credit_trailing"),
        ("Firefighters at the scene on Sunday. (AP Photo/Kin Cheung)", "credit_photographer"),
        ("© 2024 The Riverside Gazette. All rights reserved.", "copyright"),
        ("4 min read", "read_time"),
        ("Reading time: 6 minutes", "read_time"),
        ("Lesezeit: 3 Minuten", "read_time"),
        ("Share this article", "share"),
        ("Share this story with a friend", "share_prompt"),
        ("Facebook Twitter Email Print", "share"),
        ("Share on WhatsApp", "share"),
        ("Tags: Transport, Riverside Council, Infrastructure", "tags"),
        ("Filed under: Politics |", "tags"),
        ("Sign up for our Morning Briefing newsletter to get the day’s top stories in your inbox.", "newsletter"),
        ("Get the latest headlines delivered to your inbox every morning.", "newsletter"),
        ("Thanks for signing up!", "newsletter_ack"),
        ("Subscribe to our YouTube channel for more videos:", "subscribe_pitch"),
        ("Follow us on Twitter and Facebook for the latest updates.", "follow"),
        ("Have a tip? Jane Doe may be reached at jdoe@gazette.example.", "contact"),
        ("CLICK HERE TO GET THE GAZETTE APP", "shouted"),
        ("Click here to read the full report.", "click_here"),
        ("Related: City to consult on new ferry timetable", "related_link"),
        ("READ MORE: Mayor says bridge will reopen by spring", "related_link"),
        ("Most read in world news", "related_heading"),
        ("You may also like...", "related_heading"),
        ("Mayor backs ferry plan [VIDEO]", "bracket_label"),
        ("Advertisement", "advert"),
        ("Story continues below advertisement", "advert"),
        ("By Maria Okafor", "byline"),
        ("By Maria Okafor and David Osei", "byline"),
        ("By Maria Okafor, Transport Correspondent", "byline"),
        ("Additional reporting by Steve Gorman; Editing by Nick Zieminski", "reporting_by"),
        ("Updated at 1:23 p.m.", "stamp"),
        ("UPDATED: Tue., Nov. 19, 2019", "dateline"),
        ("Updated: 5:45 p.m. ET", "stamp"),
        ("Copyright 2023 Sunbeam Television Corp. All rights reserved.", "copyright"),
        ("Mike Wall's book is out now. Follow him on Twitter @michaeldwall.", "follow"),
        ("You’re subscribed!", "newsletter_ack"),
        ("Tuesday, March 5, 2024", "dateline"),
        ("2019-11-19T08:57:40+01:00", "dateline"),
        ("3 comments", "comments"),
        ("Leave a comment", "comments"),
        ("We may earn a commission from purchases made through affiliate links.", "affiliate"),
        ("Photo by Sam Lee", "credit_by"),
        ("Image 3 of 12", "media_ui"),
        ("Listen to this article", "media_ui"),
        ("We use cookies to improve your experience on our site.", "cookies"),
        ("2 hours ago", "stamp"),
        ("https://www.gazette.example/news/harbour-bridge", "empty_or_url"),
        ("—", "empty_or_url"),
    ],
)
def test_boilerplate_lines_are_recognised(line: str, rule: str) -> None:
    assert boilerplate_rule(line) == rule


@pytest.mark.parametrize(
    "line",
    [
        PROSE,
        "By Tuesday, officials expect the vote to pass with a comfortable majority.",
        "The company sends a weekly newsletter to more than 40,000 subscribers, its filings show.",
        "Das Thema mit dem höchsten Potenzial wird seit Jahren diskutiert: die elektronische Patientenakte (ePA)",
        "June 26 -- PPL Center, Allentown, PA",
        "Michael Bloomberg",
        "WHO IS THE FRONT-RUNNER?",
        "WHAT WE KNOW SO FAR",
        "| HD | THE HOME DEPOT INC. | 225.86 | -12.99 | -5.44% |",
        "+81 158-23-2012",
        "2019 American Music Awards",
        "Share prices fell 4% after the announcement, wiping £2bn off the company’s value.",
        "Email vote@housing.example or call 212-306-6794 for more information about the ballot.",
        "Follow-up inspections found the same faults in three other bridges.",
        "Source code for the app was published on Monday.",
        "Tagged animals were released back into the estuary in June.",
        "Photos by the agency show the damage to the roof.",
        "Close to 3,000 people attended the rally.",
        "Loading bays will be moved to Quay Street.",
        "Sorry seems to be the hardest word for the minister this week.",
        "Fans can find him on Instagram, where he posts every day.",
        "The court ruled the copyright claim invalid.",
        "Copyright holders sued the company in 2023.",
        "Published in 1998, the report found the bridge unsafe.",
        "Reading time, she said, was sacred in the family.",
        "Read the responses from the ministry below.",
        "What do you think the council should do next?",
        "1/4",
    ],
)
def test_article_prose_is_kept(line: str) -> None:
    assert boilerplate_rule(line) is None


def test_cleaned_text_drops_boilerplate_and_keeps_paragraph_order() -> None:
    text = "\n".join(
        [
            "4 min read",
            "Credit: Tom Reyes / Getty Images",
            "First paragraph of the story, with the news in it.",
            "Share this article",
            "  Second   paragraph,\u00a0with odd  spacing.  ",
            "",
            "Tags: Transport, Council",
        ]
    )
    assert cleaned_text(text) == "First paragraph of the story, with the news in it.\nSecond paragraph, with odd spacing."


def test_invisible_characters_and_soft_hyphens_are_removed() -> None:
    assert cleaned_text("Not\u00adfall\u00addaten\u00adsatz und\u200b Medikationsplan.") == "Notfalldatensatz und Medikationsplan."


def test_a_pull_quote_repeating_a_paragraph_is_dropped() -> None:
    quote = "“We cannot keep patching a bridge that was built for horses and carts,” said Helen Marsh."
    paragraph = quote[:-1] + ", the council’s cabinet member for transport. “This plan fixes it properly.”"
    assert cleaned_text(f"{paragraph}\n{PROSE}\n{quote}") == f"{paragraph}\n{PROSE}"


def test_a_repeated_sentence_is_kept_once() -> None:
    repeated = "Officials said the bridge would reopen to pedestrians within a fortnight of the work starting."
    assert cleaned_text(f"{repeated}\n{PROSE}\n{repeated}") == f"{repeated}\n{PROSE}"


def test_repeated_lines_of_a_structured_article_are_kept() -> None:
    """A recipe or schedule repeats its short lines legitimately; only sentence repeats are pull quotes."""
    day = ["Pre-workout meal", "Eat 60-90 minutes before your workout",
           "Portion Fix containers: 1 green, 1 red, 1 yellow, 1 orange, 1 tsp."]
    text = "\n".join(["Monday", *day, "Tuesday", *day])
    assert cleaned_text(text) == text


def test_the_link_list_under_a_related_heading_goes_but_other_lists_stay() -> None:
    text = "\n".join(
        [
            "The council set out three conditions:",
            "- The walkway must stay open",
            "- Buses must run every ten minutes",
            PROSE,
            "Related:",
            "- Ferry timetable to change in May",
            "- Mill Street market to reopen",
            "The last paragraph of the story, which ends the article.",
        ]
    )
    assert cleaned_text(text) == "\n".join(
        [
            "The council set out three conditions:",
            "- The walkway must stay open",
            "- Buses must run every ten minutes",
            PROSE,
            "The last paragraph of the story, which ends the article.",
        ]
    )


def test_click_to_tweet_suffix_is_removed_and_its_duplicate_dropped() -> None:
    sentence = "Every online business exists in the same space-time continuum as every other business."
    text = f"{sentence}Click To Tweet\n{PROSE}\n{sentence}"
    assert cleaned_text(text) == f"{sentence}\n{PROSE}"


def test_nothing_left_gives_an_empty_string() -> None:
    assert cleaned_text("Advertisement\nShare this article\n\n4 min read") == ""
