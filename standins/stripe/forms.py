"""Stripe's form encoding: `a[b][0][c]=v` pairs in, nested dicts and lists out.

Stripe's clients send every parameter as `application/x-www-form-urlencoded` (query string for
GET), nesting with brackets: `metadata[user_id]=u`, `line_items[0][quantity]=1`, and both
`expand[]=x` and `expand[0]=x` for lists. A dict whose keys are all decimal indexes becomes a
list in index order, which is how Stripe reads `line_items[0]…`, `line_items[1]…`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from standins.stripe.errors import StripeError

Params = dict[str, Any]

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


def parse_form(raw: bytes | str) -> Params:
    """Parse a form-encoded body or query string the way Stripe does."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return parse_pairs(parse_qsl(text, keep_blank_values=True))


def parse_pairs(pairs: list[tuple[str, str]]) -> Params:
    root: Params = {}
    appended: dict[int, int] = {}  # id(container) -> next index for `key[]`
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise StripeError.invalid(f"Invalid parameter name: {key}", param=key)
        path: list[str] = [match.group(1), *_PART.findall(match.group(2))]
        node = root
        for depth, part in enumerate(path):
            last = depth == len(path) - 1
            name = part
            if part == "":
                # `key[]` appends: give it the next free index of this container
                name = str(appended.get(id(node), len(node)))
                appended[id(node)] = int(name) + 1
            if last:
                existing = node.get(name)
                if isinstance(existing, dict):
                    raise StripeError.invalid(
                        f"Invalid parameter: {key} is both a value and a hash", param=key
                    )
                node[name] = value
            else:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    raise StripeError.invalid(
                        f"Invalid parameter: {key} is both a value and a hash", param=key
                    )
                node = child
    return _listify(root)


def _listify(node: Params) -> Params:
    out: Params = {}
    for key, value in node.items():
        out[key] = _to_list_if_indexed(_listify(value)) if isinstance(value, dict) else value
    return out


def _to_list_if_indexed(node: Params) -> Params | list[Any]:
    if node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node
