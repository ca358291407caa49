"""The simulated tenant's data as one object: :class:`World` generates it and moves it on.

``World(config)`` generates three years of history up to ``config.start`` (the reference data,
then the customers with all their work, in chunks that worker processes may build, then every
other entity of the table from its schema: ``generated/``) into a
:class:`~..store.TenantStore`; ``World.advance(hours)`` moves the simulated clock and applies a
seeded mix of changes. Everything is drawn from seeded RNGs in a fixed order, so the same seed
and size give byte-identical data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .. import pools
from ..config import SimulatorConfig
from ..generated.generator import Generator
from ..timefmt import MS_PER_DAY, MS_PER_HOUR, to_ms
from .base import HISTORY_DAYS, ID_BASES, ID_BLOCKS, Catalog, FastRandom
from .events import ChangeEvents
from .reference import ReferenceData
from .workers import (
    CHUNK_CUSTOMERS,
    ChunkJob,
    ChunkResult,
    ReferenceState,
    build_in_workers,
    worker_count,
)

log = logging.getLogger(__name__)


class World(ChangeEvents, ReferenceData):
    """The simulated tenant's data: generated at construction, changed by :meth:`advance`."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._init_state(FastRandom(config.seed), block_ids=False)
        self.now_ms = to_ms(config.start)
        self.tax_rate = pools.SALES_TAX_RATE
        self.catalog = Catalog()
        self._generate()
        # Every other entity of the table, from its schema, on top of the hand-written ones.
        self.generated = Generator(self.stores, config.seed, self.now_ms)
        self.generated.build()
        self.tenant.finish_build()

    def _generate(self) -> None:
        now = self.now_ms
        origin = now - HISTORY_DAYS * MS_PER_DAY
        self._gen_business_units(origin - 400 * MS_PER_DAY)
        self._gen_job_types(origin - 300 * MS_PER_DAY)
        self._gen_campaigns(origin - 200 * MS_PER_DAY)
        n_techs = max(8, min(600, self.config.customers // 150))
        self._gen_technicians(origin - 100 * MS_PER_DAY, n_techs)
        created = sorted(
            self._between(origin, now - 2 * MS_PER_HOUR) for _ in range(self.config.customers)
        )
        jobs = [
            ChunkJob(self._reference_state(), k, start, created[start : start + CHUNK_CUSTOMERS])
            for k, start in enumerate(range(0, len(created), CHUNK_CUSTOMERS))
        ]
        workers = worker_count(self.config.generation_workers, len(created))
        parts: Iterable[ChunkResult] | None = None
        if workers > 1:
            try:
                parts = build_in_workers(jobs, workers)
            except (RuntimeError, OSError) as exc:
                log.warning("parallel generation failed (%s); generating in-process", exc)
        for part in parts if parts is not None else map(build_chunk, jobs):
            self._absorb(part)
        for entity in ID_BLOCKS:
            store = self.stores.get(entity)
            last = store.ids[-1] if store is not None and len(store) else 0
            self._next_id[entity] = max(last, ID_BASES[entity] + len(created) * ID_BLOCKS[entity])

    def _reference_state(self) -> ReferenceState:
        return ReferenceState(self.config, self.now_ms, self.tax_rate, self.catalog)

    @classmethod
    def _chunk_builder(cls, reference: ReferenceState, chunk: int) -> World:
        """A World that generates one chunk of customers into its own stores."""
        world = cls.__new__(cls)
        world.config = reference.config
        world.now_ms = reference.now_ms
        world.tax_rate = reference.tax_rate
        world.catalog = reference.catalog
        world._init_state(FastRandom(f"{reference.config.seed}:chunk:{chunk}"), block_ids=True)
        return world

    def _absorb(self, part: ChunkResult) -> None:
        """Append a generated chunk to the tenant, shifting its positions."""
        offsets = {name: len(store) for name, store in self.stores.items()}
        for name, columns in part["stores"].items():
            self.stores[name].extend(columns, child_offset=offsets["invoice_items"])
        jobs, invoices = offsets["jobs"], offsets["invoices"]
        appointments, customers = offsets["appointments"], offsets["customers"]
        for job_pos, (inv_pos, appts) in part["open_jobs"].items():
            self.open_jobs[job_pos + jobs] = (inv_pos + invoices, [a + appointments for a in appts])
            self.open_job_set.add(job_pos + jobs)
        for inv_pos, c_pos in part["unpaid"].items():
            self.unpaid[inv_pos + invoices] = c_pos + customers
            self.unpaid_set.add(inv_pos + invoices)
        self.customer_location.extend(p + offsets["locations"] for p in part["customer_location"])


def build_chunk(job: ChunkJob) -> ChunkResult:
    """Generate one chunk of customers (with all their history); runs in a worker process too."""
    world = World._chunk_builder(job.reference, job.chunk)
    merge_targets: list[int] = []
    for i, created_ms in enumerate(job.created):
        world._start_customer_block(job.first_index + i)
        world._new_customer(created_ms, merge_targets, history=True)
    return ChunkResult(
        stores={name: store.columns() for name, store in world.stores.items()},
        open_jobs=world.open_jobs,
        unpaid=world.unpaid,
        customer_location=world.customer_location,
    )
