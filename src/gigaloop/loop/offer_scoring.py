"""Offers against the twin's hidden response: what uplift targeting earned beside random
targeting of as many offers (a part of ``gigaloop score``: it reads the truth).
"""

from __future__ import annotations

from typing import Any


def offers_against_truth(truth: dict[str, Any]) -> dict[str, Any]:
    """Targeted offer campaigns (``T-…``) against random targeting at the same number of
    offers, on the twin's hidden expected uplift: per product and over all, the sum over
    the offered (``targeted_usd``), k × the mean over the campaign's random holdout
    (``random_usd``: what k offers drawn at random from the same pool earn in expectation)
    and ``ratio`` = targeted ÷ random. ``offered_without_consent`` must be 0.

    >>> truth = {"offers": [{"campaign_id": "T-fsd-001", "product": "fsd", "offered":
    ...     {"CU-1": 9.0}, "offered_uplift_usd": 9.0, "held": 4,
    ...     "held_uplift_usd": 12.0, "offered_without_consent": 0}]}
    >>> offers_against_truth(truth)["all"]["ratio"]
    3.0
    """
    sums: dict[str, dict[str, float]] = {}
    without = 0
    for campaign in truth.get("offers", []):
        without += int(campaign.get("offered_without_consent", 0))
        if not str(campaign["campaign_id"]).startswith("T-"):
            continue
        k = len(campaign["offered"])
        for key in (campaign["product"], "all"):
            acc = sums.setdefault(key, dict.fromkeys(
                ("campaigns", "offers", "targeted_usd", "random_usd"), 0.0))
            acc["campaigns"] += 1
            acc["offers"] += k
            acc["targeted_usd"] += campaign["offered_uplift_usd"]
            acc["random_usd"] += k * campaign["held_uplift_usd"] / max(campaign["held"], 1)
    out = {key: {**{k: round(v, 2) for k, v in acc.items()},
                 "ratio": round(acc["targeted_usd"] / acc["random_usd"], 3)
                 if acc["random_usd"] > 0 else None} for key, acc in sums.items()}
    return {"products": {k: v for k, v in out.items() if k != "all"},
            "all": out.get("all"), "offered_without_consent": without}
