"""Schemathesis against the site's API route, /api/stripe/checkout_session, on the production build.

`make e2e` (tools/e2e.py) runs this against its stack once the browser tests are done: the
production build under `next start`, the sidecar, the Supabase and Stripe stand-ins, a
throwaway database (`uv run python -m tools.e2e --api-only` runs it alone). The route is described
in frontend/openapi/checkout_session.yaml. Schema-valid and schema-invalid requests go as a
signed-in learner from the site's own origin (so they reach Supabase Auth, the sidecar, SQL
and Stripe), as a visitor with no session, and as a learner from another origin: never a 5xx,
every answer JSON of the documented shape for its status, 405 with `Allow` for other methods.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode

DESCRIPTION = Path(__file__).parents[2] / "frontend" / "openapi" / "checkout_session.yaml"
ROUTE = "/api/stripe/checkout_session"


# the running stack's SITE_URL, SUPABASE_URL and publishable key, set by tools/e2e.py
STACK = os.environ.get("E2E_STACK")
pytestmark = pytest.mark.skipif(
    STACK is None,
    reason="needs the production build and the stack: uv run python -m tools.e2e --api-only",
)


@pytest.fixture(scope="module")
def site() -> dict[str, str]:
    """The running stack's environment (SITE_URL, SUPABASE_URL, the publishable key)."""
    assert STACK is not None
    stack: dict[str, str] = json.loads(STACK)
    return stack


def session_cookie(env: dict[str, str]) -> str:
    """A new learner's session cookie, as @supabase/ssr writes it after a sign-up."""
    email = f"fuzz-{secrets.token_hex(5)}@example.com"
    answer = httpx.post(
        f"{env['SUPABASE_URL']}/auth/v1/signup",
        headers={"apikey": env["SUPABASE_PUBLISHABLE_KEY"]},
        json={"email": email, "password": "a-long-learner-password"},
        timeout=10,
    )
    answer.raise_for_status()
    session = answer.json()
    assert session["access_token"], session
    host = urlsplit(env["SUPABASE_URL"]).hostname or ""
    name = f"sb-{host.split('.')[0]}-auth-token"
    value = base64.urlsafe_b64encode(json.dumps(session).encode()).decode().rstrip("=")
    return f"{name}=base64-{value}"


@pytest.fixture(scope="module")
def api_schema(site: dict[str, str]) -> Any:
    schema = schemathesis.openapi.from_path(DESCRIPTION)
    schema.config.update(base_url=site["SITE_URL"])
    return schema


@pytest.fixture(scope="module")
def callers(site: dict[str, str]) -> dict[str, dict[str, str]]:
    origin = {"Origin": site["SITE_URL"]}
    cookie = {"Cookie": session_cookie(site)}
    return {
        "learner": {**origin, **cookie},
        "visitor": origin,
        "another_origin": {"Origin": "http://127.0.0.1:1", **cookie},
    }


def operation(api_schema: Any, method: str) -> Any:
    for result in api_schema.get_all_operations():
        found = result.ok()
        if found.method.upper() == method:
            return found
    raise AssertionError(f"{method} {ROUTE} is not in {DESCRIPTION.name}")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("caller", ["learner", "visitor", "another_origin"])
def test_the_route_answers_as_described(
    api_schema: Any,
    callers: dict[str, dict[str, str]],
    caller: str,
    method: str,
    mode: GenerationMode,
) -> None:
    headers = callers[caller]
    statuses: list[int] = []

    @given(case=operation(api_schema, method).as_strategy(generation_mode=mode))
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    def answers(case: Any) -> None:
        response = case.call(headers=headers, timeout=20)
        statuses.append(response.status_code)
        assert response.status_code < 500, (response.status_code, response.text)
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/json"), (response.status_code, response.text)
        case.validate_response(response)

    answers()
    if caller == "another_origin":
        assert set(statuses) == {403}, "another origin is refused before anything is asked"
    if caller == "visitor":
        assert set(statuses) <= {401, 403, 413, 422}, statuses


# from supabase/seed.sql: a paid lesson and the free one
JOINS = "00000000-0000-4000-8000-000000000002"
FREE = "00000000-0000-4000-8000-000000000001"


def test_a_learner_opens_one_session_reused_and_is_refused_a_free_lesson(
    api_schema: Any, callers: dict[str, dict[str, str]]
) -> None:
    post = operation(api_schema, "POST")
    learner = callers["learner"]
    opened = api_schema.make_case(
        operation=post, body={"lesson_id": JOINS}, media_type="application/json"
    )
    first = opened.call(headers=learner, timeout=20)
    opened.validate_response(first)
    assert first.status_code == 201, first.text
    again = opened.call(headers=learner, timeout=20)
    opened.validate_response(again)
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])

    read = api_schema.make_case(
        operation=operation(api_schema, "GET"), query={"session_id": first.json()["id"]}
    )
    state = read.call(headers=learner, timeout=20)
    read.validate_response(state)
    assert state.status_code == 200, state.text
    assert state.json()["lesson_id"] == JOINS

    free = api_schema.make_case(
        operation=post, body={"lesson_id": FREE}, media_type="application/json"
    )
    refused = free.call(headers=learner, timeout=20)
    free.validate_response(refused)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "free_lesson")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_are_405_with_allow(
    site: dict[str, str], callers: dict[str, dict[str, str]], method: str
) -> None:
    answer = httpx.request(method, f"{site['SITE_URL']}{ROUTE}", headers=callers["learner"])
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert answer.json()["error"]["code"] == "method_not_allowed"
