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

from datetime import date

import ibis
import ibis.expr.types as ir

from gigaloop.loop.kpis import Tables
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
    limit: int | None = None,
    offset: int = 0,
) -> ir.Table:
    """Vehicles matching every criterion given, with where they are now, by VIN.

    ``parameter``/``value_range`` select vehicles whose reading of that parameter (at
    ``station`` when given) lies in the closed range. With ``limit``, only that page of
    VINs (from ``offset``) is looked up, so a lot of a million vehicles answers a page at
    the cost of a page. Columns: vin, build_date, shift, hardware_revision, customer_id,
    region, climate_region, last_seen, odometer_miles, failures, campaigns.
    """
    chosen = touched(store, lot=lot, station=station, machine=machine, built_from=built_from,
                     built_to=built_to, parameter=parameter, value_range=value_range)
    if limit is not None:
        chosen = chosen.order_by("vin").limit(limit, offset=offset)
    return _where_now(store, chosen).order_by("vin")


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
    if lot is not None:
        used = store.table("vehicle_lots")
        chosen = chosen.semi_join(used.filter(used.lot_id == lot), "vin")
    if station is not None or machine is not None:
        passed = store.table("vehicle_stations")
        if station is not None:
            passed = passed.filter(passed.station_id == station)
        if machine is not None:
            passed = passed.filter(passed.machine_id == machine)
        chosen = chosen.semi_join(passed, "vin")
    if parameter is not None:
        readings = store.table("process_readings")
        readings = readings.filter(readings.parameter == parameter)
        if station is not None:
            readings = readings.filter(readings.station_id == station)
        if value_range is not None:
            readings = readings.filter(readings.value.between(*value_range))
        chosen = chosen.semi_join(readings, "vin")
    return chosen


def _where_now(store: Tables, chosen: ir.Table) -> ir.Table:
    """``chosen`` with its latest customer, last telemetry and counts, each read only for
    the chosen VINs (one row per vehicle: a resold car shows its current owner)."""
    customers = store.table("customers").semi_join(chosen, "vin")
    newest = customers.group_by("vin").aggregate(delivered=customers.delivered_on.max())
    customers = customers.semi_join(newest, [customers.vin == newest.vin,
                                             customers.delivered_on == newest.delivered])
    customers = customers.group_by("vin").aggregate(
        customer_id=customers.customer_id.max(), region=customers.region.max(),
        climate_region=customers.climate_region.max())
    telemetry = store.table("telemetry_daily").semi_join(chosen, "vin")
    latest = telemetry.group_by("vin").aggregate(last_seen=telemetry.day.max(),
                                                 odometer_miles=telemetry.odometer_miles.max())
    failures = store.table("component_failures").semi_join(chosen, "vin")
    failed = failures.group_by("vin").aggregate(failures=failures.count())
    visits = store.table("service_visits").semi_join(chosen, "vin")
    campaigns = visits.filter(visits.campaign_id.notnull())
    served = campaigns.group_by("vin").aggregate(campaigns=campaigns.count())
    out = chosen.left_join(customers, "vin").drop("vin_right")
    out = out.left_join(latest, "vin").drop("vin_right")
    out = out.left_join(failed, "vin").drop("vin_right")
    out = out.left_join(served, "vin").drop("vin_right")
    return out.mutate(failures=out.failures.fill_null(0), campaigns=out.campaigns.fill_null(0))
