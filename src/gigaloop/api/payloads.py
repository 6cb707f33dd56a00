"""Reading an ingest payload: the size limit, JSON lines or an Arrow IPC stream.

>>> parse(b'{"vin": "V1"}\\n\\n{"vin": "V2"}\\n', "application/x-ndjson").num_rows
2
>>> parse(b'{"vin": "V1"}\\n{"vin": \\n', "application/x-ndjson")
Traceback (most recent call last):
gigaloop.errors.IngestError: line 2 is not valid JSON: Expecting value (column 9)
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
from starlette.requests import Request

from gigaloop.errors import IngestError, PayloadTooLarge, UnsupportedFormat
from gigaloop.store.validate import to_arrow

NDJSON = "application/x-ndjson"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
#: Media types read as JSON lines (the first is the one documented).
NDJSON_TYPES = (NDJSON, "application/jsonl", "application/json-lines")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (:class:`PayloadTooLarge`) as soon as it passes ``limit``
    bytes — by its declared length, or while it streams in."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise IngestError(f"Content-Length {declared!r} is not a number")
        if int(declared) > limit:
            raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"payload of {size:,}+ bytes is over the limit of {limit:,} bytes: "
                           "send it in smaller batches", limit=limit)


def parse(body: bytes, content_type: str | None) -> pa.Table:
    """The rows of ``body`` as Arrow, by its media type."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in NDJSON_TYPES:
        return to_arrow(_json_lines(body))
    if media == ARROW_STREAM:
        return _arrow_stream(body)
    raise UnsupportedFormat(f"cannot read {media or 'a payload without Content-Type'}: send "
                            f"{NDJSON} (one JSON object per line) or {ARROW_STREAM}",
                            content_type=media)


def _json_lines(body: bytes) -> list[dict[str, Any]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(f"payload is not UTF-8 text (byte {exc.start})") from exc
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IngestError(f"line {number} is not valid JSON: {exc.msg} (column {exc.colno})",
                              line=number) from exc
        if not isinstance(row, dict):
            raise IngestError(f"line {number} is a JSON {type(row).__name__}, not an object",
                              line=number)
        bad = [k for k, v in row.items() if isinstance(v, dict | list)]
        if bad:
            raise IngestError(f"line {number}: {', '.join(bad)} must be a plain value, not a "
                              "nested object or list", line=number)
        rows.append(row)
    return rows


def _arrow_stream(body: bytes) -> pa.Table:
    try:
        with pa.ipc.open_stream(pa.py_buffer(body)) as reader:
            return reader.read_all()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise IngestError(f"payload is not an Arrow IPC stream: {exc}") from exc
