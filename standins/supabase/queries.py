"""PostgREST's function calls: choosing the overload by argument names, and the call.

Every name is a quoted identifier and every value a literal Postgres types by the
function's parameter; results are rendered to JSON by Postgres itself (json_agg /
to_json), as PostgREST does, so timestamps, numerics and jsonb come out as there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from psycopg import sql

from standins.supabase.errors import RestError
from standins.supabase.schema_cache import SCHEMA

_JSON_TYPES = ("json", "jsonb")

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
  p.pronargdefaults,
  p.prorettype = 'pg_catalog.record'::pg_catalog.regtype
  or exists (
    select 1 from pg_catalog.pg_type as t where t.oid = p.prorettype and t.typtype = 'c'
  ) as returns_rows
from pg_catalog.pg_proc as p
join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
where n.nspname = %s and p.proname = %s and p.prokind = 'f'
"""


@dataclass(frozen=True)
class Function:
    """One overload of a function, as PostgREST's schema cache describes it."""

    returns_set: bool
    # Rows of columns (a table or composite type), which filters and select apply to
    returns_rows: bool
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
        returns_rows: bool,
    ) -> Function:
        # Without modes every argument is an input; otherwise in, inout and variadic are.
        inputs = list(names)
        if modes:
            inputs = [n for n, m in zip(names, modes, strict=True) if m in ("i", "b", "v")]
        params = tuple(zip(inputs[:nargs], input_types, strict=False))
        return cls(returns_set, returns_rows, params, nargs - ndefaults)

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
    if isinstance(value, list) and declared_type.endswith("[]"):
        return _array_literal(value)
    return json.dumps(value)


def _array_literal(values: list[object]) -> str:
    """A JSON array as a Postgres array literal (`{"a","b",NULL}`), nested arrays nested."""
    items = []
    for item in values:
        if item is None:
            items.append("NULL")
        elif isinstance(item, list):
            items.append(_array_literal(item))
        else:
            text = item if isinstance(item, str) else json.dumps(item)
            items.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(items) + "}"


def invocation(name: str, function: Function, args: Mapping[str, object]) -> sql.Composed:
    """`public.<name>(<arg> => '<value>', …)`."""
    named = sql.SQL(", ").join(
        sql.SQL("{} => {}").format(
            sql.Identifier(arg), sql.Literal(argument_text(value, function.type_of(arg)))
        )
        for arg, value in args.items()
    )
    return sql.SQL("{}({})").format(sql.Identifier(SCHEMA, name), named)


def scalar_call(invoked: sql.Composable, function: Function) -> sql.Composed:
    """A function whose result is not rows of columns: an array of its values when it
    returns a set, else its single value (a scalar, a jsonb document, or `null`)."""
    shape = (
        sql.SQL("coalesce(json_agg(_), '[]')::text")
        if function.returns_set
        else sql.SQL("to_json(_)::text")
    )
    return sql.SQL("select {} from {} as _").format(shape, invoked)
