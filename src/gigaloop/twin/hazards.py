"""Field hazards: Weibull component lives, their precursor codes, and crash rates per mile.

A component's life is drawn when its clock starts (delivery, repair or campaign service)
by inverting a proportional-hazards Weibull: ``T = η · (E / m)^(1/β)`` with ``E ~ Exp(1)``
and ``m`` the product of the unit's latent multiplier and its covariates (climate, usage,
driving style). The clock is days in service or miles.

>>> rng = np.random.default_rng(0)
>>> seam = COMPONENT_INDEX["body_seam"]
>>> nominal = draw_life(COMPONENTS[seam], np.ones(100_000), rng)
>>> defective = draw_life(COMPONENTS[seam], np.full(100_000, 8.0), rng)
>>> bool((defective < 365).mean() > 5 * (nominal < 365).mean())
True
>>> round(float((nominal < 365).mean()), 3)   # first-year failures of a nominal seam
0.003
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Average daily miles, the reference for usage covariates (13,500 mi/yr, FHWA).
REFERENCE_DAILY_MILES = 13_500 / 365

#: Share of failures an owner feels coming and complains about in the app, and how many days
#: before (uniform). Not published per component: J.D. Power counts ≈ 190 problems per 100
#: vehicles (IQS 2023, VDS 2024), most of them noticed and reported before any part is
#: replaced; the P-F interval of a mechanical part that warns by noise or vibration is weeks
#: to months (FIGURES.md). Assumed: a third of failures, 7–60 days ahead; a rattle or a leak,
#: which owners live with for months before booking a repair, more and earlier; electronic
#: parts less (see docs/twin-fleet.md).
SYMPTOM_DEFAULT = (0.3, 7, 60)


@dataclass(frozen=True)
class Component:
    """One field-replaceable component and how it fails.

    ``first_year`` is the failure probability in the first year for a nominal unit at
    reference usage; with ``shape`` it fixes the Weibull scale. ``climate`` multiplies the
    hazard per climate (hot, temperate, cold); ``usage_exponent`` scales it by
    (driver's daily miles ÷ reference)^exponent for day-clock components; ``aggressive``
    multiplies it for aggressive drivers. ``latent`` names the BuiltUnits multiplier that
    scales it. ``dtc`` is (code, ecu, severity, probability, lead days min, max) of a
    precursor diagnostic code, or None. ``symptom`` is (probability, lead days min, max) that
    the owner notices the coming failure (a rattle, a noise, a slow handle) and complains
    in the app about the component that long before it fails (None: a failure nobody
    feels coming).
    """

    name: str
    clock: str                                   # "days" or "miles"
    shape: float
    first_year: float
    cost_usd: float
    roadside: float
    failure_modes: tuple[str, ...]
    climate: tuple[float, float, float] = (1.0, 1.0, 1.0)
    usage_exponent: float = 0.0
    aggressive: float = 1.0
    latent: str = ""
    dtc: tuple[str, str, str, float, int, int] | None = None
    symptom: tuple[float, int, int] | None = SYMPTOM_DEFAULT

    @property
    def scale(self) -> float:
        """Weibull η in clock units, from the first-year failure probability."""
        year = 365.0 if self.clock == "days" else 13_500.0
        cumulative_hazard = -np.log1p(-self.first_year)
        return float(year / cumulative_hazard ** (1.0 / self.shape))


#: Shapes follow ReliaSoft / Barringer: β < 1 infant mortality, ≈ 1 random, 1–4 wear-out;
#: bearings 1.1–1.5 (FIGURES.md). First-year probabilities are not published per component.
#: They count *hard* failures only — a part replaced under warranty — and sum to ≈ 0.09
#: claims per vehicle-year; cosmetic and software "problems" (most of J.D. Power's 190 per
#: 100) never reach this table. See docs/twin-fleet.md. A camera fogs more when its
#: revision seals badly (latent ``rain_perception``, the scenario's camera fault).
COMPONENTS: tuple[Component, ...] = (
    Component("paint_trim", "days", 0.5, 0.03, 350, 0.0,
              ("paint_defect", "panel_gap", "trim_loose"), latent="trim_defect",
              symptom=(0.5, 14, 150)),          # a rattle, a gap one sees and lives with
    Component("door_handle", "days", 0.8, 0.015, 250, 0.0, ("motor_failure", "stuck_closed"),
              climate=(1.0, 1.0, 1.5)),
    Component("charge_port", "days", 0.9, 0.01, 400, 0.1, ("latch_fault", "door_stuck"),
              usage_exponent=0.5, dtc=("CP_a004_latch", "CHGPORT", "warning", 0.5, 1, 10),
              symptom=(0.2, 1, 14)),            # a latch that sometimes sticks
    Component("touchscreen", "days", 1.0, 0.01, 1500, 0.0, ("display_fault", "reboot_loop")),
    Component("camera", "days", 0.7, 0.01, 450, 0.0, ("image_fault", "fogging"),
              latent="rain_perception",
              dtc=("APP_w224_camera", "AP_COMPUTER", "warning", 0.7, 1, 7),
              symptom=(0.1, 3, 30)),            # few owners notice a fogging camera
    Component("12v_battery", "days", 2.5, 0.008, 300, 0.6, ("low_voltage", "no_start"),
              climate=(1.6, 1.0, 1.2),
              dtc=("VCFRONT_a180_12v", "VCFRONT", "warning", 0.5, 3, 14),
              symptom=(0.1, 3, 14)),            # a warning on the screen, days ahead
    Component("hvac", "days", 1.2, 0.008, 1800, 0.05, ("heat_pump_fault", "compressor_noise"),
              climate=(1.3, 1.0, 2.0),
              dtc=("THC_w013_heatpump", "THERMAL", "warning", 0.5, 2, 10)),
    Component("suspension", "miles", 2.0, 0.002, 900, 0.05, ("control_arm_crack", "knock"),
              climate=(1.0, 1.0, 1.3), aggressive=2.0,
              symptom=(0.4, 14, 120)),          # a knock over bumps
    Component("drive_unit", "miles", 1.5, 0.0035, 4500, 0.7, ("bearing_wear", "seal_leak"),
              aggressive=1.5, dtc=("DI_w139_bearing", "DRIVE_INVERTER", "warning", 0.6, 30, 180),
              symptom=(0.4, 30, 180)),          # a bearing's whine: the P-F interval
    Component("body_seam", "days", 2.5, 0.003, 1200, 0.0, ("water_leak", "seam_crack", "rattle"),
              climate=(1.0, 1.0, 1.5), latent="seam_defect",
              symptom=(0.5, 14, 150)),          # a damp carpet, a rattle
    Component("battery_pack", "days", 1.5, 0.001, 15000, 0.8, ("cell_short", "isolation_fault"),
              climate=(1.3, 1.0, 1.0), usage_exponent=0.5, latent="pack_defect",
              dtc=("BMS_w035_cell_imbalance", "BMS", "critical", 0.8, 7, 45),
              symptom=(0.05, 7, 45)),           # a pack fails with no warning one feels
)
COMPONENT_INDEX = {c.name: i for i, c in enumerate(COMPONENTS)}
DAY_CLOCK = np.array([c.clock == "days" for c in COMPONENTS])

#: Nuisance diagnostic codes with no failure behind them, and their rate per vehicle-day.
NUISANCE_CODES = (
    ("UI_a020_wifi", "INFOTAINMENT", "info"), ("TPMS_w100_pressure", "CHASSIS", "info"),
    ("VCLEFT_a051_mirror", "VCLEFT", "info"), ("APP_w304_calibrating", "AP_COMPUTER", "info"),
)
NUISANCE_RATE = 0.002
#: Background cell-imbalance codes per vehicle-day, times the unit's pack_defect.
CELL_IMBALANCE_RATE = 0.0002


def covariate_multiplier(component: Component, climate: np.ndarray, daily_miles: np.ndarray,
                         aggressive: np.ndarray) -> np.ndarray:
    """Hazard multiplier from climate, usage (day clocks only) and driving style."""
    mult = np.asarray(component.climate)[climate]
    if component.usage_exponent and component.clock == "days":
        mult = mult * (daily_miles / REFERENCE_DAILY_MILES) ** component.usage_exponent
    return np.where(aggressive, mult * component.aggressive, mult)


def draw_life(component: Component, multiplier: np.ndarray, rng: np.random.Generator,
              age: np.ndarray | None = None) -> np.ndarray:
    """Time to failure in the component's clock units for hazard multipliers ``multiplier``;
    with ``age``, the residual life of a part that has survived that long (Weibull)."""
    exp1 = rng.standard_exponential(len(multiplier))
    if age is None:
        return component.scale * (exp1 / multiplier) ** (1.0 / component.shape)
    used = (np.asarray(age) / component.scale) ** component.shape
    return component.scale * (used + exp1 / multiplier) ** (1.0 / component.shape) - age


def cost_draw(component: Component, n: int, rng: np.random.Generator) -> np.ndarray:
    """Warranty cost of ``n`` claims: lognormal around the component's mean cost."""
    return component.cost_usd * rng.lognormal(-0.045, 0.3, n)


@dataclass(frozen=True)
class CrashRates:
    """Crashes per mile by mode and the multipliers applied per mile driven.

    Manual ≈ 1 per 1.0 M mi and Autopilot ≈ 1 per 6.5 M mi (Tesla Vehicle Safety Report
    2024–25, quarters between 5.94 and 7.63 M). Night miles ≈ 3× (NHTSA). Rain ×1.5 has no
    published figure (see docs). Style multipliers span ≈ 2.4× between calm and aggressive,
    the spread of Tesla Insurance premiums between score 100 and 88. ``major_share``: share
    with restraint deployment, from the FSD page's major vs minor collision rates (≈ 0.25).
    """

    manual_per_mile: float = 1 / 1.0e6
    autopilot_per_mile: float = 1 / 6.5e6
    night: float = 3.0
    rain: float = 1.5
    style: tuple[float, float, float] = (0.7, 1.0, 1.7)   # calm, normal, aggressive
    autopilot_style_exponent: float = 0.5
    major_share: float = 0.25


CRASH = CrashRates()


@dataclass(frozen=True)
class ClaimRates:
    """Insurance claims of the maker's policyholders, per expected crash, and their cost.

    Claim frequency is published per car-year (ISO/Verisk, HLDI via III): collision 6.2
    per 100 car-years for cars of model years 2021–23 (4.88 over all ages), property damage
    liability 2.37. At 13,500 miles a year (FHWA) and the fleet's ≈ 7.9·10⁻⁷ crashes per
    mile (1 per 1.0 M manual, 1 per 6.5 M on Autopilot, a quarter of the miles on
    Autopilot), that is ≈ 5.8 collision and 2.2 property-damage claims per crash: most
    claims are minor collisions no restraint or Δv trigger records. A vehicle-day's claims
    follow its crash risk (driver style, night, rain, Autopilot), so the same driver who
    crashes more often claims more often. Every recorded crash of a policyholder is one
    of its collision claims. Costs are lognormal around the published averages (collision
    $9,655 for MY2021–23, property damage $5,313); the spread (log-sd 1.0, coefficient of
    variation ≈ 1.3) is a judgement, not a published figure.
    """

    collision_per_crash: float = 0.062 / 13_500 / (0.75 / 1.0e6 + 0.25 / 6.5e6)
    property_damage_per_crash: float = 0.0237 / 13_500 / (0.75 / 1.0e6 + 0.25 / 6.5e6)
    collision_usd: float = 9_655.0
    property_damage_usd: float = 5_313.0
    cost_log_sd: float = 1.0

    def cost(self, coverage: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Cost of claims of ``coverage`` (True: collision, False: property damage), with the
        published means: lognormal × exp(−sd²/2)."""
        mean = np.where(coverage, self.collision_usd, self.property_damage_usd)
        return mean * rng.lognormal(-self.cost_log_sd**2 / 2, self.cost_log_sd, len(coverage))


CLAIM = ClaimRates()
