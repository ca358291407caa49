"""Re-run the SQL examples of a Markdown file and refresh the output shown under each.

Every fenced ```sql block is run against a DuckDB file (read-only) and the ```text block that
follows it (if any) is replaced by the new result, so the documented answers are what the
queries really return on the demo data:

    make demo
    .venv/bin/python scripts/render_query_outputs.py data/demo.duckdb \
        README.md dbt_project/ANALYST_QUERIES.md

A block of several statements shows each statement's result, one after the other.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import duckdb

_BLOCK = re.compile(r"```sql\n(?P<sql>.*?)```\n(?:\n?```text\n.*?```\n)?", re.DOTALL)


def render(database: str, markdown: Path) -> int:
    text = markdown.read_text()
    count = 0
    with duckdb.connect(database, read_only=True) as con:

        def replace(match: re.Match[str]) -> str:
            nonlocal count
            sql = match.group("sql")
            outputs = []
            for statement in (s.strip() for s in sql.split(";")):
                if statement and not all(
                    line.strip().startswith("--") for line in statement.splitlines()
                ):
                    outputs.append(str(con.sql(statement)).rstrip())
            count += 1
            return f"```sql\n{sql}```\n\n```text\n" + "\n\n".join(outputs) + "\n```\n"

        new_text = _BLOCK.sub(replace, text)
    markdown.write_text(new_text)
    return count


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    database, *files = argv
    for name in files:
        n = render(database, Path(name))
        print(f"{name}: {n} queries rendered")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
