"""The data model: every table gigaloop stores, with types, units and keys.

>>> sorted(TABLES)[:3]
['change_requests', 'change_reviews', 'component_failures']
>>> get_table("telemetry_daily").key
('vin', 'day')
"""

from __future__ import annotations

from gigaloop.errors import SchemaError
from gigaloop.schema import customer, fleet, genealogy, loop, plant, software, system
from gigaloop.schema.fleet import RATE_MEASURES, RateMeasure
from gigaloop.schema.table import EVENT_TIME, INGESTED_AT, Column, Table

#: Every table, by name, in dependency order (a referenced table comes first).
TABLES: dict[str, Table] = {}
for _module in (plant, genealogy, fleet, customer, software, system, loop):
    for _table in _module.TABLES:
        TABLES[_table.name] = _table


def get_table(name: str) -> Table:
    """The table called ``name``, or :class:`SchemaError` listing the known ones."""
    try:
        return TABLES[name]
    except KeyError:
        raise SchemaError(
            f"unknown table {name!r}; known: {', '.join(sorted(TABLES))}", table=name
        ) from None


def write_order(names: list[str] | set[str]) -> list[str]:
    """``names`` sorted so that every referenced table is written first.

    >>> write_order({"process_readings", "vehicles", "sites"})
    ['sites', 'vehicles', 'process_readings']
    """
    order = {name: i for i, name in enumerate(_topological())}
    return sorted(names, key=lambda n: order[get_table(n).name])


def _topological() -> list[str]:
    done: list[str] = []

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in stack:
            raise SchemaError("reference cycle", table=name)
        for column in TABLES[name].all_columns:
            if column.references:
                visit(column.references.split(".")[0], (*stack, name))
        done.append(name)

    for name in TABLES:
        visit(name, ())
    return done


__all__ = ["EVENT_TIME", "INGESTED_AT", "RATE_MEASURES", "TABLES", "Column", "RateMeasure",
           "Table", "get_table", "write_order"]
