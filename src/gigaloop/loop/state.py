"""What root cause, changes and impact share within a run: one typed, documented object.

The three loop modules are built with the same :class:`LoopState`
(:func:`gigaloop.loop.modules.loop_modules`); nothing else reads or writes it. What of it
is data — findings and change requests — the modules also emit as store rows.

>>> LoopState().changes
[]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from gigaloop.customer.service_history import ServiceHistory
from gigaloop.loop.population import Population
from gigaloop.loop.signals import AlarmLog
from gigaloop.loop.vehicle_records import VehicleRecords


@dataclass
class CampaignVisits:
    """The ``service_visits`` rows of a campaign (``vin``, ``campaign_id``, ``day``) read so
    far, read incrementally: the rows ingested since ``read_until``.

    >>> import pandas as pd, pyarrow as pa
    >>> class View:  # a store view's incremental read
    ...     def ingested_since(self, name, after, columns):
    ...         return pa.table({"vin": ["A", "A", "B"], "campaign_id": ["C1", "C1", None],
    ...             "event_time": pd.to_datetime(["2025-03-02 10:00", "2025-03-01 09:00",
    ...                                           "2025-03-01 08:00"])})
    >>> visits = CampaignVisits()
    >>> visits.read(View(), pd.Timestamp("2025-03-02 23:59"))
    >>> first = visits.first_by_vin({"C1": "F001"})
    >>> first["F001"].astype(str).to_dict()
    {'A': '2025-03-01'}
    """

    read_until: pd.Timestamp | None = None
    rows: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({
        "vin": pd.Series(dtype=object), "campaign_id": pd.Series(dtype=object),
        "day": pd.Series(dtype="datetime64[D]")}))

    def read(self, view: Any, now: datetime) -> None:
        """Add the campaign visits ``view`` (the store as of ``now``) holds that were
        ingested after ``read_until``."""
        part = view.ingested_since("service_visits", self.read_until,
                                   ["vin", "campaign_id", "event_time"])
        self.read_until = pd.Timestamp(now)
        part = part.filter(pc.is_valid(part["campaign_id"]))
        if part.num_rows:
            new = pd.DataFrame({
                "vin": part["vin"].to_numpy(zero_copy_only=False),
                "campaign_id": part["campaign_id"].to_numpy(zero_copy_only=False),
                "day": part["event_time"].to_numpy().astype("datetime64[D]")})
            self.rows = pd.concat([self.rows, new], ignore_index=True)

    def first_by_vin(self, finding_of: dict[str, str]) -> dict[str, pd.Series]:
        """Finding id → VIN → the first day a campaign of ``finding_of`` (campaign id →
        finding id) serviced that vehicle."""
        rows = self.rows[self.rows.campaign_id.isin(list(finding_of))]
        rows = rows.assign(finding=rows.campaign_id.map(finding_of))
        return {finding: group.groupby("vin").day.min()
                for finding, group in rows.groupby("finding")}


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
    after it was made, re-tested from its date before the same key is found anew;
    ``campaign_visits``: the campaign visits read so far (:class:`CampaignVisits`).
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
    campaign_visits: CampaignVisits = field(default_factory=CampaignVisits)
