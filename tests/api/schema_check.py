"""A small JSON Schema validator for the subset the API's OpenAPI document uses (type with null, properties,
required, additionalProperties, items, enum, $ref to components, format date-time)."""
from __future__ import annotations

from datetime import datetime

TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict,
         "null": type(None)}


def validate(value, schema: dict, root: dict, path: str = "$") -> list[str]:
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return validate(value, target, root, path)
    errors = []
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        ok = any(isinstance(value, TYPES[t]) and not (t in ("integer", "number") and isinstance(value, bool))
                 for t in types)
        if not ok:
            return [f"{path}: {value!r} is not of type {types}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if schema.get("format") == "date-time" and isinstance(value, str):
        try:
            if datetime.fromisoformat(value).tzinfo is None:
                errors.append(f"{path}: date-time without offset")
        except ValueError:
            errors.append(f"{path}: {value!r} is not a date-time")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}: missing {name}")
        for name, item in value.items():
            if name in props:
                errors += validate(item, props[name], root, f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected property {name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += validate(item, schema["items"], root, f"{path}[{i}]")
    return errors
