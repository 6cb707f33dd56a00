"""Machine condition: hidden wear, and the vibration / heat readings it shows.

Each machine carries ``wear`` (lubrication, contamination, adjustment: grows at the
machine's own rate, reset by routine planned maintenance or a maintenance order) and
``defect`` (a bearing defect growing over its P-F interval; only a targeted maintenance
order or a breakdown repair clears it). With ``w = wear + defect``:

* velocity RMS = healthy level + 6 mm/s · w², so w = 1 sits at ≈ 7 mm/s, deep in
  ISO 10816 zone D (> 4.5 mm/s); the machine breaks down when w reaches 1;
* kurtosis and crest factor rise early (impacts of a local defect) and fall back as
  damage spreads; bearing-band energy grows with w²; housing heat only shows at the
  very end (w⁶: heat warns days, vibration months ahead);
* minor stops (jams, trips, resets) come at a floor rate plus a part that grows with
  ``(w / 0.05)²`` (capped): a neglected machine stops more often.

>>> machines = Machines()
>>> i = machines.index["ST-010-P1"]
>>> machines.add_defect("ST-010-P1", start_hour=0, hours_to_failure=10)
>>> [len(machines.advance(h)) for h in range(11)][-1]
1
>>> snap = machines.snapshot(np.random.default_rng(0), indoor_c=22.0)
>>> rows = readings([snap], machines.base_vibration, machines.temperature_rise)
>>> bool(rows["vibration_rms"][i] > 4.5)
True
>>> fresh = Machines()
>>> p = fresh.minor_stop_probability()
>>> round(float(p[0]) * 24, 4), float(fresh.wear[0])
(0.005, 0.0)
>>> fresh.wear[0] = 0.1   # twice the reference wear: 4 × the condition rate
>>> round(float(fresh.minor_stop_probability()[0]) * 24, 4)
0.085
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gigaloop.twin.layout import BASE_VIBRATION, MACHINE_IDS, machine_station

#: Housing temperature above the hall when running (°C); no published figure, see docs.
TEMPERATURE_RISE: dict[str, float] = {
    "die_casting_press": 30.0, "press": 18.0, "weld_robot": 12.0, "vision_camera": 6.0,
    "paint_robot": 10.0, "oven": 45.0, "thickness_gauge": 4.0, "module_line": 10.0,
    "nutrunner": 8.0, "calibration_rig": 5.0, "eol_rig": 14.0,
}
#: Background wear per running hour of the median machine: w ≈ 0.5 after a year with no
#: routine maintenance, a breakdown (w = 1) within about two years.
BACKGROUND_WEAR_PER_H = 0.5 / 8760
#: Machines wear at different rates: lognormal spread (σ of the log) around the median.
WEAR_RATE_SPREAD = 0.6
#: Minor stops per machine and day: a floor no maintenance removes, plus a condition part
#: ``MINOR_STOP_CONDITION_PER_DAY · min((w / MINOR_STOP_W_REF)², MINOR_STOP_CAP)``.
MINOR_STOP_FLOOR_PER_DAY = 0.005
MINOR_STOP_CONDITION_PER_DAY = 0.02
MINOR_STOP_W_REF = 0.05
MINOR_STOP_CAP = 16.0
#: A bearing defect an on-site inspection during a service finds (and replaces): ≈ 0.25
#: mm/s above healthy, with the bearing-band energy ≈ 13× its healthy level.
DETECTABLE_DEFECT = 0.2
ZONE_D_MM_S = 4.5


class Machines:
    """State of every machine on the line, as arrays aligned with ``ids``."""

    def __init__(self, rng: np.random.Generator | None = None) -> None:
        """``rng`` draws each machine's wear rate; without one every machine wears at the median."""
        self.ids = np.array(MACHINE_IDS, dtype=object)
        self.index = {machine: i for i, machine in enumerate(MACHINE_IDS)}
        kinds = [machine_station(m).machine_kind for m in MACHINE_IDS]
        self.base_vibration = np.array([BASE_VIBRATION[k] for k in kinds])
        self.temperature_rise = np.array([TEMPERATURE_RISE[k] for k in kinds])
        n = len(MACHINE_IDS)
        self.wear = np.zeros(n)
        spread = WEAR_RATE_SPREAD * rng.standard_normal(n) if rng is not None else np.zeros(n)
        self.wear_rate = BACKGROUND_WEAR_PER_H * np.exp(spread)
        self.defect = np.zeros(n)
        self.defect_rate = np.zeros(n)
        self.defect_from_hour = np.full(n, np.inf)
        self.down = np.zeros(n, dtype=bool)

    def add_defect(self, machine_id: str, *, start_hour: float, hours_to_failure: float) -> None:
        """A defect that starts at ``start_hour`` and would fail the machine after the rest."""
        i = self.index[machine_id]
        self.defect_from_hour[i] = start_hour
        self.defect_rate[i] = 1.0 / hours_to_failure

    def advance(self, hour: float) -> np.ndarray:
        """Age every running machine by one hour; indices of machines that just broke."""
        running = ~self.down
        self.wear[running] += self.wear_rate[running]
        growing = running & (hour >= self.defect_from_hour)
        self.defect[growing] += self.defect_rate[growing]
        return np.flatnonzero(running & (self.wear + self.defect >= 1.0))

    def repair(self, i: int) -> None:
        """Replace the worn part: wear and defect cleared."""
        self.wear[i] = 0.0
        self.defect[i] = 0.0
        self.defect_rate[i] = 0.0
        self.defect_from_hour[i] = np.inf

    def service(self, i: int) -> bool:
        """A maintenance order: wear cleared, and the bearing replaced when its defect is far
        enough along for the technician to see it; ``True`` when it was replaced."""
        self.wear[i] = 0.0
        if self.defect[i] < DETECTABLE_DEFECT:
            return False  # an incipient (or future) defect stays: lubrication cannot fix it
        self.repair(i)
        return True

    def routine_maintenance(self, i: int) -> None:
        """Lubrication and adjustment: background wear cleared, a bearing defect is not."""
        self.wear[i] = 0.0

    def minor_stop_probability(self) -> np.ndarray:
        """Chance of a minor stop of each machine within the next hour (running or not)."""
        w = self.wear + self.defect
        condition = np.minimum((w / MINOR_STOP_W_REF) ** 2, MINOR_STOP_CAP)
        return (MINOR_STOP_FLOOR_PER_DAY + MINOR_STOP_CONDITION_PER_DAY * condition) / 24

    def snapshot(self, rng: np.random.Generator, *, indoor_c: float) -> Snapshot:
        """One condition-monitoring snapshot of every machine: its noise is drawn now, its
        readings computed later, many snapshots at once (:func:`readings`)."""
        return Snapshot(np.clip(self.wear + self.defect, 0.0, 1.2), self.down.copy(),
                        rng.standard_normal((7, len(self.ids))), indoor_c)


class Snapshot(NamedTuple):
    """What one snapshot's readings depend on: condition, stopped machines, noise, hall."""

    w: np.ndarray
    stopped: np.ndarray
    noise: np.ndarray
    indoor_c: float


def readings(snapshots: list[Snapshot], base_vibration: np.ndarray,
             temperature_rise: np.ndarray) -> dict[str, np.ndarray]:
    """Readings of every machine in each snapshot (snapshot-major; stopped ones read at rest)."""
    w = np.stack([s.w for s in snapshots])
    noise = np.stack([s.noise for s in snapshots], axis=1)       # (7, snapshots, machines)
    indoor_c = np.array([s.indoor_c for s in snapshots])[:, None]
    impacts = w**1.5 * np.exp(-2.0 * w**4)
    vibration = base_vibration * (1 + 0.06 * noise[0]) + 6.0 * w**2 * (1 + 0.08 * noise[1])
    rows = {
        "vibration_rms": np.maximum(vibration, 0.02),
        "kurtosis": np.maximum(3.0 + 9.0 * impacts + 0.25 * noise[2], 1.0),
        "crest_factor": np.maximum(3.0 + 3.0 * impacts + 0.12 * noise[3], 1.0),
        "band_energy_low": 0.02 * base_vibration + 0.4 * w**2 * np.exp(0.1 * noise[4]),
        "band_energy_bearing": 0.005 + 1.5 * w**2 * np.exp(0.15 * noise[5]),
        "band_energy_high": 0.01 + 0.6 * w**3 * np.exp(0.15 * noise[4]),
        "temperature_c": indoor_c + temperature_rise + 25.0 * w**6 + 0.7 * noise[6],
    }
    stopped = np.stack([s.stopped for s in snapshots])
    if stopped.any():
        rows["vibration_rms"][stopped] = 0.02 + 0.01 * np.abs(noise[0][stopped])
        for name, rest in (("kurtosis", 3.0), ("crest_factor", 3.0), ("band_energy_low", 0.0),
                           ("band_energy_bearing", 0.0), ("band_energy_high", 0.0)):
            rows[name][stopped] = rest + 0.001 * np.abs(noise[2][stopped])
        rise = np.broadcast_to(temperature_rise, w.shape)[stopped]
        rows["temperature_c"][stopped] = np.broadcast_to(indoor_c, w.shape)[stopped] + 0.3 * rise
    return {name: values.reshape(-1) for name, values in rows.items()}
