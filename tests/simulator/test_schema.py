"""Every served endpoint's real answers validate against ServiceTitan's official OpenAPI schemas.

The schemas are the project's bundled copy (``servicetitan_pipeline.openapi``, which
``test_openapi_bundle.py`` keeps equal to the official documents), so this runs in any clone.
The validator is built from the schemas: OpenAPI 3.0's ``nullable: true``
becomes a JSON-Schema union with ``null``, ``required`` and ``additionalProperties: false`` are
kept, ``$ref``s resolve inside the spec, and ``date-time`` strings must be RFC 3339.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import jsonschema
from sim_helpers import Api, envelope_item_schema, official_spec_dir

from servicetitan_pipeline import openapi
from servicetitan_pipeline.entities import ENTITIES, Entity

_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs")
_SCHEMA_LISTS = ("oneOf", "anyOf", "allOf", "prefixItems")
_SCHEMA_SINGLE = ("items", "additionalProperties", "not", "contains")
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def openapi_to_json_schema(node: Any) -> Any:
    """Translate an OpenAPI 3.0 schema object to JSON Schema (2020-12).

    Only schema positions are rewritten, so a property *named* "nullable" or "description"
    is left alone.
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("nullable", "example", "x-enumNames"):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: openapi_to_json_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [openapi_to_json_schema(sub) for sub in value]
        elif key in _SCHEMA_SINGLE and isinstance(value, dict):
            out[key] = openapi_to_json_schema(value)
        else:
            out[key] = value
    if node.get("nullable") is True:
        composite = any(k in out for k in ("$ref", "oneOf", "anyOf", "allOf"))
        if "type" in out and not composite:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _format_checker() -> jsonschema.FormatChecker:
    # Only date-time is checked: "duration" in the spec is a .NET TimeSpan ("07:00:00"), not
    # ISO 8601, and "decimal"/"html"/"phone" are informational.
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time")
    def _date_time(value: object) -> bool:
        return not isinstance(value, str) or _RFC3339.match(value) is not None

    return checker


SPEC_DIR = official_spec_dir()


@cache
def spec_document(module: str, official: bool = False) -> dict[str, Any]:
    """The module's schemas as JSON Schema: the bundled copy, or the official document."""
    if official:
        document = json.loads((SPEC_DIR / openapi.module(module).document).read_text("utf-8"))
        schemas = document["components"]["schemas"]
    else:
        schemas = openapi.module(module).schemas
    return {"components": {"schemas": {n: openapi_to_json_schema(s) for n, s in schemas.items()}}}


def _sources() -> tuple[bool, ...]:
    """Validate against the bundled schemas, and the official documents where they are."""
    return (False, True) if SPEC_DIR.is_dir() else (False,)


@cache
def validator(
    module: str, schema_name: str, official: bool = False
) -> jsonschema.Draft202012Validator:
    doc = spec_document(module, official)
    assert schema_name in doc["components"]["schemas"], f"{schema_name} not bundled for {module}"
    schema = {"$ref": f"#/components/schemas/{schema_name}", **doc}
    return jsonschema.Draft202012Validator(schema, format_checker=_format_checker())


def violations(module: str, schema_name: str, instance: Any, where: str) -> list[str]:
    return [
        f"{where} ({'official' if official else 'bundled'}): "
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for official in _sources()
        for e in validator(module, schema_name, official).iter_errors(instance)
    ]


def _response_schema(entity: Entity, path: str) -> str:
    """The bundled 200 response schema of an entity's endpoint (its envelope)."""
    spec = openapi.module(entity.module)
    return spec.operations[path].responses["200"]


def test_validator_catches_violations() -> None:
    """The translated schemas reject what the spec forbids (so zero violations means something)."""
    name = "Crm.V2.ExportCustomerResponse"
    good = {
        "id": 1,
        "active": True,
        "name": "Zoë O'Brien",
        "type": "Residential",
        "address": {
            "street": "1 Oak St",
            "city": "Austin",
            "state": "TX",
            "zip": "78701",
            "country": "USA",
            "unit": None,
            "latitude": None,
            "longitude": None,
        },
        "customFields": [],
        "balance": 0.0,
        "taxExempt": False,
        "tagTypeIds": [],
        "doNotMail": False,
        "doNotService": False,
        "nationalAccount": False,
        "createdOn": "2026-01-01T00:00:00.000Z",
        "createdById": 1,
        "modifiedOn": "2026-01-01T00:00:00Z",
        "mergedToId": None,
        "externalData": [],
    }
    assert violations("crm", name, good, "good") == []
    for bad in (
        {**good, "unexpected": 1},  # additionalProperties: false
        {k: v for k, v in good.items() if k != "createdById"},  # required
        {**good, "name": None},  # not nullable
        {**good, "type": "Industrial"},  # enum
        {**good, "balance": "12.00"},  # number, not string
        {**good, "modifiedOn": "yesterday"},  # date-time
        {**good, "address": None},  # oneOf $ref without nullable
    ):
        assert violations("crm", name, bad, "bad"), bad
    invoice = "Accounting.V2.ExportInvoiceResponse"
    assert violations("accounting", invoice, {"id": 1}, "x")  # required fields missing
    inv_ok = {
        "id": 1,
        "active": True,
        "invoiceConfiguration": "JobInvoice",
        "createdOn": "2026-01-01T00:00:00Z",
        "sentStatus": "Sent",
        "reviewStatus": "Reviewed",
        "total": None,
        "customer": None,
    }
    assert violations("accounting", invoice, inv_ok, "ok") == []
    assert violations("accounting", invoice, {**inv_ok, "total": 12.5}, "x")


def _check_list(api: Api, entity: Entity, problems: list[str]) -> int:
    tenant = api.sim.config.tenant_id
    path = entity.list_path(tenant)
    envelope = _response_schema(entity, f"/tenant/{{tenant}}/{entity.resource}")
    assert envelope == f"PaginatedResponse_Of_{entity.list_schema}"
    requests: list[dict[str, Any]] = [
        {},
        {"pageSize": 7, "page": 2, "includeTotal": "true"},
        {"pageSize": 5000, **entity.list_inactive_params},
        {"pageSize": 50, "page": 3, **entity.list_inactive_params},
        {"modifiedOnOrAfter": "2026-01-01T00:00:00Z", "pageSize": 200},
    ]
    if "activeState" in entity.list_inactive_params:
        requests.append({"activeState": "InactiveOnly"})
    else:
        requests.append({"active": "False"})
    records = 0
    for params in requests:
        response = api.get(path, **params)
        assert response.status_code == 200, (path, params, response.text)
        body = response.json()
        records += len(body["data"])
        problems += violations(entity.module, envelope, body, f"GET {path} {params}")
    return records


def _check_export(api: Api, entity: Entity, problems: list[str]) -> tuple[int, str]:
    tenant = api.sim.config.tenant_id
    path = entity.export_path(tenant)
    envelope = _response_schema(entity, f"/tenant/{{tenant}}/export/{entity.resource}")
    assert envelope_item_schema(entity.module, envelope) == entity.export_schema
    records = 0
    token = None
    pages = 0
    while True:
        params = {"from": token} if token else {}
        if pages == 1:
            params["includeRecentChanges"] = "true"
        body = api.get(path, **params, **entity.export_params).json()
        problems += violations(entity.module, envelope, body, f"GET {path} page {pages}")
        records += len(body["data"])
        token = body["continueFrom"]
        pages += 1
        if not body["hasMore"]:
            break
    for params in ({"from": "2026-06-01"}, {}):  # from a date; the export's default filter
        body = api.get(path, **params).json()
        problems += violations(entity.module, envelope, body, f"GET {path} {params}")
    return records, token


def test_every_endpoint_matches_the_official_schemas(fresh_api: Api) -> None:
    problems: list[str] = []
    counts: dict[str, int] = {}
    tokens: dict[str, str] = {}
    for entity in ENTITIES:
        if entity.has_list:
            counts[f"{entity.name} list"] = _check_list(fresh_api, entity, problems)
        if entity.has_export:
            counts[f"{entity.name} export"], tokens[entity.name] = _check_export(
                fresh_api, entity, problems
            )
    # Records created and changed by time moving are validated too.
    fresh_api.sim.advance(hours=72)
    changed = 0
    for entity in ENTITIES:
        if entity.has_export:
            path = entity.export_path(fresh_api.sim.config.tenant_id)
            envelope = _response_schema(entity, f"/tenant/{{tenant}}/export/{entity.resource}")
            body = fresh_api.get(path, **{"from": tokens[entity.name]}, **entity.export_params)
            changed += len(body.json()["data"])
            problems += violations(entity.module, envelope, body.json(), f"GET {path} advanced")
        if entity.has_list:
            _check_list(fresh_api, entity, problems)
    assert problems == [], "\n".join(problems[:30]) + f"\n({len(problems)} violations)"
    # Every endpoint served records (a schema test over empty pages would prove nothing).
    assert all(n > 0 for n in counts.values()), counts
    assert changed > 0


def test_error_bodies_match_the_official_schema(api: Api) -> None:
    tenant = api.sim.config.tenant_id
    problems: list[str] = []
    answers = [
        api.http.get(f"/crm/v2/tenant/{tenant}/customers"),  # 401
        api.get("/crm/v2/tenant/999/customers"),  # 403
        api.get(f"/crm/v2/tenant/{tenant}/no-such-thing"),  # 404
        api.get(f"/crm/v2/tenant/{tenant}/customers", pageSize=5001),  # 400
        api.get(f"/crm/v2/tenant/{tenant}/export/customers", **{"from": "not a token"}),  # 400
    ]
    assert [a.status_code for a in answers] == [401, 403, 404, 400, 400]
    for answer in answers:
        problems += violations("crm", "ApiErrorResponse", answer.json(), answer.url.path)
    assert problems == []


def test_status_tables_follow_the_spec_enums() -> None:
    """The job -> appointment status table covers the spec's job statuses with its own values."""
    from servicetitan_pipeline.simulator.world.base import APPOINTMENT_STATUS, OPEN_STATUSES

    jpm = openapi.module("jpm")
    job_statuses = jpm.schema("Jpm.V2.JobStatus")["enum"]
    appointment_statuses = jpm.schema("Jpm.V2.Base.AppointmentStatus")["enum"]
    assert sorted(APPOINTMENT_STATUS) == sorted(job_statuses)
    assert set(APPOINTMENT_STATUS.values()) <= set(appointment_statuses)
    assert set(OPEN_STATUSES) < set(job_statuses)
