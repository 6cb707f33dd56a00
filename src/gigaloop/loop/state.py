"""What root cause, changes and impact share within a run: one typed, documented object.

The three loop modules are built with the same :class:`LoopState`
(:func:`gigaloop.loop.modules.loop_modules`); nothing else reads or writes it. What of it
is data — findings and change requests — the modules also emit as store rows.

>>> LoopState().changes
[]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gigaloop.customer.service_history import ServiceHistory
from gigaloop.loop.population import Population
from gigaloop.loop.signals import AlarmLog
from gigaloop.loop.vehicle_records import VehicleRecords


@dataclass
class LoopState:
    """State of the loop modules.

    ``records``: per-vehicle records, grown from new rows at each scan;
    ``population``: the latest scan's vehicles (impact and campaigns reuse it the same day);
    ``findings``: finding key → record (``id``, ``failure_mode``, ``names``, ``effect``, ``ci``,
    ``rank`` …; ``latest`` and ``active`` updated at every scan); ``retracted``: the records of
    findings retracted (:mod:`gigaloop.loop.retract`), in order; ``finding_vins``: finding id →
    the vehicles it names; ``streaks``: finding key → scans in a row it was seen;
    ``changes``: change request records in the order raised; ``campaign_backlog``: change id →
    VINs still to be called in; ``campaigned``: change id → VINs already called in;
    ``emitted_changes``: change id → (revision, record JSON) last written to the store;
    ``alarms``: the plant's control-chart alarms read so far (:mod:`gigaloop.loop.signals`);
    ``service``: the diagnostic codes, claims and predictive visits read so far, which
    tell the codes that foretell a component (:mod:`gigaloop.loop.precursors`);
    ``refuted``: finding key → the record of a finding retracted on the evidence that came
    after it was made, re-tested from its date before the same key is found anew.
    """

    records: VehicleRecords = field(default_factory=VehicleRecords)
    population: Population | None = None
    findings: dict[str, dict[str, Any]] = field(default_factory=dict)
    retracted: list[dict[str, Any]] = field(default_factory=list)
    finding_vins: dict[str, np.ndarray] = field(default_factory=dict)
    streaks: dict[str, int] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    campaign_backlog: dict[str, list[str]] = field(default_factory=dict)
    campaigned: dict[str, set[str]] = field(default_factory=dict)
    emitted_changes: dict[str, tuple[int, str]] = field(default_factory=dict)
    alarms: AlarmLog = field(default_factory=AlarmLog)
    refuted: dict[str, dict[str, Any]] = field(default_factory=dict)
    service: ServiceHistory = field(default_factory=ServiceHistory)
