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
