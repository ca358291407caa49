"""Write the README's table of entities from the entity table, or check that it is current.

    python scripts/entity_docs.py          # rewrite the table in README.md
    python scripts/entity_docs.py --check  # write nothing; exit 1 when README.md is stale

The table lists every entry of ``servicetitan_pipeline.entities.ENTITIES``, module by module:
its raw table, the endpoint it is synced from, how (sync mode), its key and the API scope the
app needs for it. It sits between the two markers below in README.md; everything else in the
file is left as it is. A test (``tests/unit/test_entity_docs.py``) fails when the README's
table is not what this script writes, so adding an entity means running it once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from servicetitan_pipeline.entities import ENTITIES, MODULES, Entity, SyncMode

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BEGIN = (
    "<!-- entities:begin (written by scripts/entity_docs.py from servicetitan_pipeline/"
    "entities.py; do not edit by hand) -->"
)
END = "<!-- entities:end -->"

_HOW = {
    SyncMode.EXPORT: "export (continuation token)",
    SyncMode.LIST_INCREMENTAL: "list, `modifiedOnOrAfter`",
    SyncMode.LIST_FULL: "list, read whole",
}


def endpoint(entity: Entity) -> str:
    """The path the entity is synced from, with ``{tenant}`` for the tenant."""
    if entity.sync_mode is SyncMode.EXPORT:
        return entity.export_path("{tenant}")
    return entity.list_path("{tenant}")


def render_table() -> str:
    """The Markdown table of every entity, module by module, in the entity table's order."""
    lines = [
        f"{len(ENTITIES)} entities in {len({e.module for e in ENTITIES})} API modules. The "
        "module is the name `SERVICETITAN_ENTITIES` takes to select or exclude them all; the "
        "scope is what the app needs in ServiceTitan's developer portal.",
        "",
        "| module | entity (`raw_servicetitan.<entity>`) | endpoint | sync | key | API scope |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for module in MODULES.values():
        for entity in (e for e in ENTITIES if e.module == module.name):
            key = " + ".join(f"`{field}`" for field in entity.key)
            lines.append(
                f"| {module.name} | `{entity.name}` | `{endpoint(entity)}` | "
                f"{_HOW[entity.sync_mode]} | {key} | {entity.scope} |"
            )
    return "\n".join(lines) + "\n"


def with_table(text: str, table: str) -> str:
    """``text`` with what lies between the markers replaced by ``table``.

    Raises:
        ValueError: the markers are missing, repeated or out of order.
    """
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(
            f"{README.name} must hold the markers {BEGIN!r} and {END!r} once, in order"
        )
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    # The blank line ends the table before the marker in every Markdown renderer.
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    try:
        expected = with_table(current, render_table())
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.check:
        if current != expected:
            print(
                f"{README.relative_to(REPO)}: the entity table is out of date: run "
                "scripts/entity_docs.py",
                file=sys.stderr,
            )
            return 1
        return 0
    README.write_text(expected, encoding="utf-8")
    print(f"wrote the table of {len(ENTITIES)} entities in {README.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
