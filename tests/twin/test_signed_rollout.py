"""Uptane's threats through the twin's actuation path: the fleet is sent an instruction,
its vehicles verify it, and each attack is refused with its reason in ``ota_reports``
while no vehicle's software changes. One test per threat (docs/fleet.md's checklist)."""

from __future__ import annotations

import copy
import hashlib
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow.compute as pc
import pytest

from gigaloop.actuate import KeyRotation, SoftwareRollout
from gigaloop.actuate.ota import MAX_ARTEFACT_BYTES
from gigaloop.fleet.ota import signed_rollout
from gigaloop.fleet.registry import Signer, root_metadata
from gigaloop.twin.fleet import Fleet
from gigaloop.twin.software import STARTING_VERSION
from gigaloop.twin.units import demo_units

START = date(2025, 1, 6)
REVISIONS = ["HW3", "HW4"]


class World:
    """40 vehicles on the road (20 HW3, 20 HW4) trusting ``signer``; roots ``root``."""

    def __init__(self) -> None:
        self.signer, self.root = Signer.generate(), Signer.generate()
        self.fleet = Fleet(start_date=START, rng=np.random.default_rng(0), units_per_day=40)
        self.fleet.updates.provision(self.signer.trusted(), self.root.trusted())
        units = demo_units(40, build_day=0)
        units.hardware_revision[:20] = "HW3"
        self.fleet.add_built(units)
        for day in range(11):  # all delivered (3–10 days)
            self.fleet.step(day)

    def instruction(
        self,
        version: str = "v2",
        *,
        number: int = 1,
        stage: str = "full",
        share: float = 1.0,
        artefact: bytes | None = None,
        hardware: list[str] = REVISIONS,
        signer: Signer | None = None,
        valid_from: int = 0,
        length: int | None = None,
    ) -> SoftwareRollout:
        # the build handed over (as a scenario release's is); the instruction names it
        self.fleet.updates.artefacts[version] = version.encode() if artefact is None else artefact
        release = {
            "model_name": "driver_assistance",
            "hardware": hardware,
            "sha256": hashlib.sha256(version.encode()).hexdigest(),
            "length": len(version.encode()) if length is None else length,
        }
        now = datetime.combine(START, datetime.min.time()) + timedelta(
            days=self.fleet.next_day - 1 + valid_from
        )
        return signed_rollout(
            signer or self.signer,
            version,
            release,
            version_number=number,
            day=self.fleet.next_day,
            now=now,
            stage=stage,
            share=share,
        )

    def send(self, action: SoftwareRollout | KeyRotation) -> dict[str, tuple[str, str]]:
        """Apply ``action``, step a day: each revision's (result, reason)."""
        assert self.fleet.apply(action).accepted  # queued: the vehicles judge on the day
        reports = self.fleet.step(self.fleet.next_day)["ota_reports"].to_pylist()
        return {r["hardware_revision"]: (r["result"], r["reason"]) for r in reports}

    def running(self) -> dict[str, float]:
        return self.fleet.software.shares(self.fleet.info.view("version")[: self.fleet.vehicles.n])


@pytest.fixture
def world() -> World:
    return World()


def refused_everywhere(world: World, action, reason: str) -> None:
    before = world.running()
    assert world.send(action) == {r: ("refused", reason) for r in REVISIONS}
    assert world.running() == before == {STARTING_VERSION: 1.0}


def test_a_good_instruction_installs_and_is_reported(world) -> None:
    assert world.send(world.instruction()) == {r: ("installed", None) for r in REVISIONS}
    assert world.running() == {"v2": 1.0}


def test_arbitrary_software_unsigned(world) -> None:
    world.fleet.updates.artefacts["v2"] = b"v2"
    refused_everywhere(
        world,
        SoftwareRollout(day=world.fleet.next_day, software_version="v2", stage="full"),
        "unsigned",
    )


def test_arbitrary_software_signed_by_an_untrusted_key(world) -> None:
    refused_everywhere(world, world.instruction(signer=Signer.generate()), "bad-signature")


def test_arbitrary_software_tampered_artefact(world) -> None:
    refused_everywhere(world, world.instruction(artefact=b"v3"), "digest")


def test_arbitrary_software_tampered_manifest(world) -> None:
    action = world.instruction()
    action.manifest["signed"]["hardware"] = ["HW3", "HW4", "HW5"]
    refused_everywhere(world, action, "bad-signature")


def test_rollback_to_an_older_version(world) -> None:
    world.send(world.instruction("v2", number=2))
    before = world.running()
    assert world.send(world.instruction("v1", number=1)) == {
        r: ("refused", "rollback") for r in REVISIONS
    }
    assert world.running() == before == {"v2": 1.0}


def test_an_authorised_rollback_is_taken(world) -> None:
    world.send(world.instruction("v2", number=2))
    back = world.instruction("v2", number=2, stage="rollback", share=0.0)
    assert world.send(back) == {r: ("installed", None) for r in REVISIONS}
    assert world.running() == {STARTING_VERSION: 1.0}


def test_replay_of_an_instruction_already_taken(world) -> None:
    canary = world.instruction("v2", stage="canary", share=0.5, valid_from=5)
    world.send(canary)
    world.send(world.instruction("v2", stage="rollback", share=0.0))
    before = world.running()
    refused_or = world.send(copy.deepcopy(canary))
    assert refused_or == {r: ("refused", "replay") for r in REVISIONS}
    assert world.running() == before


def test_freeze_an_expired_instruction(world) -> None:
    refused_everywhere(world, world.instruction(valid_from=-10), "expired")


def test_endless_data_declared(world) -> None:
    refused_everywhere(world, world.instruction(length=MAX_ARTEFACT_BYTES + 1), "too-large")


def test_endless_data_sent(world) -> None:
    refused_everywhere(world, world.instruction(artefact=b"v2" + b"\0" * 4096), "length")


def test_partial_download(world) -> None:
    refused_everywhere(world, world.instruction("v2", artefact=b"v"), "length")


def test_wrong_hardware_only_compatible_vehicles_install(world) -> None:
    assert world.send(world.instruction(hardware=["HW4"])) == {
        "HW3": ("refused", "wrong-hardware"),
        "HW4": ("installed", None),
    }
    info, fleet = world.fleet.info, world.fleet
    version = info.view("version")[:40]
    hw4 = info.view("sensor_rev")[:40] == fleet.revisions.index("HW4")
    assert hw4.sum() == 20
    assert (version[hw4] == fleet.software.index("v2")).all() and (version[~hw4] == 0).all()


def test_mix_and_match_a_signature_lifted_onto_another_instruction(world) -> None:
    canary = world.instruction(stage="canary", share=0.01)
    lifted = SoftwareRollout(
        day=canary.day,
        software_version="v2",
        fleet_fraction=1.0,
        stage="full",
        manifest=canary.manifest,
    )
    refused_everywhere(world, lifted, "mismatch")


def test_malformed_manifest(world) -> None:
    action = world.instruction()
    del action.manifest["signed"]["expires"]
    refused_everywhere(world, action, "malformed")


def test_a_compromised_key_is_revoked_by_a_root_rotation(world) -> None:
    fresh = Signer.generate()
    rotation = KeyRotation(
        day=world.fleet.next_day, root=root_metadata(world.root, [fresh], version=1, expires=2e9)
    )
    assert world.send(rotation) == {r: ("installed", None) for r in REVISIONS}
    refused_everywhere(world, world.instruction(), "revoked-key")  # the old, leaked key
    assert world.send(world.instruction(signer=fresh)) == {
        r: ("installed", None) for r in REVISIONS
    }


def test_a_rotation_not_signed_by_the_root_is_refused(world) -> None:
    thief = Signer.generate()
    forged = KeyRotation(
        day=world.fleet.next_day, root=root_metadata(thief, [thief], version=1, expires=2e9)
    )
    assert world.send(forged) == {r: ("refused", "bad-signature") for r in REVISIONS}
    refused_everywhere(world, world.instruction(signer=thief), "bad-signature")


def test_refusals_reach_the_store_rows_with_the_instruction(world) -> None:
    world.fleet.apply(world.instruction(artefact=b"v3"))
    reports = world.fleet.step(world.fleet.next_day)["ota_reports"]
    assert set(reports["model_version"].to_pylist()) == {"v2"}
    assert pc.sum(reports["vehicles"]).as_py() == 40
    assert reports["sequence"].to_pylist() == [1, 1]


def test_an_instruction_before_any_vehicle_is_delivered_is_reported_not_dropped() -> None:
    signer = Signer.generate()
    fleet = Fleet(start_date=START, rng=np.random.default_rng(0), units_per_day=10)
    fleet.updates.provision(signer.trusted())
    release = {
        "model_name": "m",
        "sha256": hashlib.sha256(b"v2").hexdigest(),
        "length": 2,
        "hardware": REVISIONS,
    }
    fleet.apply(
        signed_rollout(
            signer,
            "v2",
            release,
            version_number=1,
            day=0,
            now=datetime(2025, 1, 6),
            stage="full",
            share=1.0,
        )
    )
    (report,) = fleet.step(0)["ota_reports"].to_pylist()
    assert (report["result"], report["reason"], report["vehicles"]) == ("refused", "no vehicles", 0)


def test_a_revision_delivered_after_the_instruction_leaves_the_factory_with_it(world) -> None:
    world.send(world.instruction(hardware=["HW4"]))
    later = demo_units(10, build_day=world.fleet.next_day, seed=2)
    later.hardware_revision[:] = "HW5"
    world.fleet.add_built(later)
    for _ in range(11):
        world.fleet.step(world.fleet.next_day)
    info, fleet = world.fleet.info, world.fleet
    n = fleet.vehicles.n
    version, rev = info.view("version")[:n], info.view("sensor_rev")[:n]
    v2 = fleet.software.index("v2")
    assert (version[rev == fleet.revisions.index("HW5")] == v2).all()
    assert (version[rev == fleet.revisions.index("HW3")] == 0).all()  # it refused
