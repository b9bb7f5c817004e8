"""Validate API responses against the OpenAPI document's schemas with jsonschema (draft 2020-12, which OpenAPI
3.1 uses), and the document itself with openapi-spec-validator."""
from __future__ import annotations

from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_spec


def validate(value, schema: dict, root: dict) -> list[str]:
    """Every way ``value`` breaks ``schema``; ``$ref``s such as ``#/components/schemas/Error`` resolve in ``root``
    (the OpenAPI document). Formats (date-time with an offset, date) are checked."""
    document_schema = {**schema, "components": root.get("components", {})}
    validator = Draft202012Validator(document_schema, format_checker=FormatChecker())
    return [f"$.{'.'.join(map(str, error.absolute_path))}: {error.message}"
            for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))]


def check_document(document: dict) -> None:
    """Raise when the OpenAPI document is not a valid OpenAPI 3.1 document."""
    validate_spec(document)
