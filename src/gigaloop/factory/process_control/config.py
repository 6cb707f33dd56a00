"""The process-control module's settings: chart design, Phase I, moving centre, run-to-run."""

from __future__ import annotations

from dataclasses import dataclass

from gigaloop.errors import ConfigError


@dataclass(frozen=True)
class ProcessControlConfig:
    """Chart design, Phase I length, run-to-run controller and step-test settings.

    Phase I: a stream's first ``phase_one_days`` days with readings, and at least
    ``phase_one`` readings. ``centre_weight``: the weight of a day's mean in the moving centre
    (0: the centre stays at the Phase I mean); ``centre_band``: how far (in σ) the centre may
    move from the Phase I mean.
    ``min_gain``: a stream is run-to-run controlled only once an up-and-back setpoint probe
    (at least ``probe_sigmas`` σ, see :class:`StepTest`) has moved its readings by at least
    this much per unit of setpoint (lower 2-SE bound); after ``max_probes`` probes without
    that proof, or proof of less, the stream is only charted.
    ``release_sigmas``: control stops (setpoint back to target) once the disturbance the
    controller estimates is within this many σ. ``episode_gap_days``: an alarm after more
    quiet days than this, or on the other side of the centre than the episode's, opens a
    new episode, whose first alarm is a finding.
    ``calibrate_after_days``: a stream whose setpoint cannot bring it back (a step test
    found no gain, its target leaves run-to-run control less room than one σ, or the
    controller's setpoint sits at its bound) and that alarms on this many days of an
    episode gets its machine calibrated, at most once per ``calibration_cooldown_days``
    (0: never calibrate).
    """

    phase_one: int = 200
    phase_one_days: int = 30
    centre_weight: float = 0.05
    centre_band: float = 1.0
    lam: float = 0.5
    L: float = 4.5
    k: float = 1.5
    h: float = 3.0
    gain: float = 1.0
    r2r_lam: float = 0.7
    r2r_drift_weight: float | None = 0.4
    max_adjust: float = 0.10
    deadband_sigmas: float = 0.5
    min_gain: float = 0.5
    probe_sigmas: float = 1.0
    max_probes: int = 3
    release_sigmas: float = 0.5
    episode_gap_days: int = 14
    calibrate_after_days: int = 2
    calibration_cooldown_days: int = 14

    def __post_init__(self) -> None:
        if self.phase_one < 20:
            raise ConfigError("phase_one needs at least 20 readings", phase_one=self.phase_one)
        if not (self.phase_one_days >= 1 and 0 <= self.centre_weight < 1
                and self.centre_band >= 0):
            raise ConfigError("need phase_one_days >= 1, 0 <= centre_weight < 1, "
                              "centre_band >= 0", phase_one_days=self.phase_one_days,
                              centre_weight=self.centre_weight, centre_band=self.centre_band)
        if not (0 <= self.max_adjust < 1 and self.deadband_sigmas >= 0 and self.gain != 0):
            raise ConfigError("need 0 <= max_adjust < 1, deadband_sigmas >= 0, gain != 0")
        if not (self.min_gain > 0 and self.probe_sigmas > 0 and self.max_probes >= 1
                and self.release_sigmas >= 0):
            raise ConfigError("need min_gain > 0, probe_sigmas > 0, max_probes >= 1, "
                              "release_sigmas >= 0")
        if self.calibrate_after_days < 0 or self.calibration_cooldown_days < 0:
            raise ConfigError("calibrate_after_days and calibration_cooldown_days must be >= 0",
                              calibrate_after_days=self.calibrate_after_days)
        if self.episode_gap_days < 0:
            raise ConfigError("episode_gap_days must be >= 0 (quiet days that end an episode)",
                              episode_gap_days=self.episode_gap_days)

