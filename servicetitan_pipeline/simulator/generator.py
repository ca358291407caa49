"""Seeded, deterministic data of a simulated home-services company, and how it changes over time.

``World(config)`` generates three years of history up to ``config.start`` (business units,
technicians, job types, campaigns, customers with their locations, jobs, appointments, invoices,
invoice items and payments) into a :class:`~.store.TenantStore`; ``World.advance(hours)`` moves
the simulated clock and applies a seeded mix of changes. Everything is drawn from one
``random.Random(seed)`` in a fixed order, so the same seed and size give byte-identical data.

Money is computed with ``Decimal`` and sent as ServiceTitan sends it: strings with two decimals
on invoices, items and payments, JSON numbers on customers and jobs. Invoices add up to the cent:
``sum(item totals) == subTotal`` and ``subTotal + salesTax == total``.
"""

# Names and labels use real typography (en dashes) on purpose: it is data.
# ruff: noqa: RUF001

from __future__ import annotations

import bisect
import itertools
import logging
import os
import pickle
import random
import subprocess
import sys
import threading
from array import array
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from ..entities import ENTITIES
from . import pools
from .config import SimulatorConfig
from .store import (
    KIND_INVOICE,
    KIND_INVOICE_ITEM,
    KIND_JOB,
    KIND_PLAIN,
    EntityStore,
    TenantStore,
    pack,
)
from .timefmt import MS_PER_DAY, MS_PER_HOUR, iso, iso_date, to_ms

log = logging.getLogger(__name__)
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

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self._cumulative: dict[tuple, list[float]] = {}

    def choice(self, seq):  # type: ignore[override]
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choices(self, population, weights=None, *, cum_weights=None, k=1):  # type: ignore[override]
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


class World:
    """The simulated tenant's data: generated at construction, changed by :meth:`advance`."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.rng = FastRandom(config.seed)
        self.tenant = TenantStore()
        for entity in ENTITIES:
            self.tenant.add_entity(entity, KINDS.get(entity.name, KIND_PLAIN))
        self.stores: dict[str, EntityStore] = self.tenant.stores
        self.now_ms = to_ms(config.start)
        self._next_id = dict(ID_BASES)
        self._block_ids = False
        # Bookkeeping for advance(): jobs still open, invoices not yet fully paid, and each
        # customer's first location (positions, not ids).
        self.open_jobs: dict[int, tuple[int, list[int]]] = {}  # job pos -> (invoice pos, appts)
        self.open_job_set = IndexedSet()
        self.unpaid: dict[int, int] = {}  # invoice pos -> customer pos
        self.unpaid_set = IndexedSet()
        self.customer_location = array("q")
        self.tax_rate = pools.SALES_TAX_RATE
        self._generate()
        self.tenant.finish_build()

    # ------------------------------------------------------------------ helpers

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

    # ------------------------------------------------------------------ reference data

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
            (self._reference_state(), k, start, created[start : start + CHUNK_CUSTOMERS])
            for k, start in enumerate(range(0, len(created), CHUNK_CUSTOMERS))
        ]
        workers = self._workers(len(created))
        parts: Iterable[dict[str, Any]] | None = None
        if workers > 1:
            try:
                parts = self._build_in_workers(jobs, workers)
            except (RuntimeError, OSError) as exc:
                log.warning("parallel generation failed (%s); generating in-process", exc)
        for part in parts if parts is not None else map(build_chunk, jobs):
            self._absorb(part)
        for entity in ID_BLOCKS:
            store = self.stores.get(entity)
            last = store.ids[-1] if store is not None and len(store) else 0
            self._next_id[entity] = max(last, ID_BASES[entity] + len(created) * ID_BLOCKS[entity])

    @staticmethod
    def _build_in_workers(jobs: list, workers: int) -> list[dict[str, Any]]:
        """Build the chunks in ``workers`` child processes, returned in chunk order.

        The children are plain ``python -m servicetitan_pipeline.simulator.generator``
        processes fed with pickles, not multiprocessing: its spawn mode re-imports the
        caller's ``__main__`` (and fails on scripts without a ``__main__`` guard), and fork is
        unsafe in the threaded processes the simulator usually starts in.
        """
        results: dict[int, dict[str, Any]] = {}
        errors: list[str] = []
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))

        def run(share: list) -> None:
            proc = subprocess.Popen(
                [sys.executable, "-m", "servicetitan_pipeline.simulator.generator"],
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
                    results[job[1]] = pickle.load(proc.stdout)
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

    def _workers(self, customers: int) -> int:
        wanted = self.config.generation_workers
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

    _REFERENCE_ATTRS = (
        "config",
        "now_ms",
        "tax_rate",
        "business_units",
        "active_bu",
        "job_types",
        "active_job_types",
        "campaigns",
        "active_campaigns",
        "campaign_weights",
        "technicians",
        "active_technicians",
    )

    def _reference_state(self) -> dict[str, Any]:
        """What a chunk of customers needs from the tenant (picklable, for worker processes)."""
        return {name: getattr(self, name) for name in self._REFERENCE_ATTRS}

    @classmethod
    def _chunk_builder(cls, reference: dict[str, Any], chunk: int) -> World:
        """A World that generates one chunk of customers into its own stores."""
        world = cls.__new__(cls)
        for name, value in reference.items():
            setattr(world, name, value)
        world.rng = FastRandom(f"{world.config.seed}:chunk:{chunk}")
        world.tenant = TenantStore()
        for entity in ENTITIES:
            world.tenant.add_entity(entity, KINDS.get(entity.name, KIND_PLAIN))
        world.stores = world.tenant.stores
        world._next_id = dict(ID_BASES)
        world._block_ids = True
        world.open_jobs = {}
        world.open_job_set = IndexedSet()
        world.unpaid = {}
        world.unpaid_set = IndexedSet()
        world.customer_location = array("q")
        return world

    def _absorb(self, part: dict[str, Any]) -> None:
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

    def _gen_business_units(self, created_ms: int) -> None:
        store = self.stores["business_units"]
        self.business_units: list[tuple[int, str, str, bool]] = []
        for i, (name, trade, _kind) in enumerate(pools.BUSINESS_UNITS):
            bu_id = self._id("business_units")
            active = trade != "Pools"
            modified = self._between(created_ms, self.now_ms - MS_PER_DAY)
            record = {
                "id": bu_id,
                "active": active,
                "name": name,
                "officialName": f"Lone Star Home Services – {name}",
                "email": f"{name.split()[0].lower()}@lonestar-home.example",
                "currency": "USD",
                "phoneNumber": f"512555{1000 + i:04d}",
                "invoiceHeader": "<b>Lone Star Home Services</b>",
                "invoiceMessage": "Thank you for your business!",
                "defaultTaxRate": float(self.tax_rate),
                "authorizationParagraph": None,
                "acknowledgementParagraph": None,
                "address": {
                    "street": "4200 S Congress Ave",
                    "unit": "Suite 100",
                    "city": "Austin",
                    "state": "TX",
                    "zip": "78745",
                    "country": "USA",
                    "latitude": 30.2205,
                    "longitude": -97.7631,
                    "isManualCoordinates": False,
                    "isMilitary": False,
                },
                "materialSku": None,
                "quickbooksClass": name,
                "accountCode": f"BU-{i + 1:02d}",
                "franchiseId": None,
                "conceptCode": None,
                "corporateContractNumber": None,
                "trade": {"id": pools.TRADE_IDS[trade], "name": trade},
                "division": {
                    "id": 1 if _kind != "Commercial" else 2,
                    "name": "Residential" if _kind != "Commercial" else "Commercial",
                },
                "tagTypeIds": [],
                "tenant": {
                    "id": self.config.tenant_id,
                    "name": "Lone Star Home Services",
                    "accountCode": None,
                    "franchiseId": None,
                    "conceptCode": None,
                    "modifiedOn": iso(created_ms),
                },
                "createdOn": iso(created_ms),
                "modifiedOn": iso(modified),
                "externalData": None,
            }
            store.add(bu_id, pack(record), modified, created_ms, active)
            self.business_units.append((bu_id, name, trade, active))
        self.active_bu = [i for i, bu in enumerate(self.business_units) if bu[3]]

    def _gen_job_types(self, created_ms: int) -> None:
        store = self.stores["job_types"]
        self.job_types: list[tuple[int, str, str, bool]] = []
        bu_by_trade: dict[str, list[int]] = {}
        for bu_id, _name, trade, _active in self.business_units:
            bu_by_trade.setdefault(trade, []).append(bu_id)
        for name, trade, duration, klass, priority in pools.JOB_TYPES:
            jt_id = self._id("job_types")
            active = trade != "Pools" and not name.startswith("Estimate")
            modified = self._between(created_ms, self.now_ms - MS_PER_DAY)
            record = {
                "id": jt_id,
                "name": name,
                "businessUnitIds": bu_by_trade.get(trade, []),
                "skills": ["EPA 608"] if trade == "HVAC" else [],
                "tagTypeIds": [],
                "priority": priority,
                "duration": duration,
                "soldThreshold": 500.0 if klass == "Install" else None,
                "class": klass,
                "summary": f"{name}: standard {klass.lower()} visit.",
                "noCharge": False,
                "enforceRecurringServiceEventSelection": False,
                "invoiceSignaturesRequired": klass == "Install",
                "modifiedOn": iso(modified),
                "createdOn": iso(created_ms),
                "externalData": [],
                "active": active,
                "isSmartDispatched": klass != "Install",
            }
            store.add(jt_id, pack(record), modified, created_ms, active)
            self.job_types.append((jt_id, name, trade, active))
        self.active_job_types = [i for i, jt in enumerate(self.job_types) if jt[3]]

    def _gen_campaigns(self, created_ms: int) -> None:
        store = self.stores["campaigns"]
        self.campaigns: list[tuple[int, str, bool]] = []
        for i, (category, name, source, medium) in enumerate(pools.CAMPAIGNS):
            c_id = self._id("campaigns")
            active = not name.endswith(("2023", "2024"))
            modified = self._between(created_ms, self.now_ms - MS_PER_DAY)
            record = {
                "id": c_id,
                "name": name,
                "modifiedOn": iso(modified),
                "createdOn": iso(created_ms),
                "active": active,
                "isDefaultCampaign": name == "Existing Customer",
                "category": {
                    "id": {"Digital": 1, "Traditional": 2, "Referral": 3, "Existing": 4}[category],
                    "name": category,
                    "active": True,
                },
                "source": source,
                "otherSource": None,
                "businessUnit": None,
                "medium": medium,
                "otherMedium": None,
                "campaignPhoneNumbers": [f"512555{2000 + i:04d}"] if category != "Existing" else [],
            }
            store.add(c_id, pack(record), modified, created_ms, active)
            self.campaigns.append((c_id, name, active))
        self.active_campaigns = [i for i, c in enumerate(self.campaigns) if c[2]]
        # Most work comes from existing customers and Google.
        self.campaign_weights = [
            8
            if "Existing" in self.campaigns[i][1]
            else 3
            if "Google" in self.campaigns[i][1]
            else 1
            for i in self.active_campaigns
        ]

    def _gen_technicians(self, created_ms: int, count: int) -> None:
        store = self.stores["technicians"]
        rng = self.rng
        self.technicians: list[tuple[int, str, bool]] = []
        positions = ("Service", "Installer", "Maintenance", "Sales", "Helper")
        for i in range(count):
            t_id = self._id("technicians")
            first = rng.choice(pools.FIRST_NAMES)
            last = rng.choice(pools.LAST_NAMES)
            active = rng.random() > 0.08
            bu_id = self.business_units[rng.choice(self.active_bu)][0]
            hired = self._between(created_ms, self.now_ms - 30 * MS_PER_DAY)
            modified = self._between(hired, self.now_ms - MS_PER_DAY)
            login = f"{first[0]}{last}".lower().replace("'", "").replace(" ", "")
            record = {
                "id": t_id,
                "userId": 500_000 + i,
                "name": f"{first} {last}",
                "roleIds": [3],
                "businessUnitId": bu_id,
                "mainZoneId": rng.randint(1, 6),
                "zoneIds": sorted(rng.sample(range(1, 7), 2)),
                "createdOn": iso(hired),
                "modifiedOn": iso(modified),
                "email": f"{login.encode('ascii', 'ignore').decode()}{i}@lonestar-home.example",
                "phoneNumber": f"512555{3000 + i:04d}",
                "loginName": f"{login}{i}",
                "home": {
                    "street": f"{rng.randint(100, 9999)} {rng.choice(pools.STREET_NAMES)} St",
                    "unit": None,
                    "country": "USA",
                    "city": rng.choice(pools.CITIES)[0],
                    "state": "TX",
                    "zip": f"786{rng.randint(10, 99)}",
                    "streetAddress": None,
                    "latitude": None,
                    "longitude": None,
                },
                "dailyGoal": float(rng.choice((1500, 2000, 2500, 3000))),
                "isManagedTech": True,
                "licenseType": "ManagedTech",
                "customFields": [],
                "active": active,
                "aadUserId": None,
                "burdenRate": 12.5,
                "team": rng.choice(("Red Team", "Blue Team", "Install Crew")),
                "jobFilter": "AllScheduledDispatchedWorking",
                "permissions": [],
                "accountLocked": not active,
                "commissionRate": float(rng.choice((0.0, 0.02, 0.05))),
                "currentValue": None,
                "firstName": first,
                "lastName": last,
                "hourlyRate": float(rng.choice((24, 27.5, 31, 34.75, 38))),
                "jobId": None,
                "mobilePhone": f"512555{4000 + i:04d}",
                "outboundCallerId": None,
                "payrollId": f"P{10000 + i}",
                "payrollProfileId": None,
                "appoitmentId": None,
                "shiftStart": "07:00:00",
                "shiftEnd": "16:00:00",
                "soldByRate": 0.0,
                "startDate": iso(hired),
                "status": "Idle" if not active else rng.choice(("Idle", "Dispatched", "Working")),
                "skills": [
                    {"id": 1 + k, "name": pools.TECHNICIAN_SKILLS[k]}
                    for k in sorted(rng.sample(range(len(pools.TECHNICIAN_SKILLS)), 2))
                ],
                "positions": [rng.choice(positions)],
                "location": None,
                "bio": None,
                "memo": None,
            }
            store.add(t_id, pack(record), modified, hired, active)
            self.technicians.append((t_id, f"{first} {last}", active))
        self.active_technicians = [t for t in self.technicians if t[2]]

    # ------------------------------------------------------------------ customers and work

    def _new_customer(self, created_ms: int, merge_targets: list[int], history: bool) -> dict:
        """Create a customer with its locations and (for history) its past jobs.

        Returns a summary of what was created, for advance()'s report.
        """
        rng = self.rng
        now = self.now_ms
        customers = self.stores["customers"]
        c_id = self._id("customers")
        c_pos = len(customers)
        commercial = rng.random() < 0.15
        name = self._company_name() if commercial else self._person_name()
        address = self._address()
        created_by = rng.choice(pools.OFFICE_USERS)[0]
        # Duplicates merged into an earlier customer, and customers gone inactive.
        merged_to = None
        active = True
        roll = rng.random() if history else 1.0
        if roll < 0.012 and merge_targets:
            merged_to = self.stores["customers"].ids[rng.choice(merge_targets)]
            active = False
        elif roll < 0.045:
            active = False
        n_locations = 1
        if commercial:
            n_locations = rng.choice((1, 1, 2, 3, 4))
        elif rng.random() < 0.08:
            n_locations = 2
        locations = self.stores["locations"]
        loc_positions = []
        for k in range(n_locations):
            loc_id = self._id("locations")
            loc_address = address if k == 0 else self._address()
            loc_modified = self._between(created_ms, now) if history else created_ms
            loc_active = active
            loc_name = name if k == 0 else f"{name} – Site {k + 1}"
            record = {
                "id": loc_id,
                "customerId": c_id,
                "active": loc_active,
                "name": loc_name,
                "address": loc_address,
                "customFields": [],
                "createdOn": iso(created_ms),
                "createdById": created_by,
                "modifiedOn": iso(loc_modified),
                "mergedToId": None,
                "zoneId": rng.randint(1, 6),
                "taxExempt": False,
                "tagTypeIds": [],
                "externalData": [],
                "taxZoneId": 1,
            }
            loc_positions.append(
                (
                    locations.add(loc_id, pack(record), loc_modified, created_ms, loc_active),
                    loc_id,
                    loc_name,
                    loc_address,
                )
            )
        self.customer_location.append(loc_positions[0][0])
        customer = {
            "pos": c_pos,
            "id": c_id,
            "name": name,
            "address": address,
            "commercial": commercial,
        }
        balance = ZERO
        last_activity = created_ms
        n_jobs = 0
        if history and merged_to is None:
            if commercial:
                n_jobs = rng.choice((1, 1, 2, 2, 3, 4, 5, 6))
            else:
                n_jobs = rng.choices((0, 1, 2, 3, 4, 5), (18, 42, 22, 10, 5, 3))[0]
            job_times = sorted(self._between(created_ms, now - MS_PER_HOUR) for _ in range(n_jobs))
            for job_created in job_times:
                loc = loc_positions[rng.randrange(len(loc_positions))]
                owed, activity = self._new_job(customer, loc, job_created, history=True)
                balance += owed
                last_activity = max(last_activity, activity)
        modified = max(last_activity, self._between(created_ms, now)) if history else created_ms
        record = {
            "id": c_id,
            "active": active,
            "name": name,
            "type": "Commercial" if commercial else "Residential",
            "address": address,
            "customFields": (
                [{"typeId": 7001, "name": "Gate Code", "value": f"#{rng.randint(1000, 9999)}"}]
                if rng.random() < 0.1
                else []
            ),
            "balance": float(balance),
            "taxExempt": commercial and rng.random() < 0.1,
            "tagTypeIds": [8001] if rng.random() < 0.2 else [],
            "doNotMail": rng.random() < 0.05,
            "doNotService": not active and merged_to is None and rng.random() < 0.3,
            "nationalAccount": commercial and rng.random() < 0.05,
            "createdOn": iso(created_ms),
            "createdById": created_by,
            "modifiedOn": iso(modified),
            "mergedToId": merged_to,
            "paymentTermId": 2 if commercial else 1,
            "creditLimit": 10000.0 if commercial else None,
            "creditLimitBalance": float(Decimal(10000) - balance) if commercial else None,
            "externalData": [],
        }
        customers.add(c_id, pack(record), modified, created_ms, active)
        if active:
            merge_targets.append(c_pos)
        return {"customer": c_id, "jobs": n_jobs}

    def _pick_status(self, created_ms: int) -> str:
        age_days = (self.now_ms - created_ms) / MS_PER_DAY
        rng = self.rng
        if age_days > 21:
            return rng.choices(("Completed", "Canceled", "Hold"), (88, 10, 2))[0]
        if age_days * 24 < 6:
            return "Scheduled"
        return rng.choices(
            ("Scheduled", "Dispatched", "InProgress", "Hold", "Completed", "Canceled"),
            (35, 5, 5, 5, 40, 10),
        )[0]

    def _new_job(
        self, customer: dict, loc: tuple, created_ms: int, history: bool
    ) -> tuple[Decimal, int]:
        """Create a job with its appointments and its invoice (with items and payments if done).

        Returns what the customer still owes for it and when it last changed.
        """
        rng = self.rng
        now = self.now_ms
        status = self._pick_status(created_ms) if history else "Scheduled"
        jt_id, jt_name, trade, _ = self.job_types[rng.choice(self.active_job_types)]
        bu_candidates = [i for i in self.active_bu if self.business_units[i][2] == trade]
        if customer["commercial"] and trade == "HVAC":
            bu_candidates = [i for i in bu_candidates if "Commercial" in self.business_units[i][1]]
        bu_idx = rng.choice(bu_candidates or self.active_bu)
        bu_id, bu_name = self.business_units[bu_idx][0], self.business_units[bu_idx][1]
        campaign_id = self.campaigns[rng.choices(self.active_campaigns, self.campaign_weights)[0]][
            0
        ]
        tech_id, tech_name, _ = rng.choice(self.active_technicians)
        job_id = self._id("jobs")
        invoice_id = self._id("invoices")
        n_appts = 2 if rng.random() < 0.1 else 1
        appt_ids = [self._id("appointments") for _ in range(n_appts)]

        # When the work happens: first visit 2 hours to a week after booking.
        appt_start = created_ms + self._between(2 * MS_PER_HOUR, 7 * MS_PER_DAY)
        duration = rng.choice((1, 2, 2, 3, 4)) * MS_PER_HOUR
        if status == "Completed":
            appt_start = min(appt_start, now - duration - MS_PER_HOUR * rng.randint(1, 48))
            appt_start = max(appt_start, created_ms)
            if appt_start + duration * n_appts >= now:
                n_appts = 1
                appt_ids = appt_ids[:1]
        elif status == "Scheduled":
            appt_start = max(appt_start, now + rng.randint(1, 14 * 24) * MS_PER_HOUR)
        elif status in ("Dispatched", "InProgress"):
            appt_start = now - rng.randint(0, 2 * MS_PER_HOUR)
        completed_ms = appt_start + duration * n_appts if status == "Completed" else None
        if completed_ms is not None and completed_ms > now:
            completed_ms = now
        job_modified = (
            min(now, (completed_ms or created_ms) + self._between(0, 2 * MS_PER_DAY))
            if history
            else created_ms
        )
        appt_positions = []
        appointments = self.stores["appointments"]
        for k, appt_id in enumerate(appt_ids):
            start = appt_start + k * (MS_PER_DAY + duration)
            # Earlier visits of a multi-visit job are done; the last one follows the job.
            if k < len(appt_ids) - 1 and status not in ("Scheduled", "Canceled"):
                appt_status = "Done"
            else:
                appt_status = APPOINTMENT_STATUS[status]
            record = self._appointment_record(
                appt_id,
                job_id,
                customer["id"],
                k,
                start,
                duration,
                appt_status,
                created_ms,
                job_modified,
            )
            appt_positions.append(
                appointments.add(appt_id, pack(record), job_modified, created_ms, True)
            )
        job_total = ZERO
        owed = ZERO
        items: list[tuple[int, bytes, int]] = []
        invoice_fields: dict[str, Any]
        payments: list[tuple[int, dict, int]] = []
        if status == "Completed":
            assert completed_ms is not None
            items, sub_total, sales_tax = self._invoice_items(
                trade, bu_id, bu_name, tech_id, completed_ms, job_modified, rng.random() < 0.2
            )
            total = sub_total + sales_tax
            job_total = sub_total
            paid, payments, paid_on = self._payments(
                customer, invoice_id, str(job_id), bu_id, bu_name, total, completed_ms
            )
            owed = total - paid
            invoice_modified = max([job_modified] + [p[2] for p in payments])
            invoice_fields = {
                "subTotal": money(sub_total),
                "salesTax": money(sales_tax),
                "total": money(total),
                "balance": money(owed),
                "invoiceDate": iso_date(completed_ms),
                "dueDate": iso_date(
                    completed_ms + (30 if customer["commercial"] else 0) * MS_PER_DAY
                ),
                "sentStatus": rng.choice(("Sent", "Sent", "Opened")),
                "reviewStatus": "Invoiced" if owed == 0 else "Reviewed",
                "syncStatus": "Posted" if now - completed_ms > 7 * MS_PER_DAY else "Pending",
                "paidOn": iso(paid_on) if paid_on is not None and owed == 0 else None,
                "active": True,
            }
        else:
            invoice_modified = job_modified
            invoice_fields = {
                "subTotal": "0.00",
                "salesTax": "0.00",
                "total": "0.00",
                "balance": "0.00",
                "invoiceDate": iso_date(created_ms),
                "dueDate": iso_date(created_ms),
                "sentStatus": "NotSent",
                "reviewStatus": "NeedsReview",
                "syncStatus": "Pending",
                "paidOn": None,
                # A canceled job's empty invoice is voided (inactive).
                "active": status != "Canceled",
            }
        job_record = {
            "id": job_id,
            "jobNumber": str(job_id),
            "projectId": None,
            "customerId": customer["id"],
            "locationId": loc[1],
            "jobStatus": status,
            "completedOn": iso(completed_ms) if completed_ms is not None else None,
            "businessUnitId": bu_id,
            "jobTypeId": jt_id,
            "priority": rng.choice(("Normal", "Normal", "High", "Low", "Urgent")),
            "campaignId": campaign_id,
            "appointmentCount": len(appt_ids),
            "firstAppointmentId": appt_ids[0],
            "lastAppointmentId": appt_ids[-1],
            "recallForId": None,
            "warrantyId": None,
            "jobGeneratedLeadSource": None,
            "noCharge": False,
            "notificationsEnabled": True,
            "createdOn": iso(created_ms),
            "createdById": rng.choice(pools.OFFICE_USERS)[0],
            "modifiedOn": iso(job_modified),
            "tagTypeIds": [],
            "leadCallId": None,
            "partnerLeadCallId": None,
            "bookingId": None,
            "soldById": tech_id if status == "Completed" else None,
            "customerPo": f"PO-{rng.randint(10000, 99999)}" if customer["commercial"] else "",
            "invoiceId": invoice_id,
            "membershipId": None,
            "total": float(job_total),
            "createdFromEstimateId": None,
            "estimateIds": [],
            "summary": f"{jt_name} at {loc[2]}",
            "customFields": [],
            "externalData": [],
        }
        job_pos = self.stores["jobs"].add(job_id, pack(job_record), job_modified, created_ms, True)
        inv_pos = self._add_invoice(
            invoice_id,
            customer,
            loc,
            bu_id,
            bu_name,
            job_id,
            jt_name,
            created_ms,
            invoice_modified,
            invoice_fields,
            items,
            tech_id,
            tech_name,
            None,
        )
        for p_id, p_record, p_modified in payments:
            self._add_payment(p_id, p_record, p_modified)
        if status in OPEN_STATUSES:
            self.open_jobs[job_pos] = (inv_pos, appt_positions)
            self.open_job_set.add(job_pos)
        if owed > 0:
            self.unpaid[inv_pos] = customer["pos"]
            self.unpaid_set.add(inv_pos)
        # A few completed jobs got a goodwill credit later: an adjustment invoice.
        if status == "Completed" and history and rng.random() < 0.015:
            assert completed_ms is not None
            credit_at = min(now, completed_ms + rng.randint(1, 10) * MS_PER_DAY)
            self._adjustment_invoice(
                customer,
                loc,
                bu_id,
                bu_name,
                job_id,
                jt_name,
                invoice_id,
                credit_at,
                tech_id,
                tech_name,
            )
        return owed, max(invoice_modified, job_modified)

    def _appointment_record(
        self,
        appt_id: int,
        job_id: int,
        customer_id: int,
        k: int,
        start: int,
        duration: int,
        status: str,
        created_ms: int,
        modified_ms: int,
    ) -> dict[str, Any]:
        window = start - start % (2 * MS_PER_HOUR)
        return {
            "id": appt_id,
            "jobId": job_id,
            "appointmentNumber": f"{job_id}-{k + 1}",
            "start": iso(start),
            "end": iso(start + duration),
            "arrivalWindowStart": iso(window),
            "arrivalWindowEnd": iso(window + 4 * MS_PER_HOUR),
            "status": status,
            "specialInstructions": "Dog in backyard 🐶 – please close the gate"
            if self.rng.random() < 0.05
            else None,
            "createdOn": iso(created_ms),
            "modifiedOn": iso(modified_ms),
            "customerId": customer_id,
            "unused": False,
            "createdById": pools.OFFICE_USERS[3][0],
            "isConfirmed": status != "Scheduled" or self.rng.random() < 0.6,
            "active": True,
        }

    def _invoice_items(
        self,
        trade: str,
        bu_id: int,
        bu_name: str,
        tech_id: int,
        service_ms: int,
        modified_ms: int,
        member: bool,
    ) -> tuple[list[tuple[int, dict, int]], Decimal, Decimal]:
        """Line items of a completed job: returns (item id, record, sort order) and the sums."""
        rng = self.rng
        candidates = [s for s in pools.SKUS if s[8] in (None, trade)]
        n = rng.choices((1, 2, 3, 4, 5), (25, 38, 22, 10, 5))[0]
        chosen = [candidates[0] if rng.random() < 0.5 else candidates[1]]
        trade_skus = [s for s in candidates if s[8] == trade] or candidates
        chosen += [rng.choice(trade_skus) for _ in range(n - 1)]
        items = []
        sub_total = ZERO
        taxable_total = ZERO
        for order, sku in enumerate(chosen, start=1):
            sku_id, sku_name, item_type, lo, hi, taxable, cost_ratio, hours, _ = sku
            quantity = (
                Decimal(rng.choice((1, 1, 1, 2, 3))) if item_type == "Material" else Decimal(1)
            )
            low, high = int(Decimal(lo) * 100), int(Decimal(hi) * 100)
            price = Decimal(self._between(low, high)) / 100
            total = (quantity * price).quantize(CENT, ROUND_HALF_UP)
            cost = (price * Decimal(cost_ratio)).quantize(CENT, ROUND_HALF_UP)
            sub_total += total
            if taxable:
                taxable_total += total
            items.append(
                self._item_record(
                    sku_id,
                    sku_name,
                    item_type,
                    quantity,
                    price,
                    total,
                    cost,
                    taxable,
                    hours,
                    order,
                    bu_id,
                    bu_name,
                    tech_id,
                    service_ms,
                    modified_ms,
                )
            )
        if member:
            # Members get 15% off labour: a negative PriceModifier line.
            labour = sum((i[1]["_total"] for i in items if i[1]["type"] == "Service"), ZERO)
            discount = -(labour * Decimal("0.15")).quantize(CENT, ROUND_HALF_UP)
            if discount < 0:
                sub_total += discount
                items.append(
                    self._item_record(
                        pools.MEMBER_DISCOUNT_SKU[0],
                        pools.MEMBER_DISCOUNT_SKU[1],
                        "PriceModifier",
                        Decimal(1),
                        discount,
                        discount,
                        ZERO,
                        False,
                        "0",
                        len(items) + 1,
                        bu_id,
                        bu_name,
                        tech_id,
                        service_ms,
                        modified_ms,
                    )
                )
        sales_tax = (taxable_total * self.tax_rate).quantize(CENT, ROUND_HALF_UP)
        return items, sub_total, sales_tax

    def _item_record(
        self,
        sku_id: int,
        sku_name: str,
        item_type: str,
        quantity: Decimal,
        price: Decimal,
        total: Decimal,
        cost: Decimal,
        taxable: bool,
        hours: str,
        order: int,
        bu_id: int,
        bu_name: str,
        tech_id: int,
        service_ms: int,
        modified_ms: int,
    ) -> tuple[int, dict, int]:
        item_id = self._id("invoice_items")
        record = {
            "id": item_id,
            "description": f"<p>{sku_name}</p>",
            "quantity": money(quantity),
            "cost": money(cost),
            "totalCost": money(cost * quantity),
            "budgetCodeId": None,
            "inventoryLocationId": None,
            "inventoryLocation": None,
            "price": money(price),
            "type": item_type,
            "skuName": sku_name,
            "skuId": sku_id,
            "total": money(total),
            "inventory": item_type in ("Material", "Equipment"),
            "taxable": taxable,
            "isChargeable": True,
            "generalLedgerAccount": {
                "id": 4000 + (item_type == "Service"),
                "name": "Service Income" if item_type == "Service" else "Sales Income",
                "number": "4001" if item_type == "Service" else "4000",
                "type": "Income",
                "detailType": "SalesOfProductIncome",
            },
            "costOfSaleAccount": None,
            "assetAccount": None,
            "membershipTypeId": 0,
            "itemGroup": None,
            "displayName": sku_name,
            "soldHours": float(hours),
            "createdOn": iso(service_ms),
            "modifiedOn": iso(modified_ms),
            "serviceDate": iso_date(service_ms),
            "order": order,
            "businessUnit": {"id": bu_id, "name": bu_name},
            "createdById": tech_id,
            "displayInAmount": True,
            "importId": None,
            "exportId": None,
            "inventoryStatus": None,
            "addOn": False,
            "memberPrice": None,
            "technicianId": tech_id,
            "installedEquipmentId": None,
            "estimateItemId": None,
            "_total": total,
            "_created": service_ms,
            "_modified": modified_ms,
        }
        return item_id, record, order

    def _payments(
        self,
        customer: dict,
        invoice_id: int,
        reference: str,
        bu_id: int,
        bu_name: str,
        total: Decimal,
        invoiced_ms: int,
    ) -> tuple[Decimal, list[tuple[int, dict, int]], int | None]:
        """Payments of a newly completed invoice: most paid in full, some partly, some not yet."""
        rng = self.rng
        now = self.now_ms
        if total <= 0:
            return ZERO, [], None
        age_days = (now - invoiced_ms) / MS_PER_DAY
        roll = rng.random()
        full, partial = (0.92, 0.95) if age_days > 30 else (0.6, 0.65)
        if roll < full:
            amounts = [total]
            if rng.random() < 0.05:  # a deposit, then the rest
                deposit = (total * Decimal("0.5")).quantize(CENT, ROUND_HALF_UP)
                amounts = [deposit, total - deposit]
        elif roll < partial:
            amounts = [(total * Decimal(rng.choice(("0.25", "0.5")))).quantize(CENT, ROUND_HALF_UP)]
        else:
            return ZERO, [], None
        out = []
        paid = ZERO
        paid_on = invoiced_ms
        for amount in amounts:
            paid_on = min(now, paid_on + self._between(0, 20 * MS_PER_DAY))
            out.append(
                self._payment_record(
                    customer, invoice_id, reference, bu_id, bu_name, amount, paid_on
                )
            )
            paid += amount
        return paid, out, paid_on

    def _payment_record(
        self,
        customer: dict,
        invoice_id: int,
        reference: str,
        bu_id: int,
        bu_name: str,
        amount: Decimal,
        paid_ms: int,
    ) -> tuple[int, dict, int]:
        rng = self.rng
        p_id = self._id("payments")
        type_name, type_id = rng.choice(pools.PAYMENT_TYPES)
        user = rng.choice(pools.OFFICE_USERS)[1]
        record = {
            "active": True,
            "appliedTo": [
                {
                    "appliedAmount": money(amount),
                    "appliedBy": user,
                    "appliedId": self._id("payment_applications"),
                    "appliedOn": iso(paid_ms),
                    "appliedTo": invoice_id,
                    "appliedToReferenceNumber": reference,
                }
            ],
            "authCode": f"{rng.randint(0, 999999):06d}" if type_name == "Credit Card" else None,
            "batch": None,
            "businessUnit": {"id": bu_id, "name": bu_name},
            "checkNumber": str(rng.randint(1000, 9999)) if type_name == "Check" else None,
            "createdBy": user,
            "createdOn": iso(paid_ms),
            "customer": {"id": customer["id"], "name": customer["name"]},
            "customFields": [],
            "date": iso(paid_ms),
            "deposit": None,
            "generalLedgerAccount": {
                "id": 1200,
                "name": "Undeposited Funds",
                "number": "1200",
                "type": "Other Current Asset",
                "detailType": "UndepositedFunds",
            },
            "id": p_id,
            "memo": None,
            "modifiedOn": iso(paid_ms),
            "referenceNumber": reference,
            "refundedPaymentId": None,
            "syncStatus": "Posted" if self.now_ms - paid_ms > 7 * MS_PER_DAY else "Pending",
            "total": money(amount),
            "type": type_name,
            "typeId": type_id,
            "unappliedAmount": "0.00",
        }
        return p_id, record, paid_ms

    def _add_payment(self, p_id: int, record: dict, modified_ms: int) -> int:
        return self.stores["payments"].add(p_id, pack(record), modified_ms, modified_ms)

    def _add_invoice(
        self,
        invoice_id: int,
        customer: dict,
        loc: tuple,
        bu_id: int,
        bu_name: str,
        job_id: int,
        jt_name: str,
        created_ms: int,
        modified_ms: int,
        fields: dict[str, Any],
        items: list[tuple[int, dict, int]],
        tech_id: int,
        tech_name: str,
        adjustment_to: int | None,
    ) -> int:
        item_store = self.stores["invoice_items"]
        start = len(item_store)
        for item_id, record, _order in items:
            created = record.pop("_created")
            item_modified = record.pop("_modified")
            record.pop("_total")
            item_store.add(item_id, pack(record), item_modified, created, True, parent=invoice_id)
        address = customer["address"]
        loc_address = loc[3]
        record = {
            "id": invoice_id,
            "syncStatus": fields["syncStatus"],
            "budgetCodeId": None,
            "referenceNumber": str(job_id) if adjustment_to is None else f"{job_id}-ADJ",
            "invoiceDate": fields["invoiceDate"],
            "dueDate": fields["dueDate"],
            "subTotal": fields["subTotal"],
            "salesTax": fields["salesTax"],
            "salesTaxCode": {"id": 1, "name": "Austin 8.25%", "taxRate": float(self.tax_rate)},
            "taxZoneId": 1,
            "total": fields["total"],
            "balance": fields["balance"],
            "invoiceType": None,
            "customer": {"id": customer["id"], "name": customer["name"]},
            "customerAddress": {
                k: address[k] for k in ("street", "unit", "city", "state", "zip", "country")
            },
            "location": {"id": loc[1], "name": loc[2]},
            "locationAddress": {
                k: loc_address[k] for k in ("street", "unit", "city", "state", "zip", "country")
            },
            "businessUnit": {"id": bu_id, "name": bu_name},
            "termName": "Net 30" if customer["commercial"] else "Due Upon Receipt",
            "createdBy": pools.OFFICE_USERS[3][1],
            "batch": None,
            "depositedOn": None,
            "createdOn": iso(created_ms),
            "modifiedOn": iso(modified_ms),
            "adjustmentToId": adjustment_to,
            "job": {"id": job_id, "number": str(job_id), "type": jt_name},
            "projectId": None,
            "royalty": None,
            "employeeInfo": {"id": tech_id, "name": tech_name, "modifiedOn": iso(created_ms)},
            "commissionEligibilityDate": None,
            "sentStatus": fields["sentStatus"],
            "reviewStatus": fields["reviewStatus"],
            "assignedTo": None,
            "summary": None,
            "customFields": [],
            "active": fields["active"],
            "discountTotal": "0.00",
            "importId": None,
            "exportId": None,
            "materialSkuId": None,
            "membershipId": None,
            "paidOn": fields["paidOn"],
            "invoiceConfiguration": "JobInvoice",
        }
        return self.stores["invoices"].add(
            invoice_id,
            pack(record),
            modified_ms,
            created_ms,
            fields["active"],
            child_start=start,
            child_count=len(items),
        )

    def _adjustment_invoice(
        self,
        customer: dict,
        loc: tuple,
        bu_id: int,
        bu_name: str,
        job_id: int,
        jt_name: str,
        original_id: int,
        at_ms: int,
        tech_id: int,
        tech_name: str,
    ) -> int:
        rng = self.rng
        invoice_id = self._id("invoices")
        credit = -Decimal(rng.choice((25, 50, 75, 100)))
        item = self._item_record(
            pools.GOODWILL_CREDIT_SKU[0],
            pools.GOODWILL_CREDIT_SKU[1],
            "PriceModifier",
            Decimal(1),
            credit,
            credit,
            ZERO,
            False,
            "0",
            1,
            bu_id,
            bu_name,
            tech_id,
            at_ms,
            at_ms,
        )
        fields = {
            "subTotal": money(credit),
            "salesTax": "0.00",
            "total": money(credit),
            # A credit applied to the customer's account straight away.
            "balance": "0.00",
            "invoiceDate": iso_date(at_ms),
            "dueDate": iso_date(at_ms),
            "sentStatus": "Sent",
            "reviewStatus": "Invoiced",
            "syncStatus": "Posted" if self.now_ms - at_ms > 7 * MS_PER_DAY else "Pending",
            "paidOn": None,
            "active": True,
        }
        return self._add_invoice(
            invoice_id,
            customer,
            loc,
            bu_id,
            bu_name,
            job_id,
            jt_name,
            at_ms,
            at_ms,
            fields,
            [item],
            tech_id,
            tech_name,
            original_id,
        )

    # ------------------------------------------------------------------ time moves

    def advance(self, hours: float) -> dict[str, Any]:
        """Move the clock ``hours`` forward and apply that period's changes, in time order.

        Per simulated day, scaled by the tenant's size: new customers (each with a booked job),
        new jobs for existing customers, open jobs progressing (completed jobs get their invoice
        items and totals, canceled ones a voided invoice), payments on open invoices, customer
        edits, deactivations and merges, now and then an adjustment invoice, a technician, a
        campaign or a job type edited. Every change stamps ``modifiedOn`` with its event time and
        a new seq. For each full day at least one customer is created, deactivated and merged,
        so that small test tenants always see each kind of change.

        Returns:
            A summary: ``clock`` (the new simulated now), totals ``created``, ``updated``,
            ``deactivated`` (customers deactivated or merged, invoices voided) and ``merged``,
            ``hours``, ``events`` (applied, by kind) and ``entities`` (per entity: records
            ``created`` and ``updated``; together exactly what an export token taken before
            returns afterwards).
        """
        if hours < 0:
            raise ValueError("the clock only moves forward (hours must be >= 0)")
        tenant = self.tenant
        start_ms = self.now_ms
        end_ms = start_ms + round(hours * MS_PER_HOUR)
        before_len = {name: len(store) for name, store in self.stores.items()}
        before_seq = tenant.last_seq
        days = (end_ms - start_ms) / MS_PER_DAY
        n = self.config.customers
        rng = self.rng
        floor = int(days)

        def count(per_day: float, minimum: int = 0) -> int:
            expected = per_day * days
            k = int(expected) + (rng.random() < expected - int(expected))
            return max(k, minimum)

        plan = {
            "new_customer": count(0.002 * n, floor),
            "new_job": count(0.004 * n),
            "progress_job": count(0.3 * max(1, len(self.open_jobs))),
            "payment": count(0.3 * max(1, len(self.unpaid))),
            "edit_customer": count(0.003 * n),
            "deactivate_customer": count(0.0005 * n, floor),
            "merge_customer": count(0.0003 * n, floor),
            "adjustment": count(0.0002 * n),
            "edit_technician": count(0.5),
            "edit_campaign": count(0.3),
            "edit_job_type": count(0.2),
        }
        events = [
            (self._between(start_ms + 1, end_ms), i, kind)
            for kind, k in plan.items()
            for i in range(k)
            if end_ms > start_ms
        ]
        events.sort()
        applied: dict[str, int] = dict.fromkeys(plan, 0)
        self._voided = 0  # invoices of canceled jobs, voided (inactive) during this advance
        handlers = {
            "new_customer": self._ev_new_customer,
            "new_job": self._ev_new_job,
            "progress_job": self._ev_progress_job,
            "payment": self._ev_payment,
            "edit_customer": self._ev_edit_customer,
            "deactivate_customer": self._ev_deactivate_customer,
            "merge_customer": self._ev_merge_customer,
            "adjustment": self._ev_adjustment,
            "edit_technician": self._ev_edit_technician,
            "edit_campaign": lambda at: self._ev_edit_reference("campaigns", at),
            "edit_job_type": lambda at: self._ev_edit_reference("job_types", at),
        }
        with tenant.lock:
            for at, _i, kind in events:
                # "now" follows the events, so everything they create is stamped at their time.
                self.now_ms = at
                if handlers[kind](at):
                    applied[kind] += 1
            self.now_ms = end_ms
            entities: dict[str, dict[str, int]] = {}
            for name, store in self.stores.items():
                created = len(store) - before_len[name]
                changed = self._changed_since(store, before_seq)
                entities[name] = {"created": created, "updated": changed - created}
                store.compact_log()
        return {
            "clock": iso(end_ms),
            # Totals first (plain ints, for one-line reports such as the demo's).
            "created": sum(e["created"] for e in entities.values()),
            "updated": sum(e["updated"] for e in entities.values()),
            "deactivated": applied["deactivate_customer"]
            + applied["merge_customer"]
            + self._voided,
            "merged": applied["merge_customer"],
            "hours": float(hours),
            "events": applied,
            "entities": entities,
        }

    @staticmethod
    def _changed_since(store: EntityStore, seq: int) -> int:
        """Records whose latest change is after ``seq``."""
        i = bisect.bisect_right(store.log_seq, seq)
        log_seq, log_pos, cur = store.log_seq, store.log_pos, store.seq
        return sum(1 for j in range(i, len(log_seq)) if cur[log_pos[j]] == log_seq[j])

    def _random_customer(self, active_only: bool = True, tries: int = 50) -> int | None:
        customers = self.stores["customers"]
        for _ in range(tries):
            pos = int(self.rng.random() * len(customers))
            if not active_only or customers.active[pos]:
                return pos
        return None

    def _customer_context(self, c_pos: int) -> tuple[dict, tuple]:
        record = self.stores["customers"].record(c_pos)
        customer = {
            "pos": c_pos,
            "id": record["id"],
            "name": record["name"],
            "address": record["address"],
            "commercial": record["type"] == "Commercial",
        }
        loc_pos = self.customer_location[c_pos]
        loc = self.stores["locations"].record(loc_pos)
        return customer, (loc_pos, loc["id"], loc["name"], loc["address"])

    def _change_customer_balance(self, c_pos: int, delta: Decimal, at: int) -> None:
        """Accounting changes bump the customer too (ServiceTitan counts them as modifications)."""
        if delta == 0:
            return
        customers = self.stores["customers"]
        record = customers.record(c_pos)
        balance = Decimal(str(record["balance"])) + delta
        record["balance"] = float(balance)
        if record["creditLimit"] is not None:
            record["creditLimitBalance"] = float(Decimal(str(record["creditLimit"])) - balance)
        record["modifiedOn"] = iso(at)
        customers.update(c_pos, record, at)

    def _ev_new_customer(self, at: int) -> bool:
        summary = self._new_customer(at, [], history=False)
        c_pos = len(self.stores["customers"]) - 1
        assert self.stores["customers"].ids[c_pos] == summary["customer"]
        customer, loc = self._customer_context(c_pos)
        self._new_job(customer, loc, at, history=False)
        return True

    def _ev_new_job(self, at: int) -> bool:
        c_pos = self._random_customer()
        if c_pos is None:
            return False
        customer, loc = self._customer_context(c_pos)
        self._new_job(customer, loc, at, history=False)
        return True

    def _ev_progress_job(self, at: int) -> bool:
        if not self.open_jobs:
            return False
        rng = self.rng
        job_pos = self.open_job_set.choice(rng)
        inv_pos, appt_positions = self.open_jobs[job_pos]
        jobs = self.stores["jobs"]
        job = jobs.record(job_pos)
        roll = rng.random()
        status = job["jobStatus"]
        if roll < 0.6:
            new_status = "Completed"
        elif roll < 0.7:
            new_status = "Canceled"
        elif roll < 0.8 and status != "Hold":
            new_status = "Hold"
        else:
            new_status = {
                "Scheduled": "Dispatched",
                "Dispatched": "InProgress",
                "InProgress": "Completed",
                "Hold": "Scheduled",
            }[status]
        job["jobStatus"] = new_status
        job["modifiedOn"] = iso(at)
        appointments = self.stores["appointments"]
        for appt_pos in appt_positions:
            appt = appointments.record(appt_pos)
            appt["status"] = APPOINTMENT_STATUS[new_status]
            appt["modifiedOn"] = iso(at)
            appointments.update(appt_pos, appt, at)
        invoices = self.stores["invoices"]
        invoice = invoices.record(inv_pos)
        c_pos = self.stores["customers"].position(job["customerId"])
        if new_status == "Completed":
            tech_id, tech_name, _ = rng.choice(self.active_technicians)
            job["completedOn"] = iso(at)
            job["soldById"] = tech_id
            trade = next(jt[2] for jt in self.job_types if jt[0] == job["jobTypeId"])
            bu_id = job["businessUnitId"]
            bu_name = next(bu[1] for bu in self.business_units if bu[0] == bu_id)
            items, sub_total, sales_tax = self._invoice_items(
                trade, bu_id, bu_name, tech_id, at, at, rng.random() < 0.2
            )
            total = sub_total + sales_tax
            job["total"] = float(sub_total)
            item_store = self.stores["invoice_items"]
            invoices.child_start[inv_pos] = len(item_store)
            invoices.child_count[inv_pos] = len(items)
            for item_id, record, _order in items:
                for key in ("_created", "_modified", "_total"):
                    record.pop(key)
                item_store.add(item_id, pack(record), at, at, True, parent=invoice["id"])
            invoice.update(
                subTotal=money(sub_total),
                salesTax=money(sales_tax),
                total=money(total),
                balance=money(total),
                invoiceDate=iso_date(at),
                dueDate=iso_date(at + (30 if invoice["termName"] == "Net 30" else 0) * MS_PER_DAY),
                sentStatus="Sent",
                reviewStatus="Reviewed",
                employeeInfo={"id": tech_id, "name": tech_name, "modifiedOn": iso(at)},
                modifiedOn=iso(at),
            )
            invoices.update(inv_pos, invoice, at)
            if total > 0:
                self.unpaid[inv_pos] = c_pos
                self.unpaid_set.add(inv_pos)
            self._change_customer_balance(c_pos, total, at)
        elif new_status == "Canceled":
            invoice["active"] = False
            self._voided += 1
            invoice["modifiedOn"] = iso(at)
            invoices.update(inv_pos, invoice, at)
        jobs.update(job_pos, job, at)
        if new_status not in OPEN_STATUSES:
            del self.open_jobs[job_pos]
            self.open_job_set.discard(job_pos)
        return True

    def _ev_payment(self, at: int) -> bool:
        if not self.unpaid:
            return False
        rng = self.rng
        inv_pos = self.unpaid_set.choice(rng)
        c_pos = self.unpaid[inv_pos]
        invoices = self.stores["invoices"]
        invoice = invoices.record(inv_pos)
        balance = Decimal(invoice["balance"])
        amount = balance if rng.random() < 0.85 else (balance / 2).quantize(CENT, ROUND_HALF_UP)
        customer, _loc = self._customer_context(c_pos)
        p_id, record, _ = self._payment_record(
            customer,
            invoice["id"],
            invoice["referenceNumber"],
            invoice["businessUnit"]["id"],
            invoice["businessUnit"]["name"],
            amount,
            at,
        )
        self._add_payment(p_id, record, at)
        balance -= amount
        invoice["balance"] = money(balance)
        invoice["modifiedOn"] = iso(at)
        if balance == 0:
            invoice["paidOn"] = iso(at)
            invoice["reviewStatus"] = "Invoiced"
            del self.unpaid[inv_pos]
            self.unpaid_set.discard(inv_pos)
        invoices.update(inv_pos, invoice, at)
        self._change_customer_balance(c_pos, -amount, at)
        return True

    def _ev_edit_customer(self, at: int) -> bool:
        c_pos = self._random_customer()
        if c_pos is None:
            return False
        rng = self.rng
        customers = self.stores["customers"]
        record = customers.record(c_pos)
        roll = rng.random()
        if roll < 0.4:
            record["doNotMail"] = not record["doNotMail"]
        elif roll < 0.7:
            record["address"] = dict(record["address"], unit=f"Unit {rng.randint(1, 30)}")
        elif roll < 0.85:
            record["tagTypeIds"] = sorted(set(record["tagTypeIds"]) | {8002})
        else:
            # Office staff fix a name: the new one has the same awkward characters.
            record["name"] = (
                record["name"] + " Jr."
                if record["type"] == "Residential"
                else record["name"] + " (Main Office)"
            )
        record["modifiedOn"] = iso(at)
        customers.update(c_pos, record, at)
        return True

    def _ev_deactivate_customer(self, at: int) -> bool:
        c_pos = self._random_customer()
        if c_pos is None:
            return False
        customers = self.stores["customers"]
        record = customers.record(c_pos)
        record["active"] = False
        record["doNotService"] = self.rng.random() < 0.5
        record["modifiedOn"] = iso(at)
        customers.update(c_pos, record, at)
        return True

    def _ev_merge_customer(self, at: int) -> bool:
        """A duplicate customer is merged into another: inactive, with ``mergedToId``."""
        source = self._random_customer()
        target = self._random_customer()
        if source is None or target is None or source == target:
            return False
        customers = self.stores["customers"]
        record = customers.record(source)
        record["active"] = False
        record["mergedToId"] = customers.ids[target]
        record["modifiedOn"] = iso(at)
        customers.update(source, record, at)
        return True

    def _ev_adjustment(self, at: int) -> bool:
        invoices = self.stores["invoices"]
        rng = self.rng
        for _ in range(20):
            pos = int(rng.random() * len(invoices))
            invoice = invoices.record(pos)
            if (
                invoice["adjustmentToId"] is None
                and invoice["active"]
                and invoice["total"] not in (None, "0.00")
            ):
                break
        else:
            return False
        c_pos = self.stores["customers"].position(invoice["customer"]["id"])
        customer, _ = self._customer_context(c_pos)
        loc = (
            0,
            invoice["location"]["id"],
            invoice["location"]["name"],
            dict(invoice["locationAddress"], latitude=None, longitude=None),
        )
        tech_id, tech_name, _ = rng.choice(self.active_technicians)
        self._adjustment_invoice(
            customer,
            loc,
            invoice["businessUnit"]["id"],
            invoice["businessUnit"]["name"],
            invoice["job"]["id"],
            invoice["job"]["type"],
            invoice["id"],
            at,
            tech_id,
            tech_name,
        )
        return True

    def _ev_edit_technician(self, at: int) -> bool:
        store = self.stores["technicians"]
        pos = int(self.rng.random() * len(store))
        record = store.record(pos)
        record["status"] = self.rng.choice(("Idle", "Dispatched", "Working", "Meal"))
        record["modifiedOn"] = iso(at)
        store.update(pos, record, at)
        return True

    def _ev_edit_reference(self, entity: str, at: int) -> bool:
        store = self.stores[entity]
        pos = int(self.rng.random() * len(store))
        record = store.record(pos)
        if entity == "campaigns":
            record["otherMedium"] = None if record["otherMedium"] else "Updated by marketing"
        else:
            record["summary"] = record["summary"].rstrip(".") + "."
            record["soldThreshold"] = float(self.rng.choice((250, 500, 750)))
        record["modifiedOn"] = iso(at)
        store.update(pos, record, at)
        return True


def build_chunk(job: tuple[dict[str, Any], int, int, list[int]]) -> dict[str, Any]:
    """Generate one chunk of customers (with all their history); runs in a worker process.

    Args:
        job: the tenant's reference state, the chunk number, the index of its first customer
            and the creation times of its customers.

    Returns:
        The chunk's store columns and bookkeeping, positions relative to the chunk.
    """
    reference, chunk, first_index, created = job
    world = World._chunk_builder(reference, chunk)
    merge_targets: list[int] = []
    for i, created_ms in enumerate(created):
        world._start_customer_block(first_index + i)
        world._new_customer(created_ms, merge_targets, history=True)
    return {
        "stores": {name: store.columns() for name, store in world.stores.items()},
        "open_jobs": world.open_jobs,
        "unpaid": world.unpaid,
        "customer_location": world.customer_location,
    }


def _worker_main() -> None:
    """Child process: read a pickled list of chunk jobs, write one pickled result per job."""
    jobs = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    for job in jobs:
        pickle.dump(build_chunk(job), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


if __name__ == "__main__":
    _worker_main()
