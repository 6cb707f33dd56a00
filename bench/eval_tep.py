"""Hotelling T² and PCA-T² on the Tennessee Eastman process, faults IDV(1)–IDV(20).

Protocol (Russell, Chiang & Braatz 2000): 3-minute samples of 52 variables — XMEAS(1–41)
(22 continuous + 19 composition) and XMV(1–11); 500 normal samples train the charts
(Phase I); each fault run has 960 samples with the fault switched on after sample 160, so
samples 161–960 are post-fault. Variables constant in training (valves the controller
holds fixed) or numerically linear in the others (pivoted QR of the standardised training
data) are dropped: they would make S singular. Charts, both at 99 %:

- ``pca_t2``: PCA of the standardised training data (NumPy SVD), the fewest components
  keeping ≥ 90 % of the variance, and ``HotellingT2Bank`` on the scores (F-based limit);
- ``t2``: ``HotellingT2Bank`` on all kept variables (F-based limit).

The plant is tep-studio (Bathelt–Ricker–Jelali revision of Downs & Vogel, closed loop under
Ricker's decentralised PI control), not the Lyman–Georgakis loop of the published data set,
so figures differ from the papers'. Each run starts from the mode-1 base case, has its own
noise seed and discards a 2 h warm-up. A run whose plant shuts down (IDV(6) does) is scored
on the samples before the shutdown. One JSON line per fault. Needs ``pip install
tep-studio`` (a C compiler builds it; it is not a gigaloop dependency).

Run: ``.venv/bin/python bench/eval_tep.py [--faults 1 2 ...] [--workers 2] [--seed 0]``
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import scipy.linalg

from gigaloop.ml.spc import HotellingT2Bank

SAMPLE_H = 0.05  # 3 minutes
CONTROL_INTERVAL_H = 0.0005
WARMUP_H = 2.0
TRAIN_SAMPLES, TEST_SAMPLES, FAULT_AFTER = 500, 960, 160
ALPHA = 0.01
VARIANCE_KEPT = 0.90
COLLINEAR_TOL = 1e-5  # pivoted-QR |R_ii| / |R_00| below it: linear in the others
# Detection rates of PCA-T² on the Braatz data (Russell, Chiang & Braatz 2000); only the
# figures we are sure of.
PUBLISHED_PCA_T2 = {1: 0.99, 2: 0.98}


def simulate(fault: int, samples: int, seed: int) -> tuple[np.ndarray, int]:
    """``(samples, 52)`` readings and how many precede a plant shutdown (``samples`` if none).

    ``fault`` (0 for none) starts after sample FAULT_AFTER. After a shutdown the last
    reading is repeated so every run has the same length; those rows are not scored.
    """
    from tep_studio import ClosedLoopSimulation

    fault_time = WARMUP_H + FAULT_AFTER * SAMPLE_H

    def schedule(t: float) -> np.ndarray:
        idv = np.zeros(28)
        if fault and t >= fault_time:
            idv[fault - 1] = 1.0
        return idv

    every = round(SAMPLE_H / CONTROL_INTERVAL_H)
    result = ClosedLoopSimulation(
        control_interval=CONTROL_INTERVAL_H, horizon=WARMUP_H + samples * SAMPLE_H
    ).run(seed=float(_generator_seed(seed)), disturbance_schedule=schedule, record_every=every)
    rows = [np.concatenate([r.measurements, r.implemented_action[:11]]) for r in result.results
            if r.time_start >= WARMUP_H - 1e-9][:samples]
    valid = len(rows) - int(result.terminated)
    if valid <= FAULT_AFTER:
        raise RuntimeError(f"IDV({fault}) run shut down before the fault, at {result.final_time} h")
    rows += [rows[valid - 1]] * (samples - len(rows))
    return np.asarray(rows), valid


def _generator_seed(seed: int) -> int:
    """A large odd start for the kernel's multiplicative generator (0 gives no noise at all)."""
    return int(np.random.default_rng(seed).integers(2**30, 2**32)) | 1


def _alarms(bank: HotellingT2Bank, train: np.ndarray, tests: np.ndarray) -> np.ndarray:
    """Alarms ``(n_steps, n_faults)`` of a bank trained on ``train`` and run on ``tests``."""
    bank.learn(np.broadcast_to(train[:, None, :], (len(train), bank.n_streams, train.shape[1])))
    alarms = np.empty(tests.shape[:2], dtype=bool)
    for step, readings in enumerate(tests):
        bank.update(readings)
        alarms[step] = bank.alarm
    return alarms


def _independent(train: np.ndarray) -> np.ndarray:
    """Mask of columns that are neither constant nor (numerically) linear in the others."""
    varying = np.flatnonzero(train.std(axis=0) > 1e-9)
    z = (train[:, varying] - train[:, varying].mean(axis=0)) / train[:, varying].std(axis=0)
    _, r, order = scipy.linalg.qr(z, mode="economic", pivoting=True)
    diagonal = np.abs(np.diag(r))
    kept = np.zeros(train.shape[1], dtype=bool)
    kept[varying[order[diagonal > COLLINEAR_TOL * diagonal[0]]]] = True
    return kept


def evaluate(train: np.ndarray, tests: np.ndarray) -> dict[str, object]:
    """Per-chart alarms for ``tests`` of shape ``(n_steps, n_faults, 52)``."""
    kept = _independent(train)
    train, tests = train[:, kept], tests[:, :, kept]
    centre, scale = train.mean(axis=0), train.std(axis=0, ddof=1)
    z_train, z_tests = (train - centre) / scale, (tests - centre) / scale
    _, singular, loadings = np.linalg.svd(z_train, full_matrices=False)
    share = np.cumsum(singular**2) / np.sum(singular**2)
    k = int(np.searchsorted(share, VARIANCE_KEPT) + 1)
    n_faults = tests.shape[1]
    pca = _alarms(HotellingT2Bank(n_faults, k, alpha=ALPHA), z_train @ loadings[:k].T,
                  z_tests @ loadings[:k].T)
    full = _alarms(HotellingT2Bank(n_faults, int(kept.sum()), alpha=ALPHA), train, tests)
    return {"kept": np.flatnonzero(kept), "k": k, "pca_t2": pca, "t2": full}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, nargs="+", default=list(range(1, 21)))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    jobs = [(0, TRAIN_SAMPLES, args.seed)]
    jobs += [(f, TEST_SAMPLES, args.seed + f) for f in args.faults]
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(simulate, *zip(*jobs, strict=True)))
    result = evaluate(runs[0][0], np.stack([data for data, _ in runs[1:]], axis=1))
    dropped = sorted(set(range(52)) - set(result["kept"].tolist()))
    print(json.dumps({"bench": "tep", "figure": "setup", "variables": len(result["kept"]),
                      "dropped": [_name(i) for i in dropped],
                      "pca_components": result["k"], "alpha": ALPHA}))
    for column, fault in enumerate(args.faults):
        valid = runs[column + 1][1]
        line: dict[str, object] = {"bench": "tep", "fault": f"IDV{fault}",
                                   "post_fault_samples": valid - FAULT_AFTER}
        if valid < TEST_SAMPLES:
            line["shutdown_h_after_fault"] = round((valid - FAULT_AFTER) * SAMPLE_H, 2)
        for chart in ("pca_t2", "t2"):
            alarms = result[chart][:, column]
            line[f"{chart}_detection"] = round(float(alarms[FAULT_AFTER:valid].mean()), 3)
            line[f"{chart}_false_alarm"] = round(float(alarms[:FAULT_AFTER].mean()), 3)
        line["published_pca_t2_detection"] = PUBLISHED_PCA_T2.get(
            fault, "published figure not at hand")
        print(json.dumps(line))
    print(json.dumps({"bench": "tep", "figure": "seconds",
                      "value": round(time.perf_counter() - start, 1)}))


def _name(index: int) -> str:
    return f"XMEAS({index + 1})" if index < 41 else f"XMV({index - 40})"


if __name__ == "__main__":
    main()
