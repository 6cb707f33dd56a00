"""Fleet messages: a vehicle's rows of one table as compact JSON, numbered per source.

Topic ``gigaloop/{site}/fleet/{vin}/{table}``, the table one of the fleet tables
(``telemetry_daily``, ``trigger_events``, ``diagnostic_codes``, ``component_failures``,
``crashes``). Payload, UTF-8 JSON::

    {"source": "VIN001/telematics", "seq": 41,
     "columns": {"day": ["2024-03-01", "2024-03-02"], "miles": [31.5, 12.0], ...}}

or the same rows as objects, ``"rows": [{"day": "2024-03-01", "miles": 31.5, ...}, ...]``.
``seq`` (required) counts the source's messages up from 0 with no wrap; ``source``
defaults to ``{site}/{vin}``. ``vin`` may be left out (the topic's is used); a row naming
another vehicle rejects the message. Dates and times are ISO 8601 text (times in UTC).

Rows of any other table of the schema (vehicles, lots, inspection results, customers …:
what has no Sparkplug B or fleet mapping) travel the same way on the generic topic
``gigaloop/{site}/table/{table}``, with the same payload; ``source`` defaults to
``{site}/{table}``, and ``vin``, where the table has one, is a column like any other.

>>> body = {"seq": 0, "rows": [{"code": "P0A80", "ecu": "BMS", "severity": "warning",
...                             "event_time": "2024-02-10T08:00:00"}]}
>>> decoded = decode("gigaloop/FRE/fleet/VIN001/diagnostic_codes", encode(body))
>>> decoded.source, decoded.seq, decoded.tables["diagnostic_codes"]["vin"].to_pylist()
('FRE/VIN001', 0, ['VIN001'])
>>> decode("gigaloop/FRE/fleet/VIN001/diagnostic_codes", b"{not json")
Traceback (most recent call last):
gigaloop.ingest.messages.RejectedMessage: bad JSON: Expecting property name enclosed in \
double quotes: line 1 column 2 (char 1)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gigaloop.ingest.messages import Decoded, RejectedMessage, table_from_columns
from gigaloop.schema import TABLES, Table

PREFIX = "gigaloop"
#: What a connector subscribes to for fleet messages.
TOPIC_FILTER = f"{PREFIX}/+/fleet/+/+"
#: What a connector subscribes to for rows of any table (the generic topic).
TABLE_TOPIC_FILTER = f"{PREFIX}/+/table/+"
#: Tables a vehicle may send: fleet tables with a ``vin``.
FLEET_TABLES = tuple(name for name, spec in TABLES.items()
                     if spec.domain == "fleet" and "vin" in spec.column_names)


def topic(site: str, vin: str, table: str) -> str:
    """The topic a vehicle publishes ``table`` rows on."""
    return f"{PREFIX}/{site}/fleet/{vin}/{table}"


def table_topic(site: str, table: str) -> str:
    """The generic topic of ``table`` rows (any table but ``quarantine``)."""
    return f"{PREFIX}/{site}/table/{table}"


def encode(body: Mapping[str, Any]) -> bytes:
    """A payload as compact UTF-8 JSON (dates and times as ISO text)."""
    return json.dumps(body, separators=(",", ":"), default=_iso).encode()


def default_source(topic_name: str) -> str | None:
    """The source a message on ``topic_name`` counts under unless its body names one
    (None: not a topic of this format)."""
    parts = topic_name.split("/")
    if parts[0] == PREFIX and (len(parts), parts[2:3]) in ((4, ["table"]), (5, ["fleet"])):
        return f"{parts[1]}/{parts[3]}"
    return None


def decode(topic_name: str, payload: bytes) -> Decoded:
    """The rows of one fleet message, or :class:`RejectedMessage` saying what is wrong."""
    parts = topic_name.split("/")
    if len(parts) == 4 and parts[0] == PREFIX and parts[2] == "table":
        return _decode_table(str(default_source(topic_name)), parts[3], payload)
    if len(parts) != 5 or parts[0] != PREFIX or parts[2] != "fleet":
        raise RejectedMessage(f"not a fleet topic: {topic_name!r}; publish on "
                              f"{PREFIX}/{{site}}/fleet/{{vin}}/{{table}}")
    vin, table_name = parts[3], parts[4]
    default = str(default_source(topic_name))
    if table_name not in FLEET_TABLES:
        raise RejectedMessage(f"{table_name!r} is not a fleet table; one of "
                              f"{', '.join(FLEET_TABLES)}", source=default)
    return _decode_body(TABLES[table_name], default, payload, vin)


def _decode_table(default: str, table_name: str, payload: bytes) -> Decoded:
    if table_name not in TABLES or table_name == "quarantine":
        raise RejectedMessage(f"{table_name!r} is not a table of the schema", source=default)
    return _decode_body(TABLES[table_name], default, payload, None)


def _decode_body(spec: Table, default: str, payload: bytes, vin: str | None) -> Decoded:
    """A JSON payload's source, seq and rows (``vin``: the topic's vehicle, if any)."""
    table_name = spec.name
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RejectedMessage(f"bad JSON: {exc}", table=table_name, source=default) from None
    if not isinstance(body, dict):
        raise RejectedMessage("payload is not a JSON object", table=table_name, source=default)
    source = body.get("source", default)
    if not isinstance(source, str) or not source:
        raise RejectedMessage("source: not a non-empty string", table=table_name,
                              source=default)
    seq = body.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise RejectedMessage("seq: missing or not a non-negative integer", table=table_name,
                              source=source)
    try:
        rows = _rows(spec, body, vin)
    except RejectedMessage as exc:
        raise RejectedMessage(exc.reason, table=table_name, source=source) from None
    return Decoded(source, seq, tables={table_name: rows})


def _rows(spec: Table, body: dict[str, Any], vin: str | None) -> Any:
    if ("rows" in body) == ("columns" in body):
        raise RejectedMessage('give either "rows" (a list of objects) or "columns" '
                              "(an object of equal-length lists)")
    if "rows" in body:
        rows = body["rows"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise RejectedMessage("rows: not a list of objects")
        names = list(dict.fromkeys(name for row in rows for name in row))
        columns = {name: [row.get(name) for row in rows] for name in names}
        num_rows = len(rows)
    else:
        columns = body["columns"]
        if not isinstance(columns, dict) or not all(isinstance(v, list)
                                                    for v in columns.values()):
            raise RejectedMessage("columns: not an object of lists")
        num_rows = max((len(v) for v in columns.values()), default=0)
    given = columns.get("vin")
    if vin is not None and given is None:
        columns = {**columns, "vin": [vin] * num_rows}
    elif vin is not None and any(v != vin for v in given or ()):
        raise RejectedMessage(f"rows name vehicles other than the topic's {vin}")
    return table_from_columns(spec, columns, num_rows)


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
