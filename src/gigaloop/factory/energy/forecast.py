"""Tomorrow from the readings: outside temperature (trend + AR(1)), prices, loads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

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


def forecast_from_readings(readings: Mapping[str, Any], hall: HallModel) -> Forecast:
    """Tomorrow from hourly readings (column → values) ordered in time whose last 24 are
    yesterday.

    Outside temperature by :func:`forecast_outside`; tariff and lighting as yesterday;
    carbon as the last week's mean by hour; process load as last week's mean, and the least
    each hour ran in it (what it may give up).
    """
    column = {name: np.asarray(readings[name], dtype=float) for name in (
        "hvac_kwh", "process_kwh", "lighting_kwh", "outside_temp_c", "indoor_temp_c",
        "tariff_usd_per_kwh", "carbon_g_per_kwh")}
    days = min(len(column["process_kwh"]) // HOURS, 7)
    week = days * HOURS
    process = np.full(HOURS, column["process_kwh"][-week:].mean())  # shift-invariant
    floor = column["process_kwh"][-week:].reshape(days, HOURS).min(axis=0)
    peak = 0.0  # the billing month's largest hour so far, unless tomorrow starts a new one
    if "event_time" in readings:
        hours = np.asarray(readings["event_time"]).astype("datetime64[h]")
        month = hours.astype("datetime64[M]")
        tomorrow = (hours[-1:] + np.timedelta64(1, "h")).astype("datetime64[M]")
        load = column["hvac_kwh"] + column["process_kwh"] + column["lighting_kwh"]
        peak = float(load[month == tomorrow].max()) if (month == tomorrow).any() else 0.0
    outside, sd = forecast_outside(column["outside_temp_c"])
    carbon = column["carbon_g_per_kwh"][-week:].reshape(days, HOURS).mean(axis=0)
    return Forecast(
        outside_c=outside, outside_sd_c=sd,
        tariff_usd_per_kwh=column["tariff_usd_per_kwh"][-HOURS:],
        carbon_g_per_kwh=carbon,
        process_kwh=process, other_kwh=column["lighting_kwh"][-HOURS:], hall=hall,
        start_indoor_c=float(column["indoor_temp_c"][-1]) - hall.reading_offset_c,
        peak_to_date_kw=peak, process_floor_kwh=floor)
