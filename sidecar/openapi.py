"""OpenAPI details Litestar does not derive by itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema


class ClosedStructSchemaPlugin(OpenAPISchemaPlugin):
    """A Struct with `forbid_unknown_fields=True` is documented with `additionalProperties: false`,
    so clients (and schemathesis) know an extra field is refused, not ignored."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        if field_definition.is_union or not field_definition.is_subclass_of(msgspec.Struct):
            return False
        return bool(field_definition.type_.__struct_config__.forbid_unknown_fields)

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        info: Any = msgspec.inspect.type_info(field_definition.type_)
        hints = field_definition.get_type_hints(include_extras=True, resolve_generics=True)
        schema = schema_creator.create_component_schema(
            field_definition,
            required=sorted(field.encode_name for field in info.fields if field.required),
            property_fields={
                field.encode_name: FieldDefinition.from_annotation(
                    hints[field.name], name=field.encode_name
                )
                for field in info.fields
            },
        )
        schema.additional_properties = False
        return schema
