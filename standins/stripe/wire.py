"""What every API call shares: key check, form parsing, `expand`, idempotency, Stripe headers."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

from litestar import Request, Response
from litestar.di import NamedDependency
from litestar.params import FromPath

from standins.stripe import objects
from standins.stripe.errors import StripeError
from standins.stripe.forms import parse_form
from standins.stripe.objects import Obj
from standins.stripe.store import IdempotentResult, Ledger, RequestContext

AnyRequest = Request[Any, Any, Any]
LedgerDep = NamedDependency[Ledger]  # the app's one ledger, injected into every handler
PathId = FromPath[str]  # an object id in the URL, e.g. cs_test_a1…
Operation = Callable[[dict[str, Any], RequestContext], Obj]

_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)


def json_response(
    ledger: Ledger,
    request: AnyRequest,
    body: Any,
    *,
    status: int = 200,
    request_id: str | None = None,
    replayed_from: str | None = None,
) -> Response[bytes]:
    headers = {
        "Request-Id": request_id or objects.new_id("req_", 14),
        "Stripe-Version": request.headers.get("stripe-version") or ledger.config.api_version,
    }
    if key := request.headers.get("idempotency-key"):
        headers["Idempotency-Key"] = key
    if replayed_from:
        headers["Idempotent-Replayed"] = "true"
        headers["Original-Request"] = replayed_from
    content = body if isinstance(body, bytes) else json.dumps(body, indent=2).encode()
    return Response(
        content=content, status_code=status, media_type="application/json", headers=headers
    )


def authenticate(ledger: Ledger, request: AnyRequest) -> str:
    """The secret key of the call, or Stripe's 401 for a missing or unknown one."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    key = ""
    if scheme.lower() == "bearer":
        key = credential.strip()
    elif scheme.lower() == "basic":  # curl -u sk_test_…: sends the key as the user name
        try:
            key = base64.b64decode(credential).decode().split(":", 1)[0]
        except ValueError:
            key = ""
    if not key:
        raise StripeError(401, "invalid_request_error", _NO_KEY)
    allowed = ledger.config.api_keys
    if (key not in allowed) if allowed else not key.startswith("sk_test_"):
        shown = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:]
        raise StripeError(401, "invalid_request_error", f"Invalid API Key provided: {shown}")
    return key


async def params_of(request: AnyRequest) -> dict[str, Any]:
    if request.method == "GET":
        return parse_form(request.scope.get("query_string", b""))
    return parse_form(await request.body())


def expand_list(request_params: dict[str, Any]) -> list[str]:
    raw = request_params.get("expand") or []
    return [str(path) for path in (raw if isinstance(raw, list) else [raw])]


def expanded(ledger: Ledger, obj: Obj, paths: list[str]) -> Obj:
    """A copy of `obj` with each `expand[]` path's id replaced by the object it names."""
    out = copy.deepcopy(obj)
    for index, path in enumerate(paths):
        if path == "line_items" and out.get("object") == "checkout.session":
            out["line_items"] = line_items_list(out["id"], ledger.line_items[out["id"]])
            continue
        _expand_path(ledger, out, path, index)
    return out


def _expand_path(ledger: Ledger, out: Obj, path: str, index: int) -> None:
    parent = out
    *heads, last = path.split(".")
    for part in heads:
        child = parent.get(part)
        if child is None:
            return  # expanding through a null field leaves it null, as on Stripe
        if isinstance(child, str) and (found := _lookup(ledger, child)) is not None:
            child = parent[part] = copy.deepcopy(found)
        if not isinstance(child, dict):
            raise _not_expandable(path, index)
        parent = child
    value = parent.get(last, ...)
    if value is None or isinstance(value, dict):
        return  # null stays null; already expanded stays as it is
    target = _lookup(ledger, value) if isinstance(value, str) else None
    if target is None:
        raise _not_expandable(path, index)
    parent[last] = copy.deepcopy(target)


def _not_expandable(path: str, index: int) -> StripeError:
    return StripeError.invalid(
        f"This property cannot be expanded ({path}).", param=f"expand[{index}]"
    )


def line_items_list(session_id: str, items: list[Obj]) -> Obj:
    return {
        "object": "list",
        "data": items,
        "has_more": False,
        "url": f"/v1/checkout/sessions/{session_id}/line_items",
    }


def _lookup(ledger: Ledger, object_id: str) -> Obj | None:
    tables = {
        "pi_": ledger.payment_intents,
        "ch_": ledger.charges,
        "cus_": ledger.customers,
        "re_": ledger.refunds,
        "dp_": ledger.disputes,
        "cs_": ledger.sessions,
        "in_": ledger.invoices,
        "promo_": ledger.promotion_codes,
        "issfr_": ledger.early_fraud_warnings,
    }
    for prefix, table in tables.items():
        if object_id.startswith(prefix):
            return table.get(object_id)
    return None


async def run_post(
    ledger: Ledger, request: AnyRequest, operation: Operation, *, status: int = 200
) -> Response[bytes]:
    """Run a POST once per Idempotency-Key: replay the saved answer for the same parameters."""
    api_key = authenticate(ledger, request)
    params = await params_of(request)
    key = request.headers.get("idempotency-key")
    request_id = objects.new_id("req_", 14)
    async with ledger.lock:
        if key:
            saved = ledger.idempotency.get((api_key, key))
            if saved is not None:
                if (saved.method, saved.path, saved.params) != ("POST", request.url.path, params):
                    raise StripeError(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                    )
                return json_response(
                    ledger, request, saved.body, status=saved.status, replayed_from=saved.request_id
                )
        result = operation(params, RequestContext(request_id=request_id, idempotency_key=key))
        body = json.dumps(expanded(ledger, result, expand_list(params)), indent=2).encode()
        if key:
            # Like Stripe, only requests that ran are saved: a rejected one may be retried.
            ledger.idempotency[(api_key, key)] = IdempotentResult(
                method="POST",
                path=request.url.path,
                params=params,
                status=status,
                body=body,
                request_id=request_id,
            )
    return json_response(ledger, request, body, status=status, request_id=request_id)


async def run_get(
    ledger: Ledger,
    request: AnyRequest,
    operation: Callable[[dict[str, Any]], Obj],
    *,
    allowed: tuple[str, ...] = (),
) -> Response[bytes]:
    authenticate(ledger, request)
    params = await params_of(request)
    for name in params:
        if name not in (*allowed, "expand"):
            raise StripeError.unknown_param(name)
    async with ledger.lock:
        result = operation(params)
        paths = expand_list(params)
        if result.get("object") == "list":
            inner = [p.removeprefix("data.") for p in paths if p.startswith("data.")]
            result = dict(result, data=[expanded(ledger, o, inner) for o in result["data"]])
        else:
            result = expanded(ledger, result, paths)
        return json_response(ledger, request, result)
