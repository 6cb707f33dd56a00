"""Failure modes: the built-in components plus those a scenario declares or names.

A scenario's ``[[failure_modes]]`` adds components the twin fails, claims and repairs
like the built-in ones; a name from the packaged catalogue (``failure_modes.toml``) brings
its parameters, any key given overrides them, and a new name must give them all.

>>> catalogue()["underbody_crack"].clock
'miles'
>>> [c.name for c in components([FailureModeDecl(name="paint_delamination")])][-2:]
['battery_pack', 'paint_delamination']
>>> resolve(FailureModeDecl(name="gearbox_rattle"))
Traceback (most recent call last):
...
ValueError: failure mode 'gearbox_rattle' is not in the catalogue: give clock, shape, ...
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gigaloop.twin.hazards import COMPONENTS, Component

#: Failure modes measured as rates, not component claims, and the plant's own.
RATE_MODES = ("battery_fade", "disengagement_rain")
PLANT_MODES = ("machine_breakdown",)
#: What a mode outside the catalogue must state.
REQUIRED = ("clock", "shape", "first_year", "cost_usd", "claim_codes")


class FailureModeDecl(BaseModel):
    """A failure mode as a scenario (or the catalogue) declares it; unset keys are ``None``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    clock: Literal["days", "miles"] | None = None
    shape: float | None = Field(default=None, gt=0, le=10)
    first_year: float | None = Field(default=None, gt=0, lt=0.5)
    cost_usd: float | None = Field(default=None, ge=0)
    roadside: float | None = Field(default=None, ge=0, le=1)
    claim_codes: list[str] | None = Field(default=None, min_length=1)
    climate: tuple[float, float, float] | None = None
    usage_exponent: float | None = Field(default=None, ge=0, le=2)
    aggressive: float | None = Field(default=None, gt=0)


@cache
def catalogue() -> dict[str, FailureModeDecl]:
    """The packaged catalogue of failure modes a scenario may name."""
    text = (resources.files("gigaloop.twin") / "failure_modes.toml").read_text(encoding="utf-8")
    return {name: FailureModeDecl(name=name, **spec)
            for name, spec in tomllib.loads(text).items()}


def resolve(decl: FailureModeDecl) -> Component:
    """The component ``decl`` describes: catalogue defaults, then the keys it sets."""
    merged = {k: v for k, v in catalogue().get(decl.name, decl).model_dump().items()
              if v is not None}
    merged.update({k: v for k, v in decl.model_dump().items() if v is not None})
    missing = [k for k in REQUIRED if k not in merged]
    if missing:
        raise ValueError(f"failure mode {decl.name!r} is not in the catalogue: give "
                         f"{', '.join(missing)} (or use one of {sorted(catalogue())})")
    return Component(merged["name"], merged["clock"], merged["shape"], merged["first_year"],
                     merged["cost_usd"], merged.get("roadside", 0.0),
                     tuple(merged["claim_codes"]),
                     climate=tuple(merged.get("climate", (1.0, 1.0, 1.0))),
                     usage_exponent=merged.get("usage_exponent", 0.0),
                     aggressive=merged.get("aggressive", 1.0))


def components(declared: list[FailureModeDecl]) -> tuple[Component, ...]:
    """The built-in components, then the declared ones in their order."""
    return COMPONENTS + tuple(resolve(d) for d in declared)
