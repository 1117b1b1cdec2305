"""Generated filters (leaves, `not.`, `in` lists with quoting, nested `or`/`and` trees) sent
through /rest/v1 select exactly the rows the same condition selects when written by hand in
SQL, or fail with the same SQLSTATE. The differential check for the grammar and its SQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from standins.supabase.testing import StandIn

# Generated filter sets per run, each one request and one SQL query.
CASES = 120

TEXT_COLUMNS = ("slug", "title", "currency", "description", "stripe_price_id")
SEEN_TEXT = (
    "usd",
    "eur",
    "jpy",
    "welcome-to-sql",
    "stripe-webhooks",
    "Joins without fear",
    "",
)
TEXT_OPS = ("eq", "neq", "gt", "lt", "gte", "lte", "like", "ilike", "match", "imatch", "in")
NUMBER_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "in")
SQL_OPS = {
    "eq": "=",
    "neq": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "like": "like",
    "ilike": "ilike",
    "match": "~",
    "imatch": "~*",
}


@dataclass(frozen=True)
class Leaf:
    column: str
    op: str
    value: str | tuple[str, ...]
    negated: bool


@dataclass(frozen=True)
class Tree:
    op: str
    children: tuple[Leaf | Tree, ...]
    negated: bool


texts = st.one_of(
    st.sampled_from(SEEN_TEXT),
    st.text(alphabet='abcusdejoin-SQL ,()".\\*%:é_', max_size=6),
)
patterns = st.builds(
    lambda before, middle, after: f"{before}{middle}{after}",
    st.sampled_from(["", "*", "%"]),
    texts,
    st.sampled_from(["", "*", "_"]),
)


@st.composite
def leaves(draw: st.DrawFn) -> Leaf:
    negated = draw(st.booleans())
    kind = draw(st.sampled_from(["text", "number", "bool", "null"]))
    if kind == "null":
        column = draw(st.sampled_from(("stripe_price_id", "description", "price_cents")))
        return Leaf(column, "is", draw(st.sampled_from(("null", "not_null"))), negated)
    if kind == "bool":
        return Leaf("published", "is", draw(st.sampled_from(("true", "false"))), negated)
    if kind == "number":
        op = draw(st.sampled_from(NUMBER_OPS))
        numbers = st.integers(-5, 3000).map(str)
        if op == "in":
            return Leaf(
                "price_cents", op, tuple(draw(st.lists(numbers, min_size=1, max_size=4))), negated
            )
        return Leaf("price_cents", op, draw(numbers), negated)
    column = draw(st.sampled_from(TEXT_COLUMNS))
    op = draw(st.sampled_from(TEXT_OPS))
    if op == "in":
        return Leaf(column, op, tuple(draw(st.lists(texts, min_size=1, max_size=4))), negated)
    value = draw(patterns if op in ("like", "ilike") else texts)
    return Leaf(column, op, value, negated)


def trees(depth: int = 2) -> st.SearchStrategy[Leaf | Tree]:
    if depth == 0:
        return leaves()
    return st.one_of(
        leaves(),
        st.builds(
            Tree,
            st.sampled_from(("and", "or")),
            st.lists(trees(depth - 1), min_size=1, max_size=3).map(tuple),
            st.booleans(),
        ),
    )


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def operation(leaf: Leaf, in_tree: bool) -> str:
    prefix = "not." if leaf.negated else ""
    if isinstance(leaf.value, tuple):
        return f"{prefix}in.({','.join(quoted(v) for v in leaf.value)})"
    value = quoted(leaf.value) if in_tree and leaf.op != "is" else leaf.value
    return f"{prefix}{leaf.op}.{value}"


def tree_text(node: Leaf | Tree) -> str:
    if isinstance(node, Leaf):
        return f"{node.column}.{operation(node, in_tree=True)}"
    inner = ",".join(tree_text(child) for child in node.children)
    return f"{'not.' if node.negated else ''}{node.op}({inner})"


def to_params(filters: list[Leaf | Tree]) -> list[tuple[str, str]]:
    params = [("select", "slug")]
    for node in filters:
        if isinstance(node, Leaf):
            params.append((node.column, operation(node, in_tree=False)))
        else:
            key = f"{'not.' if node.negated else ''}{node.op}"
            inner = ",".join(tree_text(child) for child in node.children)
            params.append((key, f"({inner})"))
    return params


def to_sql(node: Leaf | Tree) -> sql.Composable:
    if isinstance(node, Tree):
        body: sql.Composable = sql.SQL("({})").format(
            sql.SQL(f" {node.op} ").join(to_sql(child) for child in node.children)
        )
    else:
        column = sql.Identifier(node.column)
        if node.op == "is":
            keyword = {"null": "null", "not_null": "not null", "true": "true", "false": "false"}
            body = sql.SQL("{} is {}").format(column, sql.SQL(keyword[str(node.value)]))
        elif node.value == ("",):
            # PostgREST reads `in.()` and `in.("")` alike: the empty list, which holds nothing
            body = sql.SQL("false")
        elif isinstance(node.value, tuple):
            body = sql.SQL("{} in ({})").format(
                column, sql.SQL(", ").join(sql.Literal(v) for v in node.value)
            )
        else:
            value = node.value.replace("*", "%") if node.op in ("like", "ilike") else node.value
            body = sql.SQL("{} {} {}").format(column, sql.SQL(SQL_OPS[node.op]), sql.Literal(value))
    return sql.SQL("not {}").format(body) if node.negated else body


@pytest.fixture(scope="module")
def service(api: StandIn) -> Iterator[httpx.Client]:
    headers = {"apikey": api.service_role_key}
    with httpx.Client(base_url=f"{api.url}/rest/v1", headers=headers) as client:
        yield client


@pytest.fixture(scope="module")
def database(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@settings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck))
@given(filters=st.lists(trees(), min_size=1, max_size=3))
def test_generated_filters_select_what_the_same_sql_selects(
    service: httpx.Client, database: psycopg.Connection, filters: list[Leaf | Tree]
) -> None:
    where = sql.SQL(" and ").join(to_sql(node) for node in filters)
    statement = sql.SQL("select slug from public.lessons where {} order by slug").format(where)
    try:
        expected: list[str] | str = [row[0] for row in database.execute(statement).fetchall()]
    except psycopg.Error as exc:
        expected = str(exc.sqlstate)
    response = service.get("/lessons", params=tuple(to_params(filters)))
    if isinstance(expected, str):
        assert response.status_code == 400, response.text
        assert response.json()["code"] == expected
    else:
        assert response.status_code == 200, (to_params(filters), response.text)
        assert sorted(row["slug"] for row in response.json()) == expected, to_params(filters)
