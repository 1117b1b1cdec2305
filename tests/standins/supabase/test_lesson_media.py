"""Lesson media through supabase-py, as the reader and an operator use it: the demo files
uploaded with the secret key (devstack/media.py), signed URLs minted only for readers of the
lesson (the storage.objects policy), bytes served by them, and what a refund does.

A signed URL is a bearer token: storage-api checks RLS when it signs, not when it serves. So
after a refund no new URL is minted, and a URL minted before keeps working until it expires;
the bound is the TTL the reader asks for (600 s by default), measured here as exp - iat.
"""

from __future__ import annotations

import json
import struct
import time
import uuid

import httpx
import jwt
import pytest
from storage3.exceptions import StorageApiError

from devstack import media
from standins.supabase.testing import StandIn
from tests.sql.stripe_objects import charge_refunded, checkout_session, event
from tests.standins.supabase.conftest import Learner, client, query

READER_TTL = 600  # the reader's default (frontend/src/lib/media.ts)
FILES = {f.path: f for f in media.demo_media()[0]}
DIAGRAM = f"{media.JOINS}/joins-diagram.png"
WELCOME = f"{media.FREE}/welcome.wav"


@pytest.fixture(scope="module")
def seeded(api: StandIn) -> None:
    assert media.seed(api.url, api.secret_key) == len(FILES) + len(media.COVERS)


def test_the_seed_gives_every_published_lesson_a_public_cover_with_alt_text(
    api: StandIn, seeded: None, database_url: str
) -> None:
    rows = query(
        database_url,
        "select id::text, cover_path, cover_alt from public.lessons where published order by id",
    )
    assert rows, "the seed publishes lessons"
    for lesson, path, alt in rows:
        assert path == f"{lesson}/cover.png"
        assert alt == media.COVERS[lesson][3]
        # anyone fetches it, with no key, as an <img> or a link preview does
        answer = httpx.get(f"{api.url}/storage/v1/object/public/{media.COVERS_BUCKET}/{path}")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/png"
        assert answer.headers["cache-control"] == "max-age=86400"
        width, height = struct.unpack(">II", answer.content[16:24])  # the PNG's IHDR
        assert (width, height) == media.COVER_SIZE


def buy(database_url: str, learner: Learner, lesson: str) -> str:
    """The learner pays for the lesson (the webhook as the sidecar hands it to SQL)."""
    session = f"cs_test_media_{uuid.uuid4().hex[:12]}"
    payload = checkout_session(session, learner.id, uuid.UUID(lesson), 1200)
    query(
        database_url,
        "select public.handle_stripe_event(%s::jsonb)",
        (
            json.dumps(
                event(f"evt_{session}", "checkout.session.completed", payload, 1_700_000_000)
            ),
        ),
    )
    return str(payload["payment_intent"])


def refund(database_url: str, payment_intent: str) -> None:
    charge = charge_refunded(payment_intent, 1200, 1200)
    body = event(f"evt_refund_{payment_intent}", "charge.refunded", charge, 1_700_000_100)
    query(database_url, "select public.handle_stripe_event(%s::jsonb)", (json.dumps(body),))


def sign(learner_or_key: Learner | str, api: StandIn, path: str, ttl: int = READER_TTL) -> str:
    storage = (
        learner_or_key.client.storage
        if isinstance(learner_or_key, Learner)
        else client(api, learner_or_key).storage
    )
    return str(storage.from_(media.BUCKET).create_signed_url(path, ttl)["signedURL"])


def token_of(url: str) -> dict[str, object]:
    return jwt.decode(httpx.URL(url).params["token"], options={"verify_signature": False})


def test_the_seed_lists_every_file_it_uploads(
    api: StandIn, seeded: None, database_url: str
) -> None:
    listed = query(
        database_url,
        "select object_path from public.lesson_media where object_path is not null"
        " union all select captions_path from public.lesson_media where captions_path is not null",
    )
    assert sorted(path for (path,) in listed) == sorted(FILES)
    stored = query(
        database_url,
        "select name, metadata->>'mimetype', (metadata->>'size')::int from storage.objects"
        " where bucket_id = %s",
        (media.BUCKET,),
    )
    assert {name: (kind, size) for name, kind, size in stored} == {
        f.path: (f.content_type, len(f.data)) for f in FILES.values()
    }
    assert sum(len(f.data) for f in FILES.values()) < 100_000


def test_a_visitor_gets_a_signed_url_for_free_media_that_serves_its_bytes(
    api: StandIn, seeded: None
) -> None:
    url = sign(api.publishable_key, api, WELCOME)
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"
    assert response.content == FILES[WELCOME].data
    ranged = httpx.get(url, headers={"Range": "bytes=0-11"})
    assert ranged.status_code == 206
    assert ranged.content == b"RIFF" + FILES[WELCOME].data[4:8] + b"WAVE"


def test_a_visitor_gets_no_url_for_paid_media(api: StandIn, seeded: None) -> None:
    with pytest.raises(StorageApiError) as refused:
        sign(api.publishable_key, api, DIAGRAM)
    assert refused.value.to_dict()["status"] == "404"


def test_the_owner_gets_urls_and_loses_them_with_a_refund(
    api: StandIn, seeded: None, learner: Learner, database_url: str
) -> None:
    with pytest.raises(StorageApiError):
        sign(learner, api, DIAGRAM)

    payment_intent = buy(database_url, learner, media.JOINS)
    issued = sign(learner, api, DIAGRAM)
    response = httpx.get(issued)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content == FILES[DIAGRAM].data
    claims = token_of(issued)
    assert claims["exp"] - claims["iat"] == READER_TTL  # type: ignore[operator]
    captions = httpx.get(sign(learner, api, f"{media.JOINS}/joins.vtt"))
    assert captions.text.startswith("WEBVTT")

    refund(database_url, payment_intent)
    with pytest.raises(StorageApiError) as refused:
        sign(learner, api, DIAGRAM)
    assert refused.value.to_dict()["status"] == "404"
    # storage-api checks RLS when it signs, not when it serves: the URL issued before the refund
    # is a bearer token until its exp, which is why the reader's TTL is short
    assert httpx.get(issued).status_code == 200
    assert sign(learner, api, WELCOME), "the free lesson's media stay signable"


def test_a_signed_url_stops_at_its_expiry(api: StandIn, seeded: None) -> None:
    url = sign(api.publishable_key, api, WELCOME, ttl=1)
    assert httpx.get(url).status_code == 200
    time.sleep(2.1)
    expired = httpx.get(url)
    assert expired.status_code == 400
    assert expired.json()["error"] == "InvalidJWT"
    assert expired.json()["message"] == '"exp" claim timestamp check failed'


@pytest.mark.parametrize(
    "path",
    [
        f"{media.FREE}/../{media.JOINS}/joins-diagram.png",
        f"{media.FREE}/%2e%2e/{media.JOINS}/joins-diagram.png",
        f"{media.FREE}/..%2F{media.JOINS}/joins-diagram.png",
        f"{media.FREE}/unlisted.png",
        f"{media.JOINS}/joins-diagram.png%00.wav",
    ],
)
def test_no_name_climbs_from_free_media_into_paid_ones(
    api: StandIn, seeded: None, learner: Learner, path: str
) -> None:
    response = httpx.post(
        f"{api.url}/storage/v1/object/sign/{media.BUCKET}/{path}",
        headers={"apikey": api.publishable_key, "Authorization": f"Bearer {learner.access_token}"},
        json={"expiresIn": 60},
    )
    assert response.status_code == 400
    assert response.json()["statusCode"] in {"400", "404"}
    assert "signedURL" not in response.json()


def test_storage_answers_cors_as_the_gateway_does(api: StandIn, seeded: None) -> None:
    origin = "http://127.0.0.1:3000"
    preflight = httpx.options(
        f"{api.url}/storage/v1/object/sign/{media.BUCKET}/{WELCOME}",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, apikey, content-type, x-client-info",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"].split(",")
    assert preflight.headers["access-control-allow-headers"] == (
        "authorization, apikey, content-type, x-client-info"
    )
    served = httpx.get(
        sign(api.publishable_key, api, f"{media.FREE}/welcome.vtt"), headers={"Origin": origin}
    )
    assert served.headers["access-control-allow-origin"] == "*"


def test_operators_list_is_not_readable_with_the_publishable_key(
    api: StandIn, seeded: None
) -> None:
    response = httpx.get(
        f"{api.url}/rest/v1/media_needing_attention", headers={"apikey": api.publishable_key}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "42501"
