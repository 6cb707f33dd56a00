"""Scenario files: the site, its supply chain, and the faults injected (with what finds them).

A scenario is TOML (format in ``docs/scenarios.md``), validated with pydantic; any problem
raises :class:`~gigaloop.errors.ScenarioError` naming the field and what to fix.

>>> scenario = load_scenario()
>>> scenario.scenario.name, [f.kind for f in scenario.faults][:2]
('default', ['weak_cell_lot', 'weld_current_drift'])
>>> load_scenario_text('[scenario]\\nname = "x"')
Traceback (most recent call last):
...
gigaloop.errors.ScenarioError: scenario.start_date: Field required; suppliers: Field required...
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gigaloop.errors import ScenarioError
from gigaloop.twin.fault_rules import KIND_RULES, where_problem
from gigaloop.twin.hazards import Component
from gigaloop.twin.modes import PLANT_MODES, RATE_MODES, FailureModeDecl, components
from gigaloop.twin.software import STARTING_VERSION

FaultKind = Literal["weak_cell_lot", "weld_current_drift", "process_drift", "bearing_wear",
                    "camera_rain", "shift_climate_mix", "part_lot_hazard", "process_defect",
                    "design_revision", "usage_confound", "selection_confound"]
Climate = Literal["hot", "temperate", "cold"]
NAME_KEYS = {"lot", "station", "machine", "window", "hardware_revision", "supplier", "shift",
             "part", "parameter", "trim"}
SIGNED_EFFECTS = ("drift_ka", "drift", "shift")
_LOT_ID = re.compile(r"^(?P<prefix>[A-Z0-9]+)-(?P<supplier>[A-Z0-9]+)-(?P<index>\d{4})$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Header(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    start_date: date


class Site(_Strict):
    """The plant: ids, climate (°C) and grid (price, carbon); defaults are a Texas plant."""

    site_id: str = "TX1"
    name: str = "Gigaloop Texas"
    region: str = "ERCOT"
    timezone: str = "America/Chicago"
    line_id: str = "TX1-L1"
    annual_mean_c: float = 20.8
    seasonal_amplitude_c: float = Field(default=9.5, ge=0)
    daily_amplitude_c: float = Field(default=5.5, ge=0)
    weather_sigma_c: float = Field(default=2.5, ge=0)
    carbon_mean_g_per_kwh: float = Field(default=336.0, gt=0)
    carbon_marginal_g_per_kwh: float = Field(default=574.0, gt=0)
    tariff_offpeak_usd_per_kwh: float = Field(default=0.07, ge=0)
    tariff_peak_usd_per_kwh: float = Field(default=0.16, ge=0)
    peak_hours: tuple[int, int] = (16, 21)
    maintenance_weekday: int = Field(default=6, ge=0, le=6)
    maintenance_start_hour: int = Field(default=2, ge=0, le=23)
    maintenance_hours: float = Field(default=4.0, gt=0, le=12)

    @model_validator(mode="after")
    def _known_timezone(self) -> Site:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone {self.timezone!r} is not an IANA time zone") from exc
        if not 0 <= self.peak_hours[0] < self.peak_hours[1] <= 24:
            raise ValueError("peak_hours must be [start, end) with 0 <= start < end <= 24")
        return self


class Supplier(_Strict):
    supplier_id: str = Field(pattern=r"^[A-Z0-9]+$")
    name: str
    country: str


class Part(_Strict):
    """A part: lots of ``lot_size_days`` of production, from suppliers in ``shares``."""

    part_number: str
    name: str
    category: str
    lot_prefix: str = Field(pattern=r"^[A-Z0-9]+$")
    lot_size_days: float = Field(gt=0, le=60)
    shares: dict[str, float] = Field(min_length=1)
    revisions: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shares_positive(self) -> Part:
        if any(share <= 0 for share in self.shares.values()):
            raise ValueError("every supplier share must be > 0")
        unknown = set(self.revisions) - set(self.shares)
        if unknown:
            raise ValueError(f"revisions name suppliers not in shares: {sorted(unknown)}")
        return self


class Finding(_Strict):
    """What a correct finding names; for a red herring, what must NOT be flagged."""

    failure_mode: str
    related_modes: list[str] = Field(default_factory=list)
    names: dict[str, str | list[int] | list[str]] = Field(min_length=1)
    red_herring: bool = False
    #: For the evaluation (random scenarios): the hazard ratio of the units it marks, the
    #: failures it should add within the run and those the marked units would have
    #: without it, how far the first stand out against the units they are compared with
    #: (``marked_share`` of them), whether data can tell its cause from others of its
    #: period, and whether it passes the detectability rule (docs/scenarios.md).
    hazard_ratio: float | None = Field(default=None, ge=1)
    expected_excess_failures: float | None = Field(default=None, ge=0)
    expected_background_failures: float | None = Field(default=None, ge=0)
    expected_z: float | None = Field(default=None, ge=0)
    marked_share: float | None = Field(default=None, ge=0, le=1)
    identifiable: bool = True
    detectable: bool | None = None

    @model_validator(mode="after")
    def _known_names(self) -> Finding:
        unknown = set(self.names) - NAME_KEYS
        if unknown:
            raise ValueError(f"names has unknown keys {sorted(unknown)}; use {sorted(NAME_KEYS)}")
        return self


class Fault(_Strict):
    """One injected fault; ``mode``, ``climate`` and ``side`` serve the general kinds."""

    id: str = Field(min_length=1)
    kind: FaultKind
    where: dict[str, str | list[str]]
    starts: int = Field(ge=0)
    stops: int | None = None
    effect: dict[str, float]
    mode: str | None = None
    climate: Climate | None = None
    side: Literal["low", "high", "both"] | None = None
    finding: Finding

    @model_validator(mode="after")
    def _fits_kind(self) -> Fault:
        rule = KIND_RULES[self.kind]
        keys = set(self.where)
        if not rule.where_fits(keys):
            raise ValueError(f"{self.kind} needs where keys {rule.where_text()}, "
                             f"got {sorted(keys)}")
        required, optional = rule.effect, rule.effect_optional
        missing = required - set(self.effect)
        extra = set(self.effect) - required - optional
        if missing or extra:
            raise ValueError(f"{self.kind} effect needs {sorted(required)} (optional "
                             f"{sorted(optional)}); missing {sorted(missing)}, "
                             f"unknown {sorted(extra)}")
        if any(value < 0 for key, value in self.effect.items() if key not in SIGNED_EFFECTS):
            raise ValueError(f"effect sizes must be >= 0 (except {', '.join(SIGNED_EFFECTS)})")
        for name in ("mode", "climate", "side"):
            if getattr(self, name) is not None and name not in rule.fields:
                raise ValueError(f"{self.kind} takes no {name!r}")
            if name in rule.required_fields and getattr(self, name) is None:
                raise ValueError(f"{self.kind} needs {name!r}")
        if self.stops is not None and self.stops <= self.starts:
            raise ValueError(f"stops ({self.stops}) must be after starts ({self.starts})")
        return self


class DataQuality(_Strict):
    """How fleet rows reach the store (:mod:`gigaloop.twin.uplink`); the defaults are the
    levels of ``docs/twin-fleet.md``. ``perfect = true`` (or every level 0) sends every row
    once, on its day, with a true clock."""

    perfect: bool = False
    offline_per_day: float = Field(default=0.005, ge=0, le=1)
    max_offline_days: int = Field(default=7, ge=1, le=90)
    claim_late_share: float = Field(default=0.2, ge=0, le=1)
    claim_max_late_days: int = Field(default=10, ge=1, le=90)
    duplicate_share: float = Field(default=0.005, ge=0, le=1)
    duplicate_max_days: int = Field(default=3, ge=1, le=90)
    gap_share: float = Field(default=0.005, ge=0, le=1)
    silent_per_year: float = Field(default=0.02, ge=0, lt=1)
    skewed_car_share: float = Field(default=0.01, ge=0, le=1)
    skew_min_minutes: float = Field(default=5.0, ge=0)
    skew_max_minutes: float = Field(default=120.0, ge=0, le=12 * 60)

    @model_validator(mode="after")
    def _consistent(self) -> DataQuality:
        levels = self.model_fields_set - {"perfect"}
        if self.perfect and levels:
            raise ValueError(f"perfect = true takes no levels; remove {sorted(levels)}")
        if self.skew_min_minutes > self.skew_max_minutes:
            raise ValueError(f"skew_min_minutes ({self.skew_min_minutes}) must be <= "
                             f"skew_max_minutes ({self.skew_max_minutes})")
        return self

    @property
    def off(self) -> bool:
        """True when every row arrives once, on its day, with a true clock."""
        return self.perfect or not any(
            (self.offline_per_day, self.claim_late_share, self.duplicate_share,
             self.gap_share, self.silent_per_year, self.skewed_car_share))


class BackgroundLevels(_Strict):
    """Small, real, harmless differences between machines, shifts and lots
    (:mod:`gigaloop.twin.background`; levels and reasoning in ``docs/scenarios.md``).
    ``identical = true`` (or every level 0) makes them all alike outside the faults."""

    identical: bool = False
    machine_offset_sigmas: float = Field(default=0.15, ge=0, le=0.5)
    machine_spread: float = Field(default=0.05, ge=0, le=0.2)
    shift_offset_sigmas: float = Field(default=0.1, ge=0, le=0.5)
    lot_frailty: float = Field(default=0.07, ge=0, le=0.2)

    @model_validator(mode="after")
    def _consistent(self) -> BackgroundLevels:
        levels = self.model_fields_set - {"identical"}
        if self.identical and levels:
            raise ValueError(f"identical = true takes no levels; remove {sorted(levels)}")
        return self

    @property
    def off(self) -> bool:
        """True when every lot, machine and shift is alike outside the faults."""
        return self.identical or not any(
            (self.machine_offset_sigmas, self.machine_spread, self.shift_offset_sigmas,
             self.lot_frailty))


class Release(_Strict):
    """A driver-assistance software release handed to the fleet team on ``day``: the twin
    writes its ``model_versions`` row then, and a rollout module decides where it goes.
    Its quality, hidden from the analytics, multiplies the starting version's Autopilot
    crash rate, every disengagement rate, and the rain rates on top (1 = as good)."""

    version: str = Field(min_length=1)
    day: int = Field(ge=0)
    crash: float = Field(default=1.0, gt=0)
    disengagement: float = Field(default=1.0, gt=0)
    rain: float = Field(default=1.0, gt=0)
    #: Hardware revisions it runs on (None: every one); vehicles of others refuse it.
    hardware: list[str] | None = Field(default=None, min_length=1)


class CellPolicy(_Strict):
    """A weld-robot control policy (e.g. seam tracking) handed to the plant on ``day``: the
    twin writes its ``model_versions`` row (``weld_policy``) then, and a rollout module
    decides which cells run it. ``tracking`` multiplies the deviation of the weld current
    from its setpoint on the welds its cells make (a seam tracked worse is welded further
    from the schedule; seam flaws follow by the weld's dose-response, and the current is
    measured on every weld); ``seam`` multiplies the seam defect hazard of the units its
    cells weld directly, where nothing measured shows it. Both hidden from the analytics;
    1 = as good as the running one."""

    version: str = Field(min_length=1)
    day: int = Field(ge=0)
    seam: float = Field(default=1.0, gt=0)
    tracking: float = Field(default=1.0, gt=0)


class Scenario(_Strict):
    """A validated scenario file."""

    scenario: Header
    site: Site = Field(default_factory=Site)
    suppliers: list[Supplier] = Field(min_length=1)
    parts: list[Part] = Field(min_length=1)
    failure_modes: list[FailureModeDecl] = Field(default_factory=list)
    faults: list[Fault] = Field(default_factory=list)
    data: DataQuality = Field(default_factory=DataQuality)
    background: BackgroundLevels = Field(default_factory=BackgroundLevels)
    releases: list[Release] = Field(default_factory=list)
    cell_policies: list[CellPolicy] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        policies = [p.version for p in self.cell_policies]
        if len(set(policies)) != len(policies):
            raise ValueError(f"cell_policies: versions must be unique, got {policies}")
        versions = [r.version for r in self.releases]
        if len(set(versions)) != len(versions) or STARTING_VERSION in versions:
            raise ValueError(f"releases: versions must be unique and new (the fleet starts "
                             f"on {STARTING_VERSION}), got {versions}")
        supplier_ids = {s.supplier_id for s in self.suppliers}
        prefixes = [p.lot_prefix for p in self.parts]
        if len(set(prefixes)) != len(prefixes):
            raise ValueError("parts: lot_prefix values must be unique")
        for part in self.parts:
            unknown = set(part.shares) - supplier_ids
            if unknown:
                raise ValueError(f"parts {part.part_number}: unknown suppliers {sorted(unknown)}")
        if len([p for p in self.parts if p.revisions]) > 1:
            raise ValueError("parts: at most one part may carry hardware revisions")
        ids = [f.id for f in self.faults]
        if len(set(ids)) != len(ids):
            raise ValueError("faults: ids must be unique")
        declared = [m.name for m in self.failure_modes]
        clash = set(declared) & {*RATE_MODES, *PLANT_MODES, *(c.name for c in components([]))}
        if clash or len(set(declared)) != len(declared):
            raise ValueError(f"failure_modes: names must be new and unique, got {declared}")
        modes = {c.name for c in self.components}
        known = sorted(modes | {*RATE_MODES, *PLANT_MODES})
        for k, fault in enumerate(self.faults):
            for mode in (fault.finding.failure_mode, *fault.finding.related_modes):
                if mode not in known:
                    raise ValueError(f"faults.{k}.finding.failure_mode {mode!r} is not a "
                                     f"failure mode; use one of {known} or declare it")
            if fault.mode is not None and fault.mode not in modes:
                raise ValueError(f"faults.{k}.mode {fault.mode!r} is not a component failure "
                                 f"mode; use one of {sorted(modes)} or declare it")
            problem = where_problem(self, fault)
            if problem:
                raise ValueError(f"fault {fault.id}: {problem}")
        return self

    @property
    def components(self) -> tuple[Component, ...]:
        """Every component the twin fails: built-in, then the scenario's failure modes."""
        return components(self.failure_modes)

    def part_for_lot(self, lot_id: str) -> Part | None:
        """The part whose lots are named like ``lot_id`` (``None`` if it names no part)."""
        match = _LOT_ID.match(lot_id)
        if match is None:
            return None
        for part in self.parts:
            if part.lot_prefix == match["prefix"] and match["supplier"] in part.shares:
                return part
        return None

    @property
    def hardware_revisions(self) -> set[str]:
        return {rev for p in self.parts for rev in p.revisions.values()}


def load_scenario(source: Path | str | None = None) -> Scenario:
    """Read and validate a scenario: ``None`` = packaged default, a packaged name, or a path."""
    if source is None:
        source = "default"
    if isinstance(source, str) and re.fullmatch(r"[A-Za-z0-9_]+", source):
        packaged = resources.files("gigaloop.twin") / "scenarios" / f"{source}.toml"
        if packaged.is_file():
            return load_scenario_text(packaged.read_text(encoding="utf-8"), origin=source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror}; give a TOML file "
                            f"or a packaged scenario's name ({', '.join(packaged_scenarios())})",
                            path=str(path)) from exc
    return load_scenario_text(text, origin=str(path))


def packaged_scenarios() -> list[str]:
    """The names of the scenarios that come with gigaloop.

    >>> packaged_scenarios()
    ['alternate', 'default']
    """
    folder = resources.files("gigaloop.twin") / "scenarios"
    return sorted(entry.name.removesuffix(".toml") for entry in folder.iterdir()
                  if entry.name.endswith(".toml"))


def load_scenario_text(text: str, *, origin: str = "<text>") -> Scenario:
    """Validate scenario TOML given as text."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{origin}: not valid TOML: {exc}", path=origin) from exc
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in err['loc']) or '(file)'}: {err['msg']}"
            for err in exc.errors()
        ]
        first = exc.errors()[0]["loc"]
        raise ScenarioError("; ".join(problems) + f" (in {origin})", path=origin,
                            field=".".join(str(p) for p in first)) from exc
