"""The bundled OpenAPI data (``servicetitan_pipeline.openapi``) and the official documents agree.

The agreement check runs wherever the official documents are: ``../shared/servicetitan-openapi``
beside the repository, or ``SERVICETITAN_OPENAPI_DIR``; elsewhere it is skipped (the bundled
data is what the other tests use, so they still run).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from sim_helpers import envelope_item_schema, official_spec_dir

from servicetitan_pipeline import openapi
from servicetitan_pipeline.entities import ENTITIES

REPO = Path(__file__).resolve().parents[2]
SPEC_DIR = official_spec_dir()


def _vendor_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "vendor_openapi", REPO / "scripts/vendor_openapi.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    not SPEC_DIR.is_dir(),
    reason=f"official ServiceTitan OpenAPI documents not found at {SPEC_DIR} "
    "(put shared/servicetitan-openapi beside the repository or set SERVICETITAN_OPENAPI_DIR)",
)
def test_bundle_equals_what_the_official_documents_give() -> None:
    script = _vendor_script()
    expected = script.render(script.build(SPEC_DIR))
    bundled = (REPO / "servicetitan_pipeline" / "openapi" / openapi.DATA_FILE).read_text("utf-8")
    assert bundled == expected, "the bundled OpenAPI data is stale: run scripts/vendor_openapi.py"


def test_bundle_has_every_endpoint_and_schema_the_entities_use() -> None:
    for entity in ENTITIES:
        spec = openapi.module(entity.module)
        assert spec.document == entity.spec_file
        assert spec.path_prefix == entity.url_prefix
        if entity.list_schema:
            op = spec.operations[f"/tenant/{{tenant}}/{entity.resource}"]
            assert op.responses["200"] == f"PaginatedResponse_Of_{entity.list_schema}"
            assert {"page", "pageSize", "includeTotal"} <= set(op.parameters)
            spec.schema(entity.list_schema)
        if entity.export_schema:
            op = spec.operations[f"/tenant/{{tenant}}/export/{entity.resource}"]
            assert envelope_item_schema(entity.module, op.responses["200"]) == entity.export_schema
            assert {"hasMore", "continueFrom", "data"} <= set(
                spec.schema(op.responses["200"])["required"]
            )
            assert {"from", "includeRecentChanges"} <= set(op.parameters)
            spec.schema(entity.export_schema)


def test_descriptions_are_left_out_and_enums_kept() -> None:
    text = (REPO / "servicetitan_pipeline" / "openapi" / openapi.DATA_FILE).read_text("utf-8")
    assert '"example"' not in text and '"x-enumNames"' not in text
    crm = openapi.module("crm")
    assert crm.enum("/tenant/{tenant}/customers", "active") == ("True", "Any", "False")
    accounting = openapi.module("accounting")
    assert accounting.enum("/tenant/{tenant}/invoices", "activeState") == (
        "ActiveOnly",
        "InactiveOnly",
        "All",
    )
    # The jobs list has no active filter in the spec.
    assert openapi.module("jpm").enum("/tenant/{tenant}/jobs", "active") is None
    customer = crm.schema("Crm.V2.ExportCustomerResponse")
    assert "description" not in customer and "createdById" in customer["required"]
    # A property named like a documentation keyword would be kept (only keywords go).
    assert customer["properties"]["name"]["type"] == "string"


def test_unknown_module_lists_the_bundled_ones() -> None:
    with pytest.raises(KeyError, match="bundled: "):
        openapi.module("no-such-module")
