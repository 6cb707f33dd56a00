"""A precursor code is the car's own complaint: it moves a component's complaint mode earlier.

A diagnostic code that foretells a component's failure (a good share of the vehicles that
raise it claim that component within the precursor horizon:
:func:`gigaloop.customer.precursors.fit_precursors`, fitted on the store's codes, claims and
predictive visits) reports trouble with the component, from the car rather than from its
owner. Root cause's ``complaint:<component>`` mode (days in service to the owner's first
complaint, or to the claim when none came first) then starts at the earliest of the three.

A code comes days to weeks before the claim, on the car's own clock, and before any visit
it sets off: a weak lot or configuration whose parts predictive service replaces on their
codes still shows its codes. Booking days themselves are never counted: bookings come in
waves set by the service's capacity and refits, which a test at equal time in service would
read as a build window.

>>> import pandas as pd
>>> t = pd.Timestamp("2025-03-01")
>>> codes = pd.DataFrame({"vin": [f"V{i}" for i in range(30)],
...     "code": ["CP_latch"] * 20 + ["UI_wifi"] * 10,
...     "event_time": [t + pd.Timedelta(days=i) for i in range(30)]})
>>> failures = pd.DataFrame({"vin": [f"V{i}" for i in range(19)], "component": "charge_port",
...     "event_time": [t + pd.Timedelta(days=i + 20) for i in range(19)],
...     "cost_usd": 400.0, "roadside": False})
>>> precursor_links(codes, failures, failures.iloc[:0], t + pd.Timedelta(days=200))
{'CP_latch': 'charge_port'}
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from gigaloop.customer.precursors import PredictiveServiceConfig, fit_precursors
from gigaloop.customer.service_history import ServiceHistory
from gigaloop.loop.finding import COMPLAINT_PREFIX
from gigaloop.loop.population import Population, build_population
from gigaloop.loop.vehicle_records import VehicleRecords
from gigaloop.store import StoreView

#: A code foretells a component when the lower 95 % Wilson bound of the share of its
#: vehicles that claim the component within the horizon is at least this. A nuisance code's
#: share is the base rate of a claim (about 1 %); a precursor's is most of its vehicles
#: (its bound sits lower while few of them have been followed for the whole horizon).
MIN_PRECISION_LOW = 0.25


def precursor_links(codes: pd.DataFrame, failures: pd.DataFrame, serviced: pd.DataFrame,
                    until: datetime) -> dict[str, str]:
    """Code → the component it foretells, for the codes that foretell one (see
    :data:`MIN_PRECISION_LOW`); ``codes``, ``failures`` and ``serviced`` as
    :func:`~gigaloop.customer.precursors.fit_precursors` takes them."""
    if codes.empty or failures.empty:
        return {}
    config = PredictiveServiceConfig()
    rules = fit_precursors(codes, failures, until=pd.Timestamp(until), serviced=serviced,
                           config=config)
    linked = rules[rules.component.notna() & (rules.events >= config.min_events)
                   & (rules.precision_low >= MIN_PRECISION_LOW)]
    return dict(zip(linked.index, linked.component, strict=True))


def add_code_complaints(pop: Population, codes: pd.DataFrame, links: dict[str, str]) -> None:
    """Move each ``complaint:<component>`` mode of ``pop`` to the first code foretelling the
    component where that came first (making the mode for a component with claims and no
    complaint yet); ``codes``: vin, code, event_time, raised by ``pop.as_of``."""
    if not links or codes.empty:
        return
    index = pd.Index(pop.vin)
    for component in sorted(set(links.values())):
        if component not in pop.first_failure_days:
            continue  # no claim yet: no mode to move
        foretelling = [code for code, part in links.items() if part == component]
        first = codes[codes.code.isin(foretelling)].groupby("vin").event_time.min()
        row = index.get_indexer(first.index)
        known = row >= 0
        day = first.to_numpy().astype("datetime64[D]")[known]
        days = np.full(len(pop), np.nan)
        days[row[known]] = (day - pop.delivered_on[row[known]]).astype(float)
        days[days < 0] = np.nan  # before delivery: the plant's end-of-line drive, not the field
        mode = COMPLAINT_PREFIX + component
        pop.first_failure_days[mode] = np.fmin(
            pop.first_failure_days.get(mode, pop.first_failure_days[component]), days)


def population_with_codes(view: StoreView, as_of: date, records: VehicleRecords,
                          history: ServiceHistory) -> Population:
    """:func:`~gigaloop.loop.population.build_population` of the store as of ``view``'s
    cutoff, with precursor codes counted as complaints; ``history`` keeps the codes, claims
    and predictive visits (read here, only the rows ingested since its last read)."""
    pop = build_population(view, as_of, records)
    history.read(view, view.cutoff)
    codes, failures, serviced = history.as_of(view.cutoff)
    add_code_complaints(pop, codes, precursor_links(codes, failures, serviced, view.cutoff))
    return pop
