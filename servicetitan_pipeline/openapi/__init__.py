"""The project's own copy of the ServiceTitan OpenAPI facts it relies on, and its typed loader.

``servicetitan-v2.json`` beside this module is written by ``scripts/vendor_openapi.py`` from
the official documents: per module its URL prefix, the GET operations of the list and export
endpoints of ``entities.ENTITIES`` (query parameters, response schema names) and the component
schemas they reach (descriptions left out). It is read with ``importlib.resources``, so it
works from an installed wheel as from a clone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

DATA_FILE = "servicetitan-v2.json"
_REF_PREFIX = "#/components/schemas/"

JsonObject = Mapping[str, Any]


@dataclass(frozen=True)
class Parameter:
    """One parameter of an operation (``location``: OpenAPI's ``in``: path or query)."""

    name: str
    location: str
    required: bool
    schema: JsonObject


@dataclass(frozen=True)
class Operation:
    """A GET operation: its parameters by name and its response schema names by status."""

    path: str  # below the module's prefix, e.g. "/tenant/{tenant}/export/customers"
    parameters: Mapping[str, Parameter]
    responses: Mapping[str, str]


@dataclass(frozen=True)
class ModuleSpec:
    """What the project keeps of one module's document (``crm-v2.json``, say)."""

    module: str
    document: str
    server: str  # servers[0].url, e.g. "https://api-integration.servicetitan.io/crm/v2"
    path_prefix: str  # the URL path before /tenant/{tenant}/, e.g. "/crm/v2" ("/telecom/v2")
    operations: Mapping[str, Operation]
    schemas: Mapping[str, JsonObject]

    def schema(self, name: str) -> JsonObject:
        try:
            return self.schemas[name]
        except KeyError:
            raise KeyError(f"schema {name!r} is not bundled for module {self.module}") from None

    def resolve(self, schema: JsonObject) -> JsonObject:
        """Follow a ``$ref``, or a ``oneOf`` of one ``$ref`` (how the spec wraps enum types)."""
        ref = schema.get("$ref")
        if ref is None and len(schema.get("oneOf", ())) == 1:
            ref = schema["oneOf"][0].get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            return self.resolve(self.schema(ref[len(_REF_PREFIX) :]))
        return schema

    def enum(self, path: str, parameter: str) -> tuple[str, ...] | None:
        """The values a query parameter takes when it is an enum; None if it is not one."""
        param = self.operations[path].parameters.get(parameter)
        if param is None:
            return None
        values = self.resolve(param.schema).get("enum")
        return tuple(values) if values is not None else None


def _module(name: str, raw: dict[str, Any]) -> ModuleSpec:
    operations = {
        path: Operation(
            path=path,
            parameters=MappingProxyType(
                {
                    p["name"]: Parameter(
                        name=p["name"],
                        location=p["in"],
                        required=bool(p.get("required", False)),
                        schema=MappingProxyType(p.get("schema", {})),
                    )
                    for p in op["parameters"]
                }
            ),
            responses=MappingProxyType(dict(op["responses"])),
        )
        for path, op in raw["operations"].items()
    }
    return ModuleSpec(
        module=name,
        document=raw["document"],
        server=raw["server"],
        path_prefix=raw["path_prefix"],
        operations=MappingProxyType(operations),
        schemas=MappingProxyType(raw["schemas"]),
    )


@cache
def raw_bundle() -> dict[str, Any]:
    """The bundled file as parsed JSON (do not modify it)."""
    text = resources.files(__name__).joinpath(DATA_FILE).read_text(encoding="utf-8")
    bundle: dict[str, Any] = json.loads(text)
    return bundle


@cache
def modules() -> Mapping[str, ModuleSpec]:
    """Every bundled module by name (``crm``, ``jpm``, ...)."""
    return MappingProxyType({n: _module(n, raw) for n, raw in raw_bundle()["modules"].items()})


def module(name: str) -> ModuleSpec:
    """One module's bundled spec, with an error that lists the bundled ones."""
    try:
        return modules()[name]
    except KeyError:
        known = ", ".join(modules())
        raise KeyError(f"no bundled OpenAPI data for module {name!r}; bundled: {known}") from None
