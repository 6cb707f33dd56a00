"""The vectorised vehicle-day: every vehicle in the field drives one day, in 64k blocks.

:class:`VehicleArrays` holds one row per delivered vehicle (struct of arrays, float32 where
precision allows, grown by doubling). :func:`drive_day` fills a :class:`DayOutput` with the
telemetry columns of that day and samples the rare events (crashes, trigger uploads) from
per-vehicle Poisson rates, using a pool of threads over blocks (NumPy releases the GIL).

>>> vehicles = VehicleArrays(4)
>>> vehicles.append(demo_vehicles(3))
>>> out, rngs = DayOutput(), [np.random.default_rng(0)]
>>> ctx = DayContext.neutral()
>>> events = drive_day(vehicles, ctx, out, rngs)
>>> out.view(3)["miles"].shape, vehicles.view("odometer").dtype
((3,), dtype('float64'))
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from gigaloop.twin import battery
from gigaloop.twin.climate import REGIONS
from gigaloop.twin.sampling import poisson_positions, split_events

BLOCK = 65_536
F4 = np.float32

#: Per-vehicle columns: name → dtype. Rates are per mile of the relevant kind.
VEHICLE_COLUMNS: dict[str, type] = {
    "region": np.intp, "climate": np.int8, "style": np.int8,
    "mean_miles": F4, "ap_share": F4, "night_share": F4,
    "hard_braking": F4, "aggressive_turning": F4, "unsafe_following": F4, "speeding": F4,
    "fcw_rate": F4, "forced_rate": F4, "dcfc_share": F4,
    "crash_manual": F4, "crash_ap": F4, "ap_rain_extra": F4,
    "dis_clear": F4, "dis_rain": F4, "dis_night": F4,
    "cell_fade": F4, "odometer": np.float64, "calendar_stress": F4, "cycle_stress": F4,
}
FLOAT_OUTPUTS = ("miles", "autopilot_miles", "rain_miles", "late_night_miles",
                 "hard_braking_fraction", "aggressive_turning_fraction",
                 "unsafe_following_fraction", "speeding_fraction", "dc_fast_charge_kwh",
                 "ambient_temp_c", "battery_soh")
COUNT_OUTPUTS = ("fcw_count", "forced_disengagements", "disengagements_clear",
                 "disengagements_rain", "disengagements_night")
#: Trigger kinds sampled for upload, in the order of :attr:`BlockEvents.trigger_kind`.
TRIGGER_KINDS = ("hard_brake", "fcw", "disengagement_clear", "disengagement_rain",
                 "disengagement_night")

MAX_DAILY_MILES = 900.0
BEHAVIOUR_DAY_SD = 0.3        # lognormal day-to-day spread of the Safety Score fractions
ROAD_TRIP_MILES = 200.0       # beyond this in a day, the rest is DC fast charged
HARD_BRAKES_PER_MILE = 1.0    # hard-brake events per mile per unit of braking fraction
TRIGGER_UPLOAD_SHARE = 0.05   # share of trigger-worthy events whose clip is requested


@dataclass(frozen=True)
class DayContext:
    """What is the same for every vehicle on a day: calendar and per-region weather."""

    weekday_factor: float
    drive_probability: float
    temp_c: np.ndarray
    rain_share: np.ndarray
    calendar_stress: np.ndarray
    crash_night: float = 3.0
    crash_rain: float = 1.5

    @classmethod
    def neutral(cls) -> DayContext:
        """A dry day at the reference temperature in every region."""
        temp = np.full(len(REGIONS), battery.T_REF_AMBIENT_C, F4)
        return cls(1.0, 0.88, temp, np.zeros(len(REGIONS), F4), battery.calendar_stress(temp))


class VehicleArrays:
    """Struct of arrays over delivered vehicles; ``view(name)`` is the live slice."""

    def __init__(self, capacity: int, columns: Mapping[str, type] | None = None) -> None:
        self.n = 0
        self._columns = VEHICLE_COLUMNS if columns is None else columns
        self._data: dict[str, np.ndarray] = {
            k: np.zeros(max(capacity, 1), dt) for k, dt in self._columns.items()}

    def append(self, columns: dict[str, np.ndarray]) -> None:
        """Add vehicles; every column must be given."""
        k = len(next(iter(columns.values())))
        if self.n + k > self.capacity:
            size = max(2 * self.capacity, self.n + k)
            for name, arr in self._data.items():
                grown = np.zeros(size, arr.dtype)
                grown[: self.n] = arr[: self.n]
                self._data[name] = grown
        for name in self._columns:
            self._data[name][self.n: self.n + k] = columns[name]
        self.n += k

    @property
    def capacity(self) -> int:
        return len(next(iter(self._data.values())))

    def view(self, name: str) -> np.ndarray:
        return self._data[name][: self.n]


class DayOutput:
    """Preallocated telemetry columns for the whole fleet, reused day after day."""

    def __init__(self) -> None:
        self.floats: dict[str, np.ndarray] = {}
        self.counts: dict[str, np.ndarray] = {}

    def ensure(self, n: int) -> None:
        if not self.floats or len(self.floats["miles"]) < n:
            size = max(n, 2 * len(self.floats.get("miles", ())))
            self.floats = {k: np.empty(size, F4) for k in FLOAT_OUTPUTS}
            self.counts = {k: np.empty(size, np.int64) for k in COUNT_OUTPUTS}

    def view(self, n: int) -> dict[str, np.ndarray]:
        return {k: v[:n] for k, v in (*self.floats.items(), *self.counts.items())}


@dataclass
class BlockEvents:
    """Rare events of a day, as global vehicle indices (with repeats for several events),
    each vehicle's expected crashes of the day (``crash_risk``, in vehicle order: what its
    insurance claims follow) and the Autopilot crashes the day's rates expect (a world
    figure free of Poisson noise, for the truth)."""

    crash_manual: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    crash_autopilot: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    trigger_vehicle: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    trigger_kind: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))
    crash_risk: np.ndarray = field(default_factory=lambda: np.empty(0, F4))
    expected_crashes_autopilot: float = 0.0

    @classmethod
    def concat(cls, parts: list[BlockEvents]) -> BlockEvents:
        if not parts:
            return cls()
        return cls(**{f: np.concatenate([getattr(p, f) for p in parts])
                      for f in ("crash_manual", "crash_autopilot", "trigger_vehicle",
                                "trigger_kind", "crash_risk")},
                   expected_crashes_autopilot=sum(p.expected_crashes_autopilot for p in parts))


def _uniform_spread(sd: float) -> tuple[F4, F4]:
    """Scale and shift turning U(0, 1) into a zero-mean variable with standard deviation
    ``sd`` (a uniform, cheaper to draw than a normal)."""
    width = sd * np.sqrt(12.0)
    return F4(width), F4(-width / 2)


def drive_block(v: VehicleArrays, ctx: DayContext, out: DayOutput, lo: int, hi: int,
                rng: np.random.Generator) -> BlockEvents:
    """Drive vehicles ``lo:hi`` one day: write their telemetry, return their rare events."""
    s, m = slice(lo, hi), hi - lo
    o = {k: a[s] for k, a in out.floats.items()}
    c = {k: v.view(k)[s] for k in VEHICLE_COLUMNS}
    scratch = _scratch(m)
    u, t1, rain_share = scratch[:3]
    miles, ap = o["miles"], o["autopilot_miles"]
    # miles: driven with probability p; then driver mean × Exp(1) day factor × weekday factor
    p_drive = ctx.drive_probability
    rng.random(dtype=F4, out=u)
    np.multiply(u, F4(1.0 / p_drive), out=miles)
    miles -= F4((1.0 - p_drive) / p_drive)
    np.maximum(miles, F4(0.0), out=miles)
    np.subtract(F4(1.0), miles, out=miles)
    np.log(miles, out=miles)
    miles *= c["mean_miles"]
    miles *= F4(-ctx.weekday_factor)
    np.minimum(miles, F4(MAX_DAILY_MILES), out=miles)
    c["odometer"] += miles
    np.multiply(miles, c["ap_share"], out=ap)
    np.take(ctx.rain_share, c["region"], out=rain_share, mode="wrap")
    np.multiply(miles, rain_share, out=o["rain_miles"])
    np.multiply(miles, c["night_share"], out=o["late_night_miles"])
    # Safety Score fractions: driver base × a shared log-uniform daily mood factor
    width, shift = _uniform_spread(BEHAVIOUR_DAY_SD)
    rng.random(dtype=F4, out=u)
    u *= width
    u += shift - F4(np.log(np.sinh(width / 2) / (width / 2)))
    np.exp(u, out=u)
    u *= np.sign(miles, out=t1)           # 0 on days not driven
    for base, name in (("hard_braking", "hard_braking_fraction"),
                       ("aggressive_turning", "aggressive_turning_fraction"),
                       ("unsafe_following", "unsafe_following_fraction"),
                       ("speeding", "speeding_fraction")):
        np.multiply(c[base], u, out=o[name])
        np.minimum(o[name], F4(1.0), out=o[name])
    _battery(c, ctx, o, miles, u, t1, rng)
    np.take(ctx.temp_c, c["region"], out=o["ambient_temp_c"], mode="wrap")
    return _events(c, ctx, out, s, miles, ap, rain_share, o["hard_braking_fraction"], rng, lo,
                   scratch[3:])


def _battery(c: dict[str, np.ndarray], ctx: DayContext, o: dict[str, np.ndarray],
             miles: np.ndarray, t1: np.ndarray, t2: np.ndarray,
             rng: np.random.Generator) -> None:
    """DC fast-charge energy, stress accumulators, and the measured state of health."""
    dcfc = o["dc_fast_charge_kwh"]
    np.subtract(miles, F4(ROAD_TRIP_MILES), out=t1)
    np.maximum(t1, F4(0.0), out=t1)
    np.multiply(miles, c["dcfc_share"], out=dcfc)
    dcfc += t1
    dcfc *= F4(battery.KWH_PER_MILE)
    per_mile, per_dc_kwh = battery.cycle_stress_per_mile()
    np.multiply(miles, F4(per_mile), out=t1)
    c["cycle_stress"] += t1
    np.multiply(dcfc, F4(per_dc_kwh), out=t1)
    c["cycle_stress"] += t1
    np.take(ctx.calendar_stress, c["region"], out=t1, mode="wrap")
    c["calendar_stress"] += t1
    soh = o["battery_soh"]
    battery.state_of_health(c["calendar_stress"], c["cycle_stress"], c["cell_fade"],
                            out=soh, scratch=t1)
    width, shift = _uniform_spread(battery.SOH_MEASUREMENT_SD)
    rng.random(dtype=F4, out=t1)
    t1 *= width
    t1 += shift
    soh += t1


def _events(c: dict[str, np.ndarray], ctx: DayContext, out: DayOutput, s: slice,
            miles: np.ndarray, ap: np.ndarray, rain_share: np.ndarray,
            hard_braking: np.ndarray, rng: np.random.Generator, lo: int,
            scratch: list[np.ndarray]) -> BlockEvents:
    """Counts (FCW, disengagements), trigger uploads and crashes of one block."""
    m = len(miles)
    manual, lam, ap_rain, ap_night, ap_clear, night_extra, factor = scratch
    np.subtract(miles, ap, out=manual)
    np.multiply(manual, c["fcw_rate"], out=lam)
    fcw = poisson_positions(lam, rng)
    out.counts["fcw_count"][s] = np.bincount(fcw, minlength=m)
    np.multiply(ap, c["forced_rate"], out=lam)
    out.counts["forced_disengagements"][s] = np.bincount(poisson_positions(lam, rng),
                                                         minlength=m)
    # driver disengagements: one Poisson over all conditions, then split by condition
    np.multiply(ap, rain_share, out=ap_rain)
    np.multiply(ap, c["night_share"], out=ap_night)
    np.subtract(ap, ap_rain, out=ap_clear)
    ap_clear -= ap_night
    weights = [ap_clear, ap_rain, ap_night]
    for w, rate in zip(weights, ("dis_clear", "dis_rain", "dis_night"), strict=True):
        w *= c[rate]
    np.add(weights[0], weights[1], out=lam)
    lam += weights[2]
    disengaged = poisson_positions(lam, rng)
    condition = split_events(disengaged, weights, rng)
    for k, name in enumerate(COUNT_OUTPUTS[2:]):
        out.counts[name][s] = np.bincount(disengaged[condition == k], minlength=m)
    # trigger uploads: a share of hard brakes, FCWs and driver disengagements
    np.multiply(miles, hard_braking, out=lam)
    lam *= F4(HARD_BRAKES_PER_MILE * TRIGGER_UPLOAD_SHARE)
    sampled = rng.random(len(disengaged), dtype=F4) < F4(TRIGGER_UPLOAD_SHARE)
    triggers = [poisson_positions(lam, rng),
                fcw[rng.random(len(fcw), dtype=F4) < F4(TRIGGER_UPLOAD_SHARE)],
                *(disengaged[sampled & (condition == k)] for k in range(3))]
    # crashes per mile, manual and Autopilot, × night and rain
    np.multiply(c["night_share"], F4(ctx.crash_night - 1.0), out=night_extra)
    np.multiply(rain_share, F4(ctx.crash_rain - 1.0), out=factor)
    factor += night_extra
    factor += F4(1.0)
    np.multiply(manual, c["crash_manual"], out=lam)
    lam *= factor
    risk = lam.copy()
    crash_manual = poisson_positions(lam, rng)
    np.multiply(rain_share, c["ap_rain_extra"], out=factor)
    factor += night_extra
    factor += F4(1.0)
    np.multiply(ap, c["crash_ap"], out=lam)
    lam *= factor
    risk += lam
    expected = float(lam.sum(dtype=np.float64))
    crash_ap = poisson_positions(lam, rng)
    kinds = np.repeat(np.arange(len(TRIGGER_KINDS), dtype=np.int8), [len(t) for t in triggers])
    return BlockEvents(crash_manual + lo, crash_ap + lo, np.concatenate(triggers) + lo, kinds,
                       risk, expected)


_LOCAL = threading.local()
SCRATCH_ARRAYS = 10


def _scratch(m: int) -> list[np.ndarray]:
    """This thread's float32 scratch arrays (no large temporaries: allocating them in
    threads serialises on page faults)."""
    if not hasattr(_LOCAL, "floats"):
        _LOCAL.floats = [np.empty(BLOCK, F4) for _ in range(SCRATCH_ARRAYS)]
    return [a[:m] for a in _LOCAL.floats]


def drive_day(v: VehicleArrays, ctx: DayContext, out: DayOutput,
              rngs: list[np.random.Generator], pool: ThreadPoolExecutor | None = None,
              then: Callable[[int, int], None] | None = None) -> BlockEvents:
    """Drive every vehicle one day; block ``b`` always draws from ``rngs[b]`` (reproducible
    whatever the thread order). ``rngs`` needs one generator per 64k block. ``then(lo, hi)``
    runs in the thread that drove vehicles ``lo:hi``, right after (their outputs still in
    its cache)."""
    out.ensure(v.n)
    bounds = [(lo, min(lo + BLOCK, v.n)) for lo in range(0, v.n, BLOCK)]
    if len(rngs) < len(bounds):
        raise ValueError(f"{len(bounds)} blocks need as many generators, got {len(rngs)}")

    def block(b: int, lo: int, hi: int) -> BlockEvents:
        events = drive_block(v, ctx, out, lo, hi, rngs[b])
        if then is not None:
            then(lo, hi)
        return events

    if pool is None or len(bounds) < 2:
        parts = [block(b, lo, hi) for b, (lo, hi) in enumerate(bounds)]
    else:
        futures = [pool.submit(block, b, lo, hi) for b, (lo, hi) in enumerate(bounds)]
        parts = [f.result() for f in futures]
    return BlockEvents.concat(parts)


def demo_vehicles(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` plain vehicles (normal drivers, temperate region): for examples and benchmarks."""
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {k: np.zeros(n, dt) for k, dt in VEHICLE_COLUMNS.items()}
    cols["region"][:] = REGIONS.index("US-CA")
    cols["climate"][:] = 1
    cols["style"][:] = 1
    cols["mean_miles"][:] = rng.lognormal(np.log(37 / 0.88) - 0.15, 0.55, n)
    cols["ap_share"][:] = rng.beta(2, 6, n)
    for name, value in (("night_share", 0.04), ("hard_braking", 0.01),
                        ("aggressive_turning", 0.03), ("unsafe_following", 0.08),
                        ("speeding", 0.001), ("fcw_rate", 0.004), ("forced_rate", 0.0002),
                        ("dcfc_share", 0.12), ("crash_manual", 1e-6), ("crash_ap", 1 / 6.5e6),
                        ("ap_rain_extra", 0.5), ("dis_clear", 0.02), ("dis_rain", 0.05),
                        ("dis_night", 0.03), ("cell_fade", 1.0)):
        cols[name][:] = value
    return cols
