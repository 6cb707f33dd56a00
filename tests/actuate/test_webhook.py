"""The webhook actuator against a local receiver: signed, retried on 503, idempotent,
refusals not retried, and an outbox that resends what an outage left."""

from __future__ import annotations

import pytest

pytest.importorskip("httpx2")

from receiver import Receiver

from gigaloop.actuate import MaintenanceOrder, SetpointChange
from gigaloop.actuate.webhook import WebhookActuator, action_id
from gigaloop.errors import ActuationError

SECRET = b"test-secret-not-for-production"
ORDER = MaintenanceOrder(day=12, machine_id="FRE-BIW-10-M1", reason="RUL < 5 d")
SETPOINT = SetpointChange(day=3, station_id="FRE-BIW-10", parameter="weld_current",
                          setpoint=11.0, reason="run-to-run")


def actuator(url: str, **options) -> WebhookActuator:
    return WebhookActuator(url, SECRET, backoff_s=0.01, max_backoff_s=0.05, **options)


def test_retried_through_503s_and_applied_once_per_action() -> None:
    with Receiver(SECRET, fail_first=2) as receiver, actuator(receiver.url) as webhook:
        first = webhook.apply(ORDER)
        again = webhook.apply(ORDER)  # the same action: delivered, no second effect
        other = webhook.apply(SETPOINT)
    assert (first.accepted, again.accepted, other.accepted) == (True, True, True)
    assert [r["status"] for r in receiver.requests] == [503, 503, 200, 200, 200]
    assert len({r["key"] for r in receiver.requests[:4]}) == 1  # one key for every try
    assert set(receiver.effects) == {action_id(ORDER), action_id(SETPOINT)}
    assert receiver.effects[action_id(SETPOINT)] == {
        "kind": "setpoint_change", "day": 3, "station_id": "FRE-BIW-10",
        "parameter": "weld_current", "setpoint": 11.0, "reason": "run-to-run"}


def test_a_wrong_signature_is_refused_and_not_retried() -> None:
    with Receiver(b"another-secret") as receiver, actuator(receiver.url) as webhook:
        receipt = webhook.apply(ORDER)
    assert not receipt.accepted and receipt.detail.startswith("HTTP 401")
    assert len(receiver.requests) == 1 and not receiver.effects


def test_an_unreachable_receiver_raises_after_the_tries() -> None:
    with Receiver(SECRET, always=503) as receiver, actuator(receiver.url,
                                                             max_attempts=3) as webhook, \
            pytest.raises(ActuationError, match="after 3 tries: HTTP 503"):
        webhook.apply(ORDER)
    assert len(receiver.requests) == 3


def test_a_connection_error_is_retried() -> None:
    with Receiver(SECRET) as receiver:
        url = receiver.url  # closed below: nothing listens there any more
    with actuator(url, max_attempts=2) as webhook, \
            pytest.raises(ActuationError, match="ConnectError"):
        webhook.apply(ORDER)


def test_the_outbox_resends_what_an_outage_left_after_a_restart() -> None:
    appstate = pytest.importorskip("gigaloop.appstate")
    state = appstate.AppState("sqlite://")
    with Receiver(SECRET, always=503) as down, actuator(down.url, max_attempts=2,
                                                        outbox=state.outbox) as webhook:
        with pytest.raises(ActuationError):
            webhook.apply(ORDER)
        with pytest.raises(ActuationError):
            webhook.apply(SETPOINT)
    assert [e.state for e in state.outbox.pending()] == ["failed", "failed"]
    with Receiver(SECRET, fail_first=1) as up, actuator(up.url, outbox=state.outbox) as again:
        receipts = again.resend_pending()  # a new actuator: as after a restart
        assert again.resend_pending() == []
    assert [r.accepted for r in receipts] == [True, True]
    assert set(up.effects) == {action_id(ORDER), action_id(SETPOINT)}
    assert state.outbox.pending() == []


def test_a_refused_action_stays_in_the_outbox_but_is_not_resent() -> None:
    appstate = pytest.importorskip("gigaloop.appstate")
    state = appstate.AppState("sqlite://")
    with Receiver(SECRET, always=422) as receiver, actuator(receiver.url,
                                                             outbox=state.outbox) as webhook:
        assert not webhook.apply(ORDER).accepted
        assert webhook.resend_pending() == []
    (entry,) = state.outbox.pending()
    assert entry.state == "failed" and entry.last_error.startswith("refused: HTTP 422")
    assert len(receiver.requests) == 1


def test_a_webhook_needs_a_secret() -> None:
    with pytest.raises(ActuationError, match="secret"):
        WebhookActuator("http://127.0.0.1:9/actions", "")
