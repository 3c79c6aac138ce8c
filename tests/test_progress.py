"""The progress protocol: the pipeline reports each feed and page, stage lines say what each stage did."""

from __future__ import annotations

import threading
from collections import Counter

from demosite.site import demo_feeds, demo_site
from extract.http import HttpClient
from pipeline import cycle
from pipeline.progress import StageLines
from tests.conftest import loopback_settings


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, object]] = []
        self.advanced: Counter[str] = Counter()
        self._lock = threading.Lock()

    def start(self, stage: str, total: int | None) -> None:
        self.calls.append(("start", stage, total))

    def advance(self, stage: str, n: int = 1) -> None:
        with self._lock:  # called from the pipeline's threads
            self.advanced[stage] += n

    def finish(self, stage: str, account: str) -> None:
        self.calls.append(("finish", stage, account))


def test_polls_and_fetches_advance_the_progress_once_per_feed_and_page(tmp_path):
    with demo_site() as site:
        settings = loopback_settings(tmp_path, demo_feeds(site), nlp={"enabled": False})
        _, targets = cycle.begin_cycle(settings, respect_schedule=False)
        progress = Recorder()
        with HttpClient(cycle.fetch_policy(settings)) as client:
            polls = cycle.polled_feeds(settings, targets, client, progress)
            plan = cycle.planned_items(settings, polls)
            jobs, rejections = cycle.fetched_jobs(settings, plan.candidates, client, progress)
    assert len(targets) == 7 and cycle.feeds_failed(polls) == 2  # the demo's two broken feeds count too
    assert progress.advanced == {"poll": 7, "fetch": len(plan.candidates)}
    assert len(jobs) + len(rejections) == len(plan.candidates) > 0


def test_stage_lines_time_each_stage_and_escape_what_they_print():
    lines: list[str] = []
    clock = iter([10.0, 14.13, 20.0, 20.5])
    stages = StageLines(lines.append, prefix="newswatch ", clock=lambda: next(clock))
    stages.start("poll", 212)
    stages.advance("poll", 212)
    stages.finish("poll", "212 feeds (3 failed)")
    stages.start("fetch", 1)
    stages.finish("fetch", "1 page from \x1b]0;evil\x07")
    assert lines == ["newswatch poll: 212 feeds (3 failed) in 4.1s", "newswatch fetch: 1 page from \\x1b]0;evil\\x07 in 0.5s"]
