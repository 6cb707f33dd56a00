"""What root cause reports and how it is tuned: :class:`Finding`, :class:`RootCauseConfig`.

Shared by the scan (:mod:`gigaloop.loop.rootcause`) and the per-mode selection
(:mod:`gigaloop.loop.selection`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Attribute kinds a finding may rest on. Usage such as climate is a covariate, not a
#: cause; a design revision marks a period of builds (each engineering change bumps it),
#: so its effect is judged by that change's own impact check, not rediscovered here.
CAUSE_KINDS = ("lot", "supplier", "machine", "reading", "drift", "shift", "model", "trim",
               "hardware_revision", "inspection")
#: The key of a finding's names that lists whole namings marking the same vehicles as it
#: (:attr:`Finding.alternatives`): no data can tell the finding from any of them.
ALIASES = "aliases"
#: Failure modes of owners' complaints are ``complaint:<component>``: days in service to the
#: first complaint about that component (:mod:`gigaloop.loop.vehicle_records`).
COMPLAINT_PREFIX = "complaint:"


def is_complaint(mode: str) -> bool:
    """Whether ``mode`` is an owners' complaint mode.

    >>> is_complaint("complaint:paint_trim"), is_complaint("paint_trim")
    (True, False)
    """
    return mode.startswith(COMPLAINT_PREFIX)


def namings(names: dict[str, Any]) -> list[dict[str, Any]]:
    """What a finding's ``names`` may stand for: the names themselves, then each whole
    naming its :data:`ALIASES` list (the same vehicles, told apart by no data).

    >>> namings({"part": "CELL", "lot": "CELL-1", "aliases": [{"part": "DU", "lot": "DU-4"}]})
    [{'part': 'CELL', 'lot': 'CELL-1'}, {'part': 'DU', 'lot': 'DU-4'}]
    """
    own = {k: v for k, v in names.items() if k != ALIASES}
    return [own, *names.get(ALIASES, [])]


def names_text(names: dict[str, Any]) -> str:
    """What a finding points at, as ``lot=CELL-7, window=day 41–57``.

    >>> names_text({"station": "BW-030", "window": [41, 57]})
    'station=BW-030, window=day 41–57'
    >>> names_text({"lot": "HUB-SUPA-0056", "miles_per_day": [43.2, 212.0]})
    'lot=HUB-SUPA-0056, miles_per_day=43.2–212.0'
    >>> names_text({"lot": "CELL-7", "aliases": [{"lot": "DU-4", "part": "DU"}]})
    'lot=CELL-7, or equally (lot=DU-4, part=DU)'
    """
    parts: list[str] = []
    for key, value in names.items():
        if key == ALIASES and isinstance(value, list):  # the same vehicles, named otherwise
            parts.extend(f"or equally ({names_text(alias)})" for alias in value)
            continue
        if key == "window" and isinstance(value, list | tuple) and len(value) == 2:
            ends = [str(v)[:10] for v in value]
            value = ("day " if all(isinstance(v, int) for v in value) else "") + "–".join(ends)
        elif key == "miles_per_day" and isinstance(value, list | tuple) and len(value) == 2:
            value = "–".join(str(v) for v in value)  # the band of use a finding holds to
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def component_of(mode: str) -> str:
    """What a finding of ``mode`` is about: a complaint mode's component, else the mode.

    >>> component_of("complaint:paint_trim"), component_of("battery_fade")
    ('paint_trim', 'battery_fade')
    """
    return mode.removeprefix(COMPLAINT_PREFIX)


@dataclass(frozen=True)
class RootCauseConfig:
    """Thresholds of the scan; the defaults are what the loop runs with."""

    alpha: float = 0.01  # weekly re-tests are many looks: a strict FDR level
    min_events: int = 8
    min_signal_events: int = 3  # a hypothesis a chart stated in advance needs fewer
    min_effect_low: float = 1.1  # the 95 % interval must exclude effects under +10 %
    min_rate_effect_low: float = 1.25  # … and under +25 % for a rate measured on every car
    max_findings_per_mode: int = 5
    min_rate_units: int = 200  # vehicles with the exposure a rate measure asks for
    window_max_days: int = 90
    #: scan owners' complaints about each component as modes of their own (in the claims' tree)
    complaints: bool = True


@dataclass
class Finding:
    """One ranked finding; ``members`` marks the vehicles it is about (not serialised)."""

    failure_mode: str
    attribute: str
    kind: str
    names: dict[str, Any]
    effect: float
    ci: tuple[float, float]
    effect_kind: str
    p: float
    q: float
    observed: float
    expected: float
    members: np.ndarray = field(repr=False)
    rank: int = 0
    #: What else marks the same vehicles — a supplier's build window that is a revision —
    #: which no data can tell from ``names``: reported with them, not part of the key.
    aliases: dict[str, Any] = field(default_factory=dict)
    #: Whole namings that mark the same vehicles and give a name another value — another
    #: part's lot, when every part changed lots at the same unit; another part's supplier,
    #: when suppliers took turns in step — reported as ``names["aliases"]``.
    alternatives: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Identity across re-analyses: mode + what it names (without numeric ranges)."""
        parts = [f"{k}={v}" for k, v in sorted(self.names.items()) if k not in ("range",
                                                                                "window")]
        return "|".join([self.failure_mode, *parts])

    def record(self) -> dict[str, Any]:
        return {
            "failure_mode": self.failure_mode, "attribute": self.attribute,
            "names": {**self.aliases, **self.names,
                      **({ALIASES: self.alternatives} if self.alternatives else {})},
            "effect": round(self.effect, 3), "effect_kind": self.effect_kind,
            "ci": [round(self.ci[0], 3), round(self.ci[1], 3)], "p": float(f"{self.p:.3g}"),
            "q": float(f"{self.q:.3g}"), "observed": round(self.observed, 1),
            "expected": round(self.expected, 1) if np.isfinite(self.expected) else None,
            "affected_vins": int(self.members.sum()),
            "rank": self.rank,
        }


@dataclass(frozen=True)
class Adjustment:
    """What every test of one scan is adjusted for, computed once per scan."""

    strata: np.ndarray  # climate × mileage band, for the log-rank tests
    covariates: dict[str, np.ndarray]  # per rate measure: usage and exposure

