"""Actions to a real system over HTTP: a signed, idempotent, retried webhook.

:class:`WebhookActuator` POSTs :meth:`Action.to_json` (``Content-Type:
application/json``) to one URL, with these headers:

* ``Idempotency-Key``: the action's id (:func:`action_id`, a hash of its JSON), the same
  on every retry and resend: a receiver that remembers it applies an action once;
* ``X-Gigaloop-Timestamp``: seconds since the epoch when the request was signed;
* ``X-Gigaloop-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed with the shared
  secret, of ``"{timestamp}.{idempotency key}.{body}"`` (:func:`sign`; a receiver checks
  it with :func:`verify`).

A 2xx answer is accepted; a 4xx is the receiver's refusal (``Receipt(accepted=False)``,
not retried); a 5xx, 408, 429 or a connection error is retried with exponential back-off
up to ``max_attempts`` tries, after which :class:`~gigaloop.errors.ActuationError`
raises. With an ``outbox`` (:class:`Outbox`, e.g. ``AppState(...).outbox``) every action
is recorded before it is sent, marked delivered or failed after, and
:meth:`WebhookActuator.resend_pending` sends again what a crash or an outage left.

>>> signature = sign(b"s3cret", "1700000000", "A1", b'{"kind": "maintenance_order"}')
>>> signature[:7], verify(b"s3cret", "1700000000", "A1", b'{"kind": "maintenance_order"}',
...                       signature, now=1700000060)
('sha256=', True)
>>> verify(b"wrong", "1700000000", "A1", b"{}", signature, now=1700000060)
False
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from gigaloop.actuate import Action, Receipt
from gigaloop.errors import ActuationError, require

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Gigaloop-Signature"
TIMESTAMP_HEADER = "X-Gigaloop-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REFUSED = "refused: "  # an outbox error starting so is the receiver's answer: not resent
RETRIED_STATUSES = frozenset({408, 429})


def action_id(action: Action) -> str:
    """A stable id of ``action``: the same action always gets the same id.

    >>> from gigaloop.actuate import MaintenanceOrder
    >>> action_id(MaintenanceOrder(day=3, machine_id="M1"))
    'maintenance_order-...'
    >>> action_id(MaintenanceOrder(day=3, machine_id="M1")) == action_id(
    ...     MaintenanceOrder(day=4, machine_id="M1"))
    False
    """
    canonical = json.dumps(json.loads(action.to_json()), sort_keys=True)
    return f"{action.kind}-{hashlib.sha256(canonical.encode()).hexdigest()[:24]}"


def sign(secret: bytes, timestamp: str, key: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "{timestamp}.{key}.{body}">``."""
    message = timestamp.encode() + b"." + key.encode() + b"." + body
    return "sha256=" + hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, key: str, body: bytes, signature: str, *,
           tolerance_s: float = 300.0, now: float | None = None) -> bool:
    """Whether ``signature`` is right and ``timestamp`` within ``tolerance_s`` of ``now``
    (a replayed old request fails). Constant-time comparison."""
    try:
        age = abs((time.time() if now is None else now) - float(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, key, body),
                                                      signature)


class OutboxEntry(Protocol):
    @property
    def action_id(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def last_error(self) -> str | None: ...


class Outbox(Protocol):
    """Where actions wait for delivery (``gigaloop.appstate``'s ``Outbox`` is one)."""

    def enqueue(self, action_id: str, kind: str, payload: dict[str, Any]) -> Any: ...
    def pending(self, limit: int = 100) -> Sequence[OutboxEntry]: ...
    def mark_delivered(self, action_id: str) -> Any: ...
    def mark_failed(self, action_id: str, error: str) -> Any: ...


class WebhookActuator:
    """Delivers actions to ``url``, signed with ``secret``; see the module docstring.

    ``backoff_s`` is the first wait between tries, doubled each time up to
    ``max_backoff_s``. ``transport`` replaces the network (an ``httpx2`` transport, e.g.
    ``MockTransport``) and ``sleep`` the waiting, for tests.
    """

    def __init__(self, url: str, secret: str | bytes, *, outbox: Outbox | None = None,
                 timeout_s: float = 10.0, max_attempts: int = 5, backoff_s: float = 0.5,
                 max_backoff_s: float = 30.0, transport: Any = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ActuationError("a webhook needs a secret to sign with", url=url)
        httpx = require("httpx2", "service")
        self.url, self.outbox = url, outbox
        self.max_attempts, self.backoff_s, self.max_backoff_s = (max_attempts, backoff_s,
                                                                 max_backoff_s)
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._sleep, self._clock = sleep, clock
        self._transport_errors = (httpx.TransportError,)
        self._client = httpx.Client(timeout=timeout_s, transport=transport)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WebhookActuator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def apply(self, action: Action) -> Receipt:
        """Send ``action`` (recorded in the outbox first); the receiver's answer."""
        key, body = action_id(action), action.to_json()
        if self.outbox is not None:
            self.outbox.enqueue(key, action.kind, json.loads(body))
        return self._deliver(key, body.encode())

    def resend_pending(self) -> list[Receipt]:
        """Send again every outbox action not delivered yet (oldest first) but those the
        receiver refused; call it on start-up. Raises like :meth:`apply`."""
        if self.outbox is None:
            return []
        receipts = []
        for entry in self.outbox.pending():
            if (entry.last_error or "").startswith(REFUSED):
                continue
            body = json.dumps(entry.payload, sort_keys=True).encode()
            receipts.append(self._deliver(entry.action_id, body))
        return receipts

    def _deliver(self, key: str, body: bytes) -> Receipt:
        error = ""
        for attempt in range(self.max_attempts):
            if attempt:
                self._sleep(min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s))
            stamp = str(int(self._clock()))
            headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: key,
                       TIMESTAMP_HEADER: stamp,
                       SIGNATURE_HEADER: sign(self._secret, stamp, key, body)}
            try:
                answer = self._client.post(self.url, content=body, headers=headers)
            except self._transport_errors as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.warning("webhook %s, try %d: %s", self.url, attempt + 1, error)
                continue
            status, text = answer.status_code, answer.text[:200]
            if 200 <= status < 300:
                self._mark(key, None)
                return Receipt(True, f"HTTP {status}")
            if 400 <= status < 500 and status not in RETRIED_STATUSES:
                self._mark(key, f"{REFUSED}HTTP {status} {text}")
                return Receipt(False, f"HTTP {status}: {text}")
            error = f"HTTP {status}: {text}"
            log.warning("webhook %s, try %d: %s", self.url, attempt + 1, error)
        self._mark(key, f"after {self.max_attempts} tries: {error}")
        raise ActuationError(f"webhook {self.url} not reached after {self.max_attempts} "
                             f"tries: {error}", url=self.url, action_id=key)

    def _mark(self, key: str, error: str | None) -> None:
        if self.outbox is None:
            return
        if error is None:
            self.outbox.mark_delivered(key)
        else:
            self.outbox.mark_failed(key, error)
