"""Battery state of health: calendar plus cycle fade, with the Geotab modifiers built in.

Two stress accumulators per vehicle, updated every day:

* calendar: ``q_cal = CALENDAR_FADE_1Y · sqrt(Σ k(T)² / 365)`` — fade ∝ t^0.5 with an
  Arrhenius rate ``k = 2^((T_cell − T_ref) / 10)`` (≈ 2× per +10 °C); the liquid-cooled pack
  sees only :data:`CELL_TEMP_COUPLING` of the ambient deviation. Summing ``k²`` is the
  equivalent-time form of ``k · t^0.5`` under a varying temperature.
* cycle: ``q_cyc = CYCLE_FADE_1Y · (EFC / EFC_PER_YEAR)^CYCLE_EXPONENT`` — equivalent full
  cycles, DC fast-charge energy weighted :data:`DC_FAST_WEIGHT` times.

``SoH = 1 − cell_fade · (q_cal + q_cyc)``; ``cell_fade`` is the unit's latent multiplier.

>>> cal = np.array([1.0], np.float32)   # one year at the reference temperature
>>> efc = np.array([1.0], np.float32)   # one average year of AC-charged cycles
>>> soh = np.empty(1, np.float32)
>>> state_of_health(cal, efc, np.array([1.0], np.float32), out=soh)
array([0.983], dtype=float32)
>>> k = np.sqrt(calendar_stress(np.float32(T_REF_AMBIENT_C + 8.0)) * 365)  # a hot region
>>> round(float(k), 2)   # calendar fade ×1.39: +0.4 %/yr on 1.0 %/yr
1.39
"""

from __future__ import annotations

import numpy as np

#: Calendar fade after one year at the reference temperature (fraction of capacity).
CALENDAR_FADE_1Y = 0.010
#: Cycle fade after one average year of AC charging (fraction of capacity).
CYCLE_FADE_1Y = 0.007
#: Cycle fade grows as N^0.6 (literature range 0.5–0.7).
CYCLE_EXPONENT = 0.6
#: Arrhenius doubling per 10 °C of cell temperature.
ARRHENIUS_DOUBLING_C = 10.0
#: Ambient temperature of the reference (temperate) climate, °C.
T_REF_AMBIENT_C = 15.0
#: Share of the ambient deviation the thermally managed cells see; set so that a hot
#: climate (+8 °C mean) adds ≈ 0.4 %/yr (Geotab).
CELL_TEMP_COUPLING = 0.6
#: Energy per mile (Model Y ≈ 28 kWh/100 mi) and usable pack energy.
KWH_PER_MILE = 0.28
PACK_KWH = 75.0
#: Equivalent full cycles in an average year: 13,500 mi × 0.28 kWh/mi ÷ 75 kWh.
EFC_PER_YEAR = 13_500 * KWH_PER_MILE / PACK_KWH
#: Stress weight of DC fast-charge energy (Geotab: heavy DCFC users up to 3 %/yr vs 1.5 %).
DC_FAST_WEIGHT = 6.0
#: Standard deviation of the BMS state-of-health estimate.
SOH_MEASUREMENT_SD = 0.004


def calendar_stress(temp_c: np.ndarray | np.float32) -> np.ndarray:
    """Calendar stress one day at ambient ``temp_c`` adds (k² / 365, float32)."""
    cell_delta = CELL_TEMP_COUPLING * (np.asarray(temp_c, np.float32) - T_REF_AMBIENT_C)
    k_squared = np.exp2(np.float32(2.0 / ARRHENIUS_DOUBLING_C) * cell_delta)
    return (k_squared / np.float32(365.0)).astype(np.float32)


def cycle_stress_per_mile() -> tuple[float, float]:
    """Cycle stress (in average years) per mile driven and per extra DC fast-charge kWh."""
    per_kwh = 1.0 / (EFC_PER_YEAR * PACK_KWH)
    return KWH_PER_MILE * per_kwh, (DC_FAST_WEIGHT - 1.0) * per_kwh


def state_of_health(calendar: np.ndarray, cycles: np.ndarray, cell_fade: np.ndarray,
                    *, out: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """Write ``1 − cell_fade · (q_cal + q_cyc)`` into ``out`` (in place, float32)."""
    scratch = np.empty_like(out) if scratch is None else scratch
    np.sqrt(calendar, out=out)
    out *= np.float32(CALENDAR_FADE_1Y)
    np.power(cycles, np.float32(CYCLE_EXPONENT), out=scratch)
    scratch *= np.float32(CYCLE_FADE_1Y)
    out += scratch
    out *= cell_fade
    np.subtract(np.float32(1.0), out, out=out)
    return out
