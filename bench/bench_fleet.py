"""Fleet twin benchmark: the vectorised vehicle-day against a bare NumPy step of equal size.

Prints one JSON line per figure:

* ``vehicle_days_per_s`` — :meth:`Fleet.drive` (every telemetry column, counts, trigger
  and crash sampling, in memory) over ``--vehicles`` vehicles, ``--threads`` threads;
* ``bare_numpy_vehicle_days_per_s`` — 3 random draws and ~18 in-place float32 operations
  per vehicle over the same 64k blocks and thread count;
* ``ratio_to_bare``;
* ``small_run_365_days_s`` — a fleet-only year at small scale (80 units a day), tables built
  (wall seconds), and ``small_run_365_days_cpu_s``, its CPU seconds;
* ``step_vehicle_days_per_s`` — the whole :meth:`Fleet.step` (driving, every table the
  day writes, the sampled vehicles' scenes run through the driving model and their
  uploads chosen) over the same vehicles, best of ``--step-repeats`` days, and
  ``step_median_vehicle_days_per_s``; ``step_cpu_ms`` the median CPU milliseconds of such a
  day (all threads) and ``step_main_thread_cpu_ms`` those of the calling thread (a shared
  machine disturbs these less than the wall time);
* ``scenes_per_s`` — :meth:`Scenes.day` on ``--scene-vehicles`` vehicles' scenes with a
  100-tree learned model in production and two trigger campaigns: scenes drawn, scored by
  the vehicles' model and their uploads chosen, per second; ``trigger_selection_scenes_per_s``
  the choice of uploads alone (campaign matching and per-vehicle budgets);
* ``twin_small_365_days_cpu_s`` — the whole twin (plant, fleet, customers: ``Twin.step``)
  over a small-scale year, seed 1, in CPU seconds (all threads; a shared machine's wall
  time says more about its other users).

Run: ``.venv/bin/python bench/bench_fleet.py [--vehicles 1048576] [--threads 2]
[--step-repeats 20]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import numpy as np

from gigaloop.actuate import SoftwareRollout, TriggerCampaigns
from gigaloop.actuate.driving_model import FEATURES
from gigaloop.fleet.candidate import fit_trees
from gigaloop.twin import Twin
from gigaloop.twin.fleet import Fleet
from gigaloop.twin.scenes import SCENES_PER_VEHICLE, Scenes, draw_features, hazard_probability
from gigaloop.twin.telemetry import BLOCK
from gigaloop.twin.units import SCALES, demo_units

F4 = np.float32
START = date(2025, 1, 6)


def bare_block(mean: np.ndarray, odometer: np.ndarray, outs: list[np.ndarray], lo: int,
               hi: int, rng: np.random.Generator) -> None:
    """3 draws, 18 float32 operations in place: the floor any vehicle-day step pays."""
    s, m = slice(lo, hi), hi - lo
    a, b, c = (rng.standard_normal(m, dtype=F4), rng.random(m, dtype=F4),
               rng.standard_normal(m, dtype=F4))
    x, y, z = outs[0][s], outs[1][s], outs[2][s]
    np.multiply(a, F4(0.5), out=x)
    np.exp(x, out=x)
    x *= mean[s]
    x *= b < F4(0.88)
    np.minimum(x, F4(900.0), out=x)
    odometer[s] += x
    np.multiply(x, F4(0.25), out=y)
    y += F4(1.0)
    np.multiply(c, F4(0.01), out=z)
    z += y
    z *= x
    np.sqrt(y, out=y)
    y -= F4(0.5)
    np.maximum(z, F4(0.0), out=z)
    z *= F4(2.0)
    z += x
    y *= z
    x += y


def best_rate(step: Callable[[int], object], n: int, repeats: int) -> float:
    """Vehicle-days per second of the fastest of ``repeats`` days (after one warm-up)."""
    step(0)
    times = []
    for day in range(1, repeats + 1):
        start = time.perf_counter()
        step(day)
        times.append(time.perf_counter() - start)
    return n / min(times)


def emit(figure: str, value: float, **extra: object) -> None:
    print(json.dumps({"bench": "fleet", "figure": figure, "value": round(value, 3), **extra}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=1 << 20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--scene-vehicles", type=int, default=200_000)
    parser.add_argument("--step-repeats", type=int, default=3,
                        help="whole days timed for the step figures (best and median)")
    args = parser.parse_args()

    fleet = Fleet(start_date=START, rng=np.random.default_rng(0), units_per_day=100,
                  threads=args.threads)
    fleet.add_built(demo_units(args.vehicles, build_day=-10))
    fleet.step(0)
    n = fleet.vehicles.n
    pool = ThreadPoolExecutor(args.threads) if args.threads > 1 else None
    contexts = [fleet.day_context(d) for d in range(1, args.repeats + 2)]
    fleet_rate = best_rate(lambda d: fleet.drive(contexts[d]), n, args.repeats)

    rngs = [np.random.default_rng(b) for b in range(-(-n // BLOCK))]
    mean, odometer = np.full(n, 37.0, F4), np.zeros(n)
    outs = [np.empty(n, F4) for _ in range(3)]
    bounds = [(lo, min(lo + BLOCK, n)) for lo in range(0, n, BLOCK)]

    def bare_day(_: int) -> None:
        if pool is None:
            for b, (lo, hi) in enumerate(bounds):
                bare_block(mean, odometer, outs, lo, hi, rngs[b])
        else:
            futures = [pool.submit(bare_block, mean, odometer, outs, lo, hi, rngs[b])
                       for b, (lo, hi) in enumerate(bounds)]
            for future in futures:
                future.result()

    bare_rate = best_rate(bare_day, n, args.repeats)
    setup = {"vehicles": n, "threads": args.threads, "block": BLOCK}
    emit("vehicle_days_per_s", fleet_rate, **setup)
    emit("bare_numpy_vehicle_days_per_s", bare_rate, **setup)
    emit("ratio_to_bare", fleet_rate / bare_rate, **setup)
    step_figures(fleet, args.repeats + 2, args.step_repeats, setup)
    scene_figures(args.scene_vehicles)

    small = Fleet(start_date=START, rng=np.random.default_rng(1), units_per_day=SCALES["small"])
    start, cpu = time.perf_counter(), time.process_time()
    for day in range(365):
        small.add_built(demo_units(SCALES["small"], build_day=day, seed=1))
        small.step(day)
    emit("small_run_365_days_s", time.perf_counter() - start,
         units_per_day=SCALES["small"], vehicles_at_end=small.vehicles.n)
    emit("small_run_365_days_cpu_s", time.process_time() - cpu,
         units_per_day=SCALES["small"], vehicles_at_end=small.vehicles.n)

    twin = Twin.from_scenario(seed=1)
    cpu = time.process_time()
    for day in range(365):
        twin.step(day)
    emit("twin_small_365_days_cpu_s", time.process_time() - cpu, seed=1,
         vehicles_at_end=twin.fleet.vehicles.n)


def step_figures(fleet: Fleet, first_day: int, repeats: int, setup: dict[str, int]) -> None:
    """Whole days (:meth:`Fleet.step`) after a warm-up one: best and median wall rate, and
    the median CPU of a day, all threads and the calling thread's."""
    fleet.step(first_day)
    wall, cpu, main = [], [], []
    for day in range(first_day + 1, first_day + 1 + repeats):
        start, start_cpu, start_main = time.perf_counter(), time.process_time(), time.thread_time()
        fleet.step(day)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        main.append(time.thread_time() - start_main)
    n = fleet.vehicles.n
    emit("step_vehicle_days_per_s", n / min(wall), **setup, days=repeats)
    emit("step_median_vehicle_days_per_s", n / float(np.median(wall)), **setup, days=repeats)
    emit("step_cpu_ms", 1e3 * float(np.median(cpu)), **setup, days=repeats)
    emit("step_main_thread_cpu_ms", 1e3 * float(np.median(main)), **setup, days=repeats)


def scene_figures(vehicles: int) -> None:
    """Scenes per second through :meth:`Scenes.day`, and the trigger selection alone."""
    rng = np.random.default_rng(2)
    scenes = Scenes(np.random.default_rng(3))
    x = draw_features(rng, np.full(30_000, 0.1), np.full(30_000, 0.2), rng.random(30_000) < 0.3)
    hazard = rng.random(30_000) < hazard_probability(x, np.ones(30_000),
                                                     rng.normal(0, 0.5, 30_000), 0)
    scenes.take(SoftwareRollout(day=0, software_version="learned", fleet_fraction=0.0,
                                stage="shadow",
                                artefact=fit_trees(x, hazard).to_bytes()))
    scenes.take(TriggerCampaigns(day=0, campaigns=(
        {"name": "rain-misses", "where": {"rain": 1, "flag": 0}},
        {"name": "disagree", "where": {"disagree": 1}}), budget_mb=10.0))
    idx = np.arange(vehicles)
    version = np.ones(vehicles, np.int16)
    names = ["start", "learned"]
    rain, night = np.full(vehicles, 0.15), np.full(vehicles, 0.3)

    def day() -> None:
        scenes.day(idx, version, names, rng.random(vehicles), rain, night,
                   np.zeros(vehicles), np.ones(vehicles))

    n_scenes = vehicles * SCENES_PER_VEHICLE
    emit("scenes_per_s", best_rate(lambda _: day(), n_scenes, 3), vehicles=vehicles,
         scenes=n_scenes)
    owner = np.repeat(idx, SCENES_PER_VEHICLE)
    xs = draw_features(rng, np.full(n_scenes, 0.15), np.full(n_scenes, 0.3), np.zeros(n_scenes))
    columns = {name: xs[:, i] for i, name in enumerate(FEATURES)}
    flag = scenes.models["learned"].flag(xs)
    took_over = flag | (rng.random(n_scenes) < 0.02)
    columns.update(flag=flag, took_over=took_over, hard_brake=~flag & (rng.random(n_scenes) < 0.01),
                   disagree=flag != took_over)
    emit("trigger_selection_scenes_per_s",
         best_rate(lambda _: scenes._uploads(columns, owner), n_scenes, 3), scenes=n_scenes)


if __name__ == "__main__":
    main()
