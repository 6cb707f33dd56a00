"""The twin's vehicles refuse a bad OTA manifest: tampered, wrong-key or rollback
manifests change no vehicle's software."""

import numpy as np
import pytest

from gigaloop.fleet.registry import Registry, Signer
from gigaloop.twin.software import SoftwareFleet


@pytest.fixture
def world(signed_update):
    return (*signed_update, SoftwareFleet(np.random.default_rng(0)))


def test_good_manifest_rolls_out(world):
    reg, _, new, gate, sw = world
    cohort = np.linspace(0, 1, 100, endpoint=False)
    assert sw.rollout_signed(reg.manifest(new, hardware=["HW4"], expires=9), b"new", gate,
                             0.5, now=0) is None
    assert sw.shares(sw.assign(cohort))[new] == 0.5


@pytest.mark.parametrize("attack", ["tampered", "wrong-key", "rollback"])
def test_bad_manifest_changes_no_vehicle(world, attack):
    reg, old, new, gate, sw = world
    cohort = np.linspace(0, 1, 100, endpoint=False)
    before = sw.assign(cohort).copy()
    manifest, artefact = reg.manifest(new, hardware=["HW4"], expires=9), b"new"
    if attack == "tampered":
        artefact = b"nex"
    elif attack == "wrong-key":
        other, lineage = Registry(Signer.generate()), reg.versions[new]["lineage"]
        other.register("planner", b"x", lineage=lineage)
        other.register("planner", b"new", lineage=lineage)
        manifest = other.manifest(new, hardware=["HW4"], expires=9)  # same id, other key
    else:
        manifest, artefact = reg.manifest(old, hardware=["HW4"], expires=9), b"old"
    assert sw.rollout_signed(manifest, artefact, gate, 1.0, now=0) is not None
    assert np.array_equal(sw.assign(cohort), before) and gate.installed_version == 1
