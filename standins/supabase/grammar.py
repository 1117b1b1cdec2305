"""PostgREST's query-string grammar (its `ApiRequest/QueryParams.hs`), as plain data.

`select`, filters (`col=[not.]op.value`), logic trees (`or=(…)`, `not.and=(…)`), `order`
and `limit`/`offset` parse here into the small types below, or fail with PostgREST's
PGRST100: a message naming the parameter and the position, details saying what was
unexpected. Nothing here touches SQL; `reads.py` turns the types into a query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from standins.supabase.errors import RestError

# op → SQL operator. "Simple" operators take one value; "quantified" ones may also take
# `(any)`/`(all)` and a `{…}` array value. Tried in PostgREST's order (longest first).
SIMPLE_OPERATORS = {
    "neq": "<>",
    "cs": "@>",
    "cd": "<@",
    "ov": "&&",
    "sl": "<<",
    "sr": ">>",
    "nxr": "&<",
    "nxl": "&>",
    "adj": "-|-",
}
QUANT_OPERATORS = {
    "eq": "=",
    "gte": ">=",
    "gt": ">",
    "lte": "<=",
    "lt": "<",
    "like": "like",
    "ilike": "ilike",
    "match": "~",
    "imatch": "~*",
}
FTS_OPERATORS = {
    "fts": "to_tsquery",
    "plfts": "plainto_tsquery",
    "phfts": "phraseto_tsquery",
    "wfts": "websearch_to_tsquery",
}
IS_VALUES = ("null", "not_null", "true", "false", "unknown")
AGGREGATES = ("sum", "avg", "count", "max", "min")
# Keys that are not filters at the top level, and the ones that also end an embedded path
# (`lessons.order=title`).
RESERVED = frozenset({"select", "columns", "on_conflict", "apikey"})
RESERVED_EMBEDDABLE = frozenset({"order", "limit", "offset", "and", "or"})
T = TypeVar("T")


@dataclass(frozen=True)
class JsonStep:
    arrow: str  # "->" or "->>"
    key: str
    index: bool  # an array index (`->0`) rather than a key


@dataclass(frozen=True)
class Field:
    name: str
    json_path: tuple[JsonStep, ...] = ()


@dataclass(frozen=True)
class Column:
    """`[alias:]field[::cast]`, or `*` (field name "*")."""

    field: Field
    alias: str | None = None
    cast: str | None = None


@dataclass(frozen=True)
class Embed:
    """`[alias:]target[!hint][!inner|!left](children)`: a related resource."""

    target: str
    alias: str | None
    hint: str | None
    inner: bool
    children: tuple[Column | Embed, ...]
    # `...target(cols)`: a to-one resource's columns spread into the parent's row
    spread: bool = False


@dataclass(frozen=True)
class Condition:
    """`field=[not.]op.value` (or one leaf of a logic tree)."""

    field: Field
    negated: bool
    operator: str  # a key of the operator tables, or "in", "is", "isdistinct"
    value: str | tuple[str, ...]
    quantifier: str | None = None  # "any" / "all"
    language: str | None = None  # full-text search configuration


@dataclass(frozen=True)
class Logic:
    negated: bool
    operator: str  # "and" / "or"
    children: tuple[Condition | Logic, ...]


@dataclass(frozen=True)
class OrderTerm:
    field: Field
    direction: str | None  # "asc" / "desc"
    nulls: str | None  # "nullsfirst" / "nullslast"
    # `order=resource(col)`: a column of a to-one embedded resource
    relation: str | None = None


@dataclass
class Level:
    """What the query string asks of one level: the root (path ()) or an embedded resource."""

    conditions: list[Condition | Logic] = field(default_factory=list)
    order: list[OrderTerm] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


@dataclass
class Query:
    select: tuple[Column | Embed, ...]
    levels: dict[tuple[str, ...], Level]
    # GET /rpc/fn: parameters without an operator are the function's arguments (a repeated
    # one is an array)
    arguments: dict[str, str | list[str]]
    columns: tuple[str, ...] | None
    on_conflict: tuple[str, ...] | None

    def level(self, path: tuple[str, ...] = ()) -> Level:
        return self.levels.setdefault(path, Level())


class ParseFailure(Exception):
    def __init__(self, position: int, unexpected: str, expecting: str) -> None:
        super().__init__(unexpected)
        self.position = position
        self.unexpected = unexpected
        self.expecting = expecting


def _describe(text: str, position: int) -> str:
    return f'"{text[position]}"' if position < len(text) else "end of input"


class _Parser:
    """A cursor over one parameter's text, with Parsec-like primitives."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self, literal: str) -> bool:
        return self.text.startswith(literal, self.pos)

    def eat(self, literal: str) -> bool:
        if self.peek(literal):
            self.pos += len(literal)
            return True
        return False

    def expect(self, literal: str) -> None:
        if not self.eat(literal):
            self.fail(f'"{literal}"')

    def fail(self, expecting: str) -> ParseFailure:
        raise ParseFailure(self.pos, _describe(self.text, self.pos), expecting)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    # -- names ---------------------------------------------------------------------------

    def quoted(self) -> str:
        self.expect('"')
        out: list[str] = []
        while True:
            if self.at_end():
                self.fail('"\\"" (closing quote)')
            ch = self.text[self.pos]
            self.pos += 1
            if ch == '"':
                return "".join(out)
            if ch == "\\":
                if self.at_end():
                    self.fail("any character")
                ch = self.text[self.pos]
                self.pos += 1
            out.append(ch)

    def identifier(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and _identifier_char(self.text[self.pos]):
            self.pos += 1
        if self.pos == start:
            self.fail("field name (* or [a..z0..9_$])")
        return self.text[start : self.pos].strip()

    def field_name(self) -> str:
        if self.peek('"'):
            return self.quoted()
        parts = [self.identifier()]
        # a dash joins identifiers (`my-col`) unless it starts a JSON arrow
        while self.peek("-") and not self.peek("->"):
            self.pos += 1
            parts.append(self.identifier())
        return "-".join(parts)

    def json_path(self) -> tuple[JsonStep, ...]:
        steps = []
        while self.peek("->"):
            arrow = "->>" if self.peek("->>") else "->"
            self.pos += len(arrow)
            steps.append(self.json_operand(arrow))
        return tuple(steps)

    def json_operand(self, arrow: str) -> JsonStep:
        match = re.compile(r"-?[0-9]+").match(self.text, self.pos)
        if match:
            end = match.end()
            rest = self.text[end:]
            if not rest or rest.startswith(("->", "::", ".", ",")):
                self.pos = end
                return JsonStep(arrow, match.group(), index=True)
        if self.peek('"'):
            return JsonStep(arrow, self.quoted(), index=False)
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in "(-:.,>)":
            self.pos += 1
        if self.pos == start:
            self.fail("any non reserved character different from: .,>()")
        return JsonStep(arrow, self.text[start : self.pos].strip(), index=False)

    def field(self) -> Field:
        self.spaces()
        name = self.field_name()
        path = self.json_path()
        self.spaces()
        return Field(name, path)

    # -- select --------------------------------------------------------------------------

    def select_forest(self) -> tuple[Column | Embed, ...]:
        items: list[Column | Embed] = []
        if self.at_end() or self.peek(")"):
            return ()
        items.append(self.select_item())
        while True:
            save = self.pos
            self.spaces()
            if not self.eat(","):
                self.pos = save
                break
            self.spaces()
            items.append(self.select_item())
        return tuple(items)

    def select_end(self) -> None:
        if not (self.at_end() or self.peek(",") or self.peek(")")):
            self.fail('"," or end of input')

    def select_item(self) -> Column | Embed:
        self.spaces()
        spread = self.eat("...")
        if not spread and self.eat("*"):
            self.spaces()
            self.select_end()
            return Column(Field("*"))
        alias = None if spread else self.alias()
        if self.peek("count()"):
            raise AggregatesRefused
        name_start = self.pos
        name = self.field_name()
        if spread or (name != "count" and (self.peek("!") or self.peek("("))):
            hint, inner = self.embed_params()
            if not self.peek("("):
                self.fail('"("')
            self.pos += 1
            children = self.select_forest()
            self.spaces()
            self.expect(")")
            self.spaces()
            self.select_end()
            return Embed(name, alias, hint, inner, children, spread)
        self.pos = name_start
        column = self.field()
        cast = self.cast()
        if self.peek("."):
            save = self.pos
            self.pos += 1
            if any(self.peek(f"{agg}()") for agg in AGGREGATES):
                raise AggregatesRefused
            self.pos = save
        self.spaces()
        self.select_end()
        return Column(column, alias, cast)

    def alias(self) -> str | None:
        save = self.pos
        try:
            name = self.field_name()
        except ParseFailure:
            self.pos = save
            return None
        if self.peek(":") and not self.peek("::"):
            self.pos += 1
            return name
        self.pos = save
        return None

    def cast(self) -> str | None:
        if not self.eat("::"):
            return None
        return self.identifier()

    def embed_params(self) -> tuple[str | None, bool]:
        hint: str | None = None
        inner = False
        for _ in range(2):
            if not self.eat("!"):
                break
            if self.eat("inner"):
                inner = True
            elif not self.eat("left"):
                hint = self.field_name()
        return hint, inner

    # -- filters -------------------------------------------------------------------------

    def operation(self, logic: bool) -> Condition:
        """`[not.]op.value` for a field not known yet (the caller fills it in)."""
        negated = self.eat("not.")
        placeholder = Field("")
        if self.eat("in."):
            return Condition(placeholder, negated, "in", self.list_value())
        if self.eat("is."):
            for keyword in IS_VALUES:
                if self.text[self.pos : self.pos + len(keyword)].lower() == keyword:
                    self.pos += len(keyword)
                    return Condition(placeholder, negated, "is", keyword)
            self.fail("isVal: (null, not_null, true, false, unknown)")
        if self.eat("isdistinct."):
            return Condition(placeholder, negated, "isdistinct", self.single_value(logic))
        for name in FTS_OPERATORS:
            save = self.pos
            if self.eat(name):
                language = None
                if self.eat("("):
                    language = self.identifier()
                    self.expect(")")
                if self.eat("."):
                    value = self.single_value(logic)
                    return Condition(placeholder, negated, name, value, language=language)
                self.pos = save
        for name in SIMPLE_OPERATORS:
            save = self.pos
            if self.eat(name) and self.eat("."):
                return Condition(placeholder, negated, name, self.single_value(logic))
            self.pos = save
        for name in QUANT_OPERATORS:
            save = self.pos
            if self.eat(name):
                quantifier = None
                for word in ("any", "all"):
                    if self.eat(f"({word})"):
                        quantifier = word
                if self.eat("."):
                    value = self.single_value(logic)
                    return Condition(placeholder, negated, name, value, quantifier)
            self.pos = save
        self.fail("operator (eq, gt, ...)")
        raise AssertionError  # unreachable: fail raises

    def single_value(self, logic: bool) -> str:
        if not logic:
            value = self.text[self.pos :]
            self.pos = len(self.text)
            return value
        # inside or=(…): a quoted value, a {…} array literal, or text up to "," / ")"
        save = self.pos
        if self.peek('"'):
            value = self.quoted()
            if self.at_end() or self.peek(",") or self.peek(")"):
                return value
            self.pos = save
        if self.peek("{"):
            end = self.text.find("}", self.pos)
            if end != -1 and "{" not in self.text[self.pos + 1 : end]:
                self.pos = end + 1
                return self.text[save : self.pos]
        while self.pos < len(self.text) and self.text[self.pos] not in ",)":
            self.pos += 1
        return self.text[save : self.pos]

    def list_value(self) -> tuple[str, ...]:
        self.spaces()
        self.expect("(")
        self.spaces()
        items = [self.list_element()]
        while self.eat(","):
            items.append(self.list_element())
        self.spaces()
        self.expect(")")
        self.spaces()
        return tuple(items)

    def list_element(self) -> str:
        save = self.pos
        if self.peek('"'):
            value = self.quoted()
            if self.peek(",") or self.peek(")"):
                return value
            self.pos = save
        while self.pos < len(self.text) and self.text[self.pos] not in ",)":
            self.pos += 1
        return self.text[save : self.pos]

    def logic_tree(self) -> Condition | Logic:
        save = self.pos
        try:
            column = self.field()
            self.expect(".")
            condition = self.operation(logic=True)
            return _with_field(condition, column)
        except ParseFailure:
            self.pos = save
        negated = self.eat("not.")
        if self.eat("and"):
            operator = "and"
        elif self.eat("or"):
            operator = "or"
        else:
            self.fail("logic operator (and, or)")
        self.spaces()
        self.expect("(")
        self.spaces()
        children = [self.logic_tree()]
        while True:
            self.spaces()
            if not self.eat(","):
                break
            self.spaces()
            children.append(self.logic_tree())
        self.spaces()
        self.expect(")")
        self.spaces()
        return Logic(negated, operator, tuple(children))

    # -- order ---------------------------------------------------------------------------

    def order(self) -> list[OrderTerm]:
        terms = [self.order_term()]
        while self.eat(","):
            terms.append(self.order_term())
        if not self.at_end():
            self.fail('"," or end of input')
        return terms

    def order_term(self) -> OrderTerm:
        self.spaces()
        start = self.pos
        relation: str | None = self.field_name()
        if self.eat("("):
            column = self.field()
            self.expect(")")
        else:
            relation = None
            self.pos = start
            column = self.field()
        direction = nulls = None
        for word in ("asc", "desc"):
            if self.peek(f".{word}"):
                self.pos += len(word) + 1
                direction = word
                break
        for word in ("nullsfirst", "nullslast"):
            if self.peek(f".{word}"):
                self.pos += len(word) + 1
                nulls = word
                break
        self.spaces()
        if not (self.at_end() or self.peek(",")):
            self.fail('"asc", "desc", "nullsfirst" or "nullslast"')
        return OrderTerm(column, direction, nulls, relation)

    def path(self) -> tuple[str, ...]:
        names = [self.field_name()]
        while self.eat("."):
            names.append(self.field_name())
        return tuple(names)


class NotSupported(Exception):
    """A part of PostgREST's grammar the stand-in does not implement."""


class AggregatesRefused(Exception):
    """`count()`, `col.sum()`…: refused as hosted Supabase refuses them by default."""


def _identifier_char(ch: str) -> bool:
    # Parsec's `letter` is any Unicode letter; its `digit` is ASCII only.
    return ch.isalpha() or ch in "0123456789_ $"


def _with_field(condition: Condition, column: Field) -> Condition:
    return Condition(
        column,
        condition.negated,
        condition.operator,
        condition.value,
        condition.quantifier,
        condition.language,
    )


def not_implemented(what: str) -> RestError:
    return RestError(
        400,
        "PGRST127",
        "Feature not implemented",
        details=f"{what} is not implemented by the devstack Supabase stand-in",
    )


def parse_with(label: str, text: str, parse_fn: Callable[[_Parser], T]) -> T:
    """Run `parse_fn(parser)` on `text`; a failure is PostgREST's PGRST100 naming `label`."""
    parser = _Parser(text)
    try:
        return parse_fn(parser)
    except ParseFailure as failure:
        raise RestError(
            400,
            "PGRST100",
            f'"{label}" (line 1, column {failure.position + 1})',
            details=f"unexpected {failure.unexpected} expecting {failure.expecting}",
        ) from None
    except AggregatesRefused:
        raise RestError(400, "PGRST123", "Use of aggregate functions is not allowed") from None
    except NotSupported as exc:
        raise not_implemented(str(exc)) from None


def _columns(parser: _Parser) -> tuple[str, ...]:
    names = [parser.field_name()]
    while True:
        parser.spaces()
        if not parser.eat(","):
            break
        parser.spaces()
        names.append(parser.field_name())
    if not parser.at_end():
        parser.fail('"," or end of input')
    return tuple(names)


def _select(parser: _Parser) -> tuple[Column | Embed, ...]:
    items = parser.select_forest()
    if not parser.at_end():
        parser.fail('"," or end of input')
    return items


def _filter(parser: _Parser) -> tuple[tuple[str, ...], Field]:
    names = [parser.field_name()]
    while parser.eat("."):
        names.append(parser.field_name())
    steps = parser.json_path()
    if not parser.at_end():
        parser.fail('"->", "." or end of input')
    return tuple(names[:-1]), Field(names[-1], steps)


def _range_value(key: str, raw: str) -> int:
    """`limit`/`offset`: ASCII digits only (a non-ASCII digit is refused, not read)."""
    if re.fullmatch(r"[0-9]+", raw):
        return int(raw)
    if key == "limit" and re.fullmatch(r"-[0-9]+", raw):
        raise RestError(
            416,
            "PGRST103",
            "Requested range not satisfiable",
            details="Limit should be greater than or equal to zero.",
        )
    position = next((i for i, ch in enumerate(raw) if ch not in "0123456789"), len(raw))
    raise RestError(
        400,
        "PGRST100",
        f'"failed to parse {key} parameter ({raw})" (line 1, column {position + 1})',
        details=f"unexpected {_describe(raw, position)} expecting digit",
    )


def parse_query(params: Sequence[tuple[str, str]], *, rpc_read: bool = False) -> Query:
    """The whole query string, as PostgREST's `QueryParams.parse` reads it."""
    query = Query(
        select=(Column(Field("*")),), levels={}, arguments={}, columns=None, on_conflict=None
    )
    seen: set[str] = set()
    for key, raw in params:
        if key in RESERVED:
            if key in seen or key == "apikey":
                # PostgREST reads the first of these; `apikey` is the gateway's
                continue
            seen.add(key)
            if key == "select":
                query.select = parse_with(f"failed to parse select parameter ({raw})", raw, _select)
            elif key == "columns":
                query.columns = parse_with(
                    f"failed to parse columns parameter ({raw})", raw, _columns
                )
            else:
                query.on_conflict = parse_with(
                    f"failed to parse on_conflict parameter ({raw})", raw, _columns
                )
            continue
        last = key.rsplit(".", 1)[-1]
        if last in RESERVED_EMBEDDABLE:
            path = parse_with(f"failed to parse tree path ({key})", key, lambda p: p.path())
            if last in ("and", "or"):
                negated = "not" in path[:-1]
                embed_path = tuple(name for name in path[:-1] if name != "not")
                tree_text = ("not." if negated else "") + last + raw
                tree = parse_with(f"failed to parse logic tree ({raw})", tree_text, _logic_only)
                query.level(embed_path).conditions.append(tree)
            elif last == "order":
                query.level(path[:-1]).order = parse_with(
                    f"failed to parse order ({raw})", raw, lambda p: p.order()
                )
            elif last == "limit":
                query.level(path[:-1]).limit = _range_value("limit", raw)
            else:
                query.level(path[:-1]).offset = _range_value("offset", raw)
            continue
        embed_path, column = parse_with(f"failed to parse tree path ({key})", key, _filter)
        parser = _Parser(raw)
        try:
            condition = parser.operation(logic=False)
        except ParseFailure as failure:
            if rpc_read and not embed_path and not column.json_path:
                previous = query.arguments.get(column.name)
                if previous is None:
                    query.arguments[column.name] = raw
                elif isinstance(previous, list):
                    previous.append(raw)
                else:
                    query.arguments[column.name] = [previous, raw]
                continue
            raise RestError(
                400,
                "PGRST100",
                f'"failed to parse filter ({raw})" (line 1, column {failure.position + 1})',
                details=f"unexpected {failure.unexpected} expecting {failure.expecting}",
            ) from None
        query.level(embed_path).conditions.append(_with_field(condition, column))
    return query


def _logic_only(parser: _Parser) -> Condition | Logic:
    tree = parser.logic_tree()
    if not isinstance(tree, Logic):
        parser.fail("logic operator (and, or)")
    if not parser.at_end():
        parser.fail("end of input")
    return tree
