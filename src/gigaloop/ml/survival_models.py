"""Fitted survival regressions (lifelines underneath) to confirm scan candidates with usage.

Thin wrappers: they check the input, refuse fits that cannot be made (:class:`ModelError`,
lifelines' exceptions translated), turn lifelines' statistical warnings into one
:class:`GigaloopWarning`, and return a tidy table per covariate.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from gigaloop.errors import GigaloopWarning, ModelError

#: Fewer events per covariate than this earns a warning (Peduzzi et al. 1995).
EVENTS_PER_COVARIATE = 10


def _checked_frame(
    df: pd.DataFrame, duration_col: str, event_col: str, covariates: Sequence[str],
    *, positive: bool,
) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    covariates = list(covariates)
    if not covariates:
        raise ValueError("covariates must name at least one column")
    columns = [duration_col, event_col, *covariates]
    missing = [name for name in columns if name not in df.columns]
    if missing:
        raise ValueError(f"df has no column(s) {missing}; it has {list(df.columns)}")
    data = df[columns].astype(np.float64)
    holes = data.columns[data.isna().any() | ~np.isfinite(data).all()].tolist()
    if holes:
        raise ValueError(f"column(s) {holes} have NaN or infinite values; drop or impute them")
    if positive and (data[duration_col] <= 0).any():
        raise ValueError(f"{duration_col} must be > 0 for a parametric fit (e.g. add half a day)")
    if (data[duration_col] < 0).any():
        raise ValueError(f"{duration_col} must be >= 0")
    constant = [name for name in covariates if data[name].nunique() < 2]
    if constant:
        raise ModelError(f"covariate(s) {constant} are constant: nothing to estimate")
    events = int((data[event_col] != 0).sum())
    if events <= len(covariates):
        raise ModelError(
            f"{events} events cannot support {len(covariates)} covariate(s)", events=events
        )
    if events < EVENTS_PER_COVARIATE * len(covariates):
        warnings.warn(
            f"only {events} events for {len(covariates)} covariate(s); estimates are unstable "
            f"below {EVENTS_PER_COVARIATE} events per covariate", GigaloopWarning, stacklevel=3,
        )
    data[event_col] = data[event_col] != 0
    return data


def _fit(
    fitter: Any, data: pd.DataFrame, duration_col: str, event_col: str
) -> tuple[Any, pd.DataFrame]:
    """Fit and summarise, translating lifelines' errors to ModelError and its warnings to one
    GigaloopWarning (the summary too: lifelines computes it lazily and may warn there)."""
    from lifelines.exceptions import ConvergenceError

    name = type(fitter).__name__
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fitter.fit(data, duration_col=duration_col, event_col=event_col)
            summary = fitter.summary
        except (ConvergenceError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
            raise ModelError(f"{name} did not converge: {exc}", model=name) from exc
    doubts = sorted({
        str(item.message).strip().splitlines()[0]
        for item in caught
        if issubclass(item.category, RuntimeWarning | UserWarning)
    })
    if doubts:
        warnings.warn(f"{name}: " + "; ".join(doubts), GigaloopWarning, stacklevel=3)
    return fitter, summary


def _exp_column(summary: pd.DataFrame, prefix: str) -> pd.Series:
    """exp of the summary column whose name starts with ``prefix`` (it carries the CI level);
    a separated fit's bound overflows to inf, which is what it means."""
    with np.errstate(over="ignore"):
        return np.exp(summary[next(name for name in summary.columns if name.startswith(prefix))])


def fit_cox(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    covariates: Sequence[str],
    *,
    confidence: float = 0.95,
    penalizer: float = 0.0,
) -> pd.DataFrame:
    """Cox proportional-hazards fit: hazard ratio per covariate with its confidence interval.

    Columns ``coef`` (log HR), ``hazard_ratio``, ``hr_low``, ``hr_high``, ``z``, ``p``, one row
    per covariate; ``attrs`` holds ``n_subjects`` and ``n_events``. Efron's method for ties.

    >>> rng = np.random.default_rng(1)
    >>> suspect, hot = rng.integers(0, 2, (2, 2000))
    >>> days = rng.exponential(400 / np.exp(0.9 * suspect + 0.5 * hot))
    >>> frame = pd.DataFrame({"days": np.minimum(days, 300), "failed": days < 300,
    ...                       "suspect": suspect, "hot": hot})
    >>> fit_cox(frame, "days", "failed", ["suspect", "hot"]).hazard_ratio.round(1)
    covariate
    suspect    2.5
    hot        1.6
    Name: hazard_ratio, dtype: float64
    """
    from lifelines import CoxPHFitter

    data = _checked_frame(df, duration_col, event_col, covariates, positive=False)
    _, summary = _fit(
        CoxPHFitter(alpha=1 - confidence, penalizer=penalizer), data, duration_col, event_col
    )
    table = pd.DataFrame({
        "coef": summary["coef"],
        "hazard_ratio": summary["exp(coef)"],
        "hr_low": _exp_column(summary, "coef lower"),
        "hr_high": _exp_column(summary, "coef upper"),
        "z": summary["z"],
        "p": summary["p"],
    }).rename_axis("covariate")
    table.attrs.update(n_subjects=len(data), n_events=int(data[event_col].sum()))
    return table


def fit_weibull_aft(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    covariates: Sequence[str],
    *,
    confidence: float = 0.95,
    penalizer: float = 0.0,
) -> pd.DataFrame:
    """Weibull accelerated-failure-time fit: time ratio per covariate with its interval.

    ``time_ratio`` > 1 means longer life (exp of the covariate's coefficient on the log scale
    parameter); under a Weibull model the hazard ratio is ``time_ratio ** -shape``. Columns
    ``coef``, ``time_ratio``, ``tr_low``, ``tr_high``, ``hazard_ratio``, ``z``, ``p``;
    ``attrs`` holds ``shape`` (ρ), ``n_subjects`` and ``n_events``. Durations must be > 0.

    >>> rng = np.random.default_rng(2)
    >>> suspect = rng.integers(0, 2, 600)
    >>> days = 900 * np.exp(-0.5 * suspect) * rng.weibull(2.0, 600)
    >>> frame = pd.DataFrame({"days": np.minimum(days, 700), "failed": days < 700,
    ...                       "suspect": suspect})
    >>> fit = fit_weibull_aft(frame, "days", "failed", ["suspect"])
    >>> round(float(fit.time_ratio["suspect"]), 2), round(fit.attrs["shape"], 1)
    (0.58, 2.1)
    """
    from lifelines import WeibullAFTFitter

    data = _checked_frame(df, duration_col, event_col, covariates, positive=True)
    fitter, summary = _fit(
        WeibullAFTFitter(alpha=1 - confidence, penalizer=penalizer), data, duration_col, event_col
    )
    summary = summary.loc["lambda_"].loc[list(covariates)]
    shape = float(np.exp(fitter.params_.loc[("rho_", "Intercept")]))
    with np.errstate(over="ignore"):
        hazard_ratio = np.exp(-shape * summary["coef"])
    table = pd.DataFrame({
        "coef": summary["coef"],
        "time_ratio": summary["exp(coef)"],
        "tr_low": _exp_column(summary, "coef lower"),
        "tr_high": _exp_column(summary, "coef upper"),
        "hazard_ratio": hazard_ratio,
        "z": summary["z"],
        "p": summary["p"],
    }).rename_axis("covariate")
    table.attrs.update(n_subjects=len(data), n_events=int(data[event_col].sum()), shape=shape)
    return table


__all__ = ["fit_cox", "fit_weibull_aft"]
