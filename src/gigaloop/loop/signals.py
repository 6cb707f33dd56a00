"""Leading indicators: what the plant already flagged, tested first against the field.

A weekly scan tests tens of thousands of levels, so a cause must wait for enough failures
to clear that many looks. A control chart's alarm is different: it names one machine, one
parameter and a few days *before* any claim, so the units built through that machine in
those days are one hypothesis stated in advance. Root cause tests these hypotheses as a
family of their own (:func:`gigaloop.loop.rootcause.find_root_causes`, ``signals``): a
handful of tests instead of thousands, so a drift the chart saw and the field confirms
with a few early failures is found in days.

An *episode* is one (machine, parameter) stream's alarms with no gap longer than
:data:`EPISODE_GAP_DAYS`; its window starts :data:`LOOKBACK_DAYS` before the first alarm
(a chart signals some days into a slow drift) and ends on the last. Everything comes from
the store's ``spc_alarms`` table, whoever wrote it (the process-control module or a
plant's own SPC through a connector).

>>> from datetime import date
>>> alarms = pd.DataFrame({"station_id": ["BW-030"] * 3, "machine_id": ["BW-030-R2"] * 3,
...     "parameter": ["weld_current"] * 3,
...     "event_time": pd.to_datetime(["2025-02-17", "2025-02-20", "2025-04-09"])})
>>> [(e.machine, e.first.isoformat(), e.last.isoformat()) for e in episodes_of(alarms)]
[('BW-030-R2', '2025-02-17', '2025-02-20'), ('BW-030-R2', '2025-04-09', '2025-04-09')]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from scipy import stats

from gigaloop.loop.population import Attribute, Population
from gigaloop.store import StoreView

#: The ``spc_alarms`` columns an episode is made of.
COLUMNS = ("station_id", "machine_id", "parameter", "event_time")
#: Alarms of one stream further apart than this start a new episode.
EPISODE_GAP_DAYS = 14
#: An episode's window starts this many days before its first alarm.
LOOKBACK_DAYS = 7
#: An episode that built fewer units than this is not tested.
MIN_UNITS = 20
#: How far, one-sided, the readings of an episode's failed units must stand past those of
#: its units that did not fail, in the direction the stream shifted, for its excess to be
#: the shift's (:func:`mechanism_shown`).
MECHANISM_ALPHA = 0.05


@dataclass(frozen=True)
class AlarmEpisode:
    """One stream's run of alarms: ``first`` and ``last`` alarm days."""

    station: str
    machine: str
    parameter: str
    first: date
    last: date

    @property
    def window(self) -> tuple[date, date]:
        """Build days whose units the episode is about (both ends included)."""
        return self.first - timedelta(days=LOOKBACK_DAYS), self.last


@dataclass
class AlarmLog:
    """The store's ``spc_alarms`` rows read so far; each :meth:`update` reads only those
    ingested since the last (straight to Arrow, no query).

    >>> AlarmLog().episodes()
    []
    """

    rows: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(COLUMNS)))
    seen_until: datetime | None = None

    def update(self, view: StoreView) -> None:
        new = view.ingested_since("spc_alarms", self.seen_until, list(COLUMNS)).to_pandas()
        self.seen_until = view.cutoff
        if len(new):
            self.rows = new if self.rows.empty else pd.concat([self.rows, new],
                                                              ignore_index=True)

    def episodes(self) -> list[AlarmEpisode]:
        return episodes_of(self.rows)



def episodes_of(alarms: pd.DataFrame) -> list[AlarmEpisode]:
    """Episodes of ``alarms`` (``station_id, machine_id, parameter, event_time``)."""
    out: list[AlarmEpisode] = []
    if alarms.empty:
        return out
    alarms = alarms.assign(day=pd.to_datetime(alarms.event_time).dt.normalize())
    for (station, machine, parameter), rows in alarms.groupby(
            ["station_id", "machine_id", "parameter"], sort=True):
        days = np.sort(rows.day.to_numpy("datetime64[D]"))
        breaks = np.flatnonzero(np.diff(days) > np.timedelta64(EPISODE_GAP_DAYS, "D")) + 1
        for run in np.split(days, breaks):
            out.append(AlarmEpisode(str(station), str(machine), str(parameter),
                                    run[0].astype(object), run[-1].astype(object)))
    return out


def alarm_attributes(pop: Population, episodes: list[AlarmEpisode]) -> list[Attribute]:
    """Per episode, a two-level attribute: the units its machine built in its window
    (``inside``) against every other unit whose machine at that station is known.

    Their kind is ``drift`` — they name a station, machine, parameter and window, as a
    drift the readings show does — and ``meta["signal"]`` says where they came from.
    """
    out = []
    known: dict[str, np.ndarray] = {}  # station → its machine is known, per vehicle
    for episode in episodes:
        machines = pop.station_machines.get(episode.station)
        if machines is None:
            continue
        start, stop = (np.datetime64(day, "D") for day in episode.window)
        built = (pop.build_date >= start) & (pop.build_date <= stop)
        inside = built & (machines == episode.machine)
        if inside.sum() < MIN_UNITS:
            continue
        if episode.station not in known:
            known[episode.station] = pd.notna(machines)
        codes = np.where(inside, 1, np.where(known[episode.station], 0, -1)).astype(np.int32)
        window = [day.isoformat() for day in episode.window]
        out.append(Attribute(
            f"alarm:{episode.machine}:{episode.parameter}:{window[0]}", "drift", codes,
            ["outside", "inside"],
            {"station": episode.station, "machine": episode.machine,
             "parameter": episode.parameter, "window": window, "signal": "spc_alarm"}))
    return out


def mechanism_shown(pop: Population, mode: str, attribute: Attribute) -> bool:
    """Whether the excess of an alarm episode's units (``attribute``, from
    :func:`alarm_attributes`) in ``mode`` goes with the reading the chart watched: among
    the units its machine built in the window, those that failed (for a rate measure, those
    with the higher rates) read further in the direction the stream shifted — the mean of
    the window against the machine's units before it — than the rest, one-sided at
    :data:`MECHANISM_ALPHA` (Mann–Whitney; Spearman for a rate).

    A drift harms through its dose: the units that went furthest fail most. Charts alarm
    some thirty times a year on streams with no fault, their windows cover most build
    weeks, and every mode is tested in each, week after week: a chance cluster of claims
    will fall in one. Its failed units read like the rest of the window. With no reading
    of the stream in the store (an alarm a plant's own SPC sent alone), nothing can be
    checked and the excess stands on its own."""
    values = pop.readings.get((attribute.meta["station"], attribute.meta["parameter"]))
    if values is None:
        return True
    inside = attribute.codes == 1
    machines = pop.station_machines[attribute.meta["station"]]
    start = np.datetime64(attribute.meta["window"][0], "D")
    reference = (machines == attribute.meta["machine"]) & ~inside
    before = reference & (pop.build_date < start)
    reference = before if np.isfinite(values[before]).sum() >= MIN_UNITS else reference
    read = inside & np.isfinite(values)
    if not read.any() or not np.isfinite(values[reference]).any():
        return True
    direction = 1.0 if values[read].mean() >= np.nanmean(values[reference]) else -1.0
    toward = direction * values
    if mode in pop.rates:
        rate, usable = pop.rates[mode].rate, pop.rates[mode].usable
        both = read & usable
        if both.sum() < 3:
            return True
        test = stats.spearmanr(toward[both], rate[both], alternative="greater")
        return bool(test.pvalue <= MECHANISM_ALPHA)
    _, event = pop.survival(mode)
    failed, rest = toward[read & event], toward[read & ~event]
    if not len(failed) or not len(rest):
        return True
    test = stats.mannwhitneyu(failed, rest, alternative="greater")
    return bool(test.pvalue <= MECHANISM_ALPHA)
