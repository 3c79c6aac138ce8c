"""What ``newswatch demo`` shows of the warehouse it filled, and the example queries it suggests.

Why here: the demo command only prints; the SQL that reads the warehouse lives with the warehouse.
"""

from __future__ import annotations

import pandas as pd

from newswatch.config import WarehousePaths
from warehouse.analyst import query_frame

EXAMPLE_QUERIES = [
    ("Stories carried by more than one outlet",
     "SELECT s.title, s.article_count, s.first_seen_at FROM stories s WHERE s.article_count > 1 ORDER BY s.article_count DESC"),
    ("Who was quoted about North Korea",
     "SELECT q.speaker, count(*) AS quotes, min(q.text) AS example FROM quotes q "
     "JOIN topic_matches t USING (article_id) WHERE t.topic = 'korea-diplomacy' AND q.speaker <> '' "
     "GROUP BY q.speaker ORDER BY quotes DESC"),
    ("Most mentioned people and organisations",
     "SELECT e.name, e.type, count(*) AS mentions, count(DISTINCT m.article_id) AS articles FROM mentions m "
     "JOIN entities e USING (entity_id) GROUP BY ALL ORDER BY mentions DESC LIMIT 10"),
]

REPORT_QUERIES = [
    ("Articles per feed", "SELECT f.name AS feed, count(a.article_id) AS articles FROM feeds f "
                          "LEFT JOIN articles a USING (feed_id) GROUP BY f.name ORDER BY f.name"),
    ("Topic matches", "SELECT topic, count(*) AS articles, min(matched_terms) AS example_terms FROM topic_matches GROUP BY topic"),
    ("Stories carried by more than one outlet",
     "SELECT title, article_count FROM stories WHERE article_count > 1 ORDER BY article_count DESC"),
    ("Some quotes and their speakers",
     "SELECT speaker, left(text, 70) AS quote FROM quotes WHERE speaker <> '' ORDER BY article_id, start_char LIMIT 8"),
    ("Quarantine", "SELECT stage, reason, url FROM quarantine ORDER BY stage, reason"),
]


def demo_report(warehouse: WarehousePaths) -> list[tuple[str, pd.DataFrame]]:
    """Each section of the demo's report: its title and its rows, read from the analysts' copy."""
    return [(title, query_frame(sql, warehouse=warehouse)) for title, sql in REPORT_QUERIES]
