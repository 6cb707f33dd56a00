"""SPC throughput: EWMA + CUSUM over 10k streams, vectorised banks vs a per-reading loop.

One JSON line per figure. An *update* is one reading through one chart, so each reading
counts twice (EWMA and CUSUM). *Ragged*: the banks stepped with ``update(x, where=...)`` on
the same block with half the readings missing (as a plant's streams read), per reading
present. The Python loop runs the one-stream charts over a subset of
the streams on the same data and is extrapolated per update; the alarms of that subset must
be identical to the banks'.

Run: ``.venv/bin/python bench/bench_spc.py [--steps 1000] [--streams 10000] [--loop-streams 50]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from gigaloop.ml.spc import CUSUM, EWMA, CUSUMBank, EWMABank

EWMA_PARAMS = {"lam": 0.1, "L": 2.814, "mu": 0.0, "sigma": 1.0}
CUSUM_PARAMS = {"k": 0.5, "h": 5.0, "mu": 0.0, "sigma": 1.0}


def _emit(figure: str, value: object, **extra: object) -> None:
    print(json.dumps({"bench": "spc", "figure": figure, "value": value, **extra}))


def _data(steps: int, streams: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((steps, streams))
    data[steps // 2 :, ::7] += 1.0  # a 1σ shift in every 7th stream half-way
    return data


def vectorised(data: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Seconds for both banks over the block, and their first alarms."""
    ewma = EWMABank(n_streams=data.shape[1], **EWMA_PARAMS)
    cusum = CUSUMBank(n_streams=data.shape[1], **CUSUM_PARAMS)
    start = time.perf_counter()
    first_ewma = ewma.process(data)
    first_cusum = cusum.process(data)
    return time.perf_counter() - start, first_ewma, first_cusum


def ragged(data: np.ndarray, seed: int) -> tuple[float, int]:
    """Seconds for both banks stepped over the block with half its readings missing, and the
    number of readings present."""
    present = np.random.default_rng(seed).random(data.shape) < 0.5
    block = np.where(present, data, np.nan)
    ewma = EWMABank(n_streams=data.shape[1], **EWMA_PARAMS)
    cusum = CUSUMBank(n_streams=data.shape[1], **CUSUM_PARAMS)
    start = time.perf_counter()
    for x, on in zip(block, present, strict=True):
        ewma.update(x, where=on)
        cusum.update(x, where=on)
    return time.perf_counter() - start, int(present.sum())


def python_loop(data: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Seconds for the one-stream charts, reading by reading, and their first alarms."""
    columns = [data[:, s].tolist() for s in range(data.shape[1])]
    first_ewma, first_cusum = [], []
    start = time.perf_counter()
    for column in columns:
        ewma, cusum = EWMA(**EWMA_PARAMS), CUSUM(**CUSUM_PARAMS)
        hit_ewma = hit_cusum = -1
        for t, x in enumerate(column):
            ewma.update(x)
            cusum.update(x)
            if hit_ewma < 0 and ewma.alarm:
                hit_ewma = t
            if hit_cusum < 0 and cusum.alarm:
                hit_cusum = t
        first_ewma.append(hit_ewma)
        first_cusum.append(hit_cusum)
    return time.perf_counter() - start, np.array(first_ewma), np.array(first_cusum)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--loop-streams", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = _data(args.steps, args.streams, seed=0)
    updates = 2 * args.steps * args.streams
    runs = [vectorised(data) for _ in range(args.repeats)]
    seconds = min(run[0] for run in runs)
    _, first_ewma, first_cusum = runs[0]
    subset = data[:, : args.loop_streams]
    loop_seconds, loop_ewma, loop_cusum = python_loop(subset)
    loop_updates = 2 * args.steps * args.loop_streams
    context = {"steps": args.steps, "streams": args.streams, "machine": platform.machine(),
               "numpy": np.__version__}
    fast, slow = updates / seconds, loop_updates / loop_seconds
    _emit("ewma_cusum_updates_per_s_vectorised", round(fast), seconds=round(seconds, 4),
          repeats=args.repeats, **context)
    _emit("ewma_cusum_updates_per_s_python_loop", round(slow), seconds=round(loop_seconds, 4),
          loop_streams=args.loop_streams, steps=args.steps)
    _emit("speedup", round(fast / slow, 1))
    ragged_seconds, present = min(ragged(data, seed=1) for _ in range(args.repeats))
    _emit("ewma_cusum_updates_per_s_ragged", round(2 * present / ragged_seconds),
          seconds=round(ragged_seconds, 4), readings_present=present, **context)
    identical = bool((loop_ewma == first_ewma[: args.loop_streams]).all()
                     and (loop_cusum == first_cusum[: args.loop_streams]).all())
    _emit("alarms_identical", identical, streams_compared=args.loop_streams,
          alarms_in_subset=int((loop_ewma >= 0).sum() + (loop_cusum >= 0).sum()))


if __name__ == "__main__":
    main()
