import pytest

from gigaloop.fleet.registry import Registry, Signer

LINEAGE = {"data_window": ["2026-01-01", "2026-02-01"], "campaign": "c1",
           "code_version": "abc", "metrics": {"rain": {"auc": 0.7}, "night": {"auc": 0.8}}}


def test_lineage_aliases_history():
    reg = Registry(Signer.generate())
    v1 = reg.register("planner", b"a", lineage=LINEAGE)
    v2 = reg.register("planner", b"b", lineage=LINEAGE, parent=v1)
    reg.alias("production", v1)
    reg.alias("candidate", v2)
    assert reg.lineage("candidate") == [v2, v1]
    assert reg.versions[v2]["lineage"]["metrics"]["rain"]["auc"] == 0.7
    reg.record_deployment("production", ["V1", "V2"], at=1.0)
    reg.record_deployment("candidate", ["V2"], at=5.0)
    assert reg.running_on("V2", at=3.0) == v1
    assert reg.running_on("V2", at=6.0) == v2
    assert reg.running_on("V1", at=0.5) is None


def test_register_requires_lineage_and_known_alias():
    reg = Registry(Signer.generate())
    with pytest.raises(ValueError):
        reg.register("planner", b"a", lineage={"campaign": "c"})
    v = reg.register("planner", b"a", lineage=LINEAGE)
    with pytest.raises(ValueError):
        reg.alias("staging", v)


def test_keys_differ_per_run():
    assert Signer.generate().public != Signer.generate().public


def _release(signer: Signer, number: int) -> dict:
    import hashlib

    return signer.release(model_name="m", model_version=f"m-{number}", version_number=number,
                          sha256=hashlib.sha256(b"w").hexdigest(), length=1, hardware=["HW4"],
                          expires=100.0, stage="staged", fraction=0.5)


def test_a_key_file_is_kept_and_one_that_is_not_ed25519_is_refused(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from gigaloop.errors import ConfigError

    key = tmp_path / "fleet" / "ota-signing-key.pem"
    first = Signer.from_file(key)
    assert Signer.from_file(key).public == first.public
    assert key.with_name("ota-signing-key.pem.pub").read_text().strip() == first.public.hex()
    ecdsa = tmp_path / "ecdsa.pem"
    ecdsa.write_bytes(generate_private_key(SECP256R1()).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(ConfigError, match="not an ed25519 key"):
        Signer.from_file(ecdsa)
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(ConfigError, match="--signing-key"):
        Signer.from_file(tmp_path / "junk.pem")


def test_modules_resumed_from_a_pickle_sign_on_with_the_kept_key_in_sequence(tmp_path):
    """What ``gigaloop decide`` does between runs: the vehicles, provisioned once with the
    key file's public key, take the next run's instruction (not a replay, same key)."""
    import pickle

    from gigaloop.actuate.ota import Vehicle, key_id
    from gigaloop.run import decision_modules, hand_signer

    key = tmp_path / "ota-signing-key.pem"
    modules = decision_modules(("rollout", "driving_model", "cell_rollout"))
    hand_signer(modules, Signer.from_file(key))
    public = bytes.fromhex(key.with_name(key.name + ".pub").read_text())
    vehicle = Vehicle({key_id(public): public}, "HW4", 0)
    rollout, learning = modules[0], modules[1]
    assert vehicle.install(_release(rollout.signer, 1), b"w", now=0.0) is None
    assert vehicle.install(_release(learning.signer, 2), b"w", now=0.0) is None

    resumed = pickle.loads(pickle.dumps(modules))
    assert vehicle.refusal(_release(resumed[0].signer, 3), b"w", now=0.0) in {
        "bad-signature", "untrusted-key"}  # a pickled signer comes back with a fresh key
    hand_signer(resumed, Signer.from_file(key))
    assert len({id(m.signer) for m in resumed}) == 1  # one counter for every sender
    assert vehicle.install(_release(resumed[0].signer, 3), b"w", now=0.0) is None
