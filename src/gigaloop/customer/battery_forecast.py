"""Battery state-of-health forecast per vehicle, with a split-conformal interval.

Features come from each vehicle's ``telemetry_daily`` up to a cutoff, aggregated in the
engine (:func:`soh_features`): days in service, SoH now and at the start (means over
``smooth_days``, the BMS estimate is noisy), miles and DC fast-charge kWh per day, mean
ambient temperature and climate. The target is the mean measured SoH over the
``smooth_days`` ending ``horizon_days`` later (:func:`soh_at`).

Fade grows about as the square root of time, faster when hot (calendar ageing ∝ t^0.5,
≈ 2× per +10 °C; cycle ageing ∝ N^0.5–0.7; FIGURES.md), so :class:`SohForecaster` learns
a *fade rate*: the change of SoH ÷ (√(H + H_ahead) − √H), H the vehicle's
temperature-weighted days so far and H_ahead those the season brings over the horizon
(:func:`soh_features`), from the features and the rate seen so far, with a
gradient-boosted regressor (scikit-learn). A rate does not grow with age the way a change
does, so a model trained on younger cars carries over to older ones: it is trained from an
earlier cutoff — held out by time: (cutoff − horizon → cutoff) — and applied at (cutoff →
cutoff + horizon). It is fitted on some vehicles and its interval sized on others: the
split-conformal quantile of their absolute residuals in SoH (Lei,
G'Sell, Rinaldo, Tibshirani & Wasserman, JASA 2018), which covers a new vehicle's SoH with
probability ≥ ``coverage`` when vehicles are exchangeable. They are not quite across
windows (season, age), so :meth:`SohForecaster.fit_out_of_time` sizes the interval on the
residuals of a model fitted one window earlier, applied one window later.

>>> rng = np.random.default_rng(0)
>>> n = 2000
>>> x = pd.DataFrame({"vin": [f"V{i}" for i in range(n)], "age_days": rng.uniform(60, 300, n),
...     "soh_now": 0.99 - rng.uniform(0, 0.02, n), "soh_first": 1.0,
...     "miles_per_day": rng.uniform(10, 60, n), "dcfc_per_day": rng.uniform(0, 5, n),
...     "temp_mean": rng.uniform(5, 30, n), "climate": rng.integers(0, 3, n)})
>>> x["heat_days"], x["heat_ahead"] = x.age_days, 90.0
>>> later = x.soh_now - 0.0001 * x.miles_per_day + rng.normal(0, 0.001, n)
>>> model = SohForecaster(horizon_days=90, coverage=0.9, seed=1).fit(
...     x, pd.Series(later.to_numpy(), x.vin))
>>> out = model.predict(x)
>>> bool(((out.low <= later) & (later <= out.high)).mean() > 0.85)
True
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from gigaloop.errors import ConfigError
from gigaloop.store import Tables

FEATURES = (
    "age_days",
    "soh_now",
    "soh_first",
    "miles_per_day",
    "dcfc_per_day",
    "temp_mean",
    "climate",
    "heat_days",
    "heat_ahead",
)
#: What the regressor sees: usage, climate and the fade rate so far — not age or SoH
#: levels, which a model trained on younger cars never saw as high or as low.
MODEL_INPUTS = ("miles_per_day", "dcfc_per_day", "temp_mean", "climate", "rate_so_far")
CLIMATES = ("temperate", "hot", "cold")
#: Reference temperature of the Arrhenius weights, °C.
T_REF_C = 15.0


def soh_features(
    store: Tables,
    cutoff: pd.Timestamp,
    horizon_days: int,
    *,
    smooth_days: int = 14,
    min_days: int = 28,
) -> pd.DataFrame:
    """One row per vehicle with at least ``min_days`` of telemetry up to ``cutoff`` (a day,
    inclusive): ``vin`` and :data:`FEATURES` (climate as 0 temperate, 1 hot, 2 cold).

    ``heat_days`` — the vehicle's days so far, each weighted 2^((T − 15 °C) / 10) for its
    ambient temperature T (calendar ageing doubles per +10 °C, FIGURES.md); ``heat_ahead``
    — the same over the next ``horizon_days`` for the seasonal temperatures of its climate
    (:func:`seasonal_heat`)."""
    if smooth_days < 1 or min_days < smooth_days:
        raise ConfigError(
            "need 1 <= smooth_days <= min_days", smooth_days=smooth_days, min_days=min_days
        )
    days = store.table("telemetry_daily")
    end = cutoff.date()
    days = days.filter(days.day <= end)
    per_vin = days.group_by("vin").aggregate(
        first=days.day.min(),
        n=days.count(),
        miles=days.miles.sum(),
        dcfc=days.dc_fast_charge_kwh.sum(),
        temp_mean=days.ambient_temp_c.mean(),
        heat_days=(2.0 ** ((days.ambient_temp_c - T_REF_C) / 10.0)).sum(),
        climate=days.climate_region.mode(),
    )
    first = days.join(per_vin.select("vin", "first"), "vin")
    start_soh = (
        first.filter(first.day < first["first"] + ibis.interval(days=smooth_days))
        .group_by("vin")
        .aggregate(soh_first=first.battery_soh.mean())
    )
    frame = store.execute(
        per_vin.filter(per_vin.n >= min_days)
        .join(start_soh, "vin")
        .join(_window_mean(days, cutoff, smooth_days, "soh_now"), "vin")
    )
    age = (pd.Timestamp(end) - pd.to_datetime(frame["first"])).dt.days + 1
    ahead = seasonal_heat(store, cutoff, horizon_days)
    return (
        pd.DataFrame(
            {
                "vin": frame.vin,
                "age_days": age.astype(float),
                "soh_now": frame.soh_now,
                "soh_first": frame.soh_first,
                "miles_per_day": frame.miles / age,
                "dcfc_per_day": frame.dcfc / age,
                "temp_mean": frame.temp_mean,
                "climate": frame.climate.map({c: i for i, c in enumerate(CLIMATES)})
                .fillna(0)
                .astype(int),
                "heat_days": frame.heat_days,
                "heat_ahead": frame.climate.map(ahead),
            }
        )
        .dropna()
        .sort_values("vin", ignore_index=True)
    )


def seasonal_heat(store: Tables, cutoff: pd.Timestamp, horizon_days: int) -> dict[str, float]:
    """Per climate region, the Arrhenius-weighted days expected over the ``horizon_days``
    after ``cutoff``: an annual harmonic (mean, cos and sin of the day of year) fitted by
    least squares to the region's daily mean ambient temperature up to ``cutoff``."""
    days = store.table("telemetry_daily")
    days = days.filter(days.day <= cutoff.date())
    daily = store.execute(
        days.group_by("climate_region", "day").aggregate(temp=days.ambient_temp_c.mean())
    )
    ahead = pd.date_range(cutoff + pd.Timedelta(days=1), periods=horizon_days)
    out = {}
    for region, rows in daily.groupby("climate_region"):
        seen = _harmonics(pd.to_datetime(rows.day))
        coef, *_ = np.linalg.lstsq(seen, rows.temp.to_numpy(), rcond=None)
        temps = _harmonics(pd.Series(ahead)) @ coef
        out[region] = float((2.0 ** ((temps - T_REF_C) / 10.0)).sum())
    return out


def _harmonics(days: pd.Series) -> np.ndarray:
    angle = 2 * np.pi * days.dt.dayofyear.to_numpy() / 365.25
    return np.column_stack([np.ones(len(angle)), np.cos(angle), np.sin(angle)])


def soh_at(store: Tables, day: pd.Timestamp, *, smooth_days: int = 14) -> pd.Series:
    """Each vehicle's mean measured SoH over the ``smooth_days`` ending on ``day``."""
    days = store.table("telemetry_daily")
    frame = store.execute(_window_mean(days, day, smooth_days, "soh"))
    return pd.Series(frame.soh.to_numpy(), index=frame.vin.to_numpy(), name="soh")


def _window_mean(days: ibis.Table, end: pd.Timestamp, smooth_days: int, name: str) -> ibis.Table:
    last = days.filter(
        days.day <= end.date(), days.day > (end - pd.Timedelta(days=smooth_days)).date()
    )
    return last.group_by("vin").aggregate(**{name: last.battery_soh.mean()})


def held_out_vehicles(vins: pd.Series, share: float, seed: int | str = 0) -> np.ndarray:
    """Whether each VIN is held out (a stable hash of seed and VIN below ``share``).

    >>> held_out_vehicles(pd.Series(["A", "B"]), 0.0).tolist()
    [False, False]
    """
    if not 0 <= share < 1:
        raise ConfigError("need 0 <= share < 1", share=share)
    return np.array(
        [zlib.crc32(f"{seed}:{v}".encode()) % 10_000 < share * 10_000 for v in vins], dtype=bool
    )


@dataclass
class SohForecaster:
    """SoH ``horizon_days`` after the cutoff of :func:`soh_features`, with a conformal
    interval at ``coverage`` sized on a ``calibration_share`` of the training vehicles.
    One OpenMP thread, as :class:`gigaloop.customer.uplift.TLearner` (on a busy 2-core
    machine: 0.7 s against 13 s for the doctest below)."""

    horizon_days: int = 90
    coverage: float = 0.9
    calibration_share: float = 0.3
    seed: int = 0
    model: HistGradientBoostingRegressor | None = field(default=None, repr=False)
    half_width: float | None = None

    def __post_init__(self) -> None:
        if self.horizon_days < 1:
            raise ConfigError("need horizon_days >= 1", horizon_days=self.horizon_days)
        if not 0 < self.coverage < 1 or not 0 < self.calibration_share < 1:
            raise ConfigError(
                "need 0 < coverage < 1 and 0 < calibration_share < 1",
                coverage=self.coverage,
                calibration_share=self.calibration_share,
            )

    def fit(self, features: pd.DataFrame, later: pd.Series) -> SohForecaster:
        """``later``: SoH a horizon after the features' cutoff, indexed by VIN."""
        rows = features[features.vin.isin(later.index)]
        if len(rows) < 20:
            raise ConfigError(
                "need at least 20 vehicles with a later SoH to fit", vehicles=len(rows)
            )
        x, scale = self._inputs(rows)
        rate = (later.reindex(rows.vin).to_numpy() - rows.soh_now.to_numpy()) / scale
        calibrate = held_out_vehicles(
            rows.vin, self.calibration_share, f"calibration-{self.seed}"
        )  # not a caller's split
        if calibrate.all() or not calibrate.any():
            raise ConfigError(
                "need vehicles both to fit and to calibrate on",
                vehicles=len(rows),
                calibration=int(calibrate.sum()),
            )
        with threadpool_limits(1):
            self.model = HistGradientBoostingRegressor(
                max_iter=200,
                learning_rate=0.05,
                categorical_features=[MODEL_INPUTS.index("climate")],
                random_state=self.seed,
            ).fit(x[~calibrate], rate[~calibrate])
            fitted = self.model.predict(x[calibrate])
        self.half_width = self._quantile(np.abs(rate[calibrate] - fitted) * scale[calibrate])
        return self

    def fit_out_of_time(self, older: tuple[pd.DataFrame, pd.Series],
                        recent: tuple[pd.DataFrame, pd.Series]) -> SohForecaster:
        """Fit on the ``older`` window (features, later SoH), size the interval on that
        model's residuals over the ``recent`` window — one window later, as the forecast
        will be used — then refit the point forecast on ``recent``. The interval then
        carries the drift from one window to the next (season, age), which residuals
        within one window do not (docs/customers.md)."""
        self.fit(*older)
        features, later = recent
        rows = features[features.vin.isin(later.index)]
        if len(rows) < 20:
            raise ConfigError("need at least 20 vehicles to size the interval on",
                              vehicles=len(rows))
        residual = np.abs(later.reindex(rows.vin).to_numpy() - self.predict(rows).soh)
        half_width = self._quantile(residual)
        self.fit(*recent)
        self.half_width = half_width
        return self

    def _quantile(self, residual: np.ndarray) -> float:
        """The split-conformal quantile: the ⌈(n + 1)·coverage⌉-th smallest residual."""
        n = len(residual)
        rank = min(int(np.ceil((n + 1) * self.coverage)), n)
        return float(np.sort(residual)[rank - 1])

    def _inputs(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The regressor's inputs and each vehicle's √-time factor over the horizon."""
        heat = rows.heat_days.to_numpy(dtype=float)
        scale = np.sqrt(heat + rows.heat_ahead.to_numpy(dtype=float)) - np.sqrt(heat)
        so_far = (rows.soh_now.to_numpy() - rows.soh_first.to_numpy()) / np.sqrt(heat)
        x = np.column_stack([rows.loc[:, MODEL_INPUTS[:-1]].to_numpy(dtype=float), so_far])
        return x, scale

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """``vin``, forecast ``soh`` a horizon after the features' cutoff, ``low``, ``high``."""
        if self.model is None or self.half_width is None:
            raise ConfigError("fit the forecaster before predicting")
        x, scale = self._inputs(features)
        with threadpool_limits(1):
            soh = features.soh_now.to_numpy() + self.model.predict(x) * scale
        half = np.full(len(soh), self.half_width)
        return pd.DataFrame(
            {"vin": features.vin.to_numpy(), "soh": soh, "low": soh - half, "high": soh + half}
        )


__all__ = ["FEATURES", "SohForecaster", "held_out_vehicles", "soh_at", "soh_features"]
