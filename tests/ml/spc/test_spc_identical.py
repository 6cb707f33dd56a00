"""The vectorised banks raise exactly the alarms of the one-stream charts on the same data."""

from __future__ import annotations

import numpy as np
import pytest

from gigaloop.ml.spc import (
    CUSUM,
    EWMA,
    MEWMA,
    CUSUMBank,
    EWMABank,
    HotellingT2,
    HotellingT2Bank,
    IndividualsMR,
    IndividualsMRBank,
    MEWMABank,
    NelsonRules,
    NelsonRulesBank,
    XbarR,
    XbarRBank,
)

N_STREAMS, N_STEPS = 40, 300


def _shifted(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Readings whose mean steps up or down part-way through, differently per stream."""
    data = rng.normal(size=shape)
    shift = rng.choice([-1.5, -0.7, 0.0, 0.7, 1.5], size=shape[1])
    start = rng.integers(50, 250, size=shape[1])
    steps = np.arange(shape[0])[:, None] >= start[None, :]
    data += (steps * shift).reshape(shape[:2] + (1,) * (len(shape) - 2))
    return data


CASES = [
    (EWMA, EWMABank, {"lam": 0.2, "L": 2.962}, ()),
    (EWMA, EWMABank, {"lam": 0.1, "L": 2.5, "exact_limits": True}, ()),
    (CUSUM, CUSUMBank, {"k": 0.5, "h": 4.0}, ()),
    (CUSUM, CUSUMBank, {"k": 0.25, "h": 8.0, "headstart": 4.0}, ()),
    (IndividualsMR, IndividualsMRBank, {"L": 2.5}, ()),
    (NelsonRules, NelsonRulesBank, {}, ()),
    (NelsonRules, NelsonRulesBank, {"rules": (1, 2, 5, 6), "same_side_run": 8}, ()),
    (XbarR, XbarRBank, {"size": 5}, (5,)),
    (HotellingT2, HotellingT2Bank, {"dim": 3, "alpha": 0.01}, (3,)),
    (MEWMA, MEWMABank, {"dim": 3, "h": 11.0}, (3,)),
]


@pytest.mark.parametrize("estimate", [False, True], ids=["given", "phase_one"])
@pytest.mark.parametrize(
    ("chart", "bank", "params", "reading"), CASES, ids=lambda v: getattr(v, "__name__", None)
)
def test_bank_alarms_equal_chart_alarms(chart, bank, params, reading, estimate) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2024)
    phase_one = rng.normal(size=(40, N_STREAMS, *reading))
    phase_two = _shifted(rng, (N_STEPS, N_STREAMS, *reading))
    given: dict[str, object] = {}
    if not estimate:
        dim = reading[0] if chart in (HotellingT2, MEWMA) else None
        given = ({"mean": np.zeros(dim), "cov": np.eye(dim)} if dim
                 else {"mu": 0.0, "sigma": 1.0})
    vectorised = bank(n_streams=N_STREAMS, **params, **given)
    if estimate:
        vectorised.learn(phase_one)
    first = vectorised.process(phase_two[:150])
    codes = []
    for row in phase_two[150:]:
        vectorised.update(row)
        codes.append([vectorised.rules_fired(s) for s in range(N_STREAMS)])
    for s in range(N_STREAMS):
        single = chart(**params, **given)
        if estimate:
            for x in phase_one[:, s]:
                single.learn_one(x)
        fired = []
        for x in phase_two[:, s]:
            single.update(x)
            fired.append(single.rules_fired)
        alarms = [t for t, f in enumerate(fired[:150]) if f]
        assert first[s] == (alarms[0] if alarms else -1)
        assert fired[150:] == [step[s] for step in codes]
    assert any(any(step) for step in codes), "the data should raise some alarms"


def test_phase_one_estimates_agree() -> None:
    rng = np.random.default_rng(1)
    data = rng.normal(5.0, 2.0, size=(30, 3))
    bank = EWMABank(n_streams=3)
    bank.learn(data)
    bank.update(data[0])
    single = EWMA()
    for x in data[:, 1]:
        single.learn_one(x)
    single.update(data[0, 1])
    assert (single.mu_, single.sigma_) == (bank.mu_[1], bank.sigma_[1])
