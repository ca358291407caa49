"""Write the project's own copy of the ServiceTitan OpenAPI facts it needs.

    python scripts/vendor_openapi.py [SPEC_DIR] [--check]

Reads the official documents (``SPEC_DIR``, by default ``../shared/servicetitan-openapi`` beside
the repository) and writes ``servicetitan_pipeline/openapi/servicetitan-v2.json``: for every
module that ``entities.ENTITIES`` uses, its URL prefix (``servers``), the GET operations of the
entities' list and export endpoints (query parameters and response schemas) and every component
schema those reach, with names, types, formats, enums, nullability and ``required`` kept and
descriptions, examples and display names left out. The output is sorted JSON, so the same
documents always give the same bytes. ``--check`` writes nothing and fails when the bundled
file differs from what the documents give.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from servicetitan_pipeline.entities import ENTITIES  # noqa: E402

DEFAULT_SPEC_DIR = REPO.parent / "shared" / "servicetitan-openapi"
OUTPUT = REPO / "servicetitan_pipeline" / "openapi" / "servicetitan-v2.json"

# Keys that only document: left out wherever they are schema or operation keywords.
_DOC_KEYS = frozenset({"description", "example", "examples", "summary", "x-enumNames", "title"})
# Schema keywords whose value maps names to schemas (a property may be *named* "description").
_SCHEMA_MAPS = ("properties", "patternProperties")
_SCHEMA_LISTS = ("oneOf", "anyOf", "allOf")
_SCHEMA_SINGLE = ("items", "additionalProperties", "not")
_REF_PREFIX = "#/components/schemas/"


def strip_schema(node: Any) -> Any:
    """A schema object without its documentation keywords (only schema positions rewritten)."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DOC_KEYS:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: strip_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [strip_schema(sub) for sub in value]
        elif key in _SCHEMA_SINGLE and isinstance(value, dict):
            out[key] = strip_schema(value)
        else:
            out[key] = value
    return out


def _refs(node: Any) -> set[str]:
    """Names of the component schemas a node refers to (directly)."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            found.add(ref[len(_REF_PREFIX) :])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _operation(get: dict[str, Any]) -> dict[str, Any]:
    parameters = [
        {
            key: strip_schema(value) if key == "schema" else value
            for key, value in parameter.items()
            if key not in _DOC_KEYS
        }
        for parameter in get.get("parameters", [])
    ]
    responses: dict[str, str] = {}
    for status, response in get.get("responses", {}).items():
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        names = _refs(schema)
        if len(names) == 1:
            responses[status] = names.pop()
    return {"parameters": parameters, "responses": responses}


def _document_path(document: dict[str, Any], path: str) -> str:
    """The document's own key of ``path`` (``/tenant/{tenant}/...``): telecom's document puts
    the ``/v2`` of its URL prefix in its paths rather than in its server."""
    for key in document["paths"]:
        if key == path or (key.endswith(path) and key[: -len(path)].count("/") == 1):
            return str(key)
    raise KeyError(f"{path} is not in the document")


def build(spec_dir: Path) -> dict[str, Any]:
    """The bundle: ``{"modules": {module: {document, server, path_prefix, operations,
    schemas}}}``; operations are keyed ``/tenant/{tenant}/...`` in every module."""
    modules: dict[str, Any] = {}
    for entity in ENTITIES:
        document = json.loads((spec_dir / entity.spec_file).read_text(encoding="utf-8"))
        server = document["servers"][0]["url"]
        module = modules.setdefault(
            entity.module,
            {
                "document": entity.spec_file,
                "server": server,
                "path_prefix": entity.url_prefix,
                "operations": {},
                "schemas": {},
            },
        )
        paths = []
        if entity.has_list:
            paths.append(f"/tenant/{{tenant}}/{entity.resource}")
        if entity.has_export:
            paths.append(f"/tenant/{{tenant}}/export/{entity.resource}")
        for path in paths:
            key = _document_path(document, path)
            prefix = urlsplit(server).path.rstrip("/") + key[: -len(path)]
            if prefix != entity.url_prefix:
                raise ValueError(
                    f"{entity.name}: the document serves {path} under {prefix}, "
                    f"the entity table says {entity.url_prefix}"
                )
            module["operations"][path] = _operation(document["paths"][key]["get"])
        # Every schema the operations reach, with the entity's record schemas.
        components = document["components"]["schemas"]
        pending = {name for name in (entity.list_schema, entity.export_schema) if name}
        for path in paths:
            operation = module["operations"][path]
            pending |= _refs(operation["parameters"]) | set(operation["responses"].values())
        while pending:
            name = pending.pop()
            if name in module["schemas"]:
                continue
            module["schemas"][name] = strip_schema(components[name])
            pending |= _refs(module["schemas"][name]) - set(module["schemas"])
    return {"modules": modules}


def render(bundle: dict[str, Any]) -> str:
    """Sorted, one-space-indented JSON with a final newline: stable bytes, readable diffs."""
    return json.dumps(bundle, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec_dir", nargs="?", type=Path, default=DEFAULT_SPEC_DIR)
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    text = render(build(args.spec_dir))
    if args.check:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is out of date: run scripts/vendor_openapi.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)} ({len(text.encode()) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
