"""``POST /ingest/{table}``: a batch of rows into the store, through :meth:`Store.write`.

The answer counts what became of the rows (``received == written + unchanged +
quarantined``, with the reasons of the quarantined). A payload refused as a whole —
malformed, too large, of an unknown table, another device's rows — writes nothing; every
payload, taken or refused, is counted in the ingest log (``GET /ingest/log``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from gigaloop.api.deps import CurrentPrincipal, Services, ServicesDep, allow
from gigaloop.api.devices import check_device_rows, check_loop_table
from gigaloop.api.errors import status_of
from gigaloop.api.payloads import ARROW_STREAM, NDJSON, parse, read_body
from gigaloop.appstate import IngestEntry, Principal, Role
from gigaloop.appstate.clock import utcnow
from gigaloop.errors import GigaloopError, NotFoundError
from gigaloop.schema import TABLES
from gigaloop.store import WriteResult

router = APIRouter(prefix="/ingest", tags=["ingest"])

_BODY = {"requestBody": {"required": True, "description": "rows of the table", "content": {
    NDJSON: {"schema": {"type": "string"}, "example": '{"machine_id": "ST-010-P1", …}\n'},
    ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}}}}


class WriteCounts(BaseModel):
    """What became of a batch: ``received == written + unchanged + quarantined``."""

    table: str
    received: int
    written: int
    unchanged: int
    quarantined: int
    reasons: dict[str, int]


class IngestTotals(BaseModel):
    payloads_accepted: int
    payloads_refused: int
    received: int
    written: int
    unchanged: int
    quarantined: int
    latest_refusals: list[dict[str, Any]]


@router.post("/{table}", **allow(Role.device, Role.admin, openapi=_BODY))
async def ingest(table: Annotated[str, Path(max_length=100)], request: Request,
                 services: ServicesDep, principal: CurrentPrincipal) -> WriteCounts:
    """Write rows (JSON lines or an Arrow IPC stream) to ``table``: validated, bad rows
    quarantined with their reason, rows already stored unchanged. A device token writes
    only rows of its own source (see ``docs/api.md``)."""
    size = 0
    try:
        if table not in TABLES:
            raise NotFoundError(f"unknown table {table!r}", table=table)
        check_loop_table(table)
        body = await read_body(request, services.settings.max_ingest_bytes)
        size = len(body)
        rows = parse(body, request.headers.get("content-type"))
        if principal.role is Role.device:
            assert principal.source_id is not None
            check_device_rows(table, rows, principal.source_id)
        result = await run_in_threadpool(_write, services, table, rows, principal)
    except GigaloopError as exc:
        declared = request.headers.get("content-length", "")
        await run_in_threadpool(services.state.ingest_log.add, IngestEntry(
            table, principal.label, "refused", status_of(exc),
            size or (int(declared) if declared.isdigit() else 0), reason=str(exc)))
        raise
    await run_in_threadpool(services.state.ingest_log.add, IngestEntry(
        table, principal.label, "accepted", 200, size, result.received, result.written,
        result.unchanged, result.quarantined))
    return WriteCounts(table=result.table, received=result.received, written=result.written,
                       unchanged=result.unchanged, quarantined=result.quarantined,
                       reasons=dict(result.reasons))


def _write(services: Services, table: str, rows: pa.Table, principal: Principal) -> WriteResult:
    with services.store.use() as store:
        return store.write(table, rows, ingested_at=utcnow(), source=principal.label)


@router.get("/log", **allow(Role.admin, Role.plant_engineer, Role.fleet_operations))
def ingest_log(services: ServicesDep,
               table: Annotated[str | None, Query(max_length=100)] = None) -> IngestTotals:
    """Payloads taken and refused (with the rows of those taken), and the latest refusals."""
    totals: Mapping[str, int] = services.state.ingest_log.totals(table)
    refusals = [vars(e) for e in services.state.ingest_log.refusals(table, limit=20)]
    return IngestTotals(**totals, latest_refusals=refusals)
