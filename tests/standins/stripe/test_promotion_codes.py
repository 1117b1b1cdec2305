"""Coupons and promotion codes through stripe-python, and a session paid with a code."""

from __future__ import annotations

from typing import Any, cast

import pytest
import stripe

from standins.stripe.testing import StandIn
from tests.standins.stripe.conftest import Receiver, create_session
from tests.standins.stripe.test_object_shapes import check


def coupon_and_code(
    client: stripe.StripeClient, code: str = "SAIL20", **coupon: Any
) -> tuple[stripe.Coupon, stripe.PromotionCode]:
    made = client.v1.coupons.create(
        params=cast(Any, coupon or {"percent_off": 20, "duration": "once"})
    )
    promotion_code = client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": made.id}, "code": code}
    )
    return made, promotion_code


def test_coupon_and_promotion_code_have_stripes_shape(
    client: stripe.StripeClient, receiver: Receiver
) -> None:
    coupon, promotion_code = coupon_and_code(client)
    assert isinstance(coupon, stripe.Coupon)
    assert coupon.percent_off == 20
    assert coupon.duration == "once"
    assert coupon.valid is True
    assert isinstance(promotion_code, stripe.PromotionCode)
    assert promotion_code.id.startswith("promo_")
    assert promotion_code.code == "SAIL20"
    assert promotion_code.active is True
    assert promotion_code.promotion.type == "coupon"
    assert promotion_code.promotion.coupon == coupon.id
    assert client.v1.promotion_codes.retrieve(promotion_code.id).code == "SAIL20"
    assert client.v1.coupons.retrieve(coupon.id).times_redeemed == 0
    assert check(coupon.to_dict()) == []
    assert check(promotion_code.to_dict()) == []


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"duration": "once"}, "percent_off"),
        ({"percent_off": 10, "amount_off": 100, "currency": "usd"}, "amount_off"),
        ({"amount_off": 500}, "currency"),
        ({"percent_off": 120}, "percent_off"),
        ({"percent_off": 10, "duration": "weekly"}, "duration"),
    ],
)
def test_coupon_creation_is_validated_as_stripe_does(
    client: stripe.StripeClient, params: dict[str, Any], param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.coupons.create(params=cast(Any, params))
    assert raised.value.param == param


def test_two_active_codes_cannot_share_a_word(client: stripe.StripeClient) -> None:
    coupon, _ = coupon_and_code(client, "TWICE")
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.promotion_codes.create(
            params={"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "twice"}
        )
    assert raised.value.code == "resource_already_exists"


def test_the_code_field_shows_only_when_the_session_allows_codes(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    plain = create_session(client)
    allowing = create_session(client, allow_promotion_codes=True)
    assert plain.allow_promotion_codes is None
    assert allowing.allow_promotion_codes is True
    assert 'name="promotion_code"' not in standin.control.http.get(str(plain.url)).text
    assert 'name="promotion_code"' in standin.control.http.get(str(allowing.url)).text


def test_a_session_paid_with_a_code_reports_the_discount_as_stripe_does(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    coupon, promotion_code = coupon_and_code(client)
    session = create_session(client, allow_promotion_codes=True)

    applied = standin.control.apply_code(session.id, "sail20")  # codes are case-insensitive
    assert applied.status_code == 200
    assert "Discount (SAIL20)" in applied.text
    assert "15.99 USD" in applied.text
    assert standin.control.pay(session.id).status_code == 303

    paid = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["line_items"]})
    assert paid.payment_status == "paid"
    assert paid.amount_subtotal == 1999
    assert paid.total_details is not None
    assert paid.total_details.amount_discount == 400  # 20 % of 19.99, rounded half up
    assert paid.amount_total == 1599
    assert paid.discounts is not None
    assert [(d.coupon, d.promotion_code) for d in paid.discounts] == [
        (coupon.id, promotion_code.id)
    ]
    assert paid.line_items is not None
    item = paid.line_items.data[0]
    assert (item.amount_subtotal, item.amount_discount, item.amount_total) == (1999, 400, 1599)
    expanded = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent"]}
    )
    assert isinstance(expanded.payment_intent, stripe.PaymentIntent)
    assert expanded.payment_intent.amount == 1599
    assert client.v1.coupons.retrieve(coupon.id).times_redeemed == 1
    assert client.v1.promotion_codes.retrieve(promotion_code.id).times_redeemed == 1

    listing = client.v1.events.list(params={"type": "checkout.session.completed"})
    completed = listing.data[0].data.object.to_dict()
    assert completed["discounts"] == [{"coupon": coupon.id, "promotion_code": promotion_code.id}]
    assert completed["total_details"]["amount_discount"] == 400
    assert completed["amount_total"] == 1599
    assert check(paid.to_dict()) == []


@pytest.mark.parametrize(
    ("coupon", "code_params", "words"),
    [
        ({"amount_off": 500, "currency": "eur"}, {}, "This code is invalid."),
        ({"percent_off": 10}, {"active": False}, "This code is invalid."),
        ({"percent_off": 10}, {"expires_at": 1}, "This code has expired."),
        (
            {"percent_off": 10},
            {"restrictions": {"minimum_amount": 5000, "minimum_amount_currency": "usd"}},
            "This code isn't valid for the items in your cart.",
        ),
    ],
)
def test_a_code_that_does_not_apply_is_refused_on_the_page(
    client: stripe.StripeClient,
    standin: StandIn,
    coupon: dict[str, Any],
    code_params: dict[str, Any],
    words: str,
) -> None:
    made = client.v1.coupons.create(params=cast(Any, coupon))
    client.v1.promotion_codes.create(
        params=cast(
            Any, {"promotion": {"type": "coupon", "coupon": made.id}, "code": "NOPE", **code_params}
        )
    )
    session = create_session(client, allow_promotion_codes=True)
    refused = standin.control.apply_code(session.id, "NOPE")
    assert refused.status_code == 400
    assert words.replace("'", "&#x27;") in refused.text
    unchanged = client.v1.checkout.sessions.retrieve(session.id)
    assert unchanged.amount_total == 1999
    assert unchanged.discounts == []


def test_a_code_only_for_another_product_is_not_valid_for_this_session(
    client: stripe.StripeClient, standin: StandIn
) -> None:
    coupon_and_code(client, "OTHER", percent_off=50, applies_to={"products": ["prod_other"]})
    session = create_session(client, allow_promotion_codes=True)
    assert standin.control.apply_code(session.id, "OTHER").status_code == 400


def test_a_code_used_up_is_refused(client: stripe.StripeClient, standin: StandIn) -> None:
    coupon = client.v1.coupons.create(params={"percent_off": 10})
    client.v1.promotion_codes.create(
        params={
            "promotion": {"type": "coupon", "coupon": coupon.id},
            "code": "ONCE",
            "max_redemptions": 1,
        }
    )
    first = create_session(client, allow_promotion_codes=True)
    second = create_session(client, allow_promotion_codes=True)
    assert standin.control.apply_code(first.id, "ONCE").status_code == 200
    assert standin.control.pay(first.id).status_code == 303
    assert standin.control.apply_code(second.id, "ONCE").status_code == 400


def test_a_code_that_takes_everything_off_completes_with_no_payment(
    client: stripe.StripeClient, standin: StandIn, receiver: Receiver
) -> None:
    coupon_and_code(client, "FREE", percent_off=100)
    session = create_session(client, allow_promotion_codes=True)
    assert standin.control.apply_code(session.id, "FREE").status_code == 200
    assert standin.control.pay(session.id).status_code == 303
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert (done.status, done.payment_status) == ("complete", "no_payment_required")
    assert done.amount_total == 0
    assert done.payment_intent is None
    assert done.total_details is not None
    assert done.total_details.amount_discount == 1999


def test_discounts_at_creation_apply_a_coupon_and_exclude_the_code_field(
    client: stripe.StripeClient,
) -> None:
    coupon = client.v1.coupons.create(params={"amount_off": 500, "currency": "usd"})
    session = create_session(client, discounts=[{"coupon": coupon.id}])
    assert session.amount_total == 1499
    assert session.discounts is not None
    assert session.discounts[0].coupon == coupon.id
    with pytest.raises(stripe.InvalidRequestError) as raised:
        create_session(client, discounts=[{"coupon": coupon.id}], allow_promotion_codes=True)
    assert raised.value.param == "discounts"


def test_a_coupon_in_another_currency_is_refused_at_creation_and_creates_nothing(
    client: stripe.StripeClient,
) -> None:
    # An amount_off coupon discounts only a purchase in its own currency (the hosted page says
    # "This code is invalid." for its promotion code, above); given in `discounts`, the request
    # fails and, as with any 400 from Stripe, no session exists afterwards.
    euros = client.v1.coupons.create(params={"amount_off": 500, "currency": "eur"})
    before = [s.id for s in client.v1.checkout.sessions.list(params={"limit": 100}).data]
    with pytest.raises(stripe.InvalidRequestError) as raised:
        create_session(client, discounts=[{"coupon": euros.id}])
    assert raised.value.http_status == 400
    assert raised.value.param == "discounts[0][coupon]"
    after = [s.id for s in client.v1.checkout.sessions.list(params={"limit": 100}).data]
    assert after == before
    assert client.v1.coupons.retrieve(euros.id).times_redeemed == 0
    # the same coupon in the session's currency applies
    dollars = client.v1.coupons.create(params={"amount_off": 500, "currency": "usd"})
    assert create_session(client, discounts=[{"coupon": dollars.id}]).amount_total == 1499
