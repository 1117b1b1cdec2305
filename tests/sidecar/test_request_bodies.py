"""No JSON endpoint answers 500 to a malformed body: 400/422 invalid_body (413 over the limit).

`POST /v1/checkout/sessions` is tried with a signed-in learner's token, so every body gets past
authentication to the parser: explicit deep nesting and huge arrays, then generated JSON and
near-JSON. No answer is 5xx, none changes the database, none logs at error level. (The webhook's
bodies are the subject of test_webhook_payloads.py; schemathesis covers both routes too.)
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sidecar.conftest import Client, access_token, bearer, query

pytestmark = pytest.mark.anyio
URL = "/v1/checkout/sessions"
LESSON = "00000000-0000-4000-8000-000000000002"


def nested(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


def checkout_rows(database_url: str) -> int:
    return int(query(database_url, "select count(*) from public.checkout_sessions")[0][0])


async def post_body(
    client: Client, learner: uuid.UUID, body: bytes, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    capsys.readouterr()
    response = await client.post(
        URL, content=body, headers={**bearer(learner), "Content-Type": "application/json"}
    )
    logged = capsys.readouterr()
    logs = logged.out + logged.err
    assert "[error" not in logs
    assert "Traceback" not in logs
    code = response.json()["error"]["code"] if response.status_code >= 400 else ""
    return response.status_code, code


BODIES = {
    "lesson_id nested 100000 deep": b'{"lesson_id": ' + nested(100_000) + b"}",
    "lesson_id nested 1000 deep": b'{"lesson_id": ' + nested(1000) + b"}",
    "lesson_id nested 500 deep": b'{"lesson_id": ' + nested(500) + b"}",
    "body nested 100000 deep": nested(100_000),
    "objects nested 50000 deep": b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
    "unknown field nested deep": b'{"lesson_id": "'
    + LESSON.encode()
    + b'", "x": '
    + nested(5000)
    + b"}",
    "huge array": b'{"lesson_id": [' + b"0," * 300_000 + b"0]}",
    "huge array of uuids": b'{"lesson_id": ["' + b'", "'.join([LESSON.encode()] * 20_000) + b'"]}',
    "huge string": b'{"lesson_id": "' + b"a" * 900_000 + b'"}',
    "huge object": b"{" + b", ".join(b'"k%d": 0' % n for n in range(50_000)) + b"}",
    "lesson_id true": b'{"lesson_id": true}',
    "lesson_id null": b'{"lesson_id": null}',
    "lesson_id number": b'{"lesson_id": 1e400}',
    "lesson_id NaN": b'{"lesson_id": NaN}',
    "lesson_id object": b'{"lesson_id": {"id": "' + LESSON.encode() + b'"}}',
    "lesson_id lone surrogate": b'{"lesson_id": "\\ud800"}',
    "lesson_id with NUL": b'{"lesson_id": "' + LESSON.encode() + b'\\u0000"}',
    "invalid UTF-8": b'{"lesson_id": "\xff\xfe"}',
    "duplicate key": b'{"lesson_id": "x", "lesson_id": "y"}',
    "BOM": b"\xef\xbb\xbf" + json.dumps({"lesson_id": "x"}).encode(),
    "a string": b'"' + LESSON.encode() + b'"',
    "truncated": b'{"lesson_id": "' + LESSON.encode(),
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
async def test_a_malformed_checkout_body_is_invalid_body(
    client: Client,
    database_url: str,
    learner: uuid.UUID,
    body: bytes,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = checkout_rows(database_url)
    assert await post_body(client, learner, body, capsys) == (422, "invalid_body")
    assert checkout_rows(database_url) == before


async def test_a_body_over_one_mebibyte_is_413_before_it_is_parsed(
    client: Client, learner: uuid.UUID, capsys: pytest.CaptureFixture[str]
) -> None:
    body = b'{"lesson_id": ' + nested(600_000) + b"}"
    assert await post_body(client, learner, body, capsys) == (413, "payload_too_large")


# --- generated: any JSON value, or near-JSON, in or around lesson_id ---------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(codec=None), max_size=40)
    | st.uuids().map(str),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def checkout_bodies(draw: st.DrawFn) -> bytes:
    shape = draw(st.sampled_from(["value", "lesson_id", "lesson_id+extra", "nested", "text"]))
    if shape == "value":
        document: Any = draw(json_values)
    elif shape == "lesson_id":
        document = {"lesson_id": draw(json_values)}
    elif shape == "lesson_id+extra":
        document = {"lesson_id": LESSON, draw(st.text(min_size=1, max_size=10)): draw(json_values)}
    elif shape == "nested":
        depth = draw(st.integers(1, 200_000))
        return (
            b'{"lesson_id": '
            + nested(depth, draw(st.sampled_from([b"1", b'"x"', b"{}", b""])))
            + b"}"
        )
    else:
        return draw(st.binary(max_size=200))
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))  # NaN/Infinity pass through
    return text.encode("utf-8", "surrogatepass")


def is_a_lesson_request(body: bytes) -> bool:
    try:
        document = json.loads(body)
        return list(document) == ["lesson_id"] and bool(uuid.UUID(document["lesson_id"]))
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError):
        return False


@given(body=checkout_bodies())
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_a_generated_checkout_body_is_never_a_5xx(
    client: Client,
    database_url: str,
    learner: uuid.UUID,
    capsys: pytest.CaptureFixture[str],
    body: bytes,
) -> None:
    before = checkout_rows(database_url)
    status, code = await post_body(client, learner, body, capsys)
    if is_a_lesson_request(body):  # a well-formed request for a lesson that may not exist
        assert status in (404, 422) or status < 300 or status == 502
    else:
        assert (status, code) in ((422, "invalid_body"), (413, "payload_too_large"))
        assert checkout_rows(database_url) == before


async def test_an_anonymous_sign_in_cannot_buy(
    client: Client, database_url: str, learner: uuid.UUID
) -> None:
    anonymous = {"Authorization": f"Bearer {access_token(learner, is_anonymous=True)}"}
    before = checkout_rows(database_url)
    for body in (json.dumps({"lesson_id": LESSON}).encode(), b"not json"):
        response = await client.post(URL, content=body, headers=anonymous)
        assert response.status_code == 403
        assert response.json() == {
            "error": {
                "code": "sign_up_required",
                "message": "Create an account to buy lessons: a guest (anonymous) sign-in "
                "cannot make purchases.",
            }
        }
    assert checkout_rows(database_url) == before
    # reading (a session they cannot have) is still open to them
    read = await client.get(f"{URL}/cs_test_x", headers=anonymous)
    assert read.status_code == 404
