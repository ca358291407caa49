"""Generation of the customer history in worker processes, chunk by chunk.

History is generated in chunks of ``CHUNK_CUSTOMERS`` customers, each from its own seeded RNG
and its own block of ids, so the data is the same whether the chunks are built in-process or
here. The children are plain ``python -m servicetitan_pipeline.simulator.world.chunk_worker``
processes fed with pickles, not multiprocessing: its spawn mode re-imports the caller's
``__main__`` (and fails on scripts without a ``__main__`` guard), and fork is unsafe in the
threaded processes the simulator usually starts in.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from array import array
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple, TypedDict

from ..config import SimulatorConfig
from ..store import StoreColumns
from .base import Catalog

CHUNK_CUSTOMERS = 2500
PARALLEL_MIN_CUSTOMERS = 20_000
# The worker's entry point: a module nothing imports, so that -m does not load it twice.
_WORKER_MODULE = "servicetitan_pipeline.simulator.world.chunk_worker"


class ReferenceState(NamedTuple):
    """What a chunk of customers needs from the tenant (picklable, for worker processes)."""

    config: SimulatorConfig
    now_ms: int
    tax_rate: Decimal
    catalog: Catalog


class ChunkJob(NamedTuple):
    """One chunk to generate: the reference state, the chunk number, the index of its first
    customer and the creation times of its customers."""

    reference: ReferenceState
    chunk: int
    first_index: int
    created: list[int]


class ChunkResult(TypedDict):
    """A generated chunk: its store columns and bookkeeping, positions relative to the chunk."""

    stores: dict[str, StoreColumns]
    open_jobs: dict[int, tuple[int, list[int]]]
    unpaid: dict[int, int]
    customer_location: array[int]


def worker_count(wanted: int | None, customers: int) -> int:
    """How many processes generate ``customers`` (``wanted``: the configured number, if any)."""
    if wanted is not None:
        return max(1, wanted)
    if customers < PARALLEL_MIN_CUSTOMERS:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        cpus = os.cpu_count() or 1
    # Half the CPUs: they are usually SMT siblings, and on a 2-vCPU VM two workers measured
    # slower than one process (each chunk took 1.6x longer, plus the pickling).
    return max(1, min(cpus // 2, 8, -(-customers // CHUNK_CUSTOMERS)))


def build_in_workers(jobs: list[ChunkJob], workers: int) -> list[ChunkResult]:
    """Build the chunks in ``workers`` child processes, returned in chunk order.

    Raises:
        RuntimeError: a worker failed (the caller then generates in-process).
    """
    results: dict[int, ChunkResult] = {}
    errors: list[str] = []
    package_root = str(Path(__file__).resolve().parents[3])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))

    def run(share: list[ChunkJob]) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", _WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            pickle.dump(share, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            proc.stdin.close()
            for job in share:
                results[job.chunk] = pickle.load(proc.stdout)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            errors.append(f"{exc!r}")
        finally:
            stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            if proc.wait() != 0:
                errors.append(stderr.strip()[-2000:])

    shares = [jobs[w::workers] for w in range(workers)]
    threads = [threading.Thread(target=run, args=(share,), daemon=True) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors or len(results) != len(jobs):
        raise RuntimeError("generation worker failed: " + " | ".join(errors))
    return [results[k] for k in range(len(jobs))]
