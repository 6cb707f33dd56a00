"""Process-control charts on the twin: false alarms on clean streams against the design ARL₀,
and how soon the drift faults are alarmed.

Protocol: the plant of the default scenario alone (``Twin.plant.step``: the plant draws from
its own seed stream, so its rows are those of a ``--no-loop`` run), ``--days`` days per seed.
Each day's ``process_readings``, as the module reads them from the store (machine id, else
station id; event-time order), go through :meth:`ProcessControlModule.observe` — the module
itself: Phase I, charts, moving centre. Its setpoint proposals are not applied (no loop).

- *False alarms*: every signal (``signals_today`` of the alarm decisions, not only the day's
  first) on a clean stream: one without a drift fault, or a drifting one on the days before
  its drift starts; *readings*: those charted (after Phase I) on the same. Two sets: ``all``
  streams, and ``normal`` ones, without module resistance (a weak cell lot really shifts it)
  and isolation resistance (log-normal, charted on the log scale).
- *Design ARL₀*: Markov chain, ``1 / (1/ARL₀(EWMA) + 1/ARL₀(CUSUM))`` (``gigaloop.ml.spc``).
- *Detection*: readings of the drifting stream from the drift's start to its first signal
  (inclusive), and the time between them in days.

One JSON line per seed and figure, then the figures pooled over seeds.

Run: ``.venv/bin/python bench/eval_spc_twin.py [--days 365] [--seeds 1 2 3]``
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from gigaloop.errors import ConfigError
from gigaloop.factory.process_control import ProcessControlConfig, ProcessControlModule
from gigaloop.loop.contract import DayContext
from gigaloop.ml.spc import cusum_arl, ewma_arl
from gigaloop.twin import Twin
from gigaloop.twin.clock import DAY_S

NOT_NORMAL = ("module_resistance", "isolation_resistance")
DRIFTS = ("weld_current_drift", "process_drift")


def design_arl0(config: ProcessControlConfig) -> float:
    """The two charts' in-control ARL together, as if independent."""
    ewma, cusum = ewma_arl(config.lam, config.L), cusum_arl(config.k, config.h)
    return 1.0 / (1.0 / ewma + 1.0 / cusum)


def readings_frame(table: pa.Table) -> pd.DataFrame:
    """``process_readings`` as :meth:`ProcessControlModule._new_readings` returns them."""
    frame = table.select(["vin", "station_id", "machine_id", "parameter", "value", "setpoint",
                          "event_time"]).to_pandas()
    frame["machine_id"] = frame["machine_id"].fillna(frame["station_id"])
    return frame.sort_values(["event_time", "vin"], kind="stable").reset_index(drop=True)


@dataclass
class Replay:
    """Per stream: readings charted and false alarms (clean part only); per drift: delays."""

    charted: dict[tuple[str, str], int]
    alarms: dict[tuple[str, str], int]
    delays: dict[str, dict[str, object]]


def replay(seed: int, days: int, config: ProcessControlConfig | None = None) -> Replay:
    """Run the plant ``days`` days and the module over its readings; counts per stream."""
    twin = Twin.from_scenario(seed=seed)
    module = ProcessControlModule(config)
    drifts = {(f.where["machine"], f.where.get("parameter", "weld_current")): f
              for f in twin.scenario.faults if f.kind in DRIFTS}
    starts = {key: pd.Timestamp(twin.plant.clock.to_utc(np.array([f.starts * DAY_S]))[0])
              for key, f in drifts.items()}
    charted: dict[tuple[str, str], int] = defaultdict(int)
    alarms: dict[tuple[str, str], int] = defaultdict(int)
    after: dict[tuple[str, str], list[pd.Timestamp]] = defaultdict(list)  # drift readings' times
    detected: dict[tuple[str, str], pd.Timestamp] = {}
    for day in range(days):
        tables, _ = twin.plant.step(day)
        if "process_readings" not in tables:
            continue
        readings = readings_frame(tables["process_readings"])
        watched = module.charted
        for key, rows in readings.groupby(["machine_id", "parameter"], sort=False):
            clean = rows if key not in starts else rows[rows.event_time < starts[key]]
            if key in watched:
                charted[key] += len(clean)
            if key in starts and key not in detected:
                after[key] += list(rows.event_time[rows.event_time >= starts[key]])
        ctx = DayContext(day, twin.day_end(day), view=None)
        for decision in module.observe(ctx, readings):
            alarm = decision.inputs.get("alarm")
            if alarm is None:
                continue
            key, when = (alarm["machine_id"], alarm["parameter"]), pd.Timestamp(alarm["event_time"])
            if key in starts and when >= starts[key]:
                detected.setdefault(key, when)
            else:
                alarms[key] += int(decision.inputs["signals_today"])
    delays = {}
    for key, fault in drifts.items():
        when = detected.get(key)
        times = pd.Series(after[key])
        delays[fault.id] = {
            "machine": key[0], "parameter": key[1], "starts_day": fault.starts,
            "readings": None if when is None else int((times <= when).sum()),
            "days": None if when is None
            else round((when - starts[key]).total_seconds() / DAY_S, 2),
        }
    return Replay(dict(charted), dict(alarms), delays)


def false_alarm_figures(runs: list[Replay], arl0: float) -> dict[str, dict[str, object]]:
    figures: dict[str, dict[str, object]] = {}
    for name, skip in (("all", ()), ("normal", NOT_NORMAL)):
        readings = sum(n for run in runs for key, n in run.charted.items() if key[1] not in skip)
        count = sum(n for run in runs for key, n in run.alarms.items() if key[1] not in skip)
        per_alarm = readings / count if count else float("inf")
        figures[name] = {"readings": readings, "false_alarms": count,
                         "readings_per_false_alarm": round(per_alarm),
                         "design_arl0": round(arl0), "ratio": round(per_alarm / arl0, 2)}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--phase-one-days", type=int, default=ProcessControlConfig.phase_one_days)
    parser.add_argument("--centre-weight", type=float,
                        default=ProcessControlConfig.centre_weight, help="0: fixed centre")
    args = parser.parse_args()
    try:
        config = ProcessControlConfig(phase_one_days=args.phase_one_days,
                                      centre_weight=args.centre_weight)
    except ConfigError as error:
        parser.error(str(error))
    if args.days <= config.phase_one_days:
        parser.error(f"--days must exceed Phase I ({config.phase_one_days} days): nothing "
                     f"would be charted in {args.days}")
    arl0 = design_arl0(config)
    runs = []
    for seed in args.seeds:
        start = time.perf_counter()
        run = replay(seed, args.days, config)
        runs.append(run)
        for streams, figure in false_alarm_figures([run], arl0).items():
            print(json.dumps({"figure": "false_alarms", "seed": seed, "days": args.days,
                              "streams": streams, **figure}))
        for fault, delay in run.delays.items():
            print(json.dumps({"figure": "detection", "seed": seed, "fault": fault, **delay}))
        worst = sorted(run.alarms.items(), key=lambda kv: -kv[1])[:3]
        print(json.dumps({"figure": "worst_streams", "seed": seed,
                          "alarms": {f"{m} {p}": n for (m, p), n in worst},
                          "seconds": round(time.perf_counter() - start, 1)}))
    for streams, figure in false_alarm_figures(runs, arl0).items():
        print(json.dumps({"figure": "false_alarms", "seeds": args.seeds, "days": args.days,
                          "phase_one_days": config.phase_one_days,
                          "centre_weight": config.centre_weight,
                          "streams": streams, **figure}))


if __name__ == "__main__":
    main()
