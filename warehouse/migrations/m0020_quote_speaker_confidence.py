"""``quotes.speaker_confidence``: how the quote's speaker was found (``subject``, ``sentence``, ``neighbour``,
``guess``; '' when the quote has no speaker), so that a view or an alert can keep to trusted attributions.

Rows loaded before this column existed get NULL: nobody recorded how their speaker was found, and an
alert treats them as not confident.

Shipped: never edit this file; change the schema with a new migration.
"""

SQL = """
ALTER TABLE quotes ADD COLUMN speaker_confidence VARCHAR;
"""
