"""Early fraud warnings: made on a charge through the test control, read with stripe-python."""

from __future__ import annotations

import httpx
import pytest
import stripe

from standins.stripe.testing import StandIn
from tests.standins.stripe.conftest import create_session
from tests.standins.stripe.test_object_shapes import check


def paid_intent(client: stripe.StripeClient, standin: StandIn) -> str:
    session = create_session(client)
    standin.control.pay(session.id)
    intent = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    assert isinstance(intent, str)
    return intent


def test_a_warning_on_a_paid_charge_is_sent_and_can_be_retrieved(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    intent = paid_intent(client, standin)
    made = standin.control.early_fraud_warning(intent)
    assert made["id"].startswith("issfr_")
    warning = client.v1.radar.early_fraud_warnings.retrieve(made["id"])
    assert isinstance(warning, stripe.radar.EarlyFraudWarning)
    assert warning.actionable is True
    assert warning.fraud_type == "made_with_stolen_card"
    assert warning.payment_intent == intent
    assert str(warning.charge).startswith("ch_")
    assert check(warning.to_dict()) == []
    events = client.v1.events.list(params={"type": "radar.early_fraud_warning.created"}).data
    assert [e.data.object.id for e in events] == [made["id"]]


def test_each_call_is_a_new_warning(client: stripe.StripeClient, standin: StandIn) -> None:
    intent = paid_intent(client, standin)
    ids = {standin.control.early_fraud_warning(intent)["id"] for _ in range(3)}
    assert len(ids) == 3
    events = client.v1.events.list(params={"type": "radar.early_fraud_warning.*"}).data
    assert len(events) == 3


def test_a_warning_on_a_refunded_charge_is_not_actionable(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    intent = paid_intent(client, standin)
    client.v1.refunds.create(params={"payment_intent": intent})
    assert standin.control.early_fraud_warning(intent)["actionable"] is False


@pytest.mark.parametrize(
    "body",
    [{"payment_intent": "pi_unknown"}, {"charge": "ch_unknown"}, {}, {"fraud_type": "bad"}],
)
def test_a_warning_for_no_charge_is_refused(standin: StandIn, body: dict[str, str]) -> None:
    response = httpx.post(f"{standin.control.base}/_standin/early_fraud_warnings", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
