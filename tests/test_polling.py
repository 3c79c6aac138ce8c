"""Adaptive polling and back-off (pure)."""

from datetime import UTC, datetime

from transform.polling import PollBounds, next_poll_after_failure, next_poll_after_success

B = PollBounds(min_seconds=300, max_seconds=14400, max_backoff_seconds=43200, disable_after_gone=3)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_busy_feed_is_polled_more_often_and_quiet_one_less_within_bounds():
    assert next_poll_after_success(NOW, 1200, 5, B).interval_seconds == 600
    assert next_poll_after_success(NOW, 400, 5, B).interval_seconds == 300  # floor
    assert next_poll_after_success(NOW, 1200, 0, B).interval_seconds == 1800
    assert next_poll_after_success(NOW, 14000, 0, B).interval_seconds == 14400  # ceiling


def test_failing_feed_backs_off_exponentially_up_to_the_cap_and_is_not_abandoned():
    waits = [(next_poll_after_failure(NOW, 600, n, "timeout", None, B).next_poll_at - NOW).total_seconds() for n in range(1, 10)]
    assert waits[:4] == [300, 600, 1200, 2400]
    assert max(waits) == 43200 and waits[-1] == 43200
    assert not next_poll_after_failure(NOW, 600, 50, "timeout", None, B).disable


def test_retry_after_is_honoured_and_gone_feeds_are_disabled():
    nxt = next_poll_after_failure(NOW, 600, 1, "http_503", 3600, B)
    assert (nxt.next_poll_at - NOW).total_seconds() == 3600
    assert not next_poll_after_failure(NOW, 600, 2, "http_410", None, B).disable
    assert next_poll_after_failure(NOW, 600, 3, "http_410", None, B).disable
