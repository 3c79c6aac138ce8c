"""Pure transformations: cleaning, URLs, dedup/stories, topics, entities, quotes, alert rules. No I/O."""
