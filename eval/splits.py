"""A deterministic half/half split of an evaluation set by a stable hash of each document's id.

Why: rules tuned on the pages they are measured on look better than they are. Every eval script takes
``--split tune|report|all``: iterate on ``tune``, quote ``report``. The split depends only on the id
(SHA-256, not Python's per-process ``hash``), so it is the same on every run and machine.
"""

from __future__ import annotations

import hashlib

SPLITS = ("tune", "report", "all")


def split_of(doc_id: str) -> str:
    """``"tune"`` or ``"report"`` for a document id, by the parity of its SHA-256's first byte."""
    return "tune" if hashlib.sha256(doc_id.encode("utf-8")).digest()[0] % 2 == 0 else "report"


def in_split(doc_id: str, split: str) -> bool:
    """Whether the document belongs to ``split`` (every document belongs to ``"all"``)."""
    return split == "all" or split_of(doc_id) == split
