"""Chart constants, limits, run rules, capability, the R2R controller and input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from gigaloop.errors import ModelError
from gigaloop.ml.spc import (
    CUSUM,
    EWMA,
    MEWMA,
    EWMABank,
    HotellingT2,
    IndividualsMR,
    NelsonRules,
    R2RController,
    XbarR,
    capability,
    cp_interval,
    cpk_interval,
)
from gigaloop.ml.spc.constants import A2, D2, D3, D3_SD, D4


@pytest.mark.parametrize("n", [2, 5, 10, 25])
def test_d2_d3_match_numerical_integration(n: int) -> None:
    cdf = stats.norm.cdf
    d2 = integrate.quad(lambda x: 1 - cdf(x) ** n - (1 - cdf(x)) ** n, -np.inf, np.inf)[0]
    ranges = np.ptp(np.random.default_rng(n).standard_normal((400_000, n)), axis=1)
    assert D2[n] == pytest.approx(d2, abs=1e-5)
    assert D3_SD[n] == pytest.approx(ranges.std(), abs=0.004)


def test_derived_constants_match_montgomery_appendix_vi() -> None:
    published = {2: (0, 3.267, 1.880), 5: (0, 2.114, 0.577), 7: (0.076, 1.924, 0.419),
                 10: (0.223, 1.777, 0.308), 25: (0.459, 1.541, 0.153)}
    for n, (d3, d4, a2) in published.items():
        assert (round(D3[n], 3), round(D4[n], 3), round(A2[n], 3)) == (d3, d4, a2)


def test_individuals_limits_from_moving_ranges() -> None:
    data = [10.0, 12.0, 11.0, 13.0, 12.0]  # moving ranges 2, 1, 2, 1: MR̄ = 1.5
    chart = IndividualsMR()
    for x in data:
        chart.learn_one(x)
    chart.update(11.6 + 3 * 1.5 / D2[2] + 0.01)
    assert chart.mu_ == pytest.approx(11.6)
    assert chart.sigma_ == pytest.approx(1.5 / D2[2])
    assert chart.rule == "shewhart_upper"
    assert chart._mr_ucl == pytest.approx(D4[2] * 1.5)


def test_xbar_r_limits_are_a2_d3_d4_times_rbar() -> None:
    chart = XbarR(size=5)
    for centre, spread in [(10.0, 1.0), (10.2, 1.4), (9.8, 1.2)]:
        chart.learn_one(np.linspace(centre - spread / 2, centre + spread / 2, 5))
    chart.update([10.0] * 4 + [10.1])
    r_bar = 1.2
    xbar_ucl, xbar_lcl, r_ucl, r_lcl = chart._limits
    assert (xbar_ucl, xbar_lcl) == pytest.approx((10 + A2[5] * r_bar, 10 - A2[5] * r_bar))
    assert (r_ucl, r_lcl) == pytest.approx((D4[5] * r_bar, 0.0))
    chart.update([10.0, 10.0, 10.0, 10.0, 14.0])
    assert chart.rules_fired == ("xbar_upper", "range_upper")


def _fired(values: list[float], **params: object) -> set[str]:
    chart = NelsonRules(mu=0.0, sigma=1.0, **params)  # type: ignore[arg-type]
    fired: set[str] = set()
    for x in values:
        chart.update(x)
        fired |= set(chart.rules_fired)
    return fired


@pytest.mark.parametrize(
    ("values", "rule"),
    [
        ([0.1, -3.2], "nelson_1"),
        ([0.5] * 9, "nelson_2"),
        ([-0.5, -0.3, -0.1, 0.1, 0.3, 0.5], "nelson_3"),
        ([0.5 * (-1) ** i for i in range(14)], "nelson_4"),
        ([2.5, 0.0, 2.5], "nelson_5"),
        ([-1.5, -1.5, 0.0, -1.5, -1.5], "nelson_6"),
        ([0.5 * (-1) ** (i // 2) * (i % 3 + 1) / 3 for i in range(15)], "nelson_7"),
        ([1.5 * (-1) ** (i // 2) for i in range(8)], "nelson_8"),
    ],
)
def test_each_nelson_rule_fires_on_its_pattern_and_only_at_its_length(
    values: list[float], rule: str
) -> None:
    assert rule in _fired(values)
    assert rule not in _fired(values[:-1])


def test_western_electric_form_uses_eight_on_one_side_and_only_its_rules() -> None:
    fired = _fired([0.5] * 8 + [0.6, 0.7, 0.8], rules=(1, 2, 5, 6), same_side_run=8)
    assert fired == {"nelson_2"}


def test_ewma_exact_limits_are_tighter_at_the_start() -> None:
    exact, steady = EWMA(lam=0.1, L=3.0, mu=0.0, sigma=1.0, exact_limits=True), EWMA(
        lam=0.1, L=3.0, mu=0.0, sigma=1.0)
    exact.update(3.2)
    steady.update(3.2)
    # z = 0.32; exact half-width = 3·√(0.1/1.9·(1-0.81)) = 0.300, steady = 0.688
    assert exact.rule == "ewma_upper" and not steady.alarm


def test_cusum_follows_montgomery_tabular_recursion() -> None:
    chart = CUSUM(k=0.5, h=5.0, mu=10.0, sigma=1.0)
    sums = []
    for x in [9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46]:  # Montgomery Table 9.1
        chart.update(x)
        sums.append((round(chart.upper_sum, 2), round(chart.lower_sum, 2)))
    assert sums[:4] == [(0.0, 0.05), (0.0, 1.56), (0.0, 1.77), (1.16, 0.0)]
    assert sums[4] == (2.82, 0.0)


def test_capability_indices_and_intervals() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 0.5, size=(50, 5))
    cap = capability(x, lsl=8.0, usl=13.0)
    s = x.std(ddof=1)
    assert cap.pp == pytest.approx(5.0 / (6 * s))
    assert cap.ppk == pytest.approx((x.mean() - 8.0) / (3 * s))
    assert cap.sigma_within == pytest.approx(np.ptp(x, axis=1).mean() / D2[5])
    assert cap.cpk_interval[0] < cap.cpk < cap.cpk_interval[1]
    one_sided = capability(x.ravel(), usl=13.0)
    assert one_sided.cp is None and one_sided.cp_interval is None
    assert one_sided.cpk == pytest.approx((13.0 - x.mean()) / (3 * one_sided.sigma_within))


def test_intervals_match_montgomery_examples() -> None:
    assert cp_interval(2.29, 20) == pytest.approx((1.57, 3.01), abs=0.006)
    assert cpk_interval(1.33, 20) == pytest.approx((0.88, 1.78), abs=0.006)


def test_bissell_interval_covers_true_cpk_about_95_percent() -> None:
    rng = np.random.default_rng(9)
    mu, sigma, lsl, usl, n = 10.0, 1.0, 6.0, 15.0, 100
    true_cpk = (mu - lsl) / (3 * sigma)
    covered = 0
    for _ in range(2000):
        x = rng.normal(mu, sigma, n)
        cpk = min(usl - x.mean(), x.mean() - lsl) / (3 * x.std(ddof=1))
        low, high = cpk_interval(cpk, n)
        covered += low <= true_cpk <= high
    assert 0.93 < covered / 2000 < 0.97


def test_r2r_removes_a_step() -> None:
    rng = np.random.default_rng(1)
    controller = R2RController(target=50.0, gain=0.8, lam=0.3)
    outputs = []
    for run in range(200):
        offset = 5.0 if run >= 100 else 1.0
        u = controller.next_setpoint
        y = offset + 0.8 * u + rng.normal(0.0, 0.1)
        controller.learn_one(y, u)
        outputs.append(y)
    assert abs(np.mean(outputs[150:]) - 50.0) < 0.05
    assert abs(outputs[100] - 50.0) > 3.5  # the step hits once, then is corrected


@pytest.mark.parametrize(("drift_weight", "bias"), [(None, 0.05 / 0.3), (0.2, 0.0)])
def test_r2r_tracks_a_drift_with_bounded_bias(drift_weight: float | None, bias: float) -> None:
    controller = R2RController(target=0.0, gain=2.0, lam=0.3, drift_weight=drift_weight)
    outputs = []
    for run in range(400):
        u = controller.next_setpoint
        y = 0.05 * run + 2.0 * u  # the offset drifts 0.05 per run
        controller.learn_one(y, u)
        outputs.append(y)
    assert np.mean(outputs[300:]) == pytest.approx(bias, abs=1e-6)


def test_r2r_with_gain_mismatch_still_converges() -> None:
    controller = R2RController(target=10.0, gain=1.0, lam=0.5)  # the true gain is 1.6
    for _ in range(100):
        u = controller.next_setpoint
        controller.learn_one(3.0 + 1.6 * u, u)
    assert 3.0 + 1.6 * controller.next_setpoint == pytest.approx(10.0, abs=1e-6)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: EWMA(lam=0.0), "lam"),
        (lambda: EWMA(sigma=-1.0), "sigma"),
        (lambda: CUSUM(h=4.0, headstart=5.0), "headstart"),
        (lambda: XbarR(size=30), "subgroup size"),
        (lambda: NelsonRules(rules=(0, 9)), "rules"),
        (lambda: EWMABank(n_streams=0), "n_streams"),
        (lambda: EWMABank(n_streams=3, mu=[0.0, 1.0], sigma=1.0).update([1, 2, 3]), "mu"),
        (lambda: R2RController(target=1.0, gain=0.0), "gain"),
        (lambda: capability([1.0, 2.0, 3.0]), "specification"),
        (lambda: EWMA(mu=0.0, sigma=1.0).update("high"), "number"),
        (lambda: EWMABank(n_streams=3, mu=0.0, sigma=1.0).update([1.0, 2.0]), "shape"),
        (lambda: HotellingT2(dim=2, mean=[0.0, 0.0]).update([1.0, 1.0]), "both mean and cov"),
    ],
)
def test_bad_input_raises_value_error_naming_the_fix(make, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        make()


def test_impossible_fits_raise_model_error() -> None:
    with pytest.raises(ModelError, match="at least 2"):
        EWMA().update(1.0)
    flat = CUSUM()
    for _ in range(5):
        flat.learn_one(3.0)
    with pytest.raises(ModelError, match="do not vary"):
        flat.update(3.0)
    singular = HotellingT2(dim=2)
    for t in range(10):
        singular.learn_one([t, 2 * t])
    with pytest.raises(ModelError, match=r"singular|positive definite"):
        singular.update([0.0, 0.0])
    with pytest.raises(ModelError, match="dim"):
        MEWMA(dim=3, h=10.0).update([0.0, 0.0, 0.0])
    chart = EWMA(mu=0.0, sigma=1.0)
    chart.update(0.0)
    with pytest.raises(ModelError, match="Phase I is over"):
        chart.learn_one(0.0)
    assert math.isfinite(chart.statistic)
