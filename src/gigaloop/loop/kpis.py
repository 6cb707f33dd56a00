"""The run's KPIs, computed from the store alone (Ibis; any engine).

Each KPI is a plain number, or ``None`` when the tables it needs are empty —
never a made-up value. Rates come with exact Poisson intervals.

Software revenue (per vehicle too), churn and the measured offer uplift come from
:func:`gigaloop.customer.revenue.software_kpis`. Crash rates come from
:func:`gigaloop.fleet.crash_rates` (exact intervals); OEE and its parts from
:func:`gigaloop.factory.oee.oee_kpis`. ``unplanned_downtime_hours`` is the sum of
every unplanned ``downtime_events`` row — breakdowns, minor stops and the stops no machine
causes (material shortage, quality hold, utility outage) — as logged, so two stops at once
count twice (OEE's availability counts the line's stopped time once).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import ibis

from gigaloop.customer.premiums import insurance_kpis
from gigaloop.customer.revenue import software_kpis
from gigaloop.factory.oee import oee_kpis
from gigaloop.fleet.safety import crash_rates
from gigaloop.store import Tables

#: Comfort band for the occupied plant floor (ASHRAE 55-like, for an industrial floor).
COMFORT_BAND_C = (18.0, 27.0)
DAYS_PER_MONTH = 365.25 / 12


def _scalar(expr: ibis.Expr) -> Any:
    value = expr.execute()
    return None if value is None or value != value else value  # NaN → None


def compute_kpis(store: Tables, *, end: datetime) -> dict[str, Any]:
    """KPIs of everything in ``store`` up to ``end`` (the last simulated instant)."""
    vehicles = store.table("vehicles")
    failures = store.table("component_failures")
    customers = store.table("customers")
    downtime = store.table("downtime_events")
    energy = store.table("energy_readings")
    visits = store.table("service_visits")
    findings = store.table("findings")
    requests = store.table("change_requests")

    units_built = int(vehicles.count().execute())
    delivered = int(customers.count().execute())
    n_failures = int(failures.count().execute())
    last90_start = end - timedelta(days=90)
    n_failures_90 = int(failures.filter(failures.event_time > last90_start).count().execute())
    per_1000 = (lambda n: round(1000 * n / delivered, 3)) if delivered else (lambda n: None)

    kwh = energy.hvac_kwh + energy.process_kwh + energy.lighting_kwh
    energy_cost = _scalar((kwh * energy.tariff_usd_per_kwh).sum())
    co2e = _scalar((kwh * energy.carbon_g_per_kwh).sum() / 1000.0)
    # BOPTEST's cost and emissions KPIs cover the HVAC the controller commands
    hvac_cost = _scalar((energy.hvac_kwh * energy.tariff_usd_per_kwh).sum())
    hvac_co2e = _scalar((energy.hvac_kwh * energy.carbon_g_per_kwh).sum() / 1000.0)
    peak_kw = _scalar(kwh.max())  # hourly readings: an hour's kWh is its mean kW
    low, high = COMFORT_BAND_C
    deviation = ibis.greatest(low - energy.indoor_temp_c, energy.indoor_temp_c - high, 0)
    comfort = _scalar(deviation.sum())

    safety = crash_rates(store)
    crash_rates_ = {m: None if r["rate"] is None else round(r["rate"], 4)
                    for m, r in safety.items()}
    crash_ci = {m: None if r["ci"] is None else [round(v, 4) for v in r["ci"]]
                for m, r in safety.items()}

    return {
        "units_built": units_built,
        "vehicles_delivered": delivered,
        "defects_escaped": None,  # the world's count; the runner fills it from the source
        "parts_scrapped_by_changes": None,  # likewise (a plant's MES would hold it)
        "units_reworked_by_changes": None,
        "redesigns": None,
        "field_failures": n_failures,
        "field_failures_per_1000": per_1000(n_failures),
        "field_failures_per_1000_last90": per_1000(n_failures_90),
        "unplanned_downtime_hours": _round(
            _scalar(downtime.filter(~downtime.planned).hours.sum()) or 0.0
            if int(downtime.count().execute()) else None),
        **oee_kpis(store),
        "energy_cost": _round(energy_cost),
        "energy_co2e_kg": _round(co2e),
        "hvac_energy_cost": _round(hvac_cost),
        "hvac_co2e_kg": _round(hvac_co2e),
        "peak_power_kw": _round(peak_kw),
        "comfort_violation_kh": _round(comfort),
        "crashes_per_million_miles": crash_rates_,
        "crashes_per_million_miles_ci95": crash_ci,
        "fleet_miles": round(sum(r["miles"] for r in safety.values()), 1),
        "roadside_failures": int(failures.filter(failures.roadside).count().execute()),
        "predictive_service_visits": int(
            visits.filter(visits.reason == "predictive").count().execute()),
        "predictive_visits_degraded": _degraded_share(visits),
        **software_kpis(store, end=end),
        **insurance_kpis(store, end=end),
        "findings_retracted": int(findings.filter(findings.retracted).finding_id.nunique()
                                  .execute()),
        **_withdrawn(requests, visits),
    }


def _degraded_share(visits: ibis.Table) -> float | None:
    """Of the parts predictive visits removed with a verdict, the share the technician found
    degraded: the bookings' precision, measured in the workshop (None before any)."""
    judged = visits.filter((visits.reason == "predictive") & visits.part_condition.notnull())
    share = _scalar((judged.part_condition == "degraded").cast("float64").mean())
    return None if share is None else round(float(share), 4)


def _withdrawn(requests: ibis.Table, visits: ibis.Table) -> dict[str, int]:
    """Change requests withdrawn (their finding was retracted), those of them that had
    already taken effect — changes made on evidence that did not stand — and the campaign
    visits they cost."""
    withdrawn = requests.filter(requests.state == "withdrawn").select("change_id").distinct()
    acted = requests.filter(requests.state == "effective").select("change_id").distinct()
    wasted = visits.filter(visits.campaign_id.isin(withdrawn.change_id))
    return {"changes_withdrawn": int(withdrawn.count().execute()),
            "changes_withdrawn_after_acting": int(withdrawn.intersect(acted).count().execute()),
            "campaign_visits_withdrawn": int(wasted.count().execute())}


def software_revenue(store: Tables, *, end: datetime) -> float | None:
    """Subscription revenue earned up to ``end``: active days × monthly price (the KPI
    ``software_revenue`` adds one-off offers: :func:`gigaloop.customer.revenue.software_kpis`)."""
    rows = store.table("subscriptions")
    if int(rows.count().execute()) == 0:
        return None
    subs = rows.group_by("subscription_id").aggregate(
        started_on=rows.started_on.min(), ended_on=rows.ended_on.max(),
        monthly_price_usd=rows.monthly_price_usd.max())
    end_date = ibis.literal(end.date())
    stop = ibis.least(subs.ended_on.fill_null(end_date), end_date)
    days = (stop.delta(subs.started_on, unit="day")).clip(lower=0)
    return float(_scalar((days * subs.monthly_price_usd / DAYS_PER_MONTH).sum()) or 0.0)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)
