"""What a connector makes of one message: rows per table, its source and sequence number.

A decoder (:mod:`gigaloop.ingest.sparkplug`, :mod:`gigaloop.ingest.fleet_json`) turns a
message into a :class:`Decoded`, or raises :class:`RejectedMessage` with the reason when
the message as a whole cannot be read (bad JSON, bad protobuf, unknown topic). Bad
*values* are not its business: rows go to the store as sent, and the store quarantines
what fails its checks, with the reason.

>>> from gigaloop.schema import get_table
>>> rows = table_from_columns(get_table("diagnostic_codes"), {"vin": ["V1"], "code": ["P0"]}, 1)
>>> rows.column_names[:3], rows["ecu"].to_pylist()
(['vin', 'code', 'ecu'], [None])
>>> concat([pa.table({"value": [1.5]}), pa.table({"value": ["high"]})])["value"].to_pylist()
['1.5', 'high']
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.errors import IngestError
from gigaloop.ingest.memory import arrow_column
from gigaloop.schema import INGESTED_AT, Table


class RejectedMessage(IngestError):
    """A message that cannot be read at all; ``reason`` says why, ``table`` what it was for."""

    def __init__(self, reason: str, *, table: str | None = None, source: str | None = None):
        super().__init__(reason, table=table, source=source)
        self.reason = reason
        self.table = table
        self.source = source


@dataclass
class Decoded:
    """One message's rows (per table), who sent it and its sequence number.

    ``seq`` is None for messages that carry none (Sparkplug NDEATH, commands);
    ``modulus`` wraps it (256 for Sparkplug B). ``restart`` marks a new session of the
    source (a Sparkplug NBIRTH: numbering starts again). ``rejected`` holds the readings
    of an otherwise readable message that cannot become rows: (table, reason, reading).
    """

    source: str
    seq: int | None
    modulus: int | None = None
    tables: dict[str, pa.Table] = field(default_factory=dict)
    restart: bool = False
    rejected: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t.num_rows for t in self.tables.values())


def table_from_columns(spec: Table, columns: Mapping[str, Sequence[Any]],
                       num_rows: int) -> pa.Table:
    """Every column of ``spec`` (but ``ingested_at``) from ``columns``, absent ones as nulls.

    Values keep the types they came with (mixed ones become text): the store casts and
    quarantines. Arrow arrays and NumPy arrays are taken as they are. Unknown columns
    raise :class:`RejectedMessage`.
    """
    names = [c.name for c in spec.all_columns if c.name != INGESTED_AT]
    unknown = sorted(set(columns) - set(names))
    if unknown:
        raise RejectedMessage(f"unknown columns {unknown} for {spec.name}; its columns: "
                              f"{', '.join(names)}", table=spec.name)
    arrays = []
    for name in names:
        values = columns.get(name)
        if values is None:
            arrays.append(pa.nulls(num_rows))
        elif len(values) != num_rows:
            raise RejectedMessage(f"column {name} has {len(values)} values, not {num_rows}",
                                  table=spec.name)
        elif isinstance(values, pa.Array | np.ndarray):  # columnar already: no copy
            arrays.append(pa.array(values) if isinstance(values, np.ndarray) else values)
        else:
            arrays.append(arrow_column(list(values)))
    return pa.table(arrays, names=names)


def concat(tables: list[pa.Table]) -> pa.Table:
    """Rows of several messages as one batch; a column typed differently becomes text."""
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        names = tables[0].column_names
        mixed = {n for n in names if len({str(t.schema.field(n).type) for t in tables
                                         if t.schema.field(n).type != pa.null()}) > 1}
        cast = []
        for table in tables:
            for name in mixed:
                position = table.column_names.index(name)
                table = table.set_column(position, name, pc.cast(table[name], pa.string()))
            cast.append(table)
        return pa.concat_tables(cast, promote_options="permissive")


def quarantine_row(topic: str, payload: bytes | dict[str, Any], rejected: RejectedMessage,
                   received_at: datetime, source: str) -> dict[str, Any]:
    """The ``quarantine`` row that keeps a message the connector could not read, or (a
    dict) one reading of a message that cannot become a row.

    ``row_json`` holds the topic and the payload (text when it is UTF-8, else base64) or
    the reading; ``row_hash`` is the hash of both, so the same message quarantined again
    is unchanged.

    >>> import datetime as dt
    >>> row = quarantine_row("t", b"{oops", RejectedMessage("bad JSON"), dt.datetime(2025, 1, 1),
    ...                      "mqtt")
    >>> row["table_name"], row["reason"], json.loads(row["row_json"])
    ('mqtt', 'bad JSON', {'payload': '{oops', 'topic': 't'})
    """
    shown: dict[str, Any]
    if isinstance(payload, dict):
        shown = {"reading": payload}
    else:
        try:
            shown = {"payload": payload.decode("utf-8")}
        except UnicodeDecodeError:
            shown = {"payload_base64": base64.b64encode(payload).decode("ascii")}
    text = json.dumps({"topic": topic, **shown}, sort_keys=True)
    return {"table_name": rejected.table or "mqtt",
            "row_hash": hashlib.sha256(text.encode()).hexdigest()[:32],
            "reason": rejected.reason, "row_json": text, "source": source,
            "event_time": received_at}
