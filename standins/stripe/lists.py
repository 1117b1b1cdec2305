"""Stripe's list endpoints: newest first, `limit`, cursors and `created` ranges."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from standins.stripe.errors import StripeError
from standins.stripe.objects import Obj

_RANGE_OPS: dict[str, Callable[[int, int], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def integer(value: Any, param: str) -> int:
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    raise StripeError.invalid(
        f"Invalid integer: {value}", param=param, code="parameter_invalid_integer"
    )


def created_matches(spec: Any) -> Callable[[Obj], bool]:
    """`created=123` or `created[gte]=…&created[lt]=…` as a predicate on objects."""
    if spec is None:
        return lambda _obj: True
    if not isinstance(spec, dict):
        exact = integer(spec, "created")
        return lambda obj: bool(obj["created"] == exact)
    bounds: list[tuple[Callable[[int, int], bool], int]] = []
    for op, value in spec.items():
        if op not in _RANGE_OPS:
            raise StripeError.unknown_param(f"created[{op}]")
        bounds.append((_RANGE_OPS[op], integer(value, f"created[{op}]")))
    return lambda obj: all(check(obj["created"], bound) for check, bound in bounds)


def page(items: Iterable[Obj], params: dict[str, Any], *, url: str, kind: str) -> Obj:
    """One page of `items` (given newest first) as Stripe's `{"object": "list", …}`."""
    ordered = list(items)
    limit = integer(params.get("limit", "10"), "limit")
    if not 1 <= limit <= 100:
        raise StripeError.invalid("Invalid limit: must be between 1 and 100", param="limit")
    starting_after = params.get("starting_after")
    ending_before = params.get("ending_before")
    if starting_after:
        index = _index(ordered, starting_after, kind, "starting_after")
        window = ordered[index + 1 :]
        data, has_more = window[:limit], len(window) > limit
    elif ending_before:
        index = _index(ordered, ending_before, kind, "ending_before")
        window = ordered[:index]
        data, has_more = window[-limit:], len(window) > limit
    else:
        data, has_more = ordered[:limit], len(ordered) > limit
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def _index(ordered: list[Obj], object_id: str, kind: str, param: str) -> int:
    for index, obj in enumerate(ordered):
        if obj["id"] == object_id:
            return index
    raise StripeError.no_such(kind, object_id, param=param)
