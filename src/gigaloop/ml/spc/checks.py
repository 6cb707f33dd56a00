"""Conformance checks that every SPC component passes (river's ``checks`` idea).

``yield_checks(model)`` yields functions ``check(model)``; the test suite runs each of them
over every :class:`~gigaloop.ml.spc.Base` subclass. A component provides ``_check_params``
(constructor arguments) and ``_check_readings(rng)`` (Phase I and Phase II readings).

>>> from gigaloop.ml.spc import EWMA
>>> for check in yield_checks(EWMA()):
...     check(EWMA())
>>> [check.__name__ for check in yield_checks(EWMA())]
['check_clone_is_fresh', 'check_repr_names_params', 'check_pickles',
 'check_same_data_same_alarms', 'check_nan_raises']
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from gigaloop.ml.spc._base import Base

SEED = 42


def _readings(model: Base) -> tuple[list[Any], list[Any]]:
    return type(model)._check_readings(np.random.default_rng(SEED))


def _trace(model: Base) -> list[Any]:
    phase_one, phase_two = _readings(model)
    return model._trace(phase_one, phase_two)


def check_clone_is_fresh(model: Base) -> None:
    """A clone of a used model has its parameters and behaves like a new one."""
    fresh = _trace(model.clone())
    _trace(model)
    clone = model.clone()
    assert repr(clone) == repr(model)
    assert _trace(clone) == fresh
    assert repr(clone.clone()) == repr(clone)


def check_repr_names_params(model: Base) -> None:
    """``repr`` shows the class and every constructor argument."""
    text = repr(model)
    assert text.startswith(type(model).__name__ + "(")
    assert all(f"{name}=" in text for name in model._get_params())


def check_pickles(model: Base) -> None:
    """A model pickles mid-stream and the copy carries on exactly as the original."""
    phase_one, phase_two = _readings(model)
    half = len(phase_two) // 2
    model._trace(phase_one, phase_two[:half])
    copy = pickle.loads(pickle.dumps(model))
    rest = phase_two[half:]
    assert copy._trace([], rest) == model._trace([], rest)


def check_same_data_same_alarms(model: Base) -> None:
    """Two fresh models fed the same data raise the same alarms (and something happens)."""
    first, second = _trace(model.clone()), _trace(model.clone())
    assert first == second
    assert any(first), "the check data should make the component react"


def check_nan_raises(model: Base) -> None:
    """A NaN reading raises ValueError that says what to do, in Phase I and Phase II."""
    phase_one, phase_two = _readings(model)
    bad = np.full(np.shape(phase_two[0]), math.nan)
    reading = tuple(bad) if isinstance(phase_two[0], tuple) else bad
    for one, two in (([reading], []), (phase_one, [reading])):
        try:
            model.clone()._trace(one, two)
        except ValueError as err:
            assert "NaN" in str(err) or "finite" in str(err), err
        else:
            raise AssertionError(f"{type(model).__name__} accepted a NaN reading")


def yield_checks(model: Base) -> Iterator[Callable[[Base], None]]:
    """Every check that applies to ``model``."""
    del model  # every component supports every check today
    yield check_clone_is_fresh
    yield check_repr_names_params
    yield check_pickles
    yield check_same_data_same_alarms
    yield check_nan_raises
