"""One test per applicable Uptane threat: the vehicle refuses and keeps its version."""

import copy

from gigaloop.fleet.registry import Registry, Signer


def refused(car, manifest, artefact, reason, now=0.0):
    before = (car.installed_version, car.installed_model)
    assert car.install(manifest, artefact, now=now) == reason
    assert (car.installed_version, car.installed_model) == before


def test_good_update_installs(signed_update):
    reg, _, v2, car = signed_update
    assert car.install(reg.manifest(v2, hardware=["HW4"], expires=10), b"new",
                       now=0) is None
    assert car.installed_model == v2


def test_arbitrary_software_unsigned(signed_update):
    reg, _, v2, car = signed_update
    m = reg.manifest(v2, hardware=["HW4"], expires=10)
    m["signatures"] = []
    refused(car, m, b"new", "unsigned")


def test_arbitrary_software_wrong_key(signed_update):
    reg, _, new, car = signed_update
    other, lineage = Registry(Signer.generate()), reg.versions[new]["lineage"]
    other.register("planner", b"x", lineage=lineage)
    other.register("planner", b"evil", lineage=lineage)
    refused(car, other.manifest("planner-2", hardware=["HW4"], expires=10), b"evil",
            "bad-signature")


def test_arbitrary_software_tampered_artefact(signed_update):
    reg, _, v2, car = signed_update
    same_length = b"neX"
    refused(car, reg.manifest(v2, hardware=["HW4"], expires=10), same_length, "digest")


def test_tampered_manifest_field(signed_update):
    reg, _, v2, car = signed_update
    m = reg.manifest(v2, hardware=["HW4"], expires=10)
    m["signed"]["hardware"] = ["HW3", "HW4"]
    refused(car, m, b"new", "bad-signature")


def test_rollback(signed_update):
    reg, v1, _, car = signed_update
    refused(car, reg.manifest(v1, hardware=["HW4"], expires=10), b"old", "rollback")


def test_freeze_expired_manifest(signed_update):
    reg, _, v2, car = signed_update
    refused(car, reg.manifest(v2, hardware=["HW4"], expires=10), b"new", "expired",
            now=11.0)


def test_endless_data(signed_update):
    reg, _, v2, car = signed_update
    refused(car, reg.manifest(v2, hardware=["HW4"], expires=10), b"new" + b"\0" * 10**6,
            "length")


def test_wrong_hardware(signed_update):
    reg, _, v2, car = signed_update
    refused(car, reg.manifest(v2, hardware=["HW3"], expires=10), b"new",
            "wrong-hardware")


def test_mix_and_match_signature_from_another_manifest(signed_update):
    reg, v1, v2, car = signed_update
    good = reg.manifest(v2, hardware=["HW4"], expires=10)
    mixed = copy.deepcopy(good)
    mixed["signed"]["sha256"] = reg.manifest(v1, hardware=["HW4"], expires=10)["signed"]["sha256"]
    refused(car, mixed, b"old", "bad-signature")


def test_malformed_manifest(signed_update):
    reg, _, v2, car = signed_update
    m = reg.manifest(v2, hardware=["HW4"], expires=10)
    del m["signed"]["expires"]
    refused(car, m, b"new", "malformed")
