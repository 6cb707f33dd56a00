"""Average run lengths by seeded Monte Carlo over thousands of streams, against the books.

Each test simulates ``n`` streams in parallel with a bank until every stream has signalled;
the run lengths' mean estimates the ARL with standard error ``sd / √n``. A test passes when
the estimate is within 4 standard errors (plus the table's rounding) of the published value,
and the Markov-chain ARL of :mod:`gigaloop.ml.spc.arl` agrees with the table too.

Sources (docs/spc.md lists them): CUSUM, Montgomery *Introduction to SQC* (6th ed.) Table 9.3
(two-sided, k = 0.5); EWMA, Lucas & Saccucci (1990) / Montgomery Table 9.11; MEWMA,
Prabhu & Runger (1997) / Montgomery Table 11.3 (p = 2, λ = 0.1, h = 8.64).
"""

from __future__ import annotations

import numpy as np
import pytest

from gigaloop.ml.spc import (
    CUSUMBank,
    EWMABank,
    HotellingT2Bank,
    IndividualsMRBank,
    MEWMABank,
    cusum_arl,
    ewma_arl,
    shewhart_arl,
)
from gigaloop.ml.spc._base import ChartBank


def run_lengths(bank: ChartBank, shift: float | np.ndarray, seed: int, chunk: int = 500):  # type: ignore[no-untyped-def]
    """Per stream, the number of readings up to and including the first alarm."""
    rng = np.random.default_rng(seed)
    lengths = np.full(bank.n_streams, -1)
    done = 0
    while (lengths < 0).any():
        block = rng.standard_normal((chunk, bank.n_streams, *bank._reading_shape))
        block += shift
        first = bank.process(block)
        new = (lengths < 0) & (first >= 0)
        lengths[new] = done + first[new] + 1
        done += chunk
    return lengths


def assert_arl(lengths: np.ndarray, published: float, rounding: float) -> None:
    mean, se = lengths.mean(), lengths.std(ddof=1) / np.sqrt(len(lengths))
    assert abs(mean - published) < 4 * se + rounding, f"ARL {mean:.2f} ± {se:.2f} vs {published}"


N = 20_000


@pytest.mark.parametrize(
    ("h", "shift", "published"),
    [(4.0, 0.0, 168.0), (4.0, 1.0, 8.38), (5.0, 0.0, 465.0), (5.0, 1.0, 10.4)],
)
def test_cusum_arl_matches_montgomery_table_9_3(h: float, shift: float, published: float) -> None:
    bank = CUSUMBank(n_streams=N, k=0.5, h=h, mu=0.0, sigma=1.0)
    rounding = 0.5 if published > 100 else 0.05
    assert_arl(run_lengths(bank, shift, seed=int(10 * h + shift)), published, rounding)
    assert cusum_arl(0.5, h, shift) == pytest.approx(published, rel=0.005)


@pytest.mark.parametrize(
    ("lam", "L", "shift", "published"),
    [(0.1, 2.814, 0.0, 500.0), (0.1, 2.814, 1.0, 10.3),
     (0.2, 2.962, 0.0, 500.0), (0.2, 2.962, 1.0, 10.5)],
)
def test_ewma_arl_matches_lucas_saccucci(
    lam: float, L: float, shift: float, published: float
) -> None:
    bank = EWMABank(n_streams=N, lam=lam, L=L, mu=0.0, sigma=1.0)
    rounding = 0.5 if published > 100 else 0.05
    assert_arl(run_lengths(bank, shift, seed=int(100 * lam + shift)), published, rounding)
    assert ewma_arl(lam, L, shift) == pytest.approx(published, rel=0.005)


def test_shewhart_in_control_arl_is_370() -> None:
    bank = IndividualsMRBank(n_streams=N, mu=0.0, sigma=1.0, moving_range=False)
    assert_arl(run_lengths(bank, 0.0, seed=3), 370.4, 0.05)
    assert shewhart_arl(3.0) == pytest.approx(370.4, abs=0.05)


def test_cusum_headstart_speeds_detection_at_little_false_alarm_cost() -> None:
    plain = run_lengths(CUSUMBank(n_streams=5000, h=5.0, mu=0.0, sigma=1.0), 1.0, seed=8)
    fir = run_lengths(CUSUMBank(n_streams=5000, h=5.0, mu=0.0, sigma=1.0, headstart=2.5), 1.0, 8)
    assert fir.mean() < 0.75 * plain.mean()
    assert fir.mean() == pytest.approx(cusum_arl(0.5, 5.0, 1.0, headstart=2.5), rel=0.05)


@pytest.mark.parametrize(("shift", "published"), [(0.0, 200.0), (1.0, 10.15)])
def test_mewma_arl_matches_prabhu_runger(shift: float, published: float) -> None:
    bank = MEWMABank(n_streams=5000, dim=2, h=8.64, lam=0.1, mean=np.zeros(2), cov=np.eye(2))
    lengths = run_lengths(bank, np.array([shift, 0.0]), seed=5)
    assert_arl(lengths, published, 0.5 if shift == 0 else 0.05)


@pytest.mark.parametrize(("dim", "m"), [(2, 20), (3, 30), (5, 100)])
def test_hotelling_phase_two_limit_gives_alpha_false_alarms(dim: int, m: int) -> None:
    """With mean and covariance estimated from m readings, P(T² > UCL) is exactly α."""
    rng = np.random.default_rng(dim)
    n, alpha = 40_000, 0.01
    bank = HotellingT2Bank(n_streams=n, dim=dim, alpha=alpha)
    bank.learn(rng.standard_normal((m, n, dim)))
    bank.update(rng.standard_normal((n, dim)))
    rate, se = bank.alarm.mean(), np.sqrt(alpha * (1 - alpha) / n)
    assert abs(rate - alpha) < 4 * se
