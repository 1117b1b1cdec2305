"""/rest/v1 and /auth/v1 through supabase-js, run by Node as the frontend runs it.

Each test runs one scenario of `js/contract.cjs` with the frontend's own Node 22 and
`@supabase/supabase-js` (frontend/node_modules, from `make install-node`) against the
stand-in, and asserts on what the client saw: data, error, count and status.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from standins.supabase.testing import StandIn
from tests.sidecar.conftest import LESSON_JOINS
from tests.standins.supabase.conftest import PASSWORD, Learner, query
from tests.standins.supabase.test_rest import buy

ROOT = Path(__file__).resolve().parents[3]
NODE_MODULES = ROOT / "frontend" / "node_modules"
NODE = NODE_MODULES / ".bin" / "node"
SCRIPT = Path(__file__).with_name("js") / "contract.cjs"


def supabase_js(
    api: StandIn, scenario: str, learner: Learner | None = None, **extra_env: str
) -> Any:
    if not NODE.exists() or not (NODE_MODULES / "@supabase" / "supabase-js").is_dir():
        pytest.fail(
            f"Node 22 and @supabase/supabase-js are missing from {NODE_MODULES}: run "
            "`make install-node`",
            pytrace=False,
        )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SUPABASE_URL": api.url,
        # the project's current keys, as the frontend is given them
        "SUPABASE_PUBLISHABLE_KEY": api.publishable_key,
        "SUPABASE_SECRET_KEY": api.secret_key,
        "FRONTEND_NODE_MODULES": str(NODE_MODULES),
    }
    if learner is not None:
        env |= {"LEARNER_EMAIL": learner.email, "LEARNER_PASSWORD": PASSWORD}
        env |= {"LEARNER_ID": str(learner.id)}
    env |= extra_env
    done = subprocess.run(
        [str(NODE), str(SCRIPT), scenario],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"supabase-js scenario {scenario} failed:\n{done.stderr}"
    return json.loads(done.stdout)


def slugs(database_url: str, where: str = "true") -> list[str]:
    """What anon may read of lessons (published ones, RLS), by slug, in slug order."""
    statement = f"select slug from lessons where published and {where} order by slug"  # noqa: S608 - the tests' own conditions
    rows = query(database_url, statement)
    return [row[0] for row in rows]


def test_single_is_one_object_and_406_pgrst116_for_none_or_many(
    api: StandIn, database_url: str
) -> None:
    seen = supabase_js(api, "single")
    assert seen["one"] == {
        "data": {"slug": "welcome-to-sql", "title": "Welcome to SQL"},
        "error": None,
        "count": None,
        "status": 200,
    }
    assert seen["none"]["status"] == 406
    assert seen["none"]["data"] is None
    assert seen["none"]["error"] == {
        "code": "PGRST116",
        "details": "The result contains 0 rows",
        "hint": None,
        "message": "Cannot coerce the result to a single JSON object",
    }
    many = len(slugs(database_url))
    assert seen["many"]["status"] == 406
    assert seen["many"]["error"]["details"] == f"The result contains {many} rows"
    # maybeSingle: supabase-js asks for an array and turns 0 rows into null itself
    assert seen["maybeNone"] == {"data": None, "error": None, "count": None, "status": 200}
    assert seen["maybeOne"]["data"] == {"slug": "welcome-to-sql", "title": "Welcome to SQL"}


def test_exact_counts_reach_supabase_js_with_head_and_ranges(
    api: StandIn, database_url: str
) -> None:
    seen = supabase_js(api, "count")
    total = len(slugs(database_url))
    assert seen["head"] == {"data": None, "error": None, "count": total, "status": 200}
    assert seen["page"]["count"] == total
    assert [row["slug"] for row in seen["page"]["data"]] == slugs(database_url)[:2]
    assert seen["page"]["status"] == 206, "a partial page with a count is 206, as PostgREST"
    assert [row["slug"] for row in seen["range"]["data"]] == slugs(database_url)[2:4]
    assert seen["range"]["count"] == total
    assert seen["empty"] == {"data": [], "error": None, "count": 0, "status": 200}


def test_in_like_ilike_or_and_not_filters(api: StandIn, database_url: str) -> None:
    seen = supabase_js(api, "filters")
    assert seen["in"]["data"] == ["indexes-explained", "welcome-to-sql"]
    assert seen["ilike"]["data"] == slugs(database_url, "title ilike '%%join%%'")
    assert seen["like"]["data"] == slugs(database_url, "slug like '%%-in-%%'")
    assert seen["or"]["data"] == slugs(
        database_url, "(price_cents = 0 or slug = 'stripe-webhooks')"
    )
    assert seen["orNested"]["data"] == slugs(
        database_url,
        "((currency = 'eur' and price_cents > 1000) or slug in ('indexes-explained', 'x,y'))",
    )
    assert seen["notIn"]["data"] == slugs(database_url, "currency not in ('usd', 'eur')")
    assert seen["notEq"]["data"] == slugs(database_url, "not price_cents > 0")
    assert seen["isNull"]["data"] == slugs(
        database_url, "stripe_price_id is null and currency = 'jpy'"
    )
    assert seen["notIn"]["data"], "the seed has a lesson in another currency"
    assert seen["bad"]["status"] == 400
    assert seen["bad"]["error"]["code"] == "PGRST100"
    assert seen["bad"]["error"]["message"].startswith('"failed to parse filter (eqq.x)"')


def test_embedding_follows_foreign_keys_and_rls(
    api: StandIn, learner: Learner, database_url: str
) -> None:
    buy(api, learner, LESSON_JOINS, 1200)
    seen = supabase_js(api, "embedding", learner)
    bodies = dict(
        query(
            database_url,
            "select l.slug, c.body from lessons l join lesson_content c on c.lesson_id = l.id",
        )
    )
    content = seen["content"]["data"]
    assert [row["slug"] for row in content] == [
        "joins-without-fear",
        "row-level-security",
        "welcome-to-sql",
    ]
    assert content[0] == {
        "slug": "joins-without-fear",
        "name": "Joins without fear",
        "lesson_content": {"body": bodies["joins-without-fear"]},
    }, "an owned lesson's content is embedded as one object"
    assert content[1]["lesson_content"] is None, "RLS hides content the learner does not own"
    assert content[2]["lesson_content"] == {"body": bodies["welcome-to-sql"]}, "free lesson"
    assert seen["purchases"]["data"] == [
        {"status": "paid", "lessons": {"slug": "joins-without-fear", "title": "Joins without fear"}}
    ]
    assert seen["oneToMany"]["data"] == {
        "slug": "joins-without-fear",
        "purchased_lessons": [{"status": "paid"}],
    }
    assert seen["inner"]["data"] == [
        {"slug": "joins-without-fear", "purchased_lessons": [{"status": "paid"}]}
    ], "!inner keeps only lessons with a purchase the learner may see"
    assert seen["spread"]["data"] == [{"status": "paid", "slug": "joins-without-fear"}]
    assert seen["unknown"]["status"] == 400
    assert seen["unknown"]["error"]["code"] == "PGRST200"


def test_rpc_results_take_select_filters_order_limit_and_counts(
    api: StandIn, database_url: str
) -> None:
    seen = supabase_js(api, "rpc")
    expected = query(
        database_url,
        "select slug, price_cents from lessons where published and currency = 'usd'"
        " and price_cents > 0 order by price_cents desc limit 2",
    )
    assert seen["filtered"]["error"] is None
    assert seen["filtered"]["data"] == [
        {"slug": slug, "price_cents": price} for slug, price in expected
    ]
    assert seen["get"]["data"] == [{"slug": "indexes-explained"}]
    single = seen["single"]["data"]
    assert single["slug"] == "welcome-to-sql"
    assert {"owned", "pending", "price_cents"} <= set(single)
    assert seen["head"] == {
        "data": None,
        "error": None,
        "count": len(slugs(database_url)),
        "status": 200,
    }


def test_writes_are_decided_by_grants_and_rls_with_postgrest_errors(
    api: StandIn, learner: Learner, database_url: str
) -> None:
    before = query(database_url, "select count(*) from purchased_lessons")
    seen = supabase_js(api, "writes", learner)
    assert seen["anonInsert"]["status"] == 401
    assert seen["anonInsert"]["error"] == {
        "code": "42501",
        "details": None,
        "hint": None,
        "message": "permission denied for table purchased_lessons",
    }
    assert seen["learnerInsert"]["status"] == 403
    assert seen["learnerInsert"]["error"]["code"] == "42501"
    assert seen["learnerUpdate"]["status"] == 403
    assert seen["learnerUpdate"]["error"]["message"] == "permission denied for table lessons"
    assert seen["learnerDelete"]["status"] == 403
    assert query(database_url, "select count(*) from purchased_lessons") == before
    assert query(
        database_url, "select price_cents from lessons where slug = 'row-level-security'"
    ) == [(2500,)]
    assert seen["inserted"] == {
        "data": {"slug": "written-by-supabase-js", "title": "Written by supabase-js"},
        "error": None,
        "count": None,
        "status": 201,
    }
    assert seen["updated"]["data"] == [{"title": "Renamed"}]
    assert seen["updated"]["status"] == 200
    assert seen["upserted"]["data"] == [{"title": "Upserted"}], "upsert merges on the slug"
    assert seen["upserted"]["status"] == 200, "an upsert that only merged is 200, as PostgREST"
    assert seen["deleted"] == {"data": None, "error": None, "count": 1, "status": 204}
    assert seen["after"]["data"] == []


def test_cors_is_answered_as_supabase_gateway_answers_it(api: StandIn) -> None:
    seen = supabase_js(api, "cors")
    asked = (
        "apikey,authorization,x-client-info,content-type,accept-profile,content-profile,"
        "prefer,range,x-supabase-api-version"
    )
    for preflight in (seen["rest"], seen["rpc"], seen["auth"]):
        assert preflight["status"] == 200
        headers = preflight["headers"]
        assert headers["access-control-allow-origin"] == "*"
        assert headers["access-control-allow-headers"] == asked
        assert set(headers["access-control-allow-methods"].split(",")) >= {
            "GET",
            "HEAD",
            "POST",
            "PATCH",
            "DELETE",
            "OPTIONS",
        }
    read = seen["read"]
    assert read["status"] == 206
    assert read["headers"]["access-control-allow-origin"] == "*"
    exposed = {
        h.strip().lower() for h in read["headers"]["access-control-expose-headers"].split(",")
    }
    assert {"content-range", "content-location", "location"} <= exposed
    assert seen["settings"]["headers"]["access-control-allow-origin"] == "*"
    assert (
        "x-supabase-api-version"
        in seen["settings"]["headers"]["access-control-expose-headers"].lower()
    )
    # the gateway's own refusal (no API key) still carries CORS, so a page can read it
    assert seen["refused"]["status"] == 401
    assert seen["refused"]["headers"]["access-control-allow-origin"] == "*"


def test_storage_signed_url_is_fetched_whole_and_by_range_and_rls_refuses_the_other(
    api: StandIn, learner: Learner, database_url: str
) -> None:
    bucket = f"js-media-{learner.id.hex[:8]}"
    policy = f'"learners read their own folder in {bucket}"'
    query(database_url, "insert into storage.buckets (id, name) values (%s, %s)", (bucket, bucket))
    query(
        database_url,
        f"create policy {policy} on storage.objects for select to authenticated"
        f" using (bucket_id = '{bucket}'"
        " and (storage.foldername(name))[1] = (select auth.uid())::text)",
    )
    try:
        seen = supabase_js(api, "storage", learner, STORAGE_BUCKET=bucket)
    finally:
        query(database_url, f"drop policy {policy} on storage.objects")
    assert seen["uploaded"]["error"] is None
    assert seen["uploaded"]["data"]["fullPath"] == f"{bucket}/{learner.id}/clip.bin"
    assert f"/storage/v1/object/sign/{bucket}/{learner.id}/clip.bin?token=" in seen["signedUrl"]
    assert seen["whole"] == {"status": 200, "type": "video/mp4", "length": "4096", "same": True}
    assert seen["part"] == {"status": 206, "range": "bytes 100-199/4096", "same": True}
    assert seen["refused"]["data"] is None
    assert seen["refused"]["error"] == {
        "name": "StorageApiError",
        "message": "Object not found",
        "status": 400,
        "statusCode": "404",
    }
    assert bucket in seen["buckets"]
