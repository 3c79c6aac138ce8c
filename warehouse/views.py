"""Trend views for analysts (migrations 0003 and 0005): daily volumes, spikes, co-occurrence and top speakers.

Why views and table macros rather than tables: they are always as fresh as the snapshot they read, cost
nothing to store, and every consumer (``newswatch sql``, ``newswatch trends``, a notebook) gets the same
definitions. The SQL is stored in the database when the migration runs; a change to anything below
(including the spike thresholds below, which migration 0003 wrote into its SQL as literals) needs a new
migration that drops and recreates the objects (see ``warehouse/migrations``).

Conventions shared by every object here:

- A *day* is the UTC calendar day of ``articles.published_at``. The cast goes through
  ``AT TIME ZONE 'UTC'`` because a plain ``published_at::DATE`` uses the session's ``TimeZone``
  setting, so the same query would give different days on machines in different zones.
- ``articles`` counts copies; ``stories`` counts distinct ``story_id`` (copies of one wire story
  count once). A story that runs over several days counts once on each of those days.
- Spikes are scored on stories, not articles: fifty outlets carrying one wire story is one event, and
  should not read as a surge of coverage.
"""

from __future__ import annotations

import math

# Length of the trailing baseline before the latest 24 hours, in 24-hour windows. Two weeks covers two weekly cycles, so weekday/weekend swings average out.
SPIKE_BASELINE_DAYS = 14

# A key spikes when its latest 24 hours hold at least this many distinct stories ...
# Why 3: with an empty baseline the score equals the count, and 1 or 2 stories after a quiet fortnight
# is what an entity picked up by chance looks like; 3 keeps that noise out. Chosen from the Poisson
# tail, not measured on real traffic (we have no multi-week warehouse yet).
SPIKE_MIN_STORIES = 3

# ... and its score reaches this. The score is (current - baseline) / sqrt(baseline + 1): a z-score
# under a Poisson baseline (variance = mean), with +1 so an empty or near-empty baseline does not
# divide by ~0. Why 3.0: under a stationary Poisson baseline the chance that a key crosses both
# thresholds by luck is below 0.4% per evaluation for any baseline mean (computed exactly from the Poisson
# tail: 0.0006 at mean 1, 0.0035 at mean 10, 0.0020 at mean 50, worst 0.0038 at mean 5.4; see
# tests/test_views.py::test_spike_thresholds_keep_poisson_false_alarms_below_half_a_percent).
# Real news counts are burstier than Poisson, so expect more; query ``spike_scores`` to use your own cut.
SPIKE_MIN_SCORE = 3.0

def spike_score(current: float, baseline_mean: float) -> float:
    """The spike score of ``current`` against a baseline daily mean (the same formula as the SQL)."""
    return (current - baseline_mean) / math.sqrt(baseline_mean + 1.0)


def is_spike(current: float, baseline_mean: float) -> bool:
    """Whether ``current`` stands well above the baseline (the thresholds documented above)."""
    return current >= SPIKE_MIN_STORIES and spike_score(current, baseline_mean) >= SPIKE_MIN_SCORE


# Every object migration 0003 creates, for documentation checks and ``DROP`` in a later migration.
TREND_VIEWS = ("topic_daily", "entity_daily", "spike_scores", "spikes", "cooccurrence", "top_speakers")
TREND_MACROS = ("spike_scores_at", "top_speakers_between")
