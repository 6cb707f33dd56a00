"""Traceability both ways, written once in Ibis (DuckDB or Spark, unchanged).

Backwards, from a vehicle to everything that built it: :func:`vehicle_trace` — lots,
suppliers, stations, machines, shifts (``store.queries.vehicle_genealogy``) and every
process reading taken on it. Forwards, from a lot / station / machine / build window /
parameter range to every vehicle it touched and where that vehicle is now:
:func:`vehicles_touched` — its customer's region and climate, last telemetry day and
odometer, failures so far and whether a campaign has serviced it (:func:`touched` alone
counts them).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.store import Tables
from gigaloop.store.queries import vehicle_genealogy


def vehicle_trace(store: Tables, vin: str) -> ir.Table:
    """Every genealogy link and process reading of ``vin``: (kind, name, value, unit).

    Readings come as kind ``reading`` with name ``station/parameter``.
    """
    links = vehicle_genealogy(store, vin).select("kind", "name", "value",
                                                 unit=ibis.null().cast("string"))
    readings = store.table("process_readings")
    readings = readings.filter(readings.vin == vin)
    measured = readings.select(
        kind=ibis.literal("reading"),
        name=readings.station_id.concat("/", readings.parameter),
        value=readings.value.cast("string"),
        unit=readings.unit,
    )
    return ibis.union(links, measured).order_by(["kind", "name"])


def vehicles_touched(
    store: Tables,
    *,
    lot: str | None = None,
    station: str | None = None,
    machine: str | None = None,
    built_from: date | None = None,
    built_to: date | None = None,
    parameter: str | None = None,
    value_range: tuple[float, float] | None = None,
) -> ir.Table:
    """Vehicles matching every criterion given, with where they are now, by VIN.

    ``parameter``/``value_range`` select vehicles whose reading of that parameter (at
    ``station`` when given) lies in the closed range. Columns: vin, build_date, shift,
    hardware_revision, customer_id, region, climate_region, last_seen, odometer_miles,
    failures, campaigns. :func:`page_of_vehicles_touched` reads one page of them.
    """
    chosen = touched(store, lot=lot, station=station, machine=machine, built_from=built_from,
                     built_to=built_to, parameter=parameter, value_range=value_range)
    now = where_now(store, lambda table: table.semi_join(chosen, "vin"))
    out = chosen.left_join(now, "vin").drop("vin_right")
    return out.mutate(failures=out.failures.fill_null(0),
                      campaigns=out.campaigns.fill_null(0)).order_by("vin")


def page_of_vehicles_touched(store: Tables, *, limit: int, offset: int = 0,
                             **criteria: Any) -> tuple[int, pa.Table]:
    """How many vehicles :func:`vehicles_touched` holds, and the page of ``limit`` of them
    from ``offset`` (same columns), at the cost of a page even for a lot of a million
    vehicles: the page's VINs are read first, and the other tables are filtered by that
    list, which skips every row group whose VIN range cannot hold them (files are in key
    order, :func:`gigaloop.store.layout.in_key_order`)."""
    chosen = touched(store, **criteria)
    total = count_touched(store, **criteria)
    page = chosen.order_by("vin").limit(limit, offset=offset)
    page = store.to_pyarrow(page.select(*chosen.columns))  # (Spark adds a row number)
    listed = ibis.literal(page["vin"].to_pylist(), type="array<string>")  # quick to compile
    now = store.to_pyarrow(where_now(store, lambda table: table.filter(
        listed.contains(table.vin))))
    rows = page.join(now, "vin", join_type="left outer").sort_by("vin")
    for count in ("failures", "campaigns"):
        rows = rows.set_column(rows.schema.get_field_index(count), count,
                               pc.fill_null(rows[count], 0))
    return total, rows


def touched(store: Tables, *, lot: str | None = None, station: str | None = None,
            machine: str | None = None, built_from: date | None = None,
            built_to: date | None = None, parameter: str | None = None,
            value_range: tuple[float, float] | None = None) -> ir.Table:
    """The vehicles of :func:`vehicles_touched`, one row each: vin, build_date, shift,
    hardware_revision (count it for the number of vehicles touched)."""
    vehicles = store.table("vehicles")
    chosen = vehicles.select("vin", "build_date", "shift", "hardware_revision")
    if built_from is not None:
        chosen = chosen.filter(chosen.build_date >= built_from)
    if built_to is not None:
        chosen = chosen.filter(chosen.build_date <= built_to)
    for links in _links(store, lot=lot, station=station, machine=machine,
                        parameter=parameter, value_range=value_range):
        chosen = chosen.semi_join(links, "vin")
    return chosen


def count_touched(store: Tables, **criteria: Any) -> int:
    """How many vehicles :func:`touched` holds. Without a build window, from the link
    tables alone: a link's VIN is always a stored vehicle (the store refuses others), so
    the million rows of ``vehicles`` need not be read."""
    links = _links(store, **{k: v for k, v in criteria.items()
                             if k not in ("built_from", "built_to")})
    if criteria.get("built_from") is not None or criteria.get("built_to") is not None \
            or not links:
        return int(store.execute(touched(store, **criteria).count()))
    vins = links[0].select("vin").distinct()
    for more in links[1:]:
        vins = vins.semi_join(more, "vin")
    return int(store.execute(vins.count()))


def _links(store: Tables, *, lot: str | None = None, station: str | None = None,
           machine: str | None = None, parameter: str | None = None,
           value_range: tuple[float, float] | None = None) -> list[ir.Table]:
    """The link rows (lots used, stations passed, readings taken) each criterion keeps; a
    vehicle is touched when it has a row in every one."""
    out = []
    if lot is not None:
        used = store.table("vehicle_lots")
        out.append(used.filter(used.lot_id == lot))
    if station is not None or machine is not None:
        passed = store.table("vehicle_stations")
        if station is not None:
            passed = passed.filter(passed.station_id == station)
        if machine is not None:
            passed = passed.filter(passed.machine_id == machine)
        out.append(passed)
    if parameter is not None:
        readings = store.table("process_readings")
        readings = readings.filter(readings.parameter == parameter)
        if station is not None:
            readings = readings.filter(readings.station_id == station)
        if value_range is not None:
            readings = readings.filter(readings.value.between(*value_range))
        out.append(readings)
    return out


def where_now(store: Tables, of_chosen: Callable[[ir.Table], ir.Table]) -> ir.Table:
    """Where the chosen vehicles are now, one row per vehicle that has any of it: vin,
    customer_id, region, climate_region (its newest owner: a resold car shows the
    current one), last_seen, odometer_miles (last telemetry), failures, campaigns
    (counts; null for none). ``of_chosen`` narrows a table to the chosen VINs. One union
    of the four sources, grouped by VIN."""
    owners = of_chosen(store.table("customers"))
    newest = owners.delivered_on
    customers = owners.group_by("vin").aggregate(
        customer_id=owners.customer_id.argmax(newest), region=owners.region.argmax(newest),
        climate_region=owners.climate_region.argmax(newest))
    telemetry = of_chosen(store.table("telemetry_daily"))
    failures = of_chosen(store.table("component_failures"))
    visits = of_chosen(store.table("service_visits"))
    campaigns = visits.filter(visits.campaign_id.notnull())
    one = ibis.literal(1, type="int64")
    parts = ibis.union(
        _now_part(customers, customer_id=customers.customer_id, region=customers.region,
                  climate_region=customers.climate_region),
        _now_part(telemetry, last_seen=telemetry.day, odometer_miles=telemetry.odometer_miles),
        _now_part(failures, failures=one),
        _now_part(campaigns, campaigns=one),
    )
    return parts.group_by("vin").aggregate(
        customer_id=parts.customer_id.max(), region=parts.region.max(),
        climate_region=parts.climate_region.max(), last_seen=parts.last_seen.max(),
        odometer_miles=parts.odometer_miles.max(), failures=parts.failures.sum(),
        campaigns=parts.campaigns.sum())


_NOW_COLUMNS = {"customer_id": "string", "region": "string", "climate_region": "string",
                "last_seen": "date", "odometer_miles": "float64", "failures": "int64",
                "campaigns": "int64"}


def _now_part(table: ir.Table, **given: ir.Value) -> ir.Table:
    """``table``'s share of :func:`where_now`: its columns given, the others null."""
    return table.select(vin=table.vin, **{name: given.get(name, ibis.null().cast(dtype))
                                          for name, dtype in _NOW_COLUMNS.items()})
