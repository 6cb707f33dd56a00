"""Minor stops and machine condition: which condition predicts stops, learnt from the store.

A daily panel per machine pairs the condition of day ``d`` (each feature's deviation from
the machine's own healthy baseline, ``d_<feature>`` of
:func:`~gigaloop.factory.maintenance.health.health_index`) with the minor stops of day
``d + 1`` (unplanned downtime events of that machine other than breakdowns). A Poisson GLM
(log link, a small ridge penalty: scikit-learn's ``PoissonRegressor``) of the stop count on
the standardised deviations is fitted on the earlier days
and scored on the later ones, held out by time: the share of Poisson deviance it explains
over a constant rate (D²). Only a model that explains enough on held-out days is used; it
is then refitted on all days. Deviations are clipped to the range seen in fitting, so the
exponential link is never extrapolated.

>>> rng = np.random.default_rng(0)
>>> days = pd.date_range("2025-01-01", periods=300)
>>> rows = []
>>> for m, rate in enumerate((0.0, 0.001, 0.002, 0.003, 0.004, 0.005)):
...     wear = (np.arange(300) % 60) * rate                  # serviced every 60 days
...     rows.append(pd.DataFrame({"machine_id": m, "day": days,
...         **{f"d_{f}": 0.0 for f in STOP_FEATURES},
...         "d_vibration_rms": 6 * wear**2 + rng.normal(0, 0.01, 300),
...         "stops": rng.poisson(0.005 + 0.02 * (wear / 0.05) ** 2)}))
>>> model = fit_stop_model(pd.concat(rows, ignore_index=True), mean_stop_hours=0.45)
>>> round(model.heldout_d2, 2), model.train_stops            # skill on the last 90 days
(0.26, 109)
>>> model.rate(pd.DataFrame([{"d_vibration_rms": 0.0}, {"d_vibration_rms": 0.3}])).round(2)
array([0.04, 0.31])
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from sklearn.linear_model import PoissonRegressor
from sklearn.metrics import mean_poisson_deviance
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import ThreadpoolController

from gigaloop.errors import ModelError

#: Condition features whose deviation means the same on every machine (mm/s, log, °C, –).
STOP_FEATURES = ("vibration_rms", "band_energy_bearing", "band_energy_high", "temperature_c",
                 "kurtosis")
DAY = pd.Timedelta(days=1)


def daily_stops(downtime: ir.Table) -> ir.Table:
    """Minor stops per machine and UTC day: unplanned, not a breakdown, with a machine."""
    stops = downtime.filter(~downtime.planned & (downtime.cause != "breakdown")
                            & downtime.machine_id.notnull())
    return stops.group_by(machine_id=stops.machine_id, day=stops.event_time.truncate("D")
                          ).aggregate(stops=stops.count(), stop_hours=stops.hours.sum())


def stop_panel(index: pd.DataFrame, stops: pd.DataFrame) -> pd.DataFrame:
    """Machine-days: ``d_*`` deviations of day ``d`` and ``stops`` on day ``d + 1`` (``stops``
    has a row per machine-day), sorted by day and machine.

    The last day of ``index`` is dropped: the stops of the day after it are not known yet.
    """
    columns = [f"d_{f}" for f in STOP_FEATURES]
    day = index.day.to_numpy().astype("datetime64[D]")
    kept = np.flatnonzero(day < day.max()) if day.size else np.zeros(0, np.int64)
    machine, names = pd.factorize(np.concatenate([index.machine_id.to_numpy()[kept],
                                                  stops.machine_id.to_numpy()]), sort=True)
    key = machine.astype(np.int64) << 32 | np.concatenate(
        [day[kept], stops.day.to_numpy().astype("datetime64[D]") - 1]).astype(np.int64)
    stop_row = pd.Index(key[kept.size:]).get_indexer(key[:kept.size])  # -1: none that day
    counts = np.r_[stops.stops.to_numpy(dtype=float), 0.0][stop_row]
    order = np.lexsort((machine[:kept.size], day[kept]))
    values = index[columns].to_numpy(float)[kept[order]]
    return pd.DataFrame({"machine_id": np.asarray(names, dtype=object)[machine[order]],
                         "day": day[kept[order]].astype("datetime64[ns]"),
                         **{c: values[:, k] for k, c in enumerate(columns)},
                         "stops": counts[order]})


@dataclass(frozen=True)
class StopModel:
    """Stops per machine-day from condition deviations, with its held-out skill."""

    model: Pipeline
    low: np.ndarray
    high: np.ndarray
    heldout_d2: float
    heldout_days: int
    train_stops: int
    mean_stop_hours: float

    def rate(self, deviations: pd.DataFrame) -> np.ndarray:
        """Expected minor stops per day; missing ``d_*`` columns count as healthy (0)."""
        x = deviations.reindex(columns=[f"d_{f}" for f in STOP_FEATURES]).fillna(0.0)
        return self.model.predict(np.clip(x.to_numpy(float), self.low, self.high))

    def stop_hours_avoided(self, deviations: pd.DataFrame, days: float) -> np.ndarray:
        """Stop hours over ``days`` above those of the same machines back at baseline."""
        healthy = self.rate(pd.DataFrame(0.0, index=deviations.index, columns=["d_vibration_rms"]))
        return np.maximum(self.rate(deviations) - healthy, 0.0) * days * self.mean_stop_hours


def fit_stop_model(panel: pd.DataFrame, *, mean_stop_hours: float, holdout_share: float = 0.3,
                   alpha: float = 1e-4, min_stops: int = 20) -> StopModel:
    """Fit on the first ``1 − holdout_share`` of the days, score on the rest, refit on all.

    Raises :class:`~gigaloop.errors.ModelError` when either part holds fewer than
    ``min_stops`` stops (too little to learn or to check).
    """
    with _blas().limit(limits=1):  # threads only contend on a fit this small (30x slower)
        return _fit_stop_model(panel, mean_stop_hours=mean_stop_hours,
                               holdout_share=holdout_share, alpha=alpha, min_stops=min_stops)


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def _fit_stop_model(panel: pd.DataFrame, *, mean_stop_hours: float, holdout_share: float,
                    alpha: float, min_stops: int) -> StopModel:
    columns = [f"d_{f}" for f in STOP_FEATURES]
    days = np.sort(panel.day.unique())
    cut = days[int(len(days) * (1 - holdout_share))] if len(days) >= 2 else days[-1]
    train, test = panel[panel.day < cut], panel[panel.day >= cut]
    n_train, n_test = int(train.stops.sum()), int(test.stops.sum())
    if min(n_train, n_test) < min_stops:
        raise ModelError(f"too few minor stops to learn from: {n_train} to fit, {n_test} to "
                         f"check (need {min_stops} each)", train=n_train, test=n_test)

    def fit(rows: pd.DataFrame) -> tuple[Pipeline, np.ndarray, np.ndarray]:
        x = rows[columns].to_numpy(float)
        low, high = x.min(axis=0), x.max(axis=0)
        glm = make_pipeline(StandardScaler(), PoissonRegressor(alpha=alpha, max_iter=1000))
        return glm.fit(x, rows.stops.to_numpy(float)), low, high

    model, low, high = fit(train)
    y = test.stops.to_numpy(float)
    predicted = model.predict(np.clip(test[columns].to_numpy(float), low, high))
    constant = np.full_like(y, max(train.stops.mean(), 1e-9))
    d2 = 1.0 - mean_poisson_deviance(y, predicted) / mean_poisson_deviance(y, constant)
    model, low, high = fit(panel)
    return StopModel(model, low, high, float(d2), int(test.day.nunique()), n_train,
                     float(mean_stop_hours))


__all__ = ["STOP_FEATURES", "StopModel", "daily_stops", "fit_stop_model", "stop_panel"]
