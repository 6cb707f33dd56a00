"""Banks whose streams keep their own time: missing readings, late streams, restarts and a
moving centre give exactly what one-stream charts give on each stream's own readings."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from gigaloop.errors import ModelError
from gigaloop.ml.spc import CUSUM, EWMA, CUSUMBank, EWMABank, IndividualsMRBank
from gigaloop.ml.spc._base import Chart
from gigaloop.ml.spc._restartable import Restartable

CASES = [
    (EWMA, EWMABank, {"lam": 0.3, "L": 2.7}),
    (CUSUM, CUSUMBank, {"k": 0.5, "h": 3.0, "headstart": 1.0}),
]


def _ragged(rng: np.random.Generator, steps: int, streams: int) -> np.ndarray:
    """Readings with a 1σ shift in every third stream and 40 % of them missing (NaN)."""
    data = rng.normal(np.where(np.arange(streams) % 3 == 0, 1.0, 0.0), 1.0, (steps, streams))
    data[rng.random(data.shape) < 0.4] = np.nan
    return data


@pytest.mark.parametrize(("chart", "bank", "params"), CASES, ids=["ewma", "cusum"])
def test_late_ragged_restarted_streams_alarm_like_fresh_one_stream_charts(
        chart: type[Chart], bank: type[Restartable], params: dict) -> None:
    """Two streams from step 0, three more from step 100; every alarm restarts its stream,
    as a fresh one-stream chart would start over."""
    rng = np.random.default_rng(17)
    data = _ragged(rng, 400, 5)
    mu, sigma = rng.normal(0.0, 0.1, 5), rng.uniform(0.8, 1.2, 5)
    data += mu
    charts = bank(2, mu=mu[:2], sigma=sigma[:2], **params)
    alarms = []
    for t, x in enumerate(data):
        if t == 100:
            charts.add_streams(mu[2:], sigma[2:])
        live = x[:charts.n_streams]
        charts.update(live, where=~np.isnan(live))
        for s in np.flatnonzero(charts.alarm):
            alarms.append((t, int(s), charts.rules_fired(int(s))))
        charts.restart(np.flatnonzero(charts.alarm))
    expected = []
    for s in range(5):
        one = chart(mu=mu[s], sigma=sigma[s], **params)
        for t in range(0 if s < 2 else 100, len(data)):
            if np.isnan(data[t, s]):
                continue
            one.update(data[t, s])
            if one.alarm:
                expected.append((t, s, one.rules_fired))
                one = one.clone()
    assert sorted(alarms) == sorted(expected)
    assert len(alarms) > 10
    assert charts.n_streams == 5 and len(charts.clone().mu) == 5


@pytest.mark.parametrize(("chart", "bank", "params"), CASES, ids=["ewma", "cusum"])
def test_a_recentred_bank_charts_the_residuals_from_its_moving_centre(
        chart: type[Chart], bank: type[Restartable], params: dict) -> None:
    rng = np.random.default_rng(5)
    steps, streams = 600, 20
    centre = np.cumsum(rng.normal(0.0, 0.3, (steps // 50, streams)), axis=0)
    data = np.repeat(centre, 50, axis=0) + rng.normal(0.2, 1.0, (steps, streams))
    charts = bank(streams, mu=0.0, sigma=1.0, **params)
    residual = [chart(mu=0.0, sigma=1.0, **params) for _ in range(streams)]
    fired, expected = [], []
    for t, x in enumerate(data):
        if t and t % 50 == 0:
            charts.recentre(np.arange(streams), centre[t // 50])
        charts.update(x)
        fired.append(charts.codes.copy())
        now = np.asarray(charts.mu_)
        for s, one in enumerate(residual):
            one.update(x[s] - now[s])
        expected.append([sum(1 << chart.RULES.index(r) for r in one.rules_fired)
                         for one in residual])
    assert np.array_equal(np.array(fired), np.array(expected))
    assert np.array(fired).any()
    if isinstance(charts, EWMABank):
        z = np.array([one.statistic for one in residual])  # type: ignore[attr-defined]
        assert np.allclose(charts.statistic - charts.mu_, z, atol=1e-9)
        assert np.allclose(charts.upper_limit - charts.mu_, charts.mu_ - charts.lower_limit)


def test_a_grown_bank_pickles_and_clones_with_every_stream() -> None:
    bank = CUSUMBank(1, k=0.5, h=4.0, mu=0.0, sigma=1.0)
    bank.add_streams([5.0, 7.0], [2.0, 0.5])
    bank.update([0.0, 9.0, 7.0])
    copy = pickle.loads(pickle.dumps(bank))
    assert np.array_equal(copy.upper_sum, bank.upper_sum)
    assert bank.clone().mu.tolist() == [0.0, 5.0, 7.0]
    assert bank.clone().sigma.tolist() == [1.0, 2.0, 0.5]
    with pytest.raises(ValueError, match="read-only"):
        bank.limit[0] = 1.0


@pytest.mark.parametrize(
    ("act", "error", "match"),
    [
        (lambda: IndividualsMRBank(2, mu=0.0, sigma=1.0).update([0.0, 1.0], where=[True, True]),
         ValueError, "every stream"),
        (lambda: EWMABank(2, mu=0.0, sigma=1.0).update([0.0, np.nan], where=[True, True]),
         ValueError, "NaN"),
        (lambda: EWMABank(2, mu=0.0, sigma=1.0).update([0.0, 1.0], where=[True]),
         ValueError, "shape"),
        (lambda: EWMABank(2, mu=0.0, sigma=1.0, exact_limits=True).update(
            [0.0, np.nan], where=[True, False]), ValueError, "exact_limits"),
        (lambda: EWMABank(2).add_streams([0.0], [1.0]), ModelError, "mu and sigma given"),
        (lambda: CUSUMBank(2, mu=0.0, sigma=1.0).add_streams([0.0], [0.0]), ValueError, "sigma"),
        (lambda: CUSUMBank(2, mu=0.0, sigma=1.0).restart([0]), ModelError, "Phase II"),
    ],
)
def test_misuse_raises_saying_what_to_fix(act, error: type[Exception], match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        act()


def test_restart_and_recentre_take_only_stream_indices() -> None:
    bank = EWMABank(2, mu=0.0, sigma=1.0)
    bank.update([0.0, 0.0])
    with pytest.raises(ValueError, match="indices below 2"):
        bank.restart([2])
    with pytest.raises(ValueError, match="shape"):
        bank.recentre([0, 1], [1.0, 2.0, 3.0])
