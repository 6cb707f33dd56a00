"""What a rejected row becomes: a ``quarantine`` row with its table, reasons and content.

The row is kept as compact JSON with its keys sorted (``ingested_at`` left out, so
re-sending the same bad row quarantines it once: ``row_hash`` is its key with the table).
The JSON (``to_json``) and its hash (``sha256``) are made in DuckDB a batch at a time: a
flood of rejected rows costs a third of what it did row by row in Python (docs/
architecture.md). Rows of a type DuckDB does not read are written row by row by
:mod:`json` (the same rows always take the same path, so their hash stays stable).

>>> import datetime as dt
>>> from gigaloop.schema import get_table
>>> from gigaloop.store.validate import Rejections
>>> rows = pa.table({"site_id": ["S1", None], "area_m2": [1.5, float("nan")]})
>>> rejected = Rejections(2)
>>> rejected.add("site_id: missing", np.array([False, True]))
>>> kept = quarantine_rows(get_table("sites"), rows, rejected, dt.datetime(2025, 1, 1), "test")
>>> kept["reason"].to_pylist(), kept["row_json"].to_pylist()
(['site_id: missing'], ['{"area_m2":NaN,"site_id":null}'])
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

from gigaloop.schema import INGESTED_AT, Table
from gigaloop.store.validate import Rejections

#: Characters of the SHA-256 hex digest kept as ``row_hash``.
HASH_CHARS = 32


def quarantine_rows(spec: Table, received: pa.Table, rejected: Rejections, stamp: datetime,
                    source: str | None) -> pa.Table:
    """The ``quarantine`` rows of ``received``'s rejected rows."""
    positions = np.flatnonzero(rejected.mask)
    as_received = received.take(positions)
    if INGESTED_AT in as_received.column_names:
        as_received = as_received.drop_columns([INGESTED_AT])
    texts, hashes = row_texts(as_received)
    n = len(texts)
    return pa.table({
        "table_name": pa.repeat(pa.scalar(spec.name), n),
        "row_hash": hashes,
        "reason": rejected.reasons_of(positions),
        "row_json": texts,
        "source": pa.repeat(pa.scalar(source, pa.string()), n),
        "event_time": pa.repeat(pa.scalar(stamp, pa.timestamp("us")), n),
    })


def row_texts(rows: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Each row of ``rows`` as JSON with sorted keys, and the first :data:`HASH_CHARS` hex
    digits of its SHA-256.

    >>> texts, hashes = row_texts(pa.table({"b": [1, None], "a": ["x", "y"]}))
    >>> texts.to_pylist()
    ['{"a":"x","b":1}', '{"a":"y","b":null}']
    >>> hashes[0].as_py() == hashlib.sha256(b'{"a":"x","b":1}').hexdigest()[:32]
    True
    """
    names = sorted(rows.column_names)
    if rows.num_rows and names and len(set(names)) == len(names):
        try:
            return _in_duckdb(rows, names)
        except duckdb.Error:
            pass  # a type to_json does not take: per row below
    texts = [json.dumps(r, sort_keys=True, default=str, separators=(",", ":"))
             for r in rows.to_pylist()]
    hashes = [hashlib.sha256(t.encode()).hexdigest()[:HASH_CHARS] for t in texts]
    return pa.array(texts, pa.string()), pa.array(hashes, pa.string())


def _in_duckdb(rows: pa.Table, names: list[str]) -> tuple[pa.Array, pa.Array]:
    """:func:`row_texts` in DuckDB (timestamps with a zone written in UTC)."""
    fields = ", ".join("'{}': \"{}\"".format(n.replace("'", "''"), n.replace('"', '""'))
                       for n in names)
    with _connection().cursor() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.register("received", rows)
        out = con.sql(f"SELECT text, left(sha256(text), {HASH_CHARS}) AS hash FROM ("
                      f"SELECT to_json({{{fields}}})::VARCHAR AS text FROM received)"
                      ).to_arrow_table()
    return out["text"].combine_chunks(), out["hash"].combine_chunks()


_connections: dict[int, duckdb.DuckDBPyConnection] = {}
_opening = threading.Lock()


def _connection() -> duckdb.DuckDBPyConnection:
    """This process's in-memory DuckDB for :func:`_in_duckdb` (opening one costs about
    20 ms, a cursor on it microseconds; a forked child opens its own)."""
    with _opening:
        pid = os.getpid()
        if pid not in _connections:
            _connections[pid] = duckdb.connect()
        return _connections[pid]
