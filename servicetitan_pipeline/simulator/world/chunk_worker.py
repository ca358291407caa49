"""A generation worker process: ``python -m servicetitan_pipeline.simulator.world.chunk_worker``.

Reads a pickled list of :class:`~.workers.ChunkJob` on stdin and writes one pickled
:class:`~.workers.ChunkResult` per job on stdout (see :func:`.workers.build_in_workers`).
"""

from __future__ import annotations

import pickle
import sys

from .tenant import build_chunk
from .workers import ChunkJob


def main() -> None:
    jobs: list[ChunkJob] = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    for job in jobs:
        pickle.dump(build_chunk(job), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


if __name__ == "__main__":
    main()
