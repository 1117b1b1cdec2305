"""Opening a Checkout Session for a lesson, and reading it back when the learner returns.

The database decides (price, ownership, reuse, fulfilment); this module only carries what it
decided to Stripe and back. Nothing the client sends but the lesson id is used: the user comes
from the verified token, the price from `begin_checkout`, the redirect URLs from SITE_URL and
the lesson's slug as the database holds it (back to the lesson's own page).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, assert_never
from urllib.parse import quote
from uuid import UUID

import msgspec
import stripe
import structlog
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.middleware import DefineMiddleware
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from sidecar.auth import BearerTokenMiddleware, Learner, require_signed_up
from sidecar.contracts import (
    ATTACH_CHECKOUT_SESSION,
    BEGIN_CHECKOUT,
    CHECKOUT_SESSION_FOR_USER,
    AlreadyAttached,
    Attached,
    AttachRejected,
    CreateSession,
    RefreshSessions,
    RefusalReason,
    RefuseCheckout,
    ReuseSession,
    StoredCheckoutSession,
)
from sidecar.db import Database
from sidecar.errors import (
    AccountDisabled,
    AlreadyOwned,
    BadRequest,
    DatabaseUnavailable,
    FreeLesson,
    InvalidBody,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PaymentProviderError,
    RequestTimeout,
    ServiceUnavailable,
    SidecarError,
    SignUpRequired,
    error_responses,
)
from sidecar.logging import annotate
from sidecar.settings import Settings
from sidecar.stripe_client import (
    StripeJson,
    create_checkout_session,
    expire_checkout_session,
    retrieve_checkout_session,
)
from sidecar.stripe_ids import is_checkout_session_id

log = structlog.get_logger("sidecar.checkout")

# The return page polls; each learner's session is read back from Stripe at most this often.
MIN_SECONDS_BETWEEN_SYNCS = 2.0
# {"lesson_id": "<uuid>"} is under 60 bytes; a larger body is refused before it is parsed
# (413), and anything up to here that is not that shape is 422 invalid_body.
MAX_BODY_BYTES = 1024 * 1024


class CheckoutRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Only the lesson: any price, URL or user field is refused rather than silently ignored."""

    lesson_id: UUID


class CheckoutSessionLink(msgspec.Struct):
    id: str
    url: str


class CheckoutSessionStatus(msgspec.Struct):
    id: str
    lesson_id: UUID
    status: str
    payment_status: str | None
    owned: bool


class CheckoutConflict(SidecarError):
    status_code = 409
    code = "checkout_conflict"
    message = "The lesson changed while checkout was being opened; try again."


class PaymentPending(SidecarError):
    status_code = 409
    code = "payment_pending"
    message = "A payment for this lesson is still being processed."


class PaymentDisputed(SidecarError):
    status_code = 409
    code = "payment_disputed"
    message = (
        "Your payment for this lesson is disputed, so access is paused while your bank reviews it."
        " It cannot be bought again until the dispute is settled."
    )


def refusal(reason: RefusalReason) -> SidecarError:
    """The error for a begin_checkout refusal reason."""
    match reason:
        case "unknown_lesson":
            return NotFound("No such lesson.", code="unknown_lesson")
        case "already_owned":
            return AlreadyOwned()
        case "free_lesson":
            return FreeLesson()
        case "payment_pending":
            return PaymentPending()
        case "account_disabled":
            return AccountDisabled()
        case "payment_disputed":
            return PaymentDisputed()
        case _:
            assert_never(reason)


def session_params(settings: Settings, learner: Learner, plan: CreateSession) -> dict[str, Any]:
    """Checkout Session parameters from what begin_checkout returned (and nothing else)."""
    lesson = plan.lesson
    metadata = {"user_id": str(learner.id), "lesson_id": str(lesson.id)}
    lesson_page = f"{settings.site_url}/lessons/{quote(lesson.slug, safe='')}"
    line_item: dict[str, Any] = {"quantity": 1}
    if lesson.stripe_price_id:
        line_item["price"] = lesson.stripe_price_id
    else:
        product: dict[str, Any] = {"name": lesson.title, "metadata": {"lesson_id": str(lesson.id)}}
        if lesson.description:
            product["description"] = lesson.description
        line_item["price_data"] = {
            "currency": lesson.currency,
            "unit_amount": lesson.price_cents,
            "product_data": product,
        }
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [line_item],
        "metadata": metadata,
        "client_reference_id": str(learner.id),
        "payment_intent_data": {"metadata": metadata},
        # back to the lesson's own page; its slug is the database's (lessons_slug_format)
        "success_url": f"{lesson_page}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{lesson_page}?checkout=cancelled",
        # Charged in the lesson's own currency: with Adaptive Pricing, events rendered at
        # older API versions carry the buyer's local currency and amount, which SQL would
        # (rightly) refuse as not the price.
        "adaptive_pricing": {"enabled": False},
    }
    if settings.checkout_promotion_codes:
        # the learner may type a code; SQL records the discount and still checks the lesson
        params["allow_promotion_codes"] = True
    if settings.checkout_invoices:
        # a paid invoice for the payment; its page reaches Purchases through invoice.paid
        params["invoice_creation"] = {"enabled": True}
    if plan.stripe_customer_id:
        params["customer"] = plan.stripe_customer_id
    elif plan.customer_email:
        params["customer_email"] = plan.customer_email
    return params


def idempotency_key(attempt_key: str, params: dict[str, Any]) -> str:
    """The database's key for this purchase attempt, bound to the exact parameters sent.

    Identical requests (double clicks, retries) share it, so Stripe opens one session; any
    change of parameters (a new SITE_URL, an edited lesson) makes a new key instead of
    Stripe's "same key, other parameters" error.
    """
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    return f"{attempt_key}:{digest}"


async def plan_checkout(
    database: Database, stripe_client: stripe.StripeClient, learner: Learner, lesson_id: UUID
) -> ReuseSession | CreateSession | RefuseCheckout:
    """begin_checkout's decision, after settling with Stripe any open session it cannot reuse.

    Such a session (about to expire, or at an old price) may have been paid, even by a
    delayed method whose webhook is late; only Stripe knows. It is expired there and what
    Stripe answers is synced, so the learner never holds two payable sessions for one lesson.
    """
    args = {"p_user_id": learner.id, "p_lesson_id": lesson_id}
    for _ in range(3):
        plan = await database.call(BEGIN_CHECKOUT, args)
        if not isinstance(plan, RefreshSessions):
            return plan
        for session_id in plan.session_ids:
            await settle_with_stripe(database, stripe_client, session_id)
    raise CheckoutConflict()


async def create_at_stripe(
    stripe_client: stripe.StripeClient,
    settings: Settings,
    learner: Learner,
    plan: CreateSession,
    bound: Any,
) -> StripeJson:
    """Create the Checkout Session begin_checkout planned (or get Stripe's replay of it).

    A stored customer Stripe no longer knows (deleted, or from another account or mode) must
    not stop the purchase: the session is created again with the learner's email instead.
    """
    params = session_params(settings, learner, plan)
    try:
        try:
            session = await create_checkout_session(
                stripe_client, params, idempotency_key(plan.idempotency_key, params)
            )
        except stripe.InvalidRequestError as exc:
            if not (exc.code == "resource_missing" and exc.param == "customer"):
                raise
            bound.warning("stripe_customer_missing", stripe_request_id=exc.request_id)
            params = session_params(
                settings, learner, msgspec.structs.replace(plan, stripe_customer_id=None)
            )
            session = await create_checkout_session(
                stripe_client, params, idempotency_key(plan.idempotency_key, params)
            )
        if session.headers.get("idempotent-replayed") == "true":
            # a replay is the session as it was created; what matters is what it is now
            session = await retrieve_checkout_session(stripe_client, session.id)
        return session
    except stripe.StripeError as exc:
        bound.warning(
            "stripe_create_failed",
            error=type(exc).__name__,
            stripe_code=exc.code,
            stripe_request_id=exc.request_id,
        )
        raise PaymentProviderError() from None


async def settle_with_stripe(
    database: Database, stripe_client: stripe.StripeClient, session_id: str
) -> None:
    """Expire an open session at Stripe, or read it if it is no longer open; sync the answer."""
    try:
        try:
            session = await expire_checkout_session(stripe_client, session_id)
        except stripe.InvalidRequestError:  # not open any more: paid, processing or expired
            session = await retrieve_checkout_session(stripe_client, session_id)
    except stripe.StripeError as exc:
        log.warning("stripe_settle_failed", session_id=session_id, error=type(exc).__name__)
        raise PaymentProviderError() from None
    outcome = await database.rpc("sync_checkout_session", {"p_session": session.arg()})
    log.info("checkout_settled", session_id=session_id, outcome=outcome)


def _status(row: StoredCheckoutSession) -> CheckoutSessionStatus:
    return CheckoutSessionStatus(
        id=row.id,
        lesson_id=row.lesson_id,
        status=row.status,
        payment_status=row.payment_status,
        owned=row.owned,
    )


class CheckoutController(Controller):
    path = "/v1/checkout/sessions"
    tags = ["checkout"]  # noqa: RUF012 - Litestar reads these as class attributes
    middleware = [DefineMiddleware(BearerTokenMiddleware)]  # noqa: RUF012
    security = [{"bearerAuth": []}]  # noqa: RUF012

    @post(
        operation_id="createCheckoutSession",
        status_code=201,
        guards=[require_signed_up],
        request_max_body_size=MAX_BODY_BYTES,
        response_description="A new Checkout Session: send the learner to its url",
        responses={
            200: ResponseSpec(
                CheckoutSessionLink, description="The learner's open session, reused"
            ),
            **error_responses(
                NotAuthenticated,
                SignUpRequired,
                AccountDisabled,
                NotFound,
                AlreadyOwned,
                FreeLesson,
                InvalidBody,
                PayloadTooLarge,
                RequestTimeout,
                BadRequest,
                CheckoutConflict,
                PaymentPending,
                PaymentDisputed,
                PaymentProviderError,
                ServiceUnavailable,
                DatabaseUnavailable,
            ),
        },
    )
    async def create_session(
        self,
        request: Request[Learner, None, State],
        data: JSONBody[CheckoutRequest],
        settings: NamedDependency[Settings],
        database: NamedDependency[Database],
        stripe_client: NamedDependency[stripe.StripeClient],
    ) -> Response[CheckoutSessionLink]:
        """Open a Checkout Session for one lesson, or hand back the learner's open one."""
        learner = request.user
        bound = log.bind(user_id=str(learner.id), lesson_id=str(data.lesson_id))
        annotate(user_id=str(learner.id), lesson_id=str(data.lesson_id))
        # Twice at most: Stripe may replay, under a reused Idempotency-Key, a session created
        # earlier whose attach never ran and which has closed since; it is synced and the
        # database then hands out a new key.
        for _ in range(2):
            plan = await plan_checkout(database, stripe_client, learner, data.lesson_id)
            match plan:
                case RefuseCheckout(reason=reason):
                    annotate(checkout="refused", reason=reason)
                    raise refusal(reason)
                case ReuseSession(session_id=session_id, url=url):
                    annotate(checkout="reused", session_id=session_id)
                    return Response(CheckoutSessionLink(id=session_id, url=url), status_code=200)
                case CreateSession():
                    session = await create_at_stripe(stripe_client, settings, learner, plan, bound)
                case _:
                    assert_never(plan)

            if session.data.get("status") != "open":
                outcome = await database.rpc("sync_checkout_session", {"p_session": session.arg()})
                bound.warning("checkout_replayed_closed", session_id=session.id, outcome=outcome)
                continue

            attached = await database.call(ATTACH_CHECKOUT_SESSION, {"p_session": session.arg()})
            match attached:
                case AttachRejected(reason=why):
                    annotate(checkout="created", session_id=session.id, outcome=f"rejected:{why}")
                    await _expire_quietly(stripe_client, session.id)
                    raise CheckoutConflict()
                case Attached() | AlreadyAttached():
                    new = isinstance(attached, Attached)
                    outcome = "attached" if new else "existing"
                    annotate(checkout="created", session_id=session.id, outcome=outcome)
                    return Response(
                        CheckoutSessionLink(id=session.id, url=str(session.data.get("url"))),
                        status_code=201 if new else 200,
                    )
                case _:
                    assert_never(attached)
        raise CheckoutConflict()

    @get(
        "/{session_id:str}",
        operation_id="getCheckoutSession",
        responses=error_responses(
            NotAuthenticated,
            NotFound,
            PaymentProviderError,
            ServiceUnavailable,
            DatabaseUnavailable,
        ),
    )
    async def read_session(
        self,
        request: Request[Learner, None, State],
        session_id: FromPath[str],
        database: NamedDependency[Database],
        stripe_client: NamedDependency[stripe.StripeClient],
    ) -> CheckoutSessionStatus:
        """The learner's Checkout Session; records the purchase now if Stripe says it is paid."""
        learner = request.user
        not_found = NotFound("No such checkout session.", code="checkout_session_not_found")
        if not is_checkout_session_id(session_id):
            raise not_found
        args = {"p_user_id": learner.id, "p_session_id": session_id}
        known = await database.call(CHECKOUT_SESSION_FOR_USER, args)
        if known is None:
            raise not_found
        if known.owned or known.status in ("expired", "failed"):
            return _status(known)  # settled: nothing Stripe could add
        since_sync = known.seconds_since_sync
        if since_sync is not None and since_sync < MIN_SECONDS_BETWEEN_SYNCS:
            return _status(known)  # a polling page must not spend the account's Stripe rate limit

        try:
            session = await retrieve_checkout_session(stripe_client, session_id)
        except stripe.StripeError as exc:
            log.warning(
                "stripe_retrieve_failed",
                session_id=session_id,
                error=type(exc).__name__,
                stripe_request_id=exc.request_id,
            )
            raise PaymentProviderError() from None
        outcome = await database.rpc("sync_checkout_session", {"p_session": session.arg()})
        annotate(checkout="synced", session_id=session_id, outcome=outcome)
        synced = await database.call(CHECKOUT_SESSION_FOR_USER, args)
        if synced is None:  # pragma: no cover - rows are never deleted
            raise not_found
        return _status(synced)


async def _expire_quietly(stripe_client: stripe.StripeClient, session_id: str) -> None:
    """A session the database refused must not take money; failing that, reconcile reports it."""
    try:
        await expire_checkout_session(stripe_client, session_id)
    except stripe.StripeError as exc:
        log.warning("stripe_expire_failed", session_id=session_id, error=type(exc).__name__)
