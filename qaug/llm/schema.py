"""The JSON Schema subset qaug's answers use, checked when a schema is declared and when an answer arrives.

The grammar should make an invalid answer impossible; validating again costs microseconds
and turns any disagreement between grammar and parser into a visible reject instead of a
silently wrong training sample. Unknown keywords are refused up front, so a schema never
asks for a constraint that neither the grammar nor this check enforces.
"""

from __future__ import annotations

from typing import Any

_KNOWN = {
    "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum",
    "minimum", "maximum", "minLength", "maxLength", "description", "title", "const",
}
_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}


class SchemaError(ValueError):
    """A schema that uses something this subset does not support."""


def check_schema(schema: dict[str, Any], where: str = "$") -> None:
    """Raise SchemaError for keywords or types outside the supported subset."""
    if not isinstance(schema, dict):
        raise SchemaError(f"{where}: a schema must be an object")
    unknown = set(schema) - _KNOWN
    if unknown:
        raise SchemaError(f"{where}: unsupported keyword(s) {', '.join(sorted(unknown))}")
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    for k in kinds:
        if k not in _TYPES:
            raise SchemaError(f"{where}: unknown type {k!r}")
    if "object" in kinds and schema.get("additionalProperties") is not False:
        raise SchemaError(f"{where}: objects must set additionalProperties: false")
    for name, sub in schema.get("properties", {}).items():
        check_schema(sub, f"{where}.{name}")
    if "items" in schema:
        check_schema(schema["items"], f"{where}[]")


def validate(value: Any, schema: dict[str, Any], where: str = "$") -> str | None:
    """None if `value` satisfies `schema`, else the first violation as a short message."""
    if "const" in schema and value != schema["const"]:
        return f"{where}: expected {schema['const']!r}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where}: {value!r} is not one of {schema['enum']}"
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_is_type(value, k) for k in kinds):
            return f"{where}: expected {'/'.join(kinds)}, got {type(value).__name__}"
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                return f"{where}: missing '{name}'"
        props = schema.get("properties", {})
        for name, sub in value.items():
            if name not in props:
                if schema.get("additionalProperties", True) is False:
                    return f"{where}: unexpected key '{name}'"
                continue
            err = validate(sub, props[name], f"{where}.{name}")
            if err:
                return err
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            return f"{where}: {len(value)} items, at least {schema['minItems']} needed"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"{where}: {len(value)} items, at most {schema['maxItems']} allowed"
        items = schema.get("items")
        if items is not None:
            for i, sub in enumerate(value):
                err = validate(sub, items, f"{where}[{i}]")
                if err:
                    return err
    elif isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            return f"{where}: string shorter than {schema['minLength']}"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{where}: string longer than {schema['maxLength']}"
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{where}: {value} is below {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{where}: {value} is above {schema['maximum']}"
    return None


def _is_type(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    return False
