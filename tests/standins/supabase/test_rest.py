"""/rest/v1 through supabase-py: each call runs as the JWT's role, so grants and RLS decide."""

from __future__ import annotations

import time
import uuid
from typing import Any, cast

import httpx
import jwt
import pytest
from postgrest.exceptions import APIError

from standins.supabase.testing import StandIn, running_standin
from tests.sidecar.conftest import LESSON_JOINS, LESSON_RLS, checkout_session
from tests.standins.supabase.conftest import Learner, client, query, sign_up


def buy(api: StandIn, learner: Learner, lesson: uuid.UUID, amount: int) -> None:
    """A paid Checkout Session handed to SQL by the service role, as the sidecar hands it."""
    session = checkout_session(user_id=learner.id, lesson_id=lesson, amount_total=amount)
    outcome = (
        client(api, api.service_role_key)
        .rpc("sync_checkout_session", {"p_session": session})
        .execute()
    )
    assert outcome.data == "recorded"


def as_learner(api: StandIn, learner: Learner) -> dict[str, str]:
    return {"apikey": api.anon_key, "Authorization": f"Bearer {learner.access_token}"}


def rows(data: object) -> list[dict[str, Any]]:
    """A PostgREST array of objects (supabase-py types `.data` as any JSON)."""
    assert isinstance(data, list)
    return cast(list[dict[str, Any]], data)


def document(data: object) -> dict[str, Any]:
    assert isinstance(data, dict)
    return cast(dict[str, Any], data)


def catalog_owned(data: object) -> dict[str, bool]:
    return {row["id"]: row["owned"] for row in rows(data)}


def test_lesson_catalog_shows_ownership_to_its_owner_only(api: StandIn, database_url: str) -> None:
    owner, other = sign_up(api), sign_up(api)
    buy(api, owner, LESSON_JOINS, 1200)
    published = {str(r[0]) for r in query(database_url, "select id from lessons where published")}

    anon = rows(client(api).rpc("lesson_catalog", {}).execute().data)
    assert {row["id"] for row in anon} == published
    assert not any(row["owned"] for row in anon)

    mine = catalog_owned(owner.client.rpc("lesson_catalog", {}).execute().data)
    assert [lesson for lesson, owned in mine.items() if owned] == [str(LESSON_JOINS)]
    theirs = catalog_owned(other.client.rpc("lesson_catalog", {}).execute().data)
    assert not any(theirs.values())


def test_lesson_catalog_through_get_is_the_same_array(api: StandIn) -> None:
    response = httpx.get(f"{api.url}/rest/v1/rpc/lesson_catalog", headers={"apikey": api.anon_key})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json(), list)
    assert {"id", "slug", "price_cents", "currency", "owned", "pending"} <= set(response.json()[0])


def test_record_purchase_is_refused_to_anon_401_and_learners_403(
    api: StandIn, learner: Learner
) -> None:
    body = {"p_session": {"object": "checkout.session", "id": "cs_test_x"}}
    url = f"{api.url}/rest/v1/rpc/record_purchase"
    anon = httpx.post(url, json=body, headers={"apikey": api.anon_key})
    assert anon.status_code == 401
    assert anon.json()["code"] == "42501"
    signed_in = httpx.post(url, json=body, headers=as_learner(api, learner))
    assert signed_in.status_code == 403
    assert signed_in.json() == {
        "code": "42501",
        "details": None,
        "hint": None,
        "message": "permission denied for function record_purchase",
    }
    with pytest.raises(APIError) as error:
        learner.client.rpc("record_purchase", body).execute()
    assert error.value.code == "42501"


def test_service_role_may_call_what_learners_may_not(api: StandIn) -> None:
    service = client(api, api.service_role_key)
    outcome = service.rpc(
        "record_purchase", {"p_session": {"object": "checkout.session", "id": "cs_test_none"}}
    ).execute()
    assert isinstance(outcome.data, str)
    assert outcome.data.startswith("ignored")


def test_jsonb_and_null_results_come_back_as_json(api: StandIn, learner: Learner) -> None:
    service = client(api, api.service_role_key)
    plan = service.rpc(
        "begin_checkout", {"p_user_id": str(learner.id), "p_lesson_id": str(LESSON_RLS)}
    ).execute()
    assert document(plan.data)["action"] == "create"
    assert document(plan.data)["lesson"]["price_cents"] == 2500
    missing = service.rpc(
        "checkout_session_for_user", {"p_user_id": str(learner.id), "p_session_id": "cs_test_no"}
    ).execute()
    assert missing.data is None


def test_a_learner_reads_only_their_own_purchases(api: StandIn) -> None:
    owner, other = sign_up(api), sign_up(api)
    buy(api, owner, LESSON_JOINS, 1200)
    buy(api, other, LESSON_RLS, 2500)

    def lessons(who: Any, **eq: str) -> list[str]:
        request = who.table("purchased_lessons").select("lesson_id,status")
        for column, value in eq.items():
            request = request.eq(column, value)
        return [row["lesson_id"] for row in rows(request.order("lesson_id").execute().data)]

    assert lessons(owner.client) == [str(LESSON_JOINS)]
    assert lessons(owner.client, user_id=str(other.id)) == [], "RLS hides the other's rows"
    assert lessons(client(api)) == [], "anon reads nothing"
    service = client(api, api.service_role_key)
    assert lessons(service, user_id=str(other.id)) == [str(LESSON_RLS)]
    row = rows(owner.client.table("purchased_lessons").select("*").limit(1).execute().data)[0]
    assert row["user_id"] == str(owner.id)
    assert row["status"] == "paid"


def test_table_reads_filter_order_and_limit(api: StandIn) -> None:
    found = rows(
        client(api)
        .table("lessons")
        .select("slug,price_cents")
        .eq("currency", "usd")
        .order("price_cents", desc=True)
        .limit(2)
        .execute()
        .data
    )
    assert len(found) == 2
    assert found[0]["price_cents"] >= found[1]["price_cents"]
    assert set(found[0]) == {"slug", "price_cents"}


def test_unknown_function_and_table_are_404(api: StandIn) -> None:
    with pytest.raises(APIError) as unknown_function:
        client(api).rpc("no_such_function", {"x": 1}).execute()
    assert unknown_function.value.code == "PGRST202"
    wrong_args = httpx.post(
        f"{api.url}/rest/v1/rpc/lesson_catalog",
        json={"p_user_id": "x"},
        headers={"apikey": api.anon_key},
    )
    assert (wrong_args.status_code, wrong_args.json()["code"]) == (404, "PGRST202")
    injected = httpx.get(
        f'{api.url}/rest/v1/lessons";drop table lessons;--', headers={"apikey": api.anon_key}
    )
    assert (injected.status_code, injected.json()["code"]) == (404, "PGRST205")
    assert client(api).table("lessons").select("id").limit(1).execute().data, "lessons still there"


def test_bad_and_expired_jwts_are_postgrest_401s(api: StandIn, learner: Learner) -> None:
    claims = jwt.decode(learner.access_token, options={"verify_signature": False})
    forged = jwt.encode(claims, "another-secret-another-secret-0123456789", algorithm="HS256")
    expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, api.jwt_secret)
    for token, code in ((forged, "PGRST301"), (expired, "PGRST303"), ("garbage", "PGRST301")):
        response = httpx.post(
            f"{api.url}/rest/v1/rpc/lesson_catalog",
            json={},
            headers={"apikey": api.anon_key, "Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401
        assert response.json()["code"] == code
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_role_other_than_the_api_roles_is_refused(api: StandIn) -> None:
    superuser = jwt.encode({"role": "postgres", "exp": int(time.time()) + 60}, api.jwt_secret)
    response = httpx.get(
        f"{api.url}/rest/v1/stripe_events",
        headers={"apikey": api.anon_key, "Authorization": f"Bearer {superuser}"},
    )
    assert (response.status_code, response.json()["code"]) == (403, "42501")


def test_unreachable_database_is_503() -> None:
    with running_standin("postgresql://postgres@127.0.0.1:9/none", pool_timeout=0.5) as down:
        response = httpx.post(
            f"{down.url}/rest/v1/rpc/lesson_catalog", json={}, headers={"apikey": down.anon_key}
        )
    assert response.status_code == 503
    assert response.json()["code"] == "PGRST001"


def as_service(api: StandIn, **extra: str) -> dict[str, str]:
    return {"apikey": api.service_role_key, **extra}


def test_a_singular_write_that_touches_several_rows_is_406_and_rolled_back(
    api: StandIn, database_url: str
) -> None:
    before = query(database_url, "select slug, title from lessons order by slug")
    response = httpx.patch(
        f"{api.url}/rest/v1/lessons?currency=eq.usd",
        json={"title": "Everything renamed"},
        headers=as_service(api, Accept="application/vnd.pgrst.object+json"),
    )
    assert response.status_code == 406
    assert response.json()["code"] == "PGRST116"
    assert response.json()["details"].startswith("The result contains ")
    assert query(database_url, "select slug, title from lessons order by slug") == before


def test_upserts_merge_or_ignore_duplicates_on_the_conflict_columns(
    api: StandIn, database_url: str
) -> None:
    lesson = {
        "slug": "upserted-lesson",
        "title": "First",
        "description": "d",
        "price_cents": 300,
        "currency": "usd",
        "published": False,
    }
    url = f"{api.url}/rest/v1/lessons?on_conflict=slug&select=slug,title"
    merge = as_service(api, Prefer="resolution=merge-duplicates,return=representation")
    first = httpx.post(url, json=lesson, headers=merge)
    assert (first.status_code, first.json()) == (
        201,
        [{"slug": "upserted-lesson", "title": "First"}],
    )
    second = httpx.post(url, json={**lesson, "title": "Second"}, headers=merge)
    assert second.json() == [{"slug": "upserted-lesson", "title": "Second"}]
    assert second.status_code == 200, "merged, nothing inserted: 200 as PostgREST"
    ignore = as_service(api, Prefer="resolution=ignore-duplicates,return=representation")
    third = httpx.post(url, json={**lesson, "title": "Third"}, headers=ignore)
    assert third.json() == []
    assert query(database_url, "select title from lessons where slug = 'upserted-lesson'") == [
        ("Second",)
    ]
    duplicate = httpx.post(f"{api.url}/rest/v1/lessons", json=lesson, headers=as_service(api))
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "23505")
    gone = httpx.delete(
        f"{api.url}/rest/v1/lessons?slug=eq.upserted-lesson",
        headers=as_service(api, Prefer="return=representation"),
    )
    assert [row["slug"] for row in gone.json()] == ["upserted-lesson"]


def test_embedded_filters_need_the_resource_in_select(api: StandIn) -> None:
    response = httpx.get(
        f"{api.url}/rest/v1/lessons?select=slug&lesson_content.body=eq.x",
        headers={"apikey": api.anon_key},
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "PGRST108",
        "details": None,
        "hint": "Verify that 'lesson_content' is included in the 'select' query parameter.",
        "message": "'lesson_content' is not an embedded resource in this request",
    }

    def inner(pattern: str) -> list[str]:
        found = httpx.get(
            f"{api.url}/rest/v1/lessons?select=slug,lesson_content!inner(body)"
            f"&lesson_content.body=ilike.*{pattern}*",
            headers={"apikey": api.anon_key},
        )
        return [row["slug"] for row in found.json()]

    assert inner("set of rows") == ["welcome-to-sql"], "the free lesson's content matches"
    assert inner("inner join") == [], "a paid lesson's content is hidden from anon by RLS"


def test_missing_keys_are_null_or_defaults_as_prefer_missing_says(
    api: StandIn, database_url: str
) -> None:
    rows = [
        {"slug": "bulk-one", "title": "One", "price_cents": 100, "description": "given"},
        {"slug": "bulk-two", "title": "Two", "price_cents": 200},
    ]
    url = f"{api.url}/rest/v1/lessons?select=slug,description,currency"
    as_null = httpx.post(url, json=rows, headers=as_service(api))
    assert (as_null.status_code, as_null.json()["code"]) == (400, "23502")
    assert query(database_url, "select count(*) from lessons where slug like 'bulk-%%'") == [(0,)]
    as_default = httpx.post(
        url, json=rows, headers=as_service(api, Prefer="missing=default,return=representation")
    )
    assert as_default.status_code == 201
    assert as_default.json() == [
        {"slug": "bulk-one", "description": "given", "currency": "usd"},
        {"slug": "bulk-two", "description": "", "currency": "usd"},
    ]
    assert as_default.headers["Preference-Applied"] == "return=representation, missing=default"
    httpx.delete(f"{api.url}/rest/v1/lessons?slug=like.bulk-*", headers=as_service(api))


def test_strict_preferences_and_max_affected(api: StandIn, database_url: str) -> None:
    strict = httpx.get(
        f"{api.url}/rest/v1/lessons",
        headers={"apikey": api.anon_key, "Prefer": "handling=strict, count=maybe, foo"},
    )
    assert strict.status_code == 400
    assert strict.json()["code"] == "PGRST122"
    assert strict.json()["details"] == "Invalid preferences: count=maybe, foo"
    lenient = httpx.get(
        f"{api.url}/rest/v1/lessons", headers={"apikey": api.anon_key, "Prefer": "foo, count=maybe"}
    )
    assert lenient.status_code == 200
    before = query(database_url, "select slug, title from lessons order by slug")
    capped = httpx.patch(
        f"{api.url}/rest/v1/lessons?currency=eq.usd",
        json={"title": "Capped"},
        headers=as_service(api, Prefer="handling=strict, max-affected=1"),
    )
    assert capped.status_code == 400
    assert capped.json()["code"] == "PGRST124"
    assert capped.json()["details"].startswith("The query affects ")
    assert query(database_url, "select slug, title from lessons order by slug") == before


def test_a_spread_embed_lifts_a_to_one_resources_columns(api: StandIn, learner: Learner) -> None:
    buy(api, learner, LESSON_JOINS, 1200)
    response = httpx.get(
        f"{api.url}/rest/v1/purchased_lessons?select=status,...lessons(slug,lesson_title:title)",
        headers=as_learner(api, learner),
    )
    assert response.json() == [
        {"status": "paid", "slug": "joins-without-fear", "lesson_title": "Joins without fear"}
    ]
    to_many = httpx.get(
        f"{api.url}/rest/v1/lessons?select=slug,...purchased_lessons(status)",
        headers={"apikey": api.anon_key},
    )
    assert (to_many.status_code, to_many.json()["code"]) == (400, "PGRST127")


def test_is_null_on_an_embed_filters_on_what_it_found(api: StandIn, learner: Learner) -> None:
    buy(api, learner, LESSON_JOINS, 1200)

    def slugs(params: str) -> list[str]:
        found = httpx.get(
            f"{api.url}/rest/v1/lessons?order=slug&{params}", headers=as_learner(api, learner)
        )
        assert found.status_code == 200, found.text
        return [row["slug"] for row in found.json()]

    owned = slugs("select=slug,purchased_lessons(status)&purchased_lessons=not.is.null")
    assert owned == ["joins-without-fear"]
    readable = slugs("select=slug,lesson_content(body)&lesson_content=not.is.null")
    assert readable == ["joins-without-fear", "welcome-to-sql"], "free and owned content"
    hidden = slugs("select=slug,lesson_content(body)&lesson_content=is.null")
    assert "joins-without-fear" not in hidden
    assert "row-level-security" in hidden


def test_methods_and_paths_postgrest_does_not_serve_are_its_own_errors(api: StandIn) -> None:
    headers = {"apikey": api.anon_key}
    for method, path, status, code in (
        ("PUT", "/rest/v1/rpc/lesson_catalog", 405, "PGRST101"),
        ("DELETE", "/rest/v1/rpc/lesson_catalog", 405, "PGRST101"),
        ("TRACE", "/rest/v1/lessons", 405, "PGRST117"),
        ("GET", "/rest/v1/lessons/extra", 404, "PGRST125"),
        ("GET", "/rest/v1/", 400, "PGRST127"),
    ):
        response = httpx.request(method, f"{api.url}{path}", headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code), path
    assert httpx.put(f"{api.url}/rest/v1/rpc/lesson_catalog", headers=headers).json()[
        "message"
    ] == ("Cannot use the PUT method on RPC")


def test_the_gateway_answers_cors_on_every_path_of_its_routes(api: StandIn) -> None:
    preflight = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "PATCH"}
    for path in ("/rest/v1/no/such/path", "/auth/v1/no-such-route"):
        response = httpx.options(f"{api.url}{path}", headers=preflight)
        assert response.status_code == 200, path
        assert response.headers["access-control-allow-origin"] == "*"
        assert "PATCH" in response.headers["access-control-allow-methods"].split(",")
    origin = {"Origin": "http://localhost:3000", "apikey": api.anon_key}
    for method, path, status in (
        ("GET", "/rest/v1/no/such/path", 404),
        ("TRACE", "/rest/v1/lessons", 405),
    ):
        response = httpx.request(method, f"{api.url}{path}", headers=origin)
        assert response.status_code == status
        assert response.headers["access-control-allow-origin"] == "*"
    outside = httpx.options(f"{api.url}/elsewhere", headers=preflight)
    assert "access-control-allow-origin" not in outside.headers, "no route there, no CORS"


def test_put_inserts_or_replaces_the_row_its_primary_key_names(
    api: StandIn, database_url: str
) -> None:
    lesson_id = str(uuid.uuid4())
    lesson = {
        "id": lesson_id,
        "slug": "put-lesson",
        "title": "Put",
        "description": "",
        "price_cents": 100,
        "currency": "usd",
        "published": False,
    }
    url = f"{api.url}/rest/v1/lessons?id=eq.{lesson_id}&select=slug,title"
    full = as_service(api, Prefer="return=representation")
    created = httpx.put(url, json=lesson, headers=full)
    assert (created.status_code, created.json()) == (201, [{"slug": "put-lesson", "title": "Put"}])
    replaced = httpx.put(url, json={**lesson, "title": "Put again"}, headers=full)
    assert (replaced.status_code, replaced.json()[0]["title"]) == (200, "Put again")
    minimal = httpx.put(url, json={**lesson, "title": "Quietly"}, headers=as_service(api))
    assert (minimal.status_code, minimal.content) == (204, b"")
    for target, body, status, code in (
        (url, {**lesson, "id": str(uuid.uuid4())}, 400, "PGRST115"),
        (f"{api.url}/rest/v1/lessons?slug=eq.put-lesson", lesson, 405, "PGRST105"),
        (f"{url}&title=eq.Put", lesson, 405, "PGRST105"),
        (f"{url}&limit=1", lesson, 400, "PGRST114"),
    ):
        refused = httpx.put(target, json=body, headers=as_service(api))
        assert (refused.status_code, refused.json()["code"]) == (status, code), target
    anon = httpx.put(url, json=lesson, headers={"apikey": api.anon_key})
    assert (anon.status_code, anon.json()["code"]) == (401, "42501")
    assert query(database_url, "select title from lessons where id = %s", (lesson_id,)) == [
        ("Quietly",)
    ]
    httpx.delete(f"{api.url}/rest/v1/lessons?id=eq.{lesson_id}", headers=as_service(api))


def test_order_by_a_to_one_embeds_column(api: StandIn, database_url: str) -> None:
    def rows(params: str) -> httpx.Response:
        return httpx.get(f"{api.url}/rest/v1/lesson_content?{params}", headers=as_service(api))

    expected = query(
        database_url,
        "select l.title from lesson_content c join lessons l on l.id = c.lesson_id"
        " order by l.price_cents desc, l.title",
    )
    ordered = rows(
        "select=lessons(title,price_cents)&order=lessons(price_cents).desc,lessons(title)"
    )
    assert ordered.status_code == 200, ordered.text
    assert [(row["lessons"]["title"],) for row in ordered.json()] == expected
    spread = rows("select=...lessons(title)&order=lessons(title).desc")
    assert [row["title"] for row in spread.json()] == sorted(
        (title for (title,) in expected), reverse=True
    )
    not_embedded = rows("select=lesson_id&order=lessons(title)")
    assert (not_embedded.status_code, not_embedded.json()["code"]) == (400, "PGRST108")
    to_many = httpx.get(
        f"{api.url}/rest/v1/lessons?select=slug,purchased_lessons(status)"
        "&order=purchased_lessons(status)",
        headers=as_service(api),
    )
    assert (to_many.status_code, to_many.json()["code"]) == (400, "PGRST118")


def test_limited_patch_and_delete_act_on_the_rows_order_and_range_pick(
    api: StandIn, database_url: str
) -> None:
    lessons = [
        {"slug": f"limited-{n}", "title": f"Limited {n}", "price_cents": n} for n in (1, 2, 3)
    ]
    base = f"{api.url}/rest/v1/lessons"
    assert httpx.post(base, json=lessons, headers=as_service(api)).status_code == 201
    full = as_service(api, Prefer="return=representation")
    patched = httpx.patch(
        f"{base}?slug=like.limited-*&order=price_cents.desc&limit=1&offset=1&select=slug",
        json={"title": "Second dearest"},
        headers=full,
    )
    assert (patched.status_code, patched.json()) == (200, [{"slug": "limited-2"}])
    deleted = httpx.delete(
        f"{base}?slug=like.limited-*&order=price_cents.desc&limit=2&select=slug", headers=full
    )
    assert sorted(row["slug"] for row in deleted.json()) == ["limited-2", "limited-3"]
    assert query(database_url, "select slug, title from lessons where slug like 'limited-%%'") == [
        ("limited-1", "Limited 1")
    ]
    httpx.delete(f"{base}?slug=like.limited-*", headers=as_service(api))


def test_array_arguments_from_json_arrays_and_repeated_query_parameters(
    api: StandIn, database_url: str
) -> None:
    query(
        database_url,
        "create function public.joined_for_test(p_words text[], p_counts int[] default '{}')"
        " returns text language sql immutable"
        " as $$ select array_to_string(p_words, '|', '<null>') || ':' ||"
        " coalesce((select sum(c) from unnest(p_counts) as c), 0) $$",
    )
    try:
        url = f"{api.url}/rest/v1/rpc/joined_for_test"
        headers = {"apikey": api.anon_key}
        posted = httpx.post(
            url, json={"p_words": ['a,"b"', None, "c\\d"], "p_counts": [1, 2, 3]}, headers=headers
        )
        assert (posted.status_code, posted.json()) == (200, 'a,"b"|<null>|c\\d:6')
        read = httpx.get(f"{url}?p_words=x&p_words=y%2Cz&p_counts=4&p_counts=5", headers=headers)
        assert (read.status_code, read.json()) == (200, "x|y,z:9")
    finally:
        query(database_url, "drop function public.joined_for_test(text[], int[])")


def test_the_range_header_pages_a_get_as_limit_and_offset_do(
    api: StandIn, database_url: str
) -> None:
    slugs = [
        row[0]
        for row in query(database_url, "select slug from lessons where published order by slug")
    ]
    headers = {"apikey": api.anon_key, "Prefer": "count=exact"}
    url = f"{api.url}/rest/v1/lessons?select=slug&order=slug"
    ranged = httpx.get(url, headers={**headers, "Range": "1-2"})
    assert [row["slug"] for row in ranged.json()] == slugs[1:3]
    assert (ranged.status_code, ranged.headers["Content-Range"]) == (206, f"1-2/{len(slugs)}")
    both = httpx.get(f"{url}&limit=2", headers={**headers, "Range": "1-3"})
    assert both.headers["Content-Range"] == f"1-1/{len(slugs)}", "the two intersect"
    apart = httpx.get(f"{url}&limit=1", headers={**headers, "Range": "2-3"})
    assert (apart.status_code, apart.json()["code"]) == (416, "PGRST103")
    for ignored in ("bytes=1-2", "²-3", "1-٣"):
        raw = [(name.encode(), value.encode()) for name, value in headers.items()]
        whole = httpx.get(url, headers=[*raw, (b"Range", ignored.encode())])
        assert whole.headers["Content-Range"] == f"0-{len(slugs) - 1}/{len(slugs)}", ignored
    head = httpx.head(url, headers={**headers, "Range": "1-2"})
    assert head.headers["Content-Range"] == f"0-{len(slugs) - 1}/{len(slugs)}", "GET only"
    backwards = httpx.get(url, headers={**headers, "Range": "3-1"})
    assert (backwards.status_code, backwards.json()["code"]) == (416, "PGRST103")
