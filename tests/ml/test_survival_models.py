"""fit_cox / fit_weibull_aft: the same numbers as lifelines, and every failure translated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError

from gigaloop.errors import GigaloopWarning, ModelError
from gigaloop.ml import fit_cox, fit_weibull_aft


def _fleet(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    suspect, hot = rng.integers(0, 2, (2, n))
    miles = rng.gamma(4, 10, n)
    life = 800 * np.exp(-0.6 * suspect - 0.3 * hot - 0.005 * miles) * rng.weibull(1.5, n)
    end = rng.uniform(200, 600, n)
    return pd.DataFrame({"days": np.minimum(life, end), "failed": life < end,
                         "suspect": suspect, "hot": hot, "miles": miles})


def test_cox_is_lifelines_underneath() -> None:
    frame = _fleet()
    fit = fit_cox(frame, "days", "failed", ["suspect", "hot", "miles"])
    reference = CoxPHFitter().fit(frame, "days", "failed")
    np.testing.assert_allclose(fit.coef, reference.params_[fit.index], rtol=1e-8)
    np.testing.assert_allclose(fit.hr_low, reference.summary["exp(coef) lower 95%"], rtol=1e-8)
    np.testing.assert_allclose(fit.p, reference.summary["p"], rtol=1e-6)
    assert fit.attrs["n_events"] == frame.failed.sum()
    # Weibull PH with shape 1.5 and AFT coefficient -0.6: log HR = 0.9
    assert fit.loc["suspect", "hr_low"] < np.exp(0.9) < fit.loc["suspect", "hr_high"]


def test_weibull_aft_recovers_time_ratio_and_shape() -> None:
    fit = fit_weibull_aft(_fleet(), "days", "failed", ["suspect", "hot", "miles"])
    assert fit.loc["suspect", "tr_low"] < np.exp(-0.6) < fit.loc["suspect", "tr_high"]
    assert fit.attrs["shape"] == pytest.approx(1.5, rel=0.1)
    assert fit.loc["suspect", "hazard_ratio"] == pytest.approx(np.exp(0.9), rel=0.15)


def test_too_few_events_or_nothing_to_estimate_raise_model_error() -> None:
    frame = _fleet(200)
    frame["failed"] = False
    frame.loc[:1, "failed"] = True
    with pytest.raises(ModelError, match="2 events cannot support 3"):
        fit_cox(frame, "days", "failed", ["suspect", "hot", "miles"])
    with pytest.raises(ModelError, match="constant"):
        fit_cox(_fleet().assign(hot=1), "days", "failed", ["suspect", "hot"])


def test_few_events_warn() -> None:
    frame = _fleet(400, seed=3)
    frame["failed"] &= frame.index < 40
    with pytest.warns(GigaloopWarning, match="events per covariate"):
        fit_cox(frame, "days", "failed", ["suspect", "hot", "miles"])


def test_separation_is_doubt_not_a_leaked_lifelines_warning() -> None:
    frame = _fleet(500, seed=4)
    frame["failed"] = frame.suspect == 1  # every suspect fails, no other does
    with pytest.warns(GigaloopWarning, match="CoxPHFitter"):
        fit_cox(frame, "days", "failed", ["suspect"])


def test_convergence_error_is_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    def diverge(self, *args, **kwargs):
        raise ConvergenceError("delta contains nan value(s)")

    monkeypatch.setattr(CoxPHFitter, "fit", diverge)
    with pytest.raises(ModelError, match="did not converge") as caught:
        fit_cox(_fleet(), "days", "failed", ["suspect"])
    assert isinstance(caught.value.__cause__, ConvergenceError)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="hot"), r"no column\(s\) \['hot'\]"),
        (lambda f: f.assign(hot=np.where(f.index == 3, np.nan, f.hot)), "NaN"),
        (lambda f: f.assign(days=-f.days), ">= 0"),
    ],
)
def test_bad_frames_say_what_to_fix(change, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_cox(change(_fleet(300)), "days", "failed", ["suspect", "hot"])


def test_weibull_needs_positive_durations() -> None:
    with pytest.raises(ValueError, match="> 0"):
        fit_weibull_aft(_fleet(300).assign(days=0.0), "days", "failed", ["suspect"])


@pytest.mark.parametrize("shape", [0.6, 1.0, 2.5])
def test_the_exact_weibull_fit_is_lifelines_maximum(shape: float) -> None:
    from lifelines import WeibullFitter

    from gigaloop.ml.weibull import fit_weibull

    rng = np.random.default_rng(0)
    life, age = 500 * rng.weibull(shape, 4000), rng.integers(1, 365, 4000).astype(float)
    duration, failed = np.maximum(np.minimum(life, age), 0.5), life < age
    ours, theirs = fit_weibull(duration, failed), WeibullFitter().fit(duration, failed)
    assert ours.shape == pytest.approx(theirs.rho_, rel=1e-6)
    assert ours.scale == pytest.approx(theirs.lambda_, rel=1e-6)
    t = np.array([1.0, 100.0, 400.0])
    np.testing.assert_allclose(ours.survival(t), theirs.survival_function_at_times(t), rtol=1e-6)
    with pytest.raises(ModelError):
        fit_weibull(duration, np.zeros(len(duration), dtype=bool))
