"""The weld cells verify a policy instruction before they run it; refusals are reported."""

from __future__ import annotations

import hashlib
from datetime import datetime

import numpy as np

from gigaloop.actuate import CellPolicyRollout
from gigaloop.fleet.registry import Signer
from gigaloop.twin.cells import CellPolicies
from gigaloop.twin.scenario import CellPolicy

CELLS = [f"BW-0{s}0-R{m}" for s in (1, 2, 3) for m in (1, 2)]
AT = datetime(2025, 1, 10)


def policy(signer: Signer, fraction: float, stage: str = "canary") -> CellPolicyRollout:
    manifest = signer.release(
        model_name="weld_policy",
        model_version="p2",
        version_number=1,
        sha256=hashlib.sha256(b"p2").hexdigest(),
        length=2,
        hardware=["weld_robot"],
        expires=AT.timestamp() + 86400,
        stage=stage,
        fraction=fraction,
    )
    return CellPolicyRollout(
        day=0, policy_version="p2", fraction=fraction, stage=stage, manifest=manifest
    )


def cells_trusting(signer: Signer) -> CellPolicies:
    cells = CellPolicies(CELLS, [CellPolicy(version="p2", day=0, seam=3.0)])
    cells.provision(signer.trusted())
    return cells


def test_a_signed_canary_runs_on_one_cell_and_a_rollback_returns_it() -> None:
    signer = Signer.generate()
    cells = cells_trusting(signer)
    cells.queued.append(policy(signer, 0.16))
    (row,) = cells.enact_due(0, AT)
    assert (row["result"], row["vehicles"]) == ("installed", 1)
    assert cells.multiplier(np.array(CELLS)).tolist() == [3.0] + [1.0] * 5
    cells.queued.append(policy(signer, 0.0, "rollback"))
    assert cells.enact_due(1, AT)[0]["result"] == "installed"
    assert cells.multiplier(np.array(CELLS)).tolist() == [1.0] * 6
    assert cells.reach["p2"] == {"peak_share": 1 / 6, "rolled_back_day": 1}


def test_unsigned_or_foreign_instructions_change_no_cell() -> None:
    signer = Signer.generate()
    cells = cells_trusting(signer)
    unsigned = CellPolicyRollout(day=0, policy_version="p2", fraction=1.0, stage="full")
    cells.queued += [unsigned, policy(Signer.generate(), 1.0, "full")]
    reasons = [r["reason"] for r in cells.enact_due(0, AT)]
    assert reasons == ["unsigned", "bad-signature"]
    assert cells.multiplier(np.array(CELLS)).tolist() == [1.0] * 6
