"""Fleet: what vehicles report from the field, and what goes wrong with them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gigaloop.errors import SchemaError
from gigaloop.schema.table import Table, col

CLIMATES = ("hot", "temperate", "cold")
DRIVE_MODES = ("manual", "autopilot")
CONDITIONS = ("clear", "rain", "night", "snow")

TELEMETRY_DAILY = Table(
    "telemetry_daily", "fleet",
    "One vehicle-day summary. Fractions follow Tesla's Safety Score definitions.",
    key=("vin", "day"), partition_by="day", columns=(
        col("vin", "string", "vehicle", references="vehicles.vin"),
        col("day", "date", "day summarised"),
        col("climate_region", "string", "climate region where driven", choices=CLIMATES),
        col("software_version", "string", "driver-assistance software running"),
        col("miles", "float64", "miles driven", unit="mi", min=0, max=1500),
        col("autopilot_miles", "float64", "miles on Autopilot", unit="mi", min=0),
        col("rain_miles", "float64", "miles driven in rain", unit="mi", min=0),
        col("late_night_miles", "float64", "miles 23:00–04:00", unit="mi", min=0),
        col("hard_braking_fraction", "float64",
            "share of braking time with deceleration > 0.3 g", min=0, max=1),
        col("aggressive_turning_fraction", "float64",
            "share of turning time with lateral acceleration > 0.4 g", min=0, max=1),
        col("unsafe_following_fraction", "float64",
            "time with headway < 1.0 s ÷ time with headway < 3.0 s (> 50 mph, manual)",
            min=0, max=1),
        col("speeding_fraction", "float64", "share of miles above 85 mph", min=0, max=1),
        col("fcw_count", "int64", "forward-collision warnings (manual miles)", min=0),
        col("forced_disengagements", "int64", "Autopilot forced off after 3 warnings", min=0),
        col("disengagements_clear", "int64", "driver disengagements in clear weather", min=0),
        col("disengagements_rain", "int64", "driver disengagements in rain", min=0),
        col("disengagements_night", "int64", "driver disengagements at night", min=0),
        col("dc_fast_charge_kwh", "float64", "energy from DC fast chargers", unit="kWh", min=0),
        col("ambient_temp_c", "float64", "mean ambient temperature", unit="°C"),
        col("battery_soh", "float64", "battery state of health (usable / nominal capacity)",
            min=0, max=1.2),
        col("odometer_miles", "float64", "odometer at end of day", unit="mi", min=0),
        col("lv_battery_rest_v", "float64", "12 V battery resting voltage, parked overnight",
            unit="V", min=0, max=16, nullable=True),
        col("drive_unit_noise_db", "float64",
            "drive-unit noise relative to its model's nominal", unit="dB", nullable=True),
    ))



@dataclass(frozen=True, kw_only=True)
class RateMeasure:
    """A failure mode measured as a rate on every car from :data:`TELEMETRY_DAILY`; a
    larger rate is worse.

    With ``per``, events per exposure: Σ``value`` ÷ Σ``per`` over a vehicle's days,
    weighted by Σ``per`` and usable from ``min_exposure`` of it. Without, a trend: the
    least-squares slope of ``value`` against √(days in service + 1), a fall being worse,
    weighted by √days and usable from ``min_exposure`` telemetry days. ``component`` is
    the part a service campaign for the mode works on (None: the mode's own name).

    >>> RateMeasure(mode="tyre_wear", value="no_such_column", min_exposure=10)
    Traceback (most recent call last):
    gigaloop.errors.SchemaError: rate measure 'tyre_wear': telemetry_daily has no numeric \
column 'no_such_column'
    """

    mode: str
    value: str
    min_exposure: float
    per: str | None = None
    component: str | None = None

    def __post_init__(self) -> None:
        where, table = f"rate measure {self.mode!r}", TELEMETRY_DAILY.name
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.mode):
            raise SchemaError(f"{where}: a mode is a lower-case identifier", table=table)
        numeric = {c.name for c in TELEMETRY_DAILY.columns if c.dtype in ("int64", "float64")}
        for column in (self.value, self.per):
            if column is not None and column not in numeric:
                raise SchemaError(f"{where}: {table} has no numeric column {column!r}",
                                  table=table)
        if self.per == self.value:
            raise SchemaError(f"{where}: a rate of a column per itself", table=table)
        if not self.min_exposure > 0:
            raise SchemaError(f"{where}: min_exposure must be positive", table=table)

    @property
    def is_trend(self) -> bool:
        """Whether the rate is a trend of ``value`` (else events per exposure)."""
        return self.per is None


def rate_measures(*measures: RateMeasure) -> tuple[RateMeasure, ...]:
    """``measures``, checked to name each mode once."""
    modes = [m.mode for m in measures]
    repeated = sorted({m for m in modes if modes.count(m) > 1})
    if repeated:
        raise SchemaError(f"rate measures declared twice: {', '.join(repeated)}",
                          table=TELEMETRY_DAILY.name)
    return measures


#: The failure modes measured as rates on every car (root cause scans each).
RATE_MEASURES = rate_measures(
    RateMeasure(mode="battery_fade", value="battery_soh", min_exposure=30,
                component="battery_pack"),
    RateMeasure(mode="disengagement_rain", value="disengagements_rain", per="rain_miles",
                min_exposure=25.0, component="camera"),
)

TRIGGER_EVENTS = Table(
    "trigger_events", "fleet", "A fleet trigger fired: a moment worth uploading.",
    key=("trigger_id",), partition_by="event_time", columns=(
        col("trigger_id", "string", "id"),
        col("vin", "string", "vehicle", references="vehicles.vin"),
        col("trigger", "string", "hard_brake, disengagement, fcw, …"),
        col("condition", "string", "driving condition", choices=CONDITIONS),
        col("software_version", "string", "software running"),
        col("clip_uri", "string", "uploaded clip", nullable=True),
    ))

SCENES = Table(
    "scenes", "fleet",
    "A driving scene a vehicle uploaded: what its driver-assistance model saw and decided, "
    "what the driver did, and whether the scene was hazardous (known in hindsight). Arm "
    "`random`: drawn at random within the vehicle's daily random budget (the baseline and "
    "the unbiased evaluation stream); `campaign`: chosen by a trigger campaign; `shadow`: "
    "the shadow candidate and production decided differently.",
    key=("scene_id",), partition_by="event_time", columns=(
        col("scene_id", "string", "id"),
        col("vin", "string", "vehicle", references="vehicles.vin"),
        col("software_version", "string", "software running (its model decided)"),
        col("arm", "string", "how the scene was chosen for upload",
            choices=("random", "campaign", "shadow")),
        col("campaign", "string", "trigger campaign that chose it", nullable=True),
        col("size_mb", "float64", "upload size", unit="MB", min=0),
        col("rain", "bool", "raining"),
        col("night", "bool", "dark"),
        col("speed_mph", "float64", "speed", unit="mph", min=0),
        col("lead_gap_s", "float64", "time gap to the lead vehicle (10 when none)",
            unit="s", min=0),
        col("no_lead", "bool", "no lead vehicle"),
        col("road", "int64", "0 highway, 1 urban, 2 rural", min=0, max=2),
        col("construction", "bool", "road works"),
        col("sensor_rev", "int64", "camera revision (index in the order first seen)", min=0),
        col("glare", "bool", "low sun ahead"),
        col("cut_in", "bool", "a vehicle cutting in"),
        col("flag", "bool", "the running model flagged it (asked the driver to take over)"),
        col("took_over", "bool", "the driver took over"),
        col("hard_brake", "bool", "the driver braked hard"),
        col("hazard", "bool", "label in hindsight: the scene needed a take-over"),
        col("shadow_version", "string", "candidate running in shadow on the vehicle",
            nullable=True),
        col("shadow_flag", "bool", "the shadow candidate's decision (never acted on)",
            nullable=True),
    ))

DIAGNOSTIC_CODES = Table(
    "diagnostic_codes", "fleet", "Diagnostic trouble code raised by a vehicle.",
    key=("vin", "code", "event_time"), partition_by="event_time", columns=(
        col("vin", "string", "vehicle", references="vehicles.vin"),
        col("code", "string", "DTC"),
        col("ecu", "string", "controller that raised it"),
        col("severity", "string", "info, warning, critical",
            choices=("info", "warning", "critical")),
    ))

COMPONENT_FAILURES = Table(
    "component_failures", "fleet", "A component failed in the field (warranty claim).",
    key=("claim_id",), partition_by="event_time", columns=(
        col("claim_id", "string", "warranty claim id"),
        col("vin", "string", "vehicle", references="vehicles.vin"),
        col("component", "string", "body_seam, battery_pack, drive_unit, camera, …"),
        col("failure_mode", "string", "how it failed"),
        col("odometer_miles", "float64", "odometer at failure", unit="mi", min=0),
        col("roadside", "bool", "vehicle stranded"),
        col("cost_usd", "float64", "warranty cost", unit="USD", min=0),
    ))

CRASHES = Table(
    "crashes", "fleet",
    "A crash: restraint fired or Δv > 8 km/h in 150 ms. Counts as Autopilot if it was on "
    "within 5 s before impact.",
    key=("crash_id",), partition_by="event_time", columns=(
        col("crash_id", "string", "id"),
        col("vin", "string", "vehicle", references="vehicles.vin"),
        col("mode", "string", "manual or autopilot", choices=("manual", "autopilot")),
        col("software_version", "string", "software running"),
        col("condition", "string", "driving condition", choices=CONDITIONS),
        col("severity", "string", "major (restraint fired) or minor", choices=("major", "minor")),
    ))

INSURANCE_CLAIMS = Table(
    "insurance_claims", "fleet",
    "A claim on the maker's insurance by a policyholder: collision (own damage, including "
    "every recorded crash) or property damage liability, with what it cost.",
    key=("claim_id",), partition_by="event_time", columns=(
        col("claim_id", "string", "id"),
        col("vin", "string", "vehicle insured", references="vehicles.vin"),
        col("coverage", "string", "collision or property_damage",
            choices=("collision", "property_damage")),
        col("amount_usd", "float64", "paid on the claim", unit="USD", min=0),
    ))

OTA_REPORTS = Table(
    "ota_reports", "fleet",
    "What the vehicles of one hardware revision (or the plant's robot cells of one kind) "
    "did with an over-the-air instruction (Uptane's vehicle version report): installed "
    "it, or refused it and why (a bad "
    "signature, a revoked key, an expired or replayed manifest, a rollback, the wrong "
    "hardware, a wrong length or digest …).",
    key=("report_id",), partition_by="event_time", columns=(
        col("report_id", "string", "id"),
        col("instruction", "string", "what the vehicles were told",
            choices=("software_rollout", "key_rotation", "cell_policy_rollout")),
        col("model_version", "string", "version the instruction names", nullable=True),
        col("stage", "string", "shadow, canary, staged, full, rollback", nullable=True),
        col("sequence", "int64", "the signed manifest's sequence number", nullable=True),
        col("hardware_revision", "string", "revision of the vehicles reporting"),
        col("vehicles", "int64", "vehicles of that revision in the field (cells named)",
            min=0),
        col("result", "string", "installed or refused", choices=("installed", "refused")),
        col("reason", "string", "why it was refused", nullable=True),
    ))

TABLES = (TELEMETRY_DAILY, TRIGGER_EVENTS, SCENES, DIAGNOSTIC_CODES, COMPONENT_FAILURES,
          CRASHES, INSURANCE_CLAIMS, OTA_REPORTS)
