"""One test per applicable Uptane threat: the vehicle refuses and keeps its version."""

import copy

import pytest

from gigaloop.actuate.ota import Vehicle
from gigaloop.fleet.registry import Registry, Signer

LINEAGE = {"data_window": ["2026-01-01", "2026-02-01"], "campaign": "c1",
           "code_version": "abc", "metrics": {"night": {"auc": 0.8}}}


@pytest.fixture
def setup():
    reg = Registry(Signer.generate())
    v1 = reg.register("planner", b"old", lineage=LINEAGE)
    v2 = reg.register("planner", b"new-weights", lineage=LINEAGE, parent=v1)
    car = Vehicle(reg.signer.trusted(), "HW4", installed_version=1, installed_model=v1)
    return reg, v1, v2, car


def refused(car, manifest, artefact, reason, now=0.0):
    before = (car.installed_version, car.installed_model)
    assert car.install(manifest, artefact, now=now) == reason
    assert (car.installed_version, car.installed_model) == before


def test_good_update_installs(setup):
    reg, _, v2, car = setup
    assert car.install(reg.manifest(v2, hardware=["HW4"], expires=10), b"new-weights",
                       now=0) is None
    assert car.installed_model == v2


def test_arbitrary_software_unsigned(setup):
    reg, _, v2, car = setup
    m = reg.manifest(v2, hardware=["HW4"], expires=10)
    m["signatures"] = []
    refused(car, m, b"new-weights", "unsigned")


def test_arbitrary_software_wrong_key(setup):
    *_, car = setup
    other = Registry(Signer.generate())
    other.register("planner", b"x", lineage=LINEAGE)
    other.register("planner", b"evil", lineage=LINEAGE)
    refused(car, other.manifest("planner-2", hardware=["HW4"], expires=10), b"evil",
            "bad-signature")


def test_arbitrary_software_tampered_artefact(setup):
    reg, _, v2, car = setup
    refused(car, reg.manifest(v2, hardware=["HW4"], expires=10), b"new-weighXs", "digest")


def test_tampered_manifest_field(setup):
    reg, _, v2, car = setup
    m = reg.manifest(v2, hardware=["HW4"], expires=10)
    m["signed"]["hardware"] = ["HW3", "HW4"]
    refused(car, m, b"new-weights", "bad-signature")


def test_rollback(setup):
    reg, v1, _, car = setup
    refused(car, reg.manifest(v1, hardware=["HW4"], expires=10), b"old", "rollback")


def test_freeze_expired_manifest(setup):
    reg, _, v2, car = setup
    refused(car, reg.manifest(v2, hardware=["HW4"], expires=10), b"new-weights", "expired",
            now=11.0)


def test_endless_data(setup):
    reg, _, v2, car = setup
    refused(car, reg.manifest(v2, hardware=["HW4"], expires=10), b"new-weights" + b"\0" * 10**6,
            "length")


def test_wrong_hardware(setup):
    reg, _, v2, car = setup
    refused(car, reg.manifest(v2, hardware=["HW3"], expires=10), b"new-weights",
            "wrong-hardware")


def test_mix_and_match_signature_from_another_manifest(setup):
    reg, v1, v2, car = setup
    good = reg.manifest(v2, hardware=["HW4"], expires=10)
    mixed = copy.deepcopy(good)
    mixed["signed"]["sha256"] = reg.manifest(v1, hardware=["HW4"], expires=10)["signed"]["sha256"]
    refused(car, mixed, b"old", "bad-signature")


def test_malformed_manifest(setup):
    reg, _, v2, car = setup
    m = reg.manifest(v2, hardware=["HW4"], expires=10)
    del m["signed"]["expires"]
    refused(car, m, b"new-weights", "malformed")
