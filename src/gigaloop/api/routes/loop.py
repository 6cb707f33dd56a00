"""The loop's findings with their evidence, and change requests with their verdicts.

A change request's ``approval`` is ``pending`` until a plant engineer approves or rejects
it (``POST /change-requests/{id}/review``); the verdict is kept in the app state with
who gave it, when, on which revision, and why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gigaloop.api.deps import CurrentPrincipal, ServicesDep, allow
from gigaloop.api.pages import Limit, Offset, Page, decision_record, window
from gigaloop.appstate import Review, Role
from gigaloop.errors import NotFoundError
from gigaloop.loop.records import changes_from_store, findings_from_store
from gigaloop.store import Store
from gigaloop.web.tables import change_history

router = APIRouter(tags=["loop"])
READERS = (Role.plant_engineer, Role.fleet_operations)


class ReviewCreate(BaseModel):
    verdict: Literal["approved", "rejected"]
    comment: str = Field("", max_length=2000)


class ReviewPublic(BaseModel):
    change_id: str
    revision: int
    verdict: Literal["approved", "rejected"]
    user: str
    reviewed_at: datetime
    comment: str


@router.get("/findings", **allow(*READERS))
def findings(services: ServicesDep, principal: CurrentPrincipal,
             active: bool | None = None, failure_mode: Annotated[str | None, Query(
                 max_length=100)] = None, limit: Limit = 100, offset: Offset = 0) -> Page:
    """Every finding once, with the evidence it was reported on (effect, 95 % interval,
    q, rank, affected vehicles) and its latest scan."""
    with services.store.use() as store:
        items = findings_from_store(store)
    items = [f for f in items if (active is None or bool(f.get("active")) == active)
             and (failure_mode is None or f.get("failure_mode") == failure_mode)]
    return window(items, services, principal, limit, offset)


@router.get("/findings/{finding_id}", **allow(*READERS))
def finding(finding_id: str, services: ServicesDep,
            principal: CurrentPrincipal) -> dict[str, Any]:
    """One finding: its record, every weekly scan of it, the decisions that reported or
    acted on it (with their inputs) and the change requests raised on it."""
    with services.store.use() as store:
        record = next((f for f in findings_from_store(store) if f["id"] == finding_id), None)
        if record is None:
            raise NotFoundError(f"no finding {finding_id!r}", finding_id=finding_id)
        scans = store.table("findings")
        scans = store.to_pyarrow(scans.filter(scans.finding_id == finding_id)
                                 .order_by("day").drop("names_json")).to_pylist()
        decisions = store.table("decisions")
        acted = store.to_pyarrow(decisions.filter(decisions.finding_id == finding_id)
                                 .order_by(["day", "module", "seq"])).to_pylist()
        changes = [c for c in changes_from_store(store) if c.get("finding_id") == finding_id]
    shown = {**record, "scans": scans, "decisions": [decision_record(d) for d in acted],
             "change_requests": changes}
    return services.pseudonyms.present([shown], principal.role)[0]


@router.get("/change-requests", **allow(*READERS))
def change_requests(services: ServicesDep, principal: CurrentPrincipal,
                    state: Annotated[str | None, Query(max_length=20)] = None,
                    approval: Literal["pending", "approved", "rejected"] | None = None,
                    limit: Limit = 100, offset: Offset = 0) -> Page:
    """Every change request in its latest state, with its state history and approval."""
    with services.store.use() as store:
        items = _changes(store)
    items = _with_reviews(items, services.state.reviews.of())
    items = [c for c in items if (state is None or c.get("state") == state)
             and (approval is None or c["approval"] == approval)]
    return window(items, services, principal, limit, offset)


@router.get("/change-requests/{change_id}", **allow(*READERS))
def change_request(change_id: str, services: ServicesDep,
                   principal: CurrentPrincipal) -> dict[str, Any]:
    with services.store.use() as store:
        items = [c for c in _changes(store) if c.get("id") == change_id]
    if not items:
        raise NotFoundError(f"no change request {change_id!r}", change_id=change_id)
    shown = _with_reviews(items, services.state.reviews.of([change_id]))
    return services.pseudonyms.present(shown, principal.role)[0]


@router.post("/change-requests/{change_id}/review", status_code=status.HTTP_201_CREATED,
             **allow(Role.plant_engineer))
async def review(change_id: str, body: ReviewCreate, services: ServicesDep,
                 principal: CurrentPrincipal) -> ReviewPublic:
    """Approve or reject a change request (once: a second verdict is 409), as of its latest
    revision."""
    def record() -> Review:
        with services.store.use() as store:
            requests = store.table("change_requests")
            revision = store.to_pyarrow(requests.filter(requests.change_id == change_id)
                                        .revision.max()).as_py()
            if revision is None:
                raise NotFoundError(f"no change request {change_id!r}", change_id=change_id)
            review = services.state.reviews.record(change_id, int(revision), body.verdict,
                                                   user=principal.user, comment=body.comment)
            # and as data, for a loop whose approval is reviewed (ChangeConfig.approval)
            store.write("change_reviews", [{
                "change_id": change_id, "revision": int(revision), "verdict": body.verdict,
                "reviewer": principal.user, "comment": body.comment,
                "event_time": review.reviewed_at}], ingested_at=datetime.now(UTC))
        return review

    return ReviewPublic(**vars(await run_in_threadpool(record)))


def _changes(store: Store) -> list[dict[str, Any]]:
    history = change_history(store)
    rows = store.table("change_requests")
    revisions = {r["change_id"]: r["revision"] for r in store.to_pyarrow(
        rows.group_by("change_id").aggregate(revision=rows.revision.max())).to_pylist()}
    return [{**c, "revision": revisions.get(c["id"]),
             "history": [{"state": s, "day": d} for s, d in history.get(c["id"], [])]}
            for c in changes_from_store(store)]


def _with_reviews(items: list[dict[str, Any]], reviews: dict[str, Review]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        found = reviews.get(item["id"])
        out.append({**item, "approval": found.verdict if found else "pending",
                    "review": vars(found) if found else None})
    return out

