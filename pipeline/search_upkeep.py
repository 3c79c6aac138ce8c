"""The writer's upkeep of the search index after each load: catch up, and never fail the cycle for it.

Why here: the index is derived from ``articles`` and can always be rebuilt from it, so a failure to update
it (disk full, a damaged folder) must not lose a cycle's articles. It is logged and recorded as a
``quarantine`` row (stage ``search_index``, one per run), and the next cycle catches up from the
recorded position, or rebuilds.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from newswatch.errors import FatalError
from newswatch.models import Rejection
from warehouse import db
from warehouse.quarantine import quarantined
from warehouse.search_index import IndexUpdate, updated_search_index

log = logging.getLogger(__name__)


def refreshed_search_index(warehouse_path: str, run_id: str) -> IndexUpdate | None:
    """Index the articles the warehouse holds beyond the index's position (this run's, and any a crash left).

    Returns:
        What was done, or None when the update failed (then recorded in ``quarantine``).
    """
    with db.writer(warehouse_path) as con:
        try:
            update = updated_search_index(con, warehouse_path)
        except (FatalError, OSError, ValueError) as e:  # tantivy reports its own failures as ValueError
            log.warning("search index not updated (run %s): %s", run_id, e)
            with db.transaction(con):
                quarantined(con, [(None, Rejection("search_index", run_id, "", "search_index_failed", str(e)))],
                            run_id=run_id, now=datetime.now(UTC))
            return None
    log.info("search index: +%d -%d%s in %.2fs", update.added, update.removed,
             f" (rebuilt: {update.reason})" if update.rebuilt else "", update.seconds)
    return update
