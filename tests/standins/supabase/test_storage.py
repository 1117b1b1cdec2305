"""/storage/v1 through supabase-py's storage client and raw HTTP: signed URLs checked by RLS on
storage.objects, bytes served with Range, and storage-api's 4xx for every bad input."""

from __future__ import annotations

import hashlib
import http.client
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from storage3.exceptions import StorageApiError

from standins.supabase.testing import StandIn
from tests.standins.supabase.conftest import Learner, client, query

VIDEO = bytes(range(256)) * 40  # 10 240 bytes, each offset's byte known


@pytest.fixture(scope="module")
def bucket(api: StandIn, database_url: str) -> Iterator[str]:
    """A private bucket whose objects a learner may select under `<their id>/…` only."""
    name = f"media-{uuid.uuid4().hex[:8]}"
    query(database_url, "insert into storage.buckets (id, name) values (%s, %s)", (name, name))
    query(
        database_url,
        f'create policy "learners read their own folder in {name}" on storage.objects'
        f" for select to authenticated using (bucket_id = '{name}'"
        " and (storage.foldername(name))[1] = (select auth.uid())::text)",
    )
    yield name
    policy = f'"learners read their own folder in {name}"'
    query(database_url, f"drop policy {policy} on storage.objects")


def upload(api: StandIn, bucket: str, path: str, data: bytes = VIDEO) -> None:
    service = client(api, api.service_role_key)
    service.storage.from_(bucket).upload(path, data, {"content-type": "video/mp4"})


def raw(api: StandIn, method: str, path: str, headers: dict[str, str] | None = None) -> Any:
    """A request with the path exactly as written (httpx would normalise `..`)."""
    parts = urlsplit(api.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port)
    conn.request(method, path, headers={"apikey": api.anon_key, **(headers or {})})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def test_list_buckets_as_service_role_and_none_for_a_learner(
    api: StandIn, bucket: str, learner: Learner
) -> None:
    service = client(api, api.service_role_key)
    found = {b.id: b for b in service.storage.list_buckets()}
    assert found[bucket].public is False
    assert found[bucket].owner == "", "a null owner is serialised as storage-api's schema does"
    assert found[bucket].type == "STANDARD"
    assert learner.client.storage.list_buckets() == [], "no policy on storage.buckets: nothing"


def test_signed_url_serves_the_bytes_with_headers_and_a_range(
    api: StandIn, bucket: str, learner: Learner
) -> None:
    path = f"{learner.id}/intro.mp4"
    upload(api, bucket, path)
    signed = learner.client.storage.from_(bucket).create_signed_url(path, 60)
    url = signed["signedURL"]
    assert url is not None
    assert f"/storage/v1/object/sign/{bucket}/{path}?token=" in url
    token = url.split("token=")[1]
    claims = jwt.decode(token, api.jwt_secret, algorithms=["HS256"])
    assert claims["url"] == f"{bucket}/{path}"
    assert claims["scope"] == "download"
    assert claims["exp"] - claims["iat"] == 60
    whole = httpx.get(url)
    assert whole.status_code == 200
    assert whole.content == VIDEO
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["content-length"] == str(len(VIDEO))
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["etag"] == f'"{hashlib.md5(VIDEO).hexdigest()}"', "the file backend's md5"  # noqa: S324
    assert "last-modified" in whole.headers
    part = httpx.get(url, headers={"Range": "bytes=1000-1099"})
    assert part.status_code == 206
    assert part.content == VIDEO[1000:1100]
    assert part.headers["content-range"] == f"bytes 1000-1099/{len(VIDEO)}"
    assert part.headers["content-length"] == "100"
    tail = httpx.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206
    assert tail.content == VIDEO[-10:]
    cached = httpx.get(url, headers={"If-None-Match": whole.headers["etag"]})
    assert cached.status_code == 304


def test_rls_hides_another_learners_object_as_storage_api_answers(
    api: StandIn, bucket: str, learner: Learner
) -> None:
    other = f"{uuid.uuid4()}/secret.mp4"
    upload(api, bucket, other)
    with pytest.raises(StorageApiError) as refused:
        learner.client.storage.from_(bucket).create_signed_url(other, 60)
    assert refused.value.to_dict() == {
        "name": "StorageApiError",
        "code": "not_found",
        "message": "Object not found",
        "status": "404",
    }
    anon = httpx.post(
        f"{api.url}/storage/v1/object/sign/{bucket}/{other}",
        json={"expiresIn": 60},
        headers={"apikey": api.anon_key, "Authorization": f"Bearer {api.anon_key}"},
    )
    assert anon.status_code == 400
    assert anon.json() == {
        "statusCode": "404",
        "code": "NoSuchKey",
        "error": "not_found",
        "message": "Object not found",
    }


def test_upload_again_is_key_already_exists_and_upsert_replaces(
    api: StandIn, bucket: str, database_url: str
) -> None:
    path = f"{uuid.uuid4()}/lesson.mp4"
    upload(api, bucket, path, b"first")
    with pytest.raises(StorageApiError) as duplicate:
        upload(api, bucket, path, b"second")
    assert duplicate.value.to_dict()["code"] == "Duplicate"
    service = client(api, api.service_role_key).storage.from_(bucket)
    service.update(path, b"second", {"content-type": "video/mp4"})
    url = service.create_signed_url(path, 60)["signedURL"]
    assert url is not None
    assert httpx.get(url).content == b"second"
    (metadata,) = query(
        database_url,
        "select metadata from storage.objects where bucket_id = %s and name = %s",
        (bucket, path),
    )[0]
    assert metadata["size"] == 6
    assert metadata["mimetype"] == "video/mp4"


def test_a_learner_may_not_upload_without_an_insert_policy(
    api: StandIn, bucket: str, learner: Learner
) -> None:
    with pytest.raises(StorageApiError) as refused:
        learner.client.storage.from_(bucket).upload(f"{learner.id}/mine.mp4", b"x")
    assert refused.value.to_dict()["message"] == "new row violates row-level security policy"
    assert refused.value.to_dict()["status"] == "403"


def token_for(api: StandIn, url: str, *, exp: int | None = None, **claims: Any) -> str:
    payload = {"url": url, "scope": "download", "iat": int(time.time())}
    payload["exp"] = exp if exp is not None else int(time.time()) + 60
    return jwt.encode(payload | claims, api.jwt_secret, "HS256")


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def test_bad_tokens_answer_storage_api_errors(api: StandIn, bucket: str) -> None:
    path = f"{uuid.uuid4()}/a.mp4"
    upload(api, bucket, path)
    base = f"{api.url}/storage/v1/object/sign/{bucket}/{path}"
    good = token_for(api, f"{bucket}/{path}")
    assert httpx.get(base, params={"token": good}).status_code == 200
    expired = token_for(api, f"{bucket}/{path}", exp=int(time.time()) - 5)
    answer = httpx.get(base, params={"token": expired})
    assert error_of(answer) == (400, "InvalidJWT")
    assert answer.json()["message"] == '"exp" claim timestamp check failed'
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    assert error_of(httpx.get(base, params={"token": tampered})) == (400, "InvalidJWT")
    other_path = token_for(api, f"{bucket}/{uuid.uuid4()}/b.mp4")
    assert error_of(httpx.get(base, params={"token": other_path})) == (400, "InvalidSignature")
    other_bucket = token_for(api, f"another-bucket/{path}")
    assert error_of(httpx.get(base, params={"token": other_bucket})) == (400, "InvalidSignature")
    upload_scoped = token_for(api, f"{bucket}/{path}", scope="upload")
    answer = httpx.get(base, params={"token": upload_scoped})
    assert answer.json()["message"] == "Token is not scoped for download"
    assert error_of(httpx.get(base, params={"token": "xxx"})) == (400, "InvalidJWT")
    assert httpx.get(base).status_code == 400, "no token"


def test_bad_ranges_are_416(api: StandIn, bucket: str) -> None:
    path = f"{uuid.uuid4()}/a.mp4"
    upload(api, bucket, path)
    url = f"{api.url}/storage/v1/object/sign/{bucket}/{path}"
    token = token_for(api, f"{bucket}/{path}")
    for asked in (f"bytes={len(VIDEO)}-", "bytes=0-1,5-6", "bytes=9-3", "bytes=-0", "lines=0-1"):
        answer = httpx.get(url, params={"token": token}, headers={"Range": asked})
        assert answer.status_code == 416, asked
        assert answer.json() == {
            "statusCode": "416",
            "code": "InvalidRange",
            "error": "invalid_range",
            "message": "invalid range provided",
        }


@pytest.mark.parametrize(
    "name",
    ["..%2F..%2Fetc%2Fpasswd", "a/../../b", "%2E%2E/%2E%2E/x", "a%00b", "x" * 10_240],
    ids=["encoded-slashes", "dot-dot", "encoded-dot-dot", "nul", "10kb"],
)
def test_bad_names_are_4xx_and_never_leave_the_directory(
    api: StandIn, bucket: str, name: str
) -> None:
    service = {"Authorization": f"Bearer {api.service_role_key}"}
    signing = {**service, "Content-Type": "application/json"}
    for method, path, headers in (
        ("POST", f"/storage/v1/object/sign/{bucket}/{name}", signing),
        ("GET", f"/storage/v1/object/sign/{bucket}/{name}?token=x", {}),
        ("POST", f"/storage/v1/object/{bucket}/{name}", service),
    ):
        status, body = raw(api, method, path, headers)
        assert 400 <= status < 500, (method, path[:80], status, body[:200])


def test_a_row_naming_a_path_outside_the_directory_is_never_served(
    api: StandIn, bucket: str, database_url: str
) -> None:
    name = "../../../../etc/passwd"
    query(
        database_url,
        "insert into storage.objects (bucket_id, name, metadata) values (%s, %s, '{}')",
        (bucket, name),
    )
    token = token_for(api, f"{bucket}/{name}")
    status, body = raw(api, "GET", f"/storage/v1/object/sign/{bucket}/{name}?token={token}")
    assert status == 400
    assert b"InvalidKey" in body
    assert b"root:" not in body


def test_a_public_buckets_objects_are_served_to_anyone_at_get_public_url(
    api: StandIn, bucket: str, database_url: str
) -> None:
    """supabase-py's get_public_url, fetched with no key at all, as an <img> or a link preview
    fetches it; a private bucket's object at the same kind of address is NoSuchBucket."""
    public = f"covers-{uuid.uuid4().hex[:8]}"
    query(
        database_url,
        "insert into storage.buckets (id, name, public) values (%s, %s, true)",
        (public, public),
    )
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    service = client(api, api.service_role_key)
    service.storage.from_(public).upload(
        "lesson/cover.png", png, {"content-type": "image/png", "cache-control": "86400"}
    )
    url = service.storage.from_(public).get_public_url("lesson/cover.png")
    assert url == f"{api.url}/storage/v1/object/public/{public}/lesson/cover.png"

    answer = httpx.get(url)
    assert answer.status_code == 200
    assert answer.content == png
    assert answer.headers["content-type"] == "image/png"
    assert answer.headers["cache-control"] == "max-age=86400"
    part = httpx.get(url, headers={"Range": "bytes=0-7"})
    assert (part.status_code, part.content) == (206, png[:8])

    missing = httpx.get(f"{api.url}/storage/v1/object/public/{public}/lesson/none.png")
    assert missing.status_code == 400
    assert missing.json()["error"] == "not_found"

    upload(api, bucket, "secret/intro.mp4")
    private = httpx.get(f"{api.url}/storage/v1/object/public/{bucket}/secret/intro.mp4")
    assert private.status_code == 400
    assert private.json() == {
        "statusCode": "404",
        "code": "NoSuchBucket",
        "error": "Bucket not found",
        "message": "Bucket not found",
    }
