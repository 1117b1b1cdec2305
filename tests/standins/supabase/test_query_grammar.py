"""/rest/v1's query strings: PostgREST's grammar, and generated query strings that must
each get a PostgREST-shaped answer (2xx, or 4xx with {code, details, hint, message}),
never a 5xx. Hypothesis builds them from the grammar's own pieces (names, operators,
lists, quotes, logic trees, paths) mixed with characters that broke parsers before:
`%`, non-ASCII digits, unbalanced quotes and parentheses, control characters."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from standins.supabase.errors import RestError
from standins.supabase.grammar import parse_query
from standins.supabase.testing import StandIn

# Generated cases per run: the parser alone, and over HTTP against the stand-in.
PARSER_CASES = 600
HTTP_CASES = 150

NAMES = st.sampled_from(
    [
        "slug",
        "title",
        "price_cents",
        "currency",
        "id",
        "lesson_content",
        "purchased_lessons",
        "lessons",
        "body",
        "a%b",
        "no_such_column",
        "count",
        "*",
        '"quoted name"',
        '"a\\"b"',
        "data->a->>b",
        "x->0",
        "t:title",
        "٣",
        "",
    ]
)
OPERATORS = st.sampled_from(
    [
        "eq",
        "neq",
        "gt",
        "gte",
        "lt",
        "lte",
        "like",
        "ilike",
        "match",
        "imatch",
        "in",
        "is",
        "isdistinct",
        "cs",
        "cd",
        "ov",
        "sl",
        "sr",
        "nxr",
        "nxl",
        "adj",
        "fts",
        "plfts(english)",
        "wfts",
        "eq(any)",
        "like(all)",
        "not.eq",
        "not.in",
        "eqq",
        "",
    ]
)
ATOMS = st.one_of(
    st.sampled_from(
        [
            "1",
            "0",
            "-1",
            "null",
            "NOT_NULL",
            "true",
            "usd",
            "*sql*",
            "{a,b}",
            '"a,b"',
            '"',
            "(",
            ")",
            ",",
            ".",
            "%",
            "%s",
            "%(x)s",
            "١٢",
            "²",
            "\x00",
            "'",
            "\\",
            "()",
            '(a,"b,c",d)',
            "welcome-to-sql",
            "00000000-0000-4000-8000-000000000001",
        ]
    ),
    st.text(max_size=8),
)


@st.composite
def values(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(ATOMS, NAMES, OPERATORS), min_size=0, max_size=5))
    joiner = draw(st.sampled_from(["", ".", ",", ""]))
    return joiner.join(parts)


@st.composite
def filter_value(draw: st.DrawFn) -> str:
    op = draw(OPERATORS)
    return f"{op}.{draw(values())}" if op else draw(values())


@st.composite
def logic_tree(draw: st.DrawFn, depth: int = 2) -> str:
    items = []
    for _ in range(draw(st.integers(1, 3))):
        if depth and draw(st.booleans()):
            word = draw(st.sampled_from(["and", "or", "not.and", "not.or", "xor"]))
            items.append(f"{word}{draw(logic_tree(depth - 1))}")
        else:
            items.append(f"{draw(NAMES)}.{draw(filter_value())}")
    return "(" + ",".join(items) + draw(st.sampled_from([")", ")", ""]))


@st.composite
def select_list(draw: st.DrawFn) -> str:
    items = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(NAMES)
        shape = draw(st.sampled_from(["plain", "embed", "alias", "cast", "agg", "spread"]))
        if shape == "embed":
            hint = draw(st.sampled_from(["", "!inner", "!left", "!lessons_pkey", "!x!y"]))
            name = f"{name}{hint}({draw(select_list())})"
        elif shape == "alias":
            name = f"{draw(NAMES)}:{name}"
        elif shape == "cast":
            name = f"{name}::{draw(st.sampled_from(['text', 'int4', 'no_type', '']))}"
        elif shape == "agg":
            name = f"{name}.{draw(st.sampled_from(['sum()', 'count()', 'max']))}"
        elif shape == "spread":
            name = f"...{name}({draw(NAMES)})"
        items.append(name)
    return ",".join(items)


@st.composite
def query_params(draw: st.DrawFn) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(
            st.sampled_from(["select", "filter", "or", "order", "limit", "offset", "embedded"])
        )
        if kind == "select":
            params.append(("select", draw(select_list())))
        elif kind == "filter":
            params.append((draw(NAMES), draw(filter_value())))
        elif kind == "or":
            key = draw(st.sampled_from(["or", "and", "not.or", "lessons.or"]))
            params.append((key, draw(logic_tree())))
        elif kind == "order":
            terms = [
                draw(NAMES) + draw(st.sampled_from(["", ".asc", ".desc.nullslast", ".x", "("]))
                for _ in range(draw(st.integers(1, 3)))
            ]
            params.append(("order", ",".join(terms)))
        elif kind in ("limit", "offset"):
            params.append(
                (
                    kind,
                    draw(
                        st.one_of(
                            st.sampled_from(["0", "2", "-1", "٣", "1e3", " 1"]), st.text(max_size=4)
                        )
                    ),
                )
            )
        else:
            path = draw(st.sampled_from(["lesson_content", "purchased_lessons", "nope", "a.b"]))
            leaf = draw(st.sampled_from(["body", "status", "order", "limit", "id"]))
            params.append((f"{path}.{leaf}", draw(filter_value())))
    return params


def encode(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)


@settings(max_examples=PARSER_CASES, deadline=None, suppress_health_check=list(HealthCheck))
@given(params=query_params(), rpc_read=st.booleans())
def test_the_parser_answers_any_query_string_or_refuses_it_postgrest_style(
    params: list[tuple[str, str]], rpc_read: bool
) -> None:
    refused: RestError | None = None
    try:
        parse_query(params, rpc_read=rpc_read)
    except RestError as exc:
        refused = exc
    if refused is not None:
        assert 400 <= refused.status < 500
        assert set(refused.body) == {"code", "details", "hint", "message"}
        assert str(refused.body["code"]).startswith("PGRST")


def assert_postgrest_answer(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.url, response.text)
    if response.request.method == "HEAD" or response.status_code == 204:
        assert response.content == b""
        return
    body: Any = response.json()
    if response.status_code >= 400:
        assert set(body) == {"code", "details", "hint", "message"}, body
        assert body["code"]
        assert body["message"]


@pytest.fixture(scope="module")
def http(api: StandIn) -> Any:
    with httpx.Client(base_url=f"{api.url}/rest/v1", headers={"apikey": api.anon_key}) as c:
        yield c


@settings(max_examples=HTTP_CASES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    params=query_params(),
    target=st.sampled_from(
        [
            ("GET", "/lessons"),
            ("HEAD", "/lessons"),
            ("GET", "/purchased_lessons"),
            ("GET", "/rpc/lesson_catalog"),
            ("POST", "/rpc/lesson_catalog"),
            ("DELETE", "/lessons"),
            ("PATCH", "/lessons"),
            ("PUT", "/lessons"),
        ]
    ),
    prefer=st.sampled_from(["", "count=exact", "return=representation", "count=exact,x=y"]),
    accept=st.sampled_from(["", "application/vnd.pgrst.object+json", "text/csv", "*/*"]),
    range_header=st.sampled_from(["", "0-1", "2-", "5-1", "²-3", "1-٣", "bytes=0-1", "9-99"]),
)
def test_any_query_string_gets_a_postgrest_shaped_answer_never_a_5xx(
    http: httpx.Client,
    params: list[tuple[str, str]],
    target: tuple[str, str],
    prefer: str,
    accept: str,
    range_header: str,
) -> None:
    method, path = target
    headers = [
        (b"Prefer", prefer.encode()),
        (b"Accept", accept.encode()),
        (b"Range", range_header.encode()),
    ]
    body = b"{}" if method in ("POST", "PATCH", "PUT") else None
    response = http.request(method, f"{path}?{encode(params)}", headers=headers, content=body)
    assert_postgrest_answer(response)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("select=a%25b", "select parameter (a%b)"),
        ("select=slug,ti%25tle", "select parameter (slug,ti%b)".replace("%b", "%tle")),
        ("order=a%25b", "order (a%b)"),
        ("order=slug.desc,%25", "order (slug.desc,%)"),
        ("limit=%D9%A3", "limit parameter (٣)"),
        ("limit=1%DB%B2", "limit parameter (1۲)"),
        ("offset=%C2%B2", "offset parameter (²)"),
    ],
)
def test_percent_in_names_and_non_ascii_digits_are_pgrst100(
    http: httpx.Client, query: str, parameter: str
) -> None:
    response = http.get(f"/lessons?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "PGRST100"
    assert body["message"].startswith(f'"failed to parse {parameter}"')


def test_a_percent_in_a_quoted_name_is_an_unknown_column_not_a_crash(http: httpx.Client) -> None:
    response = http.get('/lessons?select="a%25b"')
    assert (response.status_code, response.json()["code"]) == (400, "42703")
    filtered = http.get('/lessons?"a%25s"=eq.1')
    assert (filtered.status_code, filtered.json()["code"]) == (400, "42703")


def test_a_negative_limit_and_an_offset_past_the_end_are_416(http: httpx.Client) -> None:
    negative = http.get("/lessons?limit=-1")
    assert (negative.status_code, negative.json()["code"]) == (416, "PGRST103")
    past = http.get("/lessons?offset=1000", headers={"Prefer": "count=exact"})
    assert past.status_code == 416
    assert past.json()["details"].startswith("An offset of 1000 was requested")


def test_unimplemented_parts_of_postgrest_are_named_not_500(http: httpx.Client) -> None:
    for path, code in (
        ("/lessons?select=...purchased_lessons(status)", "PGRST127"),
        ("/lessons?select=count()", "PGRST123"),
    ):
        response = http.get(path)
        assert (response.status_code, response.json()["code"]) == (400, code), path
    csv = http.get("/lessons", headers={"Accept": "text/csv"})
    assert (csv.status_code, csv.json()["code"]) == (406, "PGRST107")


def test_a_nul_character_in_a_value_is_postgres_22021_not_a_crash(http: httpx.Client) -> None:
    for path in ("/lessons?slug=eq.%00", "/lessons?slug=in.(a,%00)", "/lessons?or=(slug.eq.%00)"):
        response = http.get(path)
        assert (response.status_code, response.json()["code"]) == (400, "22021"), path
