"""What a rejected row becomes: a ``quarantine`` row with its table, reasons and content.

The row is kept as sorted JSON (``ingested_at`` left out, so re-sending the same bad row
quarantines it once: ``row_hash`` is its key with the table).

>>> import datetime as dt
>>> from gigaloop.schema import get_table
>>> from gigaloop.store.validate import Rejections
>>> rows = pa.table({"site_id": ["S1", None]})
>>> rejected = Rejections(2)
>>> rejected.add("site_id: missing", np.array([False, True]))
>>> kept = quarantine_rows(get_table("sites"), rows, rejected, dt.datetime(2025, 1, 1), "test")
>>> kept["reason"].to_pylist(), kept["row_json"].to_pylist()
(['site_id: missing'], ['{"site_id": null}'])
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import numpy as np
import pyarrow as pa

from gigaloop.schema import INGESTED_AT, Table
from gigaloop.store.validate import Rejections


def quarantine_rows(spec: Table, received: pa.Table, rejected: Rejections, stamp: datetime,
                    source: str | None) -> pa.Table:
    """The ``quarantine`` rows of ``received``'s rejected rows."""
    positions = np.flatnonzero(rejected.mask)
    as_received = received.take(positions)
    if INGESTED_AT in as_received.column_names:
        as_received = as_received.drop_columns([INGESTED_AT])
    texts = [json.dumps(r, sort_keys=True, default=str) for r in as_received.to_pylist()]
    return pa.table({
        "table_name": pa.repeat(pa.scalar(spec.name), len(texts)),
        "row_hash": [hashlib.sha256(t.encode()).hexdigest()[:32] for t in texts],
        "reason": rejected.reasons_of(positions),
        "row_json": texts,
        "source": pa.repeat(pa.scalar(source, pa.string()), len(texts)),
        "event_time": pa.repeat(pa.scalar(stamp, pa.timestamp("us")), len(texts)),
    })
