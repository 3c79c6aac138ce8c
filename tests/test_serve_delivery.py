"""``serve`` delivers from the outbox on its own short schedule: a retry goes out when it is due, not at
the next cycle, and never while a cycle holds the warehouse."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import yaml

from flows import serve
from pipeline import delivery
from pipeline.runlock import cycle_lock
from pipeline.settings import load_settings
from tests.receiver import WebhookReceiver
from tests.test_alert_delivery import doc_for, queued, rows


def test_a_failed_alert_is_retried_between_cycles_when_due_and_never_beside_a_cycle(tmp_path, monkeypatch):
    monkeypatch.setattr(delivery, "RETRY_BASE", timedelta(seconds=1))
    monkeypatch.setattr(serve, "DELIVERY_EVERY_SECONDS", 0.3)
    with WebhookReceiver(statuses=[500]) as hook:
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump(doc_for(tmp_path, [{"topic": "korea", "notify": [hook.url]}])))
        settings = load_settings(cfg)
        queued(settings, [("s1", "a1", 1)], now=datetime.now(UTC))
        with cycle_lock(settings.warehouse.path):  # a cycle in flight: the delivery leaves it alone
            assert serve.delivery_round(str(cfg)) == 0
        assert hook.received == []
        stopping = threading.Event()
        loop = threading.Thread(target=serve._delivery_loop, args=(str(cfg), stopping))
        loop.start()
        deadline = time.monotonic() + 20
        while len(hook.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        stopping.set()
        loop.join(5)
    assert not loop.is_alive()
    assert [r.status for r in hook.received] == [500, 200]
    assert rows(settings)[0][:2] == ("sent", 2)


def test_the_next_slot_of_an_interval_schedule_is_aligned_like_prefects():
    from pipeline.settings import settings_from_dict

    s = settings_from_dict({"schedule": {"every_minutes": 30}})
    assert serve.next_slot(s, datetime(2026, 12, 1, 10, 7, tzinfo=UTC)) == datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    assert serve.next_slot(settings_from_dict({"schedule": {"cron": "*/5 * * * *"}}), datetime.now(UTC)) is None
