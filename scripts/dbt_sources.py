"""Write the dbt sources of the raw layer from the entity table.

    python scripts/dbt_sources.py [--check]

Writes ``dbt_project/models/staging/servicetitan/_servicetitan__sources.yml``: one table of the
``servicetitan`` source per entry of ``entities.ENTITIES`` (in the table's order), described
from the entry (what it holds, how it is synced, its key) with the raw layer's columns
(``warehouse.schema.ENTITY_COLUMNS``, plus ``id_2`` for a two-field key). The source key
``["servicetitan", <name>]`` is the entity's ingestion asset key, which is how dagster-dbt
draws one lineage from the API to the reports, so the file is written, never edited by hand:
adding an entity to the table and running this is all its source needs.

Also writes ``dbt_project/macros/servicetitan_source_tables.sql``: the macro
``servicetitan_source_tables()``, the source's table names, for models that read every raw
table (dim_tenants declares them as its dependencies: dbt parses models without the graph
of sources, so they need the list written down). ``--check`` writes nothing and fails when a
committed file differs from what the table gives.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from servicetitan_pipeline.entities import (  # noqa: E402
    ASSET_KEY_PREFIX,
    ENTITIES,
    MODULES,
    RAW_SCHEMA,
    Entity,
    SyncMode,
)
from servicetitan_pipeline.warehouse.schema import ENTITY_COLUMNS, TENANT_ID  # noqa: E402

OUTPUT = REPO / "dbt_project" / "models" / "staging" / "servicetitan" / "_servicetitan__sources.yml"
MACRO_OUTPUT = REPO / "dbt_project" / "macros" / "servicetitan_source_tables.sql"
SOURCE_NAME = ASSET_KEY_PREFIX
SECOND_KEY_COLUMN = "id_2"
# Width of the file's text (the project's line length).
WIDTH = 100

_HEADER = f"""\
# Written by scripts/dbt_sources.py from servicetitan_pipeline/entities.py: do not edit by hand
# (`python scripts/dbt_sources.py` after changing the entity table; a test checks it is current).
version: 2

sources:
  - name: {SOURCE_NAME}
    description: >
      The raw layer written by the Dagster ingestion assets (`servicetitan/<entity>`): one table
      per ServiceTitan entity in schema `{RAW_SCHEMA}`, one row per record holding its latest
      version, the complete record in `payload` exactly as the API sent it. Inactive (deleted,
      voided) and merged records are kept with `active = false`. The source key
      `["servicetitan", "<table>"]` is the ingestion asset's key, so Dagster shows one lineage
      from the API to the reports.
    schema: {RAW_SCHEMA}
    config:
      # The ingestion runs at least daily; a table not loaded for a day is worth a look, not
      # loaded for three days means the sync is broken.
      loaded_at_field: _loaded_at
      freshness:
        warn_after: {{count: 24, period: hour}}
        error_after: {{count: 72, period: hour}}

    # No dbt tests on these tables: the ingestion assets own them and check them with Dagster
    # asset checks (ids unique and not null per tenant, no rejected records, references; see
    # servicetitan_pipeline/defs/checks.py). dbt tests on a source would run inside the dbt
    # step, where Dagster can only log them as observations of another step's asset.
    tables:
"""

# The YAML anchor of the columns shared by every table keyed by `id`, ordered by `modifiedOn`
# and flagged by `active` (most of them): written once, referenced by the others.
_ANCHOR = "raw_columns"


def _is_common(entity: Entity) -> bool:
    return (
        entity.key == ("id",)
        and entity.modified_field == "modifiedOn"
        and (entity.active_field == "active")
    )


def _field_list(fields: Sequence[str]) -> str:
    quoted = [f"`{f}`" for f in fields]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def column_descriptions(entity: Entity) -> dict[str, str]:
    """The raw table's columns, in order, with what each holds for ``entity``."""
    key = entity.key
    if key == ("id",):
        id_text = "The record's ServiceTitan id; unique within a tenant."
    elif len(key) == 1:
        id_text = (
            f"The record's `{key[0]}` (its key: the records have no `id`); unique within a tenant."
        )
    else:
        id_text = f"The record's `{key[0]}`, the first field of its key ({_field_list(key)})."
    if entity.modified_field == "modifiedOn":
        modified_text = (
            "The record's `modifiedOn` (UTC); null when the record has none (some invoices) or "
            "when it is not a plausible time (the far future, `infinity`); the payload keeps what "
            "was sent."
        )
    elif entity.modified_field is not None:
        modified_text = (
            f"The record's `{entity.modified_field}` (UTC), which orders its versions (the records "
            "have no `modifiedOn`); null when it is not a plausible time."
        )
    else:
        modified_text = (
            "Always null: the records carry no time that orders their versions (a changed "
            "payload is a newer version)."
        )
    if entity.active_field is not None:
        active_text = (
            f"The record's `{entity.active_field}` flag; false for deleted, voided or merged "
            "records."
        )
    else:
        active_text = "Always null: the records have no active flag."
    known = {
        TENANT_ID: "ServiceTitan tenant the record belongs to; part of the key.",
        "id": id_text,
        "modified_on": modified_text,
        "active": active_text,
        "payload": "The complete record as JSON, exactly as the API sent it.",
        "_connection": "Name of the connection that loaded the record.",
        "_loaded_at": "When this version of the record was written (UTC).",
    }
    if len(key) == 2:
        known[SECOND_KEY_COLUMN] = f"The record's `{key[1]}`, the second field of its key."
    if len(key) > 2:
        raise ValueError(f"{entity.name}: a key of {len(key)} fields; the raw layer holds two")
    # The raw layer's columns, with `id_2` right after `id` for a two-field key (whether or not
    # ENTITY_COLUMNS lists it: it is NULL, or absent, for every other table).
    names = [name for name, _ddl in ENTITY_COLUMNS if name != SECOND_KEY_COLUMN]
    if len(key) == 2:
        names.insert(names.index("id") + 1, SECOND_KEY_COLUMN)
    columns: dict[str, str] = {}
    for name in names:
        if name not in known:
            raise ValueError(
                f"raw column {name!r} of {entity.name} has no description in scripts/dbt_sources.py"
            )
        columns[name] = known[name]
    return columns


def sync_description(entity: Entity) -> str:
    """How the entity is synced and keyed, in a sentence or two."""
    module = MODULES[entity.module].title
    if entity.sync_mode is SyncMode.EXPORT:
        how = f"Synced from the export endpoint `{entity.export_path('{tenant}')}` ({module})."
    elif entity.sync_mode is SyncMode.LIST_INCREMENTAL:
        how = (
            f"Synced from the list endpoint `{entity.list_path('{tenant}')}` ({module}) by "
            f"`modifiedOnOrAfter`."
        )
    else:
        how = (
            f"Read whole from the list endpoint `{entity.list_path('{tenant}')}` ({module}) on "
            "every run."
        )
    return f"{how} Key: {_field_list(entity.key)} within a tenant."


def _folded(text: str, indent: int) -> Iterator[str]:
    """``text`` as the lines of a folded YAML block at ``indent`` spaces."""
    yield from textwrap.wrap(
        text,
        width=WIDTH,
        initial_indent=" " * indent,
        subsequent_indent=" " * indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _scalar(key: str, text: str, indent: int) -> Iterator[str]:
    """``key: text`` on one line when it fits (and needs no quoting), else a folded block."""
    line = f"{' ' * indent}{key}: {text}"
    # a plain scalar cannot hold ": " or " #", nor start with an indicator
    plain = not any(c in text for c in (": ", " #")) and text[0] not in "[]{}&*!|>%@`'\",#?:-"
    if plain and len(line) <= WIDTH:
        yield line
    else:
        yield f"{' ' * indent}{key}: >-"
        yield from _folded(text, indent + 2)


def table_lines(entity: Entity, anchor_written: bool) -> tuple[list[str], bool]:
    """The YAML of one source table; whether the shared columns' anchor is written now."""
    lines = [f"      - name: {entity.name}"]
    lines += _scalar("description", f"{entity.description} {sync_description(entity)}", 8)
    if _is_common(entity) and anchor_written:
        lines.append(f"        columns: *{_ANCHOR}")
        return lines, anchor_written
    writes_anchor = _is_common(entity)
    lines.append(f"        columns: &{_ANCHOR}" if writes_anchor else "        columns:")
    for name, description in column_descriptions(entity).items():
        lines.append(f"          - name: {name}")
        lines += _scalar("description", description, 12)
    return lines, anchor_written or writes_anchor


def render() -> str:
    """The sources file for the current entity table."""
    lines = [_HEADER.rstrip("\n")]
    anchor_written = False
    for entity in ENTITIES:
        table, anchor_written = table_lines(entity, anchor_written)
        lines += table
    return "\n".join(lines) + "\n"


def render_macro() -> str:
    """The macro listing the source's tables, for the current entity table."""
    names = "".join(f"\n        '{entity.name}'," for entity in ENTITIES)
    return (
        "{#\n"
        "    Written by scripts/dbt_sources.py from servicetitan_pipeline/entities.py: do not\n"
        "    edit by hand. The table names of the `servicetitan` source (one per entity), for a\n"
        "    model that declares every raw table as its dependency (`-- depends_on: source()`).\n"
        "#}\n"
        "{% macro servicetitan_source_tables() -%}\n"
        f"    {{{{ return([{names}\n    ]) }}}}\n"
        "{%- endmacro %}\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; fail when the committed file differs from what the table gives",
    )
    args = parser.parse_args(argv)
    outputs = ((OUTPUT, render()), (MACRO_OUTPUT, render_macro()))
    if args.check:
        stale = 0
        for path, text in outputs:
            relative = path.relative_to(REPO)
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current != text:
                print(
                    f"{relative} is not what the entity table gives: "
                    "run python scripts/dbt_sources.py",
                    file=sys.stderr,
                )
                stale += 1
            else:
                print(f"{relative} is up to date ({len(ENTITIES)} tables)")
        return 1 if stale else 0
    for path, text in outputs:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)} ({len(ENTITIES)} tables)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
