"""The channels of one delivery, each chosen by its URL's scheme: our own webhook sender for ``json://`` and
``jsons://``, apprise in a child process for everything else.

Why apart from ``pipeline/channels.py``: the implementations depend on the interface there; the choice between
them depends on both, so it lives above them.
"""

from __future__ import annotations

from types import TracebackType
from urllib.parse import urlsplit

from pipeline.apprise_child import AppriseChannel, AppriseWorker
from pipeline.channels import WEBHOOK_SCHEMES, Channel, ChannelPolicy
from pipeline.webhook import WebhookChannel


class ChannelSet:
    """The channels of one delivery: ``with ChannelSet(policy) as cs: cs.channel(url).send(...)``.

    Apprise channels share one child process, started on first use, replaced after a send it did not
    finish in time, and ended when the set closes.
    """

    def __init__(self, policy: ChannelPolicy) -> None:
        self.policy = policy
        self._worker = AppriseWorker(policy)
        self._channels: dict[str, Channel] = {}

    def channel(self, url: str) -> Channel:
        """The channel for ``url``, by its scheme."""
        if url not in self._channels:
            scheme = urlsplit(url).scheme.lower()
            if scheme in WEBHOOK_SCHEMES:
                self._channels[url] = WebhookChannel(url, self.policy)
            else:
                self._channels[url] = AppriseChannel(url, self._worker)
        return self._channels[url]

    def close(self) -> None:
        self._worker.close()

    def __enter__(self) -> ChannelSet:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
