"""Arrow tables exactly as the data model declares them, and the plant's static tables.

>>> t = arrow_table("sites", {"site_id": ["TX1"], "name": ["x"], "region": ["ERCOT"],
...                           "timezone": ["America/Chicago"]})
>>> t.schema.names
['site_id', 'name', 'region', 'timezone']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from gigaloop.errors import SchemaError
from gigaloop.schema import INGESTED_AT, get_table
from gigaloop.twin.layout import STATIONS
from gigaloop.twin.scenario import Scenario


def arrow_table(name: str, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> pa.Table:
    """``columns`` as a table of the schema's names and types (``ingested_at`` left out)."""
    schema = get_table(name).arrow_schema()
    fields = [f for f in schema if f.name != INGESTED_AT]
    missing = {f.name for f in fields} - set(columns)
    if missing:
        raise SchemaError(f"twin built {name} without columns {sorted(missing)}", table=name)
    arrays = [pa.array(columns[f.name], type=f.type) for f in fields]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def concat(parts: list[pa.Table]) -> pa.Table:
    """One table from pieces of the same schema."""
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts)


def static_tables(scenario: Scenario) -> dict[str, pa.Table]:
    """Sites, lines, stations, machines, suppliers and parts (written once, on day 0)."""
    site = scenario.site
    start = scenario.scenario.start_date
    machines = [(m, s.station_id, s.machine_kind) for s in STATIONS for m in s.machine_ids]
    # installation dates: spread over the two years before start, fixed by position
    installed = [start - timedelta(days=90 + (37 * i) % 640) for i in range(len(machines))]
    return {
        "sites": arrow_table("sites", {
            "site_id": [site.site_id], "name": [site.name], "region": [site.region],
            "timezone": [site.timezone]}),
        "lines": arrow_table("lines", {
            "line_id": [site.line_id], "site_id": [site.site_id],
            "name": [f"{site.name} line 1"]}),
        "stations": arrow_table("stations", {
            "station_id": [s.station_id for s in STATIONS],
            "line_id": [site.line_id] * len(STATIONS),
            "process": [s.process for s in STATIONS],
            "sequence": [10 * (i + 1) for i in range(len(STATIONS))]}),
        "machines": arrow_table("machines", {
            "machine_id": [m[0] for m in machines], "station_id": [m[1] for m in machines],
            "kind": [m[2] for m in machines], "installed_on": installed}),
        "suppliers": arrow_table("suppliers", {
            "supplier_id": [s.supplier_id for s in scenario.suppliers],
            "name": [s.name for s in scenario.suppliers],
            "country": [s.country for s in scenario.suppliers]}),
        "parts": arrow_table("parts", {
            "part_number": [p.part_number for p in scenario.parts],
            "name": [p.name for p in scenario.parts],
            "category": [p.category for p in scenario.parts]}),
    }


def dates(start: date, days: np.ndarray) -> np.ndarray:
    """``start`` plus integer day offsets, as numpy dates."""
    return np.datetime64(start, "D") + days.astype("timedelta64[D]")
