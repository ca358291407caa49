"""An analyst in another process: a DuckDB connection held open, answering queries on request.

DuckDB's locks are per process and a database is shared by every connection of a process, so
an analyst's notebook or shell is played by a real second process: it opens the file read-only,
says ``open``, then answers each SQL line of its stdin with one JSON line (the rows, or the
error), on the same connection, until stdin closes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

_SCRIPT = """
import json, sys, duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
print("open", flush=True)
for line in sys.stdin:
    try:
        rows = conn.execute(line).fetchall()
        print(json.dumps({"rows": [list(r) for r in rows]}, default=str), flush=True)
    except Exception as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
"""


class Analyst:
    """A read-only DuckDB connection to ``path`` held by another process (a context manager)."""

    def __init__(self, path: Path, *arguments: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, str(path), *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if line != "open":
            self.close()
            raise AssertionError(f"the analyst could not open {path}: {self.process.stderr}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def query(self, sql: str) -> list[list[Any]]:
        """The rows of ``sql`` on the held connection (raises with DuckDB's error)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(" ".join(sql.split()) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        if "error" in answer:
            raise AssertionError(answer["error"])
        rows: list[list[Any]] = answer["rows"]
        return rows

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Analyst:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
