"""One test per applicable Uptane threat: the vehicle refuses and keeps its version."""

import copy

from gigaloop.actuate.ota import MAX_ARTEFACT_BYTES
from gigaloop.fleet.registry import Registry, Signer, root_metadata


def refused(car, manifest, artefact, reason, now=0.0):
    before = (car.installed_version, car.installed_model)
    assert car.install(manifest, artefact, now=now) == reason
    assert (car.installed_version, car.installed_model) == before


def test_good_update_installs(signed_update):
    reg, _, v2, car = signed_update
    assert car.install(reg.manifest(v2, hardware=["HW4"], expires=10), b"new", now=0) is None
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
    refused(
        car, other.manifest("planner-2", hardware=["HW4"], expires=10), b"evil", "bad-signature"
    )


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
    reg, v1, v2, car = signed_update
    assert car.install(reg.manifest(v2, hardware=["HW4"], expires=10), b"new", now=0) is None
    refused(car, reg.manifest(v1, hardware=["HW4"], expires=10), b"old", "rollback")


def test_the_next_wave_of_the_version_running_is_no_rollback(signed_update):
    reg, _, v2, car = signed_update
    for stage, share in (("canary", 0.01), ("staged", 0.05)):
        assert (
            car.install(
                reg.manifest(v2, hardware=["HW4"], expires=10, stage=stage, fraction=share),
                b"new",
                now=0,
            )
            is None
        )


def test_freeze_expired_manifest(signed_update):
    reg, _, v2, car = signed_update
    refused(car, reg.manifest(v2, hardware=["HW4"], expires=10), b"new", "expired", now=11.0)


def test_endless_data(signed_update):
    reg, _, v2, car = signed_update
    refused(car, reg.manifest(v2, hardware=["HW4"], expires=10), b"new" + b"\0" * 10**6, "length")


def test_wrong_hardware(signed_update):
    reg, _, v2, car = signed_update
    refused(car, reg.manifest(v2, hardware=["HW3"], expires=10), b"new", "wrong-hardware")


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


def test_replay_of_a_manifest_already_taken(signed_update):
    reg, _, v2, car = signed_update
    m = reg.manifest(v2, hardware=["HW4"], expires=10, stage="shadow", fraction=0.25)
    assert car.install(m, b"new", now=0) is None
    refused(car, m, b"new", "replay")


def test_too_large_is_refused_before_any_download(signed_update):
    reg, _, v2, car = signed_update
    reg.versions[v2]["length"] = MAX_ARTEFACT_BYTES + 1
    refused(car, reg.manifest(v2, hardware=["HW4"], expires=10), b"new", "too-large")


def test_authorised_rollback_withdraws_without_installing(signed_update):
    reg, v1, _, car = signed_update
    back = reg.manifest(v1, hardware=["HW4"], expires=10, stage="rollback", fraction=0.0)
    assert car.install(back, b"", now=0) is None
    assert car.installed_version == 1 and car.last_sequence == back["signed"]["sequence"]


def test_revoked_key_after_a_root_rotation(signed_update):
    reg, _, v2, car = signed_update
    root, fresh = Signer.generate(), Signer.generate()
    car.root_keys = root.trusted()
    rotation = root_metadata(root, [fresh], version=1, expires=10)
    assert car.rotate(rotation, now=0) is None
    refused(car, reg.manifest(v2, hardware=["HW4"], expires=10), b"new", "revoked-key")
    assert car.rotate(rotation, now=0) == "replay"
    assert car.rotate(root_metadata(root, [reg.signer], version=2, expires=1), now=5) == "expired"
    assert (
        car.rotate(root_metadata(fresh, [fresh], version=3, expires=10), now=0) == "bad-signature"
    )  # an update key cannot act as the root
