"""The configured alert rules, reduced to the frozen records the outbox and the alert decision take.

Why here: the warehouse receives no ``Settings`` (it carries expanded secrets and every other section);
this is the one place that reads the ``alerts`` and ``feeds`` sections for it. The channels go down as
their masked identities, so the notify URLs' tokens never leave the pipeline layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from newswatch.config import AlertConfig, FeedConfig, Settings
from transform.alerts import AlertRule
from warehouse.outbox import AlertRoute, channel_identities


def alert_rule(cfg: AlertConfig, feeds: Sequence[FeedConfig] = ()) -> AlertRule:
    """The decision record of one ``AlertConfig``; a tag in its ``feeds`` stands for every feed of ``feeds``
    (the configured feeds) that carries it."""
    wanted = {x.casefold() for x in cfg.feeds or ()}
    names = wanted | {f.name.casefold() for f in feeds if wanted & {t.casefold() for t in f.tags}}
    return AlertRule(
        name=cfg.rule, topic=cfg.topic, min_sources=cfg.min_sources,
        languages=frozenset(x.split("-")[0].lower() for x in cfg.languages) if cfg.languages else None,
        feeds=frozenset(names) if cfg.feeds else None,
        max_age=timedelta(hours=cfg.max_age_hours), mode=cfg.mode,
        digest_every=timedelta(minutes=cfg.digest_every_minutes),
    )


def alert_routes(settings: Settings) -> tuple[AlertRoute, ...]:
    """Every configured rule with the identities of the channels it notifies, in config order."""
    return tuple(AlertRoute(alert_rule(a, settings.feeds), tuple(channel_identities(a.notify)))
                 for a in settings.alerts)
