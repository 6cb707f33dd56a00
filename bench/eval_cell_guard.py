"""How soon the robot-cell rollout's seam guard calls harm: the power behind
``cell_rollout.MIN_SEAM_EVENTS``.

Simulates the always-valid rate-ratio test (:class:`gigaloop.ml.RateRatioTest`) on daily
batches of units welded by a candidate cell and by the others, failed seam inspections
binomial at the incumbent's rate and at ``ratio`` times it, and reports per ratio the
share of runs that called harm within ``--days`` and the failed inspections the candidate
arm was expected to have (at the incumbent's rate) when it did. One JSON line per ratio.

    .venv/bin/python bench/eval_cell_guard.py [--runs 300] [--days 80]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from gigaloop.fleet.cell_rollout import CELL_CONFIG, MIN_SEAM_EVENTS
from gigaloop.ml import RateRatioTest


def expected_at_harm(ratio: float, rng: np.random.Generator, *, days: int, rate: float,
                     candidate: int, incumbent: int) -> float | None:
    """The candidate arm's expected failed inspections when harm was called (None: not)."""
    test = RateRatioTest(alpha=CELL_CONFIG.alpha, margin=CELL_CONFIG.margin)
    for _ in range(days):
        test.update(rng.binomial(candidate, min(rate * ratio, 1.0)), candidate,
                    rng.binomial(incumbent, rate), incumbent)
        if test.decision == "harm":
            events, exposure = test.events, test.exposure
            return float(events[1] / exposure[1] * exposure[0]) if events[1] else 0.0
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--days", type=int, default=80)
    parser.add_argument("--rate", type=float, default=0.024,
                        help="incumbent's failed inspections per unit (the twin's: ≈ 2.4 %%)")
    parser.add_argument("--candidate", type=int, default=33, help="units a day, canary arm")
    parser.add_argument("--incumbent", type=int, default=37, help="units a day, the rest")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for ratio in (1.0, 1.5, 2.0, 3.0):
        found = [expected_at_harm(ratio, rng, days=args.days, rate=args.rate,
                                  candidate=args.candidate, incumbent=args.incumbent)
                 for _ in range(args.runs)]
        at = np.array([f for f in found if f is not None])
        print(json.dumps({
            "figure": "seam_guard_power", "ratio": ratio, "runs": args.runs,
            "harm_called": round(len(at) / args.runs, 3),
            "harm_before_min_seam_events": round(float((at < MIN_SEAM_EVENTS).sum())
                                                 / args.runs, 3),
            "expected_at_harm_q50_q90": [round(float(q), 1) for q in
                                         np.quantile(at, [0.5, 0.9])] if len(at) else None,
            "min_seam_events": MIN_SEAM_EVENTS}), flush=True)


if __name__ == "__main__":
    main()
