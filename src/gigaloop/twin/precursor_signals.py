"""Physical precursors in the daily telemetry, where a real car has one: a failing 12 V
battery's resting voltage sags over its last weeks, and a drive unit's bearing gets louder
over its P-F interval. Each is drawn with between-vehicle spread and day-to-day
measurement noise, and healthy cars drift too (a parked car's 12 V drain, a louder road),
so a rule on the signal alone raises false alarms.

A vehicle's precursor traits (whether its parts warn, how long ahead) are drawn once when
it is delivered; the signal each day follows the part's remaining life, so a new part
(repair, predictive visit) is quiet again. Draws come from a stream of their own: the
twin's other draws do not change.

>>> from gigaloop.twin.telemetry import VehicleArrays, demo_vehicles
>>> vehicles = VehicleArrays(4)
>>> vehicles.append(demo_vehicles(2))
>>> life = {"12v_battery": np.array([400.0, 20.0]), "drive_unit": np.full(2, np.inf)}
>>> signals = PrecursorSignals(np.random.default_rng(0), warn_share=1.0)
>>> day = signals.today(vehicles, life, day=10)
>>> volts = day["lv_battery_rest_v"]
>>> bool(volts[1] < volts[0] - 0.2)   # 10 days before its failure, the second one sags
True
"""

from __future__ import annotations

import numpy as np

from gigaloop.twin.customers import DRIVE_PROBABILITY
from gigaloop.twin.telemetry import VehicleArrays

#: The telemetry columns this module adds, and the component each one watches.
SIGNAL_COMPONENTS = {"lv_battery_rest_v": "12v_battery", "drive_unit_noise_db": "drive_unit"}

#: 12 V resting (open-circuit) voltage of a lead-acid battery at rest: 12.6 V charged,
#: 12.4 V at 75 %, 12.2 V at 50 %, 12.0 V at 25 % (the usual rule-of-thumb table,
#: docs/twin-fleet.md). The spread between healthy cars, the daily noise, the sag's depth
#: and lead time are assumed (no published figure for how long a car's resting voltage
#: sags before a no-start was found).
LV_REST_V, LV_SPREAD_V, LV_NOISE_V, LV_SAG_V = 12.65, 0.06, 0.04, 0.55
LV_LEAD_DAYS = (10, 45)
#: A healthy car's drain episode (parked for days, a module that keeps the bus awake): its
#: rate per vehicle-day, depth (V) and length (days) — assumed.
LV_DRAIN_RATE, LV_DRAIN_V, LV_DRAIN_DAYS = 0.003, (0.1, 0.4), (2, 10)
#: A drive unit's noise relative to its model's nominal (dB): spread between units, daily
#: noise and the rise at failure are assumed; the lead is the P-F interval over which
#: vibration warns of a bearing failure, 1–9 months (FIGURES.md: Reliability Magazine).
DU_SPREAD_DB, DU_NOISE_DB, DU_RISE_DB = 1.5, 1.0, 8.0
DU_LEAD_DAYS = (30, 270)
#: Healthy drive units that get louder anyway (tyres, a worn mount): share and dB a year.
DU_DRIFT_SHARE, DU_DRIFT_DB_YEAR = 0.05, (1.0, 4.0)
#: Share of failing parts that warn (a shorted cell or a seal leak gives no warning) — assumed.
WARN_SHARE = 0.75

TRAIT_COLUMNS = {name: np.float32 for name in (
    "lv_base", "lv_lead", "lv_warns", "drain_left", "drain_depth", "drain_days",
    "du_base", "du_lead", "du_warns", "du_drift", "since_day")}


class PrecursorSignals:
    """Each vehicle's precursor traits, and :meth:`today`'s signal values."""

    def __init__(self, rng: np.random.Generator, warn_share: float = WARN_SHARE) -> None:
        self._rng = rng
        self.warn_share = warn_share
        self.traits = VehicleArrays(64, TRAIT_COLUMNS)

    def _admit(self, n: int, day: int) -> None:
        """Draw the traits of vehicles delivered since the last day."""
        k = n - self.traits.n
        if k <= 0:
            return
        rng = self._rng
        drifting = rng.random(k) < DU_DRIFT_SHARE
        self.traits.append({
            "lv_base": rng.normal(LV_REST_V, LV_SPREAD_V, k),
            "lv_lead": rng.uniform(*LV_LEAD_DAYS, k),
            "lv_warns": rng.random(k) < self.warn_share,
            "drain_left": np.zeros(k), "drain_depth": np.zeros(k), "drain_days": np.ones(k),
            "du_base": rng.normal(0.0, DU_SPREAD_DB, k),
            "du_lead": rng.uniform(*DU_LEAD_DAYS, k),
            "du_warns": rng.random(k) < self.warn_share,
            "du_drift": np.where(drifting, rng.uniform(*DU_DRIFT_DB_YEAR, k) / 365.0, 0.0),
            "since_day": np.full(k, day)})

    def today(self, vehicles: VehicleArrays, life: dict[str, np.ndarray], day: int
              ) -> dict[str, np.ndarray]:
        """The signal columns of ``day`` for every vehicle in the field; ``life`` holds the
        clock value at which each vehicle's 12 V battery (day) and drive unit (mile) fail."""
        n = vehicles.n
        self._admit(n, day)
        t, rng = {k: self.traits.view(k) for k in TRAIT_COLUMNS}, self._rng
        # 12 V: the sag over the battery's last weeks, and healthy cars' drain episodes
        left = life["12v_battery"] - day
        sag = np.clip(1.0 - left / t["lv_lead"], 0.0, 1.0) * t["lv_warns"]
        starts = (t["drain_left"] <= 0) & (rng.random(n) < LV_DRAIN_RATE)
        t["drain_days"][starts] = rng.uniform(*LV_DRAIN_DAYS, int(starts.sum()))
        t["drain_left"][starts] = t["drain_days"][starts]
        t["drain_depth"][starts] = rng.uniform(*LV_DRAIN_V, int(starts.sum()))
        drain = t["drain_depth"] * np.clip(t["drain_left"] / t["drain_days"], 0.0, 1.0)
        t["drain_left"] -= 1
        volts = t["lv_base"] - LV_SAG_V * sag ** 1.5 - drain + rng.normal(0, LV_NOISE_V, n)
        # drive unit: a bearing's noise grows with the square of its defect over the P-F
        # interval (its miles left at the driver's pace, in days)
        pace = vehicles.view("mean_miles") * DRIVE_PROBABILITY
        days_left = (life["drive_unit"] - vehicles.view("odometer")) / np.maximum(pace, 1.0)
        wear = np.clip(1.0 - days_left / t["du_lead"], 0.0, 1.0) * t["du_warns"]
        noise = (t["du_base"] + DU_RISE_DB * wear ** 2 + t["du_drift"] * (day - t["since_day"])
                 + rng.normal(0, DU_NOISE_DB, n))
        return {"lv_battery_rest_v": volts, "drive_unit_noise_db": noise}
