"""Query results as pages of rows, read through the store and shown as the caller may see
them (:mod:`gigaloop.api.privacy`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import ibis.expr.types as ir
from fastapi import Query
from pydantic import BaseModel

from gigaloop.api.deps import Services
from gigaloop.appstate import Principal
from gigaloop.store import Store

Limit = Annotated[int, Query(ge=1, le=10_000, description="rows per page (capped by the "
                                                          "server's page size)")]
Offset = Annotated[int, Query(ge=0, le=2**31, description="rows to skip")]


class Page(BaseModel):
    """Some rows of a query: ``total`` rows match, these start at ``offset``."""

    total: int
    offset: int
    limit: int
    rows: list[dict[str, Any]]


def page(services: Services, principal: Principal, query: Callable[[Store], ir.Table],
         limit: int, offset: int) -> Page:
    """Run ``query`` on the store: its row count and one page of its rows."""
    limit = min(limit, services.settings.max_page_rows)
    with services.store.use() as store:
        expr = query(store)
        total = int(store.to_pyarrow(expr.count()).as_py())
        rows = store.to_pyarrow(expr.limit(limit, offset=offset)).to_pylist()
    return Page(total=total, offset=offset, limit=limit,
                rows=services.pseudonyms.present(rows, principal.role))


def window(items: list[dict[str, Any]], services: Services, principal: Principal, limit: int,
           offset: int) -> Page:
    """A page of records already read (findings, change requests)."""
    limit = min(limit, services.settings.max_page_rows)
    return Page(total=len(items), offset=offset, limit=limit,
                rows=services.pseudonyms.present(items[offset:offset + limit], principal.role))


def decision_record(row: dict[str, Any]) -> dict[str, Any]:
    """A ``decisions`` row with its JSON columns parsed (``action``, ``finding``, ``inputs``).

    >>> decision_record({"module": "maintenance", "action_json": '{"machine_id": "M1"}',
    ...                  "finding_json": None, "inputs_json": "{}"})
    {'module': 'maintenance', 'action': {'machine_id': 'M1'}, 'finding': None, 'inputs': {}}
    """
    out = {k: v for k, v in row.items() if not k.endswith("_json")}
    for column in ("action_json", "finding_json", "inputs_json"):
        text = row.get(column)
        out[column.removesuffix("_json")] = json.loads(text) if text else None
    return out
