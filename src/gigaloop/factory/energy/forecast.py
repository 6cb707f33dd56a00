"""Tomorrow from the readings: outside temperature (trend + AR(1)), prices, loads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gigaloop.errors import ModelError
from gigaloop.factory.energy.config import HOURS
from gigaloop.factory.energy.hall import HallModel


@dataclass(frozen=True)
class Forecast:
    """Tomorrow, hour by hour (local hours 0–23), and the fitted hall.

    ``outside_sd_c`` is the forecast's standard error (0: the forecast is taken as sure).
    """

    outside_c: np.ndarray
    tariff_usd_per_kwh: np.ndarray
    carbon_g_per_kwh: np.ndarray
    process_kwh: np.ndarray
    other_kwh: np.ndarray  # lighting and anything else that cannot move
    hall: HallModel
    start_indoor_c: float
    outside_sd_c: float = 0.0
    peak_to_date_kw: float = 0.0  # this billing month's largest hour so far (free to reach)
    process_floor_kwh: np.ndarray | None = None  # each hour's least process load of late



def forecast_outside(outside_c: np.ndarray) -> tuple[np.ndarray, float]:
    """Tomorrow's hourly outside temperature and the standard error of its daily level.

    ``outside_c`` is whole days of hourly readings, oldest first. The daily mean follows a
    local linear trend (the season) plus an AR(1) weather anomaly; the hours follow the
    last fortnight's mean daily shape. The error is that of the one-day-ahead anomaly.

    >>> days = np.arange(20)  # warming 0.1 °C a day, a 2 °C daily swing
    >>> hourly = (15 + 0.1 * days)[:, None] + np.cos(np.arange(24) / 24 * 2 * np.pi)
    >>> mean, sd = forecast_outside(hourly.ravel())
    >>> round(float(mean.mean()), 2), round(float(mean.max() - mean.min()), 2), round(sd, 2)
    (17.0, 2.0, 0.0)
    """
    k = len(outside_c) // HOURS
    if k < 3:
        raise ModelError(f"need three days of outside temperatures, got {len(outside_c)} hours")
    days = np.asarray(outside_c[-k * HOURS:], dtype=float).reshape(k, HOURS)
    means = days.mean(axis=1)
    shape = (days - means[:, None])[-14:].mean(axis=0)
    t = np.arange(k)
    trend = np.polyval(np.polyfit(t, means, 1), np.arange(k + 1)) if k >= 7 else np.full(
        k + 1, means.mean())
    anomaly = means - trend[:k]
    phi = float(np.clip(anomaly[1:] @ anomaly[:-1] / max(anomaly[:-1] @ anomaly[:-1], 1e-9),
                        0.0, 0.95))
    residual = anomaly[1:] - phi * anomaly[:-1]
    sd = float(np.sqrt(residual @ residual / max(len(residual) - 2, 1)))
    return trend[k] + phi * anomaly[-1] + shape, sd


def forecast_from_readings(readings: pd.DataFrame, hall: HallModel) -> Forecast:
    """Tomorrow from hourly readings ordered in time whose last 24 are yesterday.

    Outside temperature by :func:`forecast_outside`; tariff and lighting as yesterday;
    carbon as the last week's mean by hour; process load as last week's mean, and the least
    each hour ran in it (what it may give up).
    """
    yesterday = readings.tail(HOURS)
    days = min(len(readings) // HOURS, 7)
    week = readings.tail(days * HOURS)
    process = np.full(HOURS, week["process_kwh"].mean())  # shift-invariant: the day's mean
    floor = week["process_kwh"].to_numpy(float).reshape(days, HOURS).min(axis=0)
    peak = 0.0  # the billing month's largest hour so far, unless tomorrow starts a new one
    if "event_time" in readings:
        month = readings["event_time"].to_numpy("datetime64[h]").astype("datetime64[M]")
        tomorrow = (readings["event_time"].iloc[-1:].to_numpy("datetime64[h]")
                    + np.timedelta64(1, "h")).astype("datetime64[M]")
        load = readings[["hvac_kwh", "process_kwh", "lighting_kwh"]].to_numpy(float).sum(axis=1)
        peak = float(load[month == tomorrow].max()) if (month == tomorrow).any() else 0.0
    outside, sd = forecast_outside(readings["outside_temp_c"].to_numpy(float))
    carbon = week["carbon_g_per_kwh"].to_numpy(float).reshape(days, HOURS).mean(axis=0)
    return Forecast(
        outside_c=outside, outside_sd_c=sd,
        tariff_usd_per_kwh=yesterday["tariff_usd_per_kwh"].to_numpy(float),
        carbon_g_per_kwh=carbon,
        process_kwh=process, other_kwh=yesterday["lighting_kwh"].to_numpy(float), hall=hall,
        start_indoor_c=float(yesterday["indoor_temp_c"].iloc[-1]) - hall.reading_offset_c,
        peak_to_date_kw=peak, process_floor_kwh=floor)

