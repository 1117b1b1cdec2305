"""PostgREST's SQL for the two request kinds the stand-in serves, built with psycopg.sql.

Every name (schema, function, argument, table, column) is a quoted identifier; every value
is a parameter; the only SQL text added is fixed keywords chosen from small tables here.
Results are rendered to JSON by Postgres itself (json_agg / to_json), as PostgREST does, so
timestamps, numerics and jsonb come out exactly as PostgREST would send them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from psycopg import sql

from devstack.supabase.errors import RestError

SCHEMA = "public"
_JSON_TYPES = ("json", "jsonb")
# Filter operators PostgREST spells `col=op.value`; `is` takes only these keywords.
_OPERATORS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_IS_VALUES = {"null": "null", "true": "true", "false": "false", "unknown": "unknown"}
_RESERVED = frozenset({"select", "order", "limit", "offset", "apikey"})

FUNCTIONS_SQL = """
select
  p.proretset,
  coalesce(p.proargnames, '{}') as names,
  coalesce(p.proargmodes::text[], '{}') as modes,
  coalesce(
    (
      select array_agg(pg_catalog.format_type(a.t, null) order by a.o)
      from unnest(p.proargtypes::oid[]) with ordinality as a (t, o)
    ),
    '{}'
  ) as input_types,
  p.pronargs,
  p.pronargdefaults
from pg_catalog.pg_proc as p
join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
where n.nspname = %s and p.proname = %s and p.prokind = 'f'
"""

RELATION_SQL = """
select 1
from pg_catalog.pg_class as c
join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
where n.nspname = %s and c.relname = %s and c.relkind in ('r', 'v', 'm', 'f', 'p')
"""


@dataclass(frozen=True)
class Function:
    """One overload of a function, as PostgREST's schema cache describes it."""

    returns_set: bool
    # Input parameters in order, with their declared types.
    params: tuple[tuple[str, str], ...]
    required: int

    @classmethod
    def from_catalog(
        cls,
        returns_set: bool,
        names: Sequence[str],
        modes: Sequence[str],
        input_types: Sequence[str],
        nargs: int,
        ndefaults: int,
    ) -> Function:
        # Without modes every argument is an input; otherwise in, inout and variadic are.
        inputs = list(names)
        if modes:
            inputs = [n for n, m in zip(names, modes, strict=True) if m in ("i", "b", "v")]
        params = tuple(zip(inputs[:nargs], input_types, strict=False))
        return cls(returns_set, params, nargs - ndefaults)

    def accepts(self, keys: Sequence[str]) -> bool:
        names = [name for name, _ in self.params]
        return set(keys) <= set(names) and set(names[: self.required]) <= set(keys)

    def type_of(self, name: str) -> str:
        return dict(self.params)[name]


def choose(name: str, keys: Sequence[str], overloads: Sequence[Function]) -> Function:
    """The one overload the named arguments fit, or PostgREST's PGRST202/PGRST203."""
    fits = [f for f in overloads if f.accepts(keys)]
    if len(fits) == 1:
        return fits[0]
    qualified = f"{SCHEMA}.{name}"
    if len(fits) > 1:
        raise RestError(
            300,
            "PGRST203",
            f"Could not choose the best candidate function between: {qualified}",
            hint="Try renaming the parameters or the function itself in the database "
            "so function overloading can be resolved",
        )
    with_params = f"with parameters {', '.join(keys)}" if keys else "without parameters"
    raise RestError(
        404,
        "PGRST202",
        f"Could not find the function {qualified}({', '.join(keys)}) in the schema cache",
        details=f"Searched for the function {qualified} {with_params} or with a single "
        "unnamed json/jsonb parameter, but no matches were found in the schema cache.",
    )


def argument_text(value: object, declared_type: str) -> str | None:
    """A JSON value as the text Postgres parses into the declared type (json_to_record's rule):
    json/jsonb take the JSON itself, strings their content, other scalars their JSON text."""
    if declared_type in _JSON_TYPES:
        return json.dumps(value)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value)


def call(
    name: str, function: Function, args: Mapping[str, object]
) -> tuple[sql.Composed, list[str | None]]:
    """`select <json> from public.<name>(<arg> => %s, …) as _`: an array for set-returning
    functions, else the single value (a scalar, a jsonb document or a row object)."""
    named = sql.SQL(", ").join(
        sql.SQL("{} => {}").format(sql.Identifier(arg), sql.Placeholder()) for arg in args
    )
    invocation = sql.SQL("{}({})").format(sql.Identifier(SCHEMA, name), named)
    shape = (
        sql.SQL("coalesce(json_agg(_), '[]')::text")
        if function.returns_set
        else sql.SQL("to_json(_)::text")
    )
    query = sql.SQL("select {} from {} as _").format(shape, invocation)
    return query, [argument_text(value, function.type_of(arg)) for arg, value in args.items()]


def table_read(table: str, params: Sequence[tuple[str, str]]) -> tuple[sql.Composed, list[object]]:
    """`GET /rest/v1/<table>?select=…&col=op.value&order=…&limit=n&offset=n` as one query."""
    values: list[object] = []
    paging: list[object] = []
    conditions: list[sql.Composable] = []
    columns: sql.Composable = sql.SQL("*")
    order: list[sql.Composable] = []
    limit: sql.Composable = sql.SQL("")
    for key, raw in params:
        if key == "select":
            columns = _select_list(raw)
        elif key == "order":
            order = [_order_term(term) for term in raw.split(",") if term.strip()]
        elif key in ("limit", "offset"):
            if not raw.isdigit():
                raise RestError(400, "PGRST100", f'"failed to parse {key} parameter ({raw})"')
            limit = sql.SQL("{} {} {}").format(limit, sql.SQL(key), sql.Placeholder())
            paging.append(int(raw))
        elif key not in _RESERVED:
            condition, value = _filter(key, raw)
            conditions.append(condition)
            if value is not None:
                values.append(value)
    where = sql.SQL(" where ") + sql.SQL(" and ").join(conditions) if conditions else sql.SQL("")
    order_by = sql.SQL(" order by ") + sql.SQL(", ").join(order) if order else sql.SQL("")
    inner = sql.SQL("select {} from {}{}{}{}").format(
        columns, sql.Identifier(SCHEMA, table), where, order_by, limit
    )
    query = sql.SQL("select coalesce(json_agg(_), '[]')::text from ({}) as _").format(inner)
    # placeholders come in this order: filters (where), then limit/offset
    return query, [*values, *paging]


def _select_list(raw: str) -> sql.Composable:
    names = [part.strip() for part in raw.split(",")]
    if names == ["*"]:
        return sql.SQL("*")
    if not all(names) or any(c in name for name in names for c in ":()!*"):
        # aliases, casts, embedded resources and spreads are PostgREST features not needed here
        raise RestError(
            400,
            "PGRST100",
            f'"failed to parse select parameter ({raw})"',
            details="the devstack stand-in accepts plain column names or *",
        )
    return sql.SQL(", ").join(sql.Identifier(name) for name in names)


def _order_term(term: str) -> sql.Composable:
    column, *modifiers = term.strip().split(".")
    keywords = {
        "asc": "asc",
        "desc": "desc",
        "nullsfirst": "nulls first",
        "nullslast": "nulls last",
    }
    if not column or any(m not in keywords for m in modifiers):
        raise RestError(400, "PGRST100", f'"failed to parse order ({term})"')
    return sql.SQL(" ").join([sql.Identifier(column), *(sql.SQL(keywords[m]) for m in modifiers)])


def _filter(column: str, raw: str) -> tuple[sql.Composable, str | None]:
    operator, _, value = raw.partition(".")
    if operator == "is" and value in _IS_VALUES:
        return sql.SQL("{} is {}").format(sql.Identifier(column), sql.SQL(_IS_VALUES[value])), None
    if operator not in _OPERATORS:
        raise RestError(
            400,
            "PGRST100",
            f'"failed to parse filter ({raw})"',
            details="the devstack stand-in supports eq, neq, gt, gte, lt, lte and is",
        )
    condition = sql.SQL("{} {} {}").format(
        sql.Identifier(column), sql.SQL(_OPERATORS[operator]), sql.Placeholder()
    )
    return condition, value
