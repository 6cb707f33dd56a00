"""Every SPC component passes every conformance check of :mod:`gigaloop.ml.spc.checks`."""

from __future__ import annotations

import inspect

import pytest

import gigaloop.ml.spc as spc
from gigaloop.ml.spc import Base, Chart, ChartBank
from gigaloop.ml.spc._restartable import Restartable
from gigaloop.ml.spc.checks import yield_checks

ABSTRACT = {Base, Chart, ChartBank, Restartable}
COMPONENTS = sorted(
    (c for c in vars(spc).values()
     if inspect.isclass(c) and issubclass(c, Base) and c not in ABSTRACT),
    key=lambda c: c.__name__,
)


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_component_is_exported() -> None:
    assert _subclasses(Base) - ABSTRACT == set(COMPONENTS)


@pytest.mark.parametrize(
    ("component", "check"),
    [
        pytest.param(c, check, id=f"{c.__name__}:{check.__name__}")
        for c in COMPONENTS
        for check in yield_checks(c(**c._check_params))
    ],
)
def test_check(component: type[Base], check) -> None:  # type: ignore[no-untyped-def]
    check(component(**component._check_params))
