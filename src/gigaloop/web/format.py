"""KPIs in words: labels, units and thousands separators, shared by the report, the
comparison and the command line.

>>> [(row.label, row.text) for row in kpi_rows({"energy_cost": 5617080.4,
...     "field_failures_per_1000": 86.83, "defects_escaped": None})]
[('field failures per 1,000 vehicles', '86.8'), ('defects escaped', '—'),
 ('energy cost', '$5,617,080')]
>>> kpi_rows({"crashes_per_million_miles": {"manual": 0.7011},
...           "crashes_per_million_miles_ci95": {"manual": [0.0849, 2.5328]}})[0].text
'0.70 per million miles (95 % CI 0.08–2.53)'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Shown when a KPI is null: no module produces it (yet), never a made-up number.
MISSING = "—"


@dataclass(frozen=True)
class KpiSpec:
    """How one KPI reads: its label, unit, decimals and which way is better."""

    label: str
    unit: str = ""
    decimals: int = 0
    lower_is_better: bool | None = None
    scale: float = 1.0


#: Known KPIs in the order they are shown (unknown ones follow, formatted plainly).
KPIS: dict[str, KpiSpec] = {
    "units_built": KpiSpec("units built", lower_is_better=False),
    "vehicles_delivered": KpiSpec("vehicles delivered", lower_is_better=False),
    "field_failures": KpiSpec("field failures", lower_is_better=True),
    "field_failures_per_1000": KpiSpec("field failures per 1,000 vehicles", decimals=1,
                                       lower_is_better=True),
    "field_failures_per_1000_last90": KpiSpec("field failures per 1,000 vehicles, last 90 days",
                                              decimals=1, lower_is_better=True),
    "roadside_failures": KpiSpec("roadside failures", lower_is_better=True),
    "defects_escaped": KpiSpec("defects escaped", lower_is_better=True),
    "unplanned_downtime_hours": KpiSpec("unplanned downtime", "h", 1, lower_is_better=True),
    "oee": KpiSpec("OEE (availability × performance × quality)", "%", 1, lower_is_better=False,
                   scale=100.0),
    "availability": KpiSpec("availability", "%", 1, lower_is_better=False, scale=100.0),
    "performance": KpiSpec("performance (speed)", "%", 1, lower_is_better=False, scale=100.0),
    "quality": KpiSpec("quality (first-time good)", "%", 1, lower_is_better=False, scale=100.0),
    "energy_cost": KpiSpec("energy cost", "$", lower_is_better=True),
    "hvac_energy_cost": KpiSpec("HVAC energy cost", "$", lower_is_better=True),
    "energy_co2e_kg": KpiSpec("energy CO₂e", "t", 1, lower_is_better=True, scale=1e-3),
    "hvac_co2e_kg": KpiSpec("HVAC CO₂e", "t", 1, lower_is_better=True, scale=1e-3),
    "peak_power_kw": KpiSpec("peak power", "kW", lower_is_better=True),
    "comfort_violation_kh": KpiSpec("comfort violation", "K·h", 1, lower_is_better=True),
    "fleet_miles": KpiSpec("fleet miles", "mi"),
    "predictive_service_visits": KpiSpec("predictive service visits"),
    "predictive_visits_degraded": KpiSpec("predictive visits that found the part degraded",
                                          "%", 1, lower_is_better=False, scale=100.0),
    "software_revenue": KpiSpec("software revenue", "$", lower_is_better=False),
    "software_revenue_per_vehicle": KpiSpec("software revenue per vehicle", "$", 2,
                                            lower_is_better=False),
    "churn_monthly": KpiSpec("subscription churn per month", "%", 2, lower_is_better=True,
                             scale=100.0),
    "offers_sent": KpiSpec("offers sent"),
    "offer_uplift": KpiSpec("offer uplift: targeted against holdout", "$",
                            lower_is_better=False),
    "offer_uplift_ci95": KpiSpec("offer uplift, 95 % interval", "$"),
    "premium_per_vehicle_month": KpiSpec("insurance premium per vehicle-month", "$", 2),
    "loss_ratio": KpiSpec("insurance loss ratio (claims ÷ premiums)", "%", 1,
                          lower_is_better=True, scale=100.0),
    "parts_scrapped_by_changes": KpiSpec("parts scrapped by engineering changes",
                                         lower_is_better=True),
    "units_reworked_by_changes": KpiSpec("units reworked by engineering changes",
                                         lower_is_better=True),
    "redesigns": KpiSpec("hardware revisions redesigned", lower_is_better=True),
    "findings_retracted": KpiSpec("findings retracted", lower_is_better=True),
    "changes_withdrawn": KpiSpec("change requests withdrawn", lower_is_better=True),
    "changes_withdrawn_after_acting": KpiSpec("withdrawn after taking effect",
                                              lower_is_better=True),
    "campaign_visits_withdrawn": KpiSpec("campaign visits of withdrawn changes",
                                         lower_is_better=True),
}
#: Crash rates are one row per driving mode, with their interval.
CRASHES, CRASHES_CI = "crashes_per_million_miles", "crashes_per_million_miles_ci95"


@dataclass(frozen=True)
class KpiRow:
    """One shown KPI: ``key`` (``crashes_per_million_miles.manual`` for a mode), its value."""

    key: str
    label: str
    value: float | None
    text: str
    lower_is_better: bool | None


def number(value: float | None, decimals: int = 0, unit: str = "") -> str:
    """``value`` with thousands separators and its unit ($ before, others after).

    >>> number(1234567.891, 1, "h"), number(None), number(-12.5, 0, "$")
    ('1,234,567.9 h', '—', '−$12')
    """
    if value is None:
        return MISSING
    sign = "−" if value < 0 else ""
    text = f"{abs(value):,.{decimals}f}"
    if unit == "$":
        return f"{sign}${text}"
    return f"{sign}{text} {unit}".rstrip()


def kpi_rows(kpis: dict[str, Any]) -> list[KpiRow]:
    """The run's KPIs as rows in reading order; crash rates one row per mode."""
    rows = []
    known = [k for k in KPIS if k in kpis] + sorted(
        k for k in kpis if k not in KPIS and k not in (CRASHES, CRASHES_CI))
    for key in known:
        spec = KPIS.get(key, KpiSpec(key.replace("_", " ")))
        value = kpis[key]
        if isinstance(value, list) and len(value) == 2 and spec.unit:  # an interval
            text = "–".join(number(float(v) * spec.scale, spec.decimals, spec.unit)
                            for v in value)
            rows.append(KpiRow(key, spec.label, None, text, None))
            continue
        if isinstance(value, dict | list):
            rows.append(KpiRow(key, spec.label, None, str(value), None))
            continue
        scaled = None if value is None else float(value) * spec.scale
        decimals = spec.decimals if key in KPIS or float(scaled or 0).is_integer() else 2
        rows.append(KpiRow(key, spec.label, scaled, number(scaled, decimals, spec.unit),
                           spec.lower_is_better))
    cis = kpis.get(CRASHES_CI) or {}
    for mode, rate in (kpis.get(CRASHES) or {}).items():
        text = MISSING if rate is None else f"{rate:,.2f} per million miles"
        if rate is not None and cis.get(mode):
            low, high = cis[mode]
            text += f" (95 % CI {low:,.2f}–{high:,.2f})"
        rows.append(KpiRow(f"{CRASHES}.{mode}", f"crashes per million miles, {mode}",
                           None if rate is None else float(rate), text, True))
    return rows


def ratio(a: float | None, b: float | None) -> float | None:
    """``b / a``, or None when either is missing or ``a`` is zero.

    >>> ratio(200.0, 150.0), ratio(0.0, 3.0), ratio(None, 1.0)
    (0.75, None, None)
    """
    if a is None or b is None or a == 0:
        return None
    return b / a
