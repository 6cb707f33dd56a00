"""The twin's vehicles refuse a bad OTA manifest: tampered, wrong-key or rollback
manifests change no vehicle's software."""

import numpy as np
import pytest

from gigaloop.actuate.ota import Vehicle
from gigaloop.fleet.registry import Registry, Signer
from gigaloop.twin.software import SoftwareFleet

LINEAGE = {"data_window": ["2026-01-01", "2026-02-01"], "campaign": "c1",
           "code_version": "abc", "metrics": {"rain": {"auc": 0.7}}}


@pytest.fixture
def world():
    reg = Registry(Signer.generate())
    old = reg.register("2025.32", b"old", lineage=LINEAGE)
    new = reg.register("2025.32", b"new", lineage=LINEAGE, parent=old)
    gate = Vehicle(reg.signer.trusted(), "HW4", installed_version=1, installed_model=old)
    return reg, old, new, gate, SoftwareFleet(np.random.default_rng(0))


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
        other = Registry(Signer.generate())
        other.register("2025.32", b"x", lineage=LINEAGE)
        other.register("2025.32", b"new", lineage=LINEAGE)
        manifest = other.manifest("2025.32-2", hardware=["HW4"], expires=9)
    else:
        manifest, artefact = reg.manifest(old, hardware=["HW4"], expires=9), b"old"
    assert sw.rollout_signed(manifest, artefact, gate, 1.0, now=0) is not None
    assert np.array_equal(sw.assign(cohort), before) and gate.installed_version == 1
