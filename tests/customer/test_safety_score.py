import math

import pandas as pd
import pytest

from gigaloop.customer import safety_score as ss


def test_v1_matches_hand_computed_score():
    pcf = 0.682854 * 1.014495 ** 20 * 1.127294 ** 2 * 1.019630 ** 5 * 1.001444 ** 30
    assert ss.score_v1(20, 2, 5, 30, 0) == pytest.approx(115.382324 - 22.526504 * pcf)


def test_v22_caps_each_factor_and_clips_score():
    capped = ss.pcf_v22(5.2, 13.2, 63.2, 0, 14.2, 10.0, 31.7)
    assert ss.pcf_v22(9, 20, 90, 0, 30, 15, 50) == pytest.approx(capped)
    assert ss.pcf_v22(5.0, 0, 0, 0, 0, 0, 0) < ss.pcf_v22(5.2, 0, 0, 0, 0, 0, 0)
    assert ss.score_v22(5.2, 13.2, 63.2, 1, 14.2, 10, 31.7) == 0.0
    assert math.isclose(ss.pcf_v22(1, 0, 0, 0, 0, 0, 0), 0.57198191 * 1.23599110)


def test_daily_row_and_mileage_weighting():
    row = {"miles": 50, "autopilot_miles": 0, "fcw_count": 0, "hard_braking_fraction": 0.0,
           "aggressive_turning_fraction": 0.0, "unsafe_following_fraction": 0.0,
           "speeding_fraction": 0.0, "late_night_miles": 0, "forced_disengagements": 2}
    assert ss.daily_score(row, "1.0") == pytest.approx(
        115.382324 - 22.526504 * 0.682854 * 1.317958)
    assert ss.mileage_weighted([(ss.daily_score(row), 50), (100.0, 50)]) == pytest.approx(
        (ss.daily_score(row) + 100) / 2)
    with pytest.raises(ValueError):
        ss.daily_score(row, "3.0")


def test_customer_without_consent_is_never_scored():
    import pandas as pd

    from gigaloop.customer.score_customers import consenting_scores
    days = pd.DataFrame({"vin": ["A", "B", "C"], "day": pd.to_datetime(["2026-03-01"] * 3),
                         "miles": [20.0] * 3, "autopilot_miles": [0.0] * 3, "fcw_count": [0] * 3,
                         "hard_braking_fraction": [0.01] * 3,
                         "aggressive_turning_fraction": [0.0] * 3,
                         "unsafe_following_fraction": [0.0] * 3, "speeding_fraction": [0.0] * 3,
                         "late_night_miles": [0.0] * 3, "forced_disengagements": [0] * 3})
    owners = pd.DataFrame({"customer_id": ["a", "b", "c"], "vin": ["A", "B", "C"],
                           "consent_telemetry": [True, False, True],
                           "consent_insurance": [True, True, False]})
    scores = consenting_scores(days, owners, pd.Timestamp("2026-03-01"))
    assert list(scores.customer_id) == ["a"]
    assert scores.score_v22.iloc[0] == pytest.approx(ss.daily_score(days.iloc[0].to_dict()))


def test_scores_of_a_frame_equal_each_day_scored_alone() -> None:
    import numpy as np

    from gigaloop.customer.safety_score import daily_score, daily_scores

    rng = np.random.default_rng(7)
    n = 500
    miles = rng.choice([0.0, 3.0, 40.0, 120.0], n)
    days = pd.DataFrame({
        "miles": miles, "autopilot_miles": miles * rng.uniform(0, 1, n),
        "fcw_count": rng.poisson(0.5, n),
        "hard_braking_fraction": rng.uniform(0, 0.1, n),  # past the 5.2-point cap too
        "aggressive_turning_fraction": rng.uniform(0, 0.2, n),
        "unsafe_following_fraction": rng.uniform(0, 0.8, n),
        "speeding_fraction": rng.uniform(0, 0.15, n),
        "late_night_miles": miles * rng.uniform(0, 0.3, n),
        "forced_disengagements": rng.poisson(0.1, n),
        "unbuckled_fraction": rng.uniform(0, 0.4, n)})
    for version in ("1.0", "2.2"):
        alone = [daily_score(r, version) for r in days.to_dict("records")]
        np.testing.assert_allclose(daily_scores(days, version), alone, rtol=0, atol=1e-9)
    scores = np.array(alone)  # v2.2: the draws reach the caps and the clip at 0, not always
    assert (scores == 0).any() and (scores > 0).any()


def test_v22_matches_a_hand_computed_score_and_a_perfect_driver_scores_100():
    pcf = (0.57198191 * 1.23599110 ** 2 * 1.01219290 ** 5 * 1.00271921 ** 20
           * 1.03231810 ** 3 * 1.02439511 ** 1)
    assert ss.score_v22(2, 5, 20, 0, 3, 1, 0) == pytest.approx(
        122.15240383 - 38.72920381 * pcf, abs=1e-6)
    assert ss.score_v1(0, 0, 0, 0, 0) == pytest.approx(100, abs=0.01)
    assert ss.score_v22(0, 0, 0, 0, 0, 0, 0) == pytest.approx(100, abs=0.01)
