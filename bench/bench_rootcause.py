"""Root-cause scan benchmark: log-rank of every level of every attribute, every failure mode.

Synthetic genealogy: ``--vehicles`` built uniformly over two years, ``--attributes`` factory
attributes (lots, stations, shifts …) with 2–60 levels, 1 % missing codes on a third of them;
``--modes`` failure modes with Weibull lives, censored at one analysis date (so days in
service vary with build date); one planted level per mode raises that mode's hazard. Times the
full scan (all modes, then Benjamini–Hochberg over every test), checks each planted level comes
out at rank 1 (ranked by z, excess failures first; a false finding is any other level with
excess failures and q <= 0.05), and times lifelines' ``logrank_test`` on a few splits to
extrapolate to all of them. Then the same scan stratified by three climates × six mileage
bands, plain and with every level also tested within each climate and third of the bands
(:func:`~gigaloop.ml.logrank_subgroup_scan`, one count for both), and their ratio. Prints one
JSON line per figure.

    .venv/bin/python bench/bench_rootcause.py [--vehicles 1000000] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from lifelines.statistics import logrank_test

from gigaloop.ml import benjamini_hochberg, logrank_scan, logrank_subgroup_scan

BUILD_DAYS = 730
ANALYSIS_DAY = 760
PLANTED_HAZARD_RATIOS = (1.5, 1.6, 1.8, 2.0, 2.5)


def genealogy(vehicles: int, attributes: int, rng: np.random.Generator) -> tuple:
    """Column-major level codes (vehicles, attributes) and days in service at analysis."""
    levels = rng.integers(2, 61, attributes)
    codes = np.empty((vehicles, attributes), dtype=np.int32, order="F")
    for column, count in enumerate(levels):
        codes[:, column] = rng.integers(0, count, vehicles, dtype=np.int32)
        if column % 3 == 0:
            codes[rng.random(vehicles) < 0.01, column] = -1
    in_service = ANALYSIS_DAY - rng.integers(0, BUILD_DAYS, vehicles)
    return codes, levels, in_service


def failure_modes(codes: np.ndarray, levels: np.ndarray, in_service: np.ndarray,
                  modes: int, rng: np.random.Generator) -> list[dict]:
    """Per mode: days (floored), event flags, and the planted (attribute, level, hazard ratio)."""
    result = []
    for mode in range(modes):
        attribute = int(rng.integers(0, codes.shape[1]))
        level = int(rng.integers(0, levels[attribute]))
        ratio = PLANTED_HAZARD_RATIOS[mode % len(PLANTED_HAZARD_RATIOS)]
        shape = 1.2 + 0.3 * mode
        share = 0.015 + 0.005 * mode  # of the fleet failed in this mode by day 400
        scale = 400 / (-np.log1p(-share)) ** (1 / shape)
        scale = scale * np.where(codes[:, attribute] == level, ratio ** (-1 / shape), 1.0)
        life = scale * rng.weibull(shape, codes.shape[0])
        result.append({
            "days": np.floor(np.minimum(life, in_service)).astype(np.int64),
            "event": life < in_service,
            "planted": (attribute, level, ratio),
        })
    return result


def scan_all(modes: list[dict], codes: np.ndarray, threads: int) -> tuple[list, np.ndarray]:
    """Every mode's scan, then BH over all tests together."""
    scans = [logrank_scan(m["days"], m["event"], codes, n_threads=threads) for m in modes]
    q, _ = benjamini_hochberg(np.concatenate([scan["p"].to_numpy() for scan in scans]))
    return scans, q


def emit(figure: str, value: object, **extra: object) -> None:
    print(json.dumps({"bench": "rootcause", "figure": figure, "value": value, **extra}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=1_000_000)
    parser.add_argument("--attributes", type=int, default=60)
    parser.add_argument("--modes", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lifelines-splits", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    codes, levels, in_service = genealogy(args.vehicles, args.attributes, rng)
    modes = failure_modes(codes, levels, in_service, args.modes, rng)
    size = {"vehicles": args.vehicles, "attributes": args.attributes, "modes": args.modes}

    for threads in sorted({1, args.threads}):
        started, cpu = time.perf_counter(), time.process_time()
        scans, q = scan_all(modes, codes, threads)
        emit("scan_seconds", round(time.perf_counter() - started, 3), threads=threads, **size)
        emit("scan_cpu_seconds", round(time.process_time() - cpu, 3), threads=threads, **size)
    emit("tests", int(q.size), **size)
    strata = rng.integers(0, 18, args.vehicles)  # three climates × six mileage bands
    # each climate, and each third of the mileage bands (as root cause searches them)
    subgroups = np.vstack([np.arange(18) // 6 == c for c in range(3)]
                          + [np.arange(18) % 6 // 2 == b for b in range(3)])
    seconds = {}
    for name, scan in (("stratified", lambda m: logrank_scan(
            m["days"], m["event"], codes, strata=strata)),
                       ("with_subgroups", lambda m: logrank_subgroup_scan(
            m["days"], m["event"], codes, strata=strata, subgroups=subgroups))):
        started = time.perf_counter()
        for mode in modes:
            scan(mode)
        seconds[name] = time.perf_counter() - started
        emit(f"scan_seconds_{name}", round(seconds[name], 3), threads=1, **size)
    emit("subgroups_over_stratified",
         round(seconds["with_subgroups"] / seconds["stratified"], 2), **size)
    emit("events_per_mode", [int(m["event"].sum()) for m in modes], **size)

    offset = np.cumsum([0] + [len(scan) for scan in scans])
    for index, (mode, scan) in enumerate(zip(modes, scans, strict=True)):
        attribute, level, ratio = mode["planted"]
        planted = (scan.attribute == attribute).to_numpy() & (scan.level == level).to_numpy()
        ranked = scan.assign(planted=planted).sort_values("z", ascending=False)
        rank = int(np.flatnonzero(ranked.planted.to_numpy())[0]) + 1
        row = scan[planted].iloc[0]
        excess = q[offset[index] : offset[index + 1]] <= 0.05
        false_findings = excess & ~planted & (scan.z > 0).to_numpy()
        emit("planted_rank", rank, mode=index, attribute=attribute, level=level,
             hazard_ratio_true=ratio, hazard_ratio_estimate=round(float(row.hazard_ratio), 3),
             hr_ci=[round(float(row.hr_low), 3), round(float(row.hr_high), 3)],
             z=round(float(row.z), 1), best_other_z=round(float(scan.z[~planted].max()), 1),
             false_findings_q_005=int(false_findings.sum()))

    first = modes[0]
    splits = scans[0].head(args.lifelines_splits)
    started = time.perf_counter()
    worst = 0.0
    for row in splits.itertuples():
        column = codes[:, row.attribute]
        group, rest = column == row.level, (column >= 0) & (column != row.level)
        result = logrank_test(first["days"][group], first["days"][rest],
                              first["event"][group], first["event"][rest])
        worst = max(worst, abs(result.test_statistic - row.chi2) / max(row.chi2, 1e-300))
    per_split = (time.perf_counter() - started) / len(splits)
    emit("lifelines_seconds_per_split", round(per_split, 3), splits_timed=len(splits), **size)
    emit("lifelines_extrapolated_seconds", round(per_split * q.size, 1), extrapolation=True,
         splits=int(q.size), **size)
    emit("lifelines_max_relative_chi2_difference", float(worst), splits_checked=len(splits))


if __name__ == "__main__":
    main()
