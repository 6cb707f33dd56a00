"""Genealogy queries written once in Ibis; they run on any engine the store uses.

(Fleet analytics — usage, miles by climate, crash rates — live in :mod:`gigaloop.fleet`.)

Each takes anything with ``table(name)`` (a :class:`~gigaloop.store.Store`, or a
:class:`~gigaloop.store.StoreView` to see the data as of a day) and returns an
unexecuted Ibis expression, so later analytics can build on it.

>>> import tempfile
>>> from gigaloop.store import Store
>>> store = Store(tempfile.mkdtemp())
>>> failures_per_1000_by_build_week(store).columns
('build_week', 'vehicles', 'failures', 'failures_per_1000')
>>> store.execute(vehicle_genealogy(store, "5YJ3E1EA0PF000001")).empty
True
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from gigaloop.store.view import Tables


def failures_per_1000_by_build_week(store: Tables, component: str | None = None) -> ir.Table:
    """Field failures (warranty claims) per 1,000 vehicles, by the week they were built.

    Weeks start on Monday. ``component`` narrows the claims to one component.
    Columns: build_week, vehicles, failures, failures_per_1000.
    """
    vehicles = store.table("vehicles")
    claims = store.table("component_failures")
    if component is not None:
        claims = claims.filter(claims.component == component)
    per_vin = claims.group_by("vin").aggregate(failures=claims.count())
    built = vehicles.select("vin", build_week=vehicles.build_date.truncate("W"))
    joined = built.left_join(per_vin, built.vin == per_vin.vin).select(
        built.vin, built.build_week, failures=per_vin.failures.fill_null(0)
    )
    weekly = joined.group_by("build_week").aggregate(
        vehicles=joined.vin.count(), failures=joined.failures.sum()
    )
    return weekly.mutate(
        failures_per_1000=weekly.failures.cast("float64") * 1000 / weekly.vehicles
    ).order_by("build_week")


def vehicle_genealogy(store: Tables, vin: str | None = None) -> ir.Table:
    """How each vehicle was built, one link per row: ``(vin, kind, name, value)``.

    kinds: ``lot`` and ``supplier`` (name = part number), ``machine`` and ``shift``
    (name = station), ``line``, ``build_shift``, ``hardware_revision`` and
    ``design_revision`` (name = ``"vehicle"``). This long form is what root-cause
    analysis compares between failing and healthy vehicles. ``vin`` narrows it to one.
    """
    vehicles = store.table("vehicles")
    used = store.table("vehicle_lots")
    lots = store.table("lots")
    stations = store.table("vehicle_stations")
    if vin is not None:
        vehicles = vehicles.filter(vehicles.vin == vin)
        used = used.filter(used.vin == vin)
        stations = stations.filter(stations.vin == vin)
    with_supplier = used.join(lots, used.lot_id == lots.lot_id).select(
        used.vin, used.part_number, used.lot_id, lots.supplier_id
    )

    def links(table: ir.Table, kind: str, name: ir.Value | str, value: ir.Value) -> ir.Table:
        label = ibis.literal(name) if isinstance(name, str) else name
        return table.select(
            vin=table.vin,
            kind=ibis.literal(kind),
            name=label.cast("string"),
            value=value.cast("string"),
        )

    parts = [
        links(with_supplier, "lot", with_supplier.part_number, with_supplier.lot_id),
        links(with_supplier, "supplier", with_supplier.part_number, with_supplier.supplier_id),
        links(
            stations.filter(stations.machine_id.notnull()),
            "machine",
            stations.station_id,
            stations.machine_id,
        ),
        links(stations, "shift", stations.station_id, stations.shift),
        links(vehicles, "line", "vehicle", vehicles.line_id),
        links(vehicles, "build_shift", "vehicle", vehicles.shift),
        links(vehicles, "hardware_revision", "vehicle", vehicles.hardware_revision),
        links(vehicles, "design_revision", "vehicle", vehicles.design_revision),
    ]
    return ibis.union(*parts).order_by(["vin", "kind", "name"])


def vins_touched_by_lot(store: Tables, lot_id: str) -> ir.Table:
    """Vehicles built with parts from ``lot_id``: vin, part_number, build_date, site, line."""
    used = store.table("vehicle_lots")
    vehicles = store.table("vehicles")
    used = used.filter(used.lot_id == lot_id)
    return (
        used.join(vehicles, used.vin == vehicles.vin)
        .select(
            used.vin,
            used.part_number,
            used.lot_id,
            vehicles.build_date,
            vehicles.site_id,
            vehicles.line_id,
        )
        .order_by(["vin", "part_number"])
    )
