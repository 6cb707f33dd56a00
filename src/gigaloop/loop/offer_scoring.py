"""Offers against the twin's hidden response: what uplift targeting earned beside random
targeting of as many offers, and what the prices sent earned beside the list price on the
same customers (a part of ``gigaloop score``: it reads the truth).
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
            "all": out.get("all"), "offered_without_consent": without,
            "prices": prices_against_truth(truth)}


def prices_against_truth(truth: dict[str, Any]) -> dict[str, Any]:
    """Targeted campaigns by price, on the truth's expected revenue over its horizon
    (``value_usd``) beside what the same customers would have brought at list price
    (``at_list_usd``); ``gain_usd`` = the difference. Per product: ``experiment`` — the
    rounds of a price experiment (a ``T-…-p`` campaign at the changed price and its list
    sibling), by arm; ``after`` — every other targeted round, at the price the module kept.

    >>> c = lambda i, usd, v, at: {"campaign_id": i, "product": "fsd", "price_usd": usd,
    ...     "list_price_usd": 99.0, "horizon_months": 12, "offered": {"a": 0, "b": 0},
    ...     "offered_value_usd": v, "offered_value_at_list_usd": at}
    >>> out = prices_against_truth({"offers": [c("T-fsd-001", 99.0, 10.0, 10.0),
    ...     c("T-fsd-001-p", 49.5, 16.0, 12.0), c("T-fsd-002", 49.5, 30.0, 20.0)]})["fsd"]
    >>> out["experiment"]["changed"]["gain_per_offer_usd"], out["after"]["gain_usd"]
    (2.0, 10.0)
    """
    campaigns = [c for c in truth.get("offers", [])
                 if str(c["campaign_id"]).startswith("T-") and "offered_value_usd" in c]
    paired = {str(c["campaign_id"])[:-2] for c in campaigns
              if str(c["campaign_id"]).endswith("-p")}
    out: dict[str, Any] = {}
    for c in campaigns:
        cid = str(c["campaign_id"])
        product = out.setdefault(c["product"], {"horizon_months": c["horizon_months"],
                                                "list_price_usd": c["list_price_usd"]})
        if cid.endswith("-p") or cid in paired:
            arm = "changed" if cid.endswith("-p") else "list"
            acc = product.setdefault("experiment", {}).setdefault(arm, _empty())
        else:
            acc = product.setdefault("after", _empty())
        acc["prices_usd"] = sorted({*acc["prices_usd"], c["price_usd"]})
        acc["offers"] += len(c["offered"])
        acc["value_usd"] += c["offered_value_usd"]
        acc["at_list_usd"] += c["offered_value_at_list_usd"]
    for product in out.values():
        for acc in [*product.get("experiment", {}).values(), product.get("after")]:
            if acc:
                acc.update({k: round(acc[k], 2) for k in ("value_usd", "at_list_usd")},
                           gain_usd=round(acc["value_usd"] - acc["at_list_usd"], 2),
                           gain_per_offer_usd=round((acc["value_usd"] - acc["at_list_usd"])
                                                    / max(acc["offers"], 1), 4))
    return out


def _empty() -> dict[str, Any]:
    return {"prices_usd": [], "offers": 0, "value_usd": 0.0, "at_list_usd": 0.0}
