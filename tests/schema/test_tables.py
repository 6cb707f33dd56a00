"""The data model is consistent: keys, references, timestamps, units."""

import pytest

from gigaloop.errors import SchemaError
from gigaloop.schema import EVENT_TIME, INGESTED_AT, TABLES, Column, Table, get_table, write_order


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_is_consistent(name: str) -> None:
    table = TABLES[name]
    schema = table.arrow_schema()
    assert schema.names == table.column_names
    for key in table.key:
        assert not table.column(key).nullable, f"{name}.{key} is a key and must not be null"
    if table.event:
        assert {EVENT_TIME, INGESTED_AT} <= set(table.column_names)
    for column in table.all_columns:
        if column.references:
            ref_table, ref_column = column.references.split(".")
            assert ref_column in TABLES[ref_table].key, f"{name}.{column.name} → not a key"


def test_every_measurement_that_has_a_unit_says_it() -> None:
    for name, column in [("telemetry_daily", "miles"), ("machine_readings", "vibration_rms"),
                         ("energy_readings", "carbon_g_per_kwh")]:
        assert get_table(name).column(column).unit


def test_write_order_puts_references_first() -> None:
    order = write_order(set(TABLES))
    position = {name: i for i, name in enumerate(order)}
    for table in TABLES.values():
        for column in table.all_columns:
            if column.references:
                assert position[column.references.split(".")[0]] < position[table.name]


def test_unknown_table_lists_the_known_ones() -> None:
    with pytest.raises(SchemaError, match=r"known: .*telemetry_daily"):
        get_table("telemetry_weekly")


def test_bad_definitions_are_refused() -> None:
    with pytest.raises(SchemaError, match="key columns"):
        Table("t", "fleet", "", key=("nope",), columns=(Column("a", "int64", ""),))
    with pytest.raises(SchemaError, match="duplicate"):
        Table("t", "fleet", "", key=("a",), columns=(Column("a", "int64", ""),) * 2)
