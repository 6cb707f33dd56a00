"""Schemathesis over the OpenAPI document: generated requests to every operation (valid
and invalid data), with a token of a role it allows, never get a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from gigaloop.appstate import Role

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

#: The role a generated request is sent as: the first of these the operation allows
#: (admin first: it may ingest any table).
PREFERRED = (Role.admin, Role.plant_engineer, Role.fleet_operations, Role.marketing_analyst,
             Role.device)


@schemathesis.serializer("application/x-ndjson", "application/vnd.apache.arrow.stream")
def _as_bytes(_context: Any, value: Any) -> bytes:
    """Ingest payloads are sent as they are generated: text or bytes."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return value.encode() if isinstance(value, str) else str(value).encode()


def fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    """Send generated requests to one operation; none may get a 5xx."""
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=15, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def no_server_error(case: Any) -> None:
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)

    no_server_error()


@pytest.mark.slow(seconds=55)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_gets_a_server_error(client: TestClient, auth: Any, tokens: Any,
                                                  mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app,
                                            headers=auth(Role.admin))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        role = next(r for r in PREFERRED if r.value in operation.definition.raw["x-roles"])
        fuzz(operation, mode, {"Authorization": f"Bearer {tokens[role]}"})
