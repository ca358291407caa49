"""What every part of the world shares: ids, the seeded RNG, the stores and the drawing helpers.

``WorldBase`` declares the state the generation and the change events work on (so each part,
a mixin of :class:`~.tenant.World`, is typed against it) and the small draws they all make:
ids, times between two bounds, addresses and names. Money is computed with ``Decimal`` and sent
as ServiceTitan sends it (:func:`money`).
"""

# Names and labels use real typography (en dashes) on purpose: it is data.

from __future__ import annotations

import bisect
import itertools
import random
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ...entities import ENTITIES
from .. import pools
from ..config import SimulatorConfig
from ..store import KIND_INVOICE, KIND_INVOICE_ITEM, KIND_JOB, KIND_PLAIN, EntityStore, TenantStore

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem

    from ..generated.generator import Generator

T = TypeVar("T")
KINDS = {"jobs": KIND_JOB, "invoice_items": KIND_INVOICE_ITEM, "invoices": KIND_INVOICE}
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HISTORY_DAYS = 3 * 365
# First id of each entity: ServiceTitan ids are large integers, distinct per entity.
ID_BASES = {
    "business_units": 1_000,
    "technicians": 20_000,
    "job_types": 30_000,
    "campaigns": 40_000,
    "customers": 10_000_000,
    "locations": 20_000_000,
    "jobs": 30_000_000,
    "appointments": 40_000_000,
    "invoices": 50_000_000,
    "invoice_items": 60_000_000,
    "payments": 70_000_000,
    "payment_applications": 80_000_000,
}
# Ids per customer reserved for the customer's own history: more than the most a customer
# gets (a commercial customer: 4 locations, 6 jobs of 2 visits, 6 invoices and 6 adjustments,
# 6 x 6 items + 6 credits, 12 payments).
ID_BLOCKS = {
    "customers": 2,
    "locations": 8,
    "jobs": 8,
    "appointments": 16,
    "invoices": 16,
    "invoice_items": 64,
    "payments": 16,
    "payment_applications": 16,
}
# History is generated in chunks of customers, each from its own seeded RNG: the data is then
# the same whether the chunks are built in this process or in parallel worker processes.
CHUNK_CUSTOMERS = 2500
PARALLEL_MIN_CUSTOMERS = 20_000
OPEN_STATUSES = ("Scheduled", "Dispatched", "InProgress", "Hold")
APPOINTMENT_STATUS = {
    "Scheduled": "Scheduled",
    "Dispatched": "Dispatched",
    "InProgress": "Working",
    "Hold": "Hold",
    "Completed": "Done",
    "Canceled": "Canceled",
}


class FastRandom(random.Random):
    """``random.Random`` whose ``choice``, ``randint`` and weighted ``choices`` use one
    ``random()`` call each.

    The stdlib versions reject-sample on ``getrandbits`` and recompute cumulative weights on
    every call: 2-4x slower, and generating a 100k-customer tenant makes millions of these
    calls. Still fully determined by the seed; the tiny non-uniformity of scaling a float is
    irrelevant for simulated data.
    """

    def __init__(self, seed: int | str) -> None:
        super().__init__(seed)
        self._cumulative: dict[tuple[float | Fraction, ...], list[float | Fraction]] = {}

    def choice(self, seq: SupportsLenAndGetItem[T]) -> T:
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choices(
        self,
        population: SupportsLenAndGetItem[T],
        weights: Sequence[float | Fraction] | None = None,
        *,
        cum_weights: Sequence[float | Fraction] | None = None,
        k: int = 1,
    ) -> list[T]:
        if weights is None or cum_weights is not None or k != 1:
            return super().choices(population, weights, cum_weights=cum_weights, k=k)
        key = weights if isinstance(weights, tuple) else tuple(weights)
        cumulative = self._cumulative.get(key)
        if cumulative is None:
            cumulative = list(itertools.accumulate(key))
            self._cumulative[key] = cumulative
        return [population[bisect.bisect(cumulative, self.random() * cumulative[-1])]]


class IndexedSet:
    """A set of ints with O(1) add, remove and seeded random choice (for open jobs, unpaid
    invoices: at 100k customers they hold thousands, and advance() picks from them often)."""

    def __init__(self) -> None:
        self._items: list[int] = []
        self._index: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: int) -> bool:
        return item in self._index

    def add(self, item: int) -> None:
        if item not in self._index:
            self._index[item] = len(self._items)
            self._items.append(item)

    def discard(self, item: int) -> None:
        i = self._index.pop(item, None)
        if i is None:
            return
        last = self._items.pop()
        if i < len(self._items):
            self._items[i] = last
            self._index[last] = i

    def choice(self, rng: random.Random) -> int:
        return self._items[int(rng.random() * len(self._items))]


def money(value: Decimal) -> str:
    """A Decimal as ServiceTitan's money string: two decimals, half-up ("1234.50")."""
    # str() of a Decimal quantized to cents is plain notation ("0.00", "-25.00"), and faster
    # than format().
    return str(value.quantize(CENT, ROUND_HALF_UP))


class TradeRef(NamedTuple):
    """A business unit or a job type, as jobs pick them: id, name, trade, active."""

    id: int
    name: str
    trade: str
    active: bool


class NamedRef(NamedTuple):
    """A campaign or a technician, as jobs pick them: id, name, active."""

    id: int
    name: str
    active: bool


class LocationRef(NamedTuple):
    """A location a job is done at: its store position, id, name and address."""

    pos: int
    id: int
    name: str
    address: dict[str, Any]


@dataclass(frozen=True)
class CustomerRef:
    """What a job, an invoice or a payment needs to know of its customer."""

    pos: int
    id: int
    name: str
    address: dict[str, Any]
    commercial: bool


@dataclass(frozen=True)
class InvoiceContext:
    """Who and what an invoice is for: the customer and location, the job and who did it."""

    customer: CustomerRef
    loc: LocationRef
    bu_id: int
    bu_name: str
    job_id: int
    job_type: str
    tech_id: int
    tech_name: str


@dataclass(frozen=True)
class ItemDraft:
    """An invoice item not stored yet: its record and what its invoice needs of it."""

    id: int
    record: dict[str, Any]
    total: Decimal
    created_ms: int
    modified_ms: int


@dataclass(frozen=True)
class PaymentDraft:
    """A payment not stored yet."""

    id: int
    record: dict[str, Any]
    modified_ms: int


@dataclass
class Catalog:
    """The reference data, as the generation of customers and their work picks from it.

    ``active_*`` lists hold positions in their list (technicians: the records themselves);
    ``campaign_weights`` weighs ``active_campaigns``.
    """

    business_units: list[TradeRef] = field(default_factory=list)
    active_bu: list[int] = field(default_factory=list)
    job_types: list[TradeRef] = field(default_factory=list)
    active_job_types: list[int] = field(default_factory=list)
    campaigns: list[NamedRef] = field(default_factory=list)
    active_campaigns: list[int] = field(default_factory=list)
    campaign_weights: list[int] = field(default_factory=list)
    technicians: list[NamedRef] = field(default_factory=list)
    active_technicians: list[NamedRef] = field(default_factory=list)


class WorldBase:
    """The state of the simulated tenant that generation and change events share."""

    config: SimulatorConfig
    rng: FastRandom
    tenant: TenantStore
    stores: dict[str, EntityStore]
    now_ms: int
    tax_rate: Decimal
    _next_id: dict[str, int]
    _block_ids: bool
    # Bookkeeping for advance(): jobs still open, invoices not yet fully paid, and each
    # customer's first location (positions, not ids).
    open_jobs: dict[int, tuple[int, list[int]]]  # job pos -> (invoice pos, appointment pos)
    open_job_set: IndexedSet
    unpaid: dict[int, int]  # invoice pos -> customer pos
    unpaid_set: IndexedSet
    customer_location: array[int]
    catalog: Catalog
    generated: Generator  # every entity the hand-written world does not build

    def _init_state(self, rng: FastRandom, block_ids: bool) -> None:
        """Empty stores and bookkeeping, drawing from ``rng``."""
        self.rng = rng
        self.tenant = TenantStore()
        for entity in ENTITIES:
            self.tenant.add_entity(entity, KINDS.get(entity.name, KIND_PLAIN))
        self.stores = self.tenant.stores
        self._next_id = dict(ID_BASES)
        self._block_ids = block_ids
        self.open_jobs = {}
        self.open_job_set = IndexedSet()
        self.unpaid = {}
        self.unpaid_set = IndexedSet()
        self.customer_location = array("q")

    def _id(self, entity: str) -> int:
        if self._block_ids:
            # History: the i-th customer's records take ids from their own block (see
            # ID_BLOCKS), so that ids do not depend on how generation was split in chunks.
            self._next_id[entity] += 1
            return self._next_id[entity]
        # Later records: gaps between ids, as in a real multi-tenant database.
        self._next_id[entity] += 1 + (self.rng.random() < 0.25) * self.rng.randint(1, 4)
        return self._next_id[entity]

    def _start_customer_block(self, index: int) -> None:
        for entity, size in ID_BLOCKS.items():
            self._next_id[entity] = ID_BASES[entity] + index * size

    def _between(self, lo: int, hi: int) -> int:
        # random() arithmetic: several times faster than randint(), and as deterministic.
        return lo if hi <= lo else lo + int(self.rng.random() * (hi - lo + 1))

    def _address(self) -> dict[str, Any]:
        rng = self.rng
        city, zip_prefix, lat, lon = rng.choice(pools.CITIES)
        unit = f"Apt {rng.randint(1, 40)}{rng.choice('ABCD')}" if rng.random() < 0.12 else None
        return {
            "street": f"{rng.randint(100, 19999)} {rng.choice(pools.STREET_NAMES)} "
            f"{rng.choice(pools.STREET_SUFFIXES)}",
            "unit": unit,
            "city": city,
            "state": "TX",
            "zip": f"{zip_prefix}{rng.randint(1, 99):02d}",
            "country": "USA",
            "latitude": round(lat + rng.uniform(-0.08, 0.08), 6),
            "longitude": round(lon + rng.uniform(-0.08, 0.08), 6),
        }

    def _person_name(self) -> str:
        rng = self.rng
        first = rng.choice(pools.FIRST_NAMES)
        last = rng.choice(pools.LAST_NAMES)
        roll = rng.random()
        if roll < 0.03:
            return f"{first} {rng.choice(pools.NICKNAMES)} {last}"
        if roll < 0.05:
            return f"{first} {last} {rng.choice(pools.EMOJI)}"
        if roll < 0.10:
            return f"{last}, {first}"
        return f"{first} {last}"

    def _company_name(self) -> str:
        return self.rng.choice(pools.COMPANY_PATTERNS).format(
            last=self.rng.choice(pools.LAST_NAMES)
        )
