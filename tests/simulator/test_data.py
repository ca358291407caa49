"""The generated company: deterministic, realistic, and its money adds up to the cent."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

import pytest

from servicetitan_pipeline.entities import ENTITIES
from servicetitan_pipeline.simulator import Simulator, SimulatorConfig

MONEY = re.compile(r"^-?\d+\.\d{2}$")


@pytest.fixture(scope="module")
def world() -> Simulator:
    """A tenant (not serving: truth() and advance() need no socket), moved 3 days forward."""
    sim = Simulator(SimulatorConfig(customers=400, seed=5))
    sim.advance(hours=72)
    return sim


def _truth(sim: Simulator) -> dict[str, list[dict]]:
    return {e.name: sim.truth(e.name) for e in ENTITIES}


def test_same_seed_same_data_different_seed_different_data() -> None:
    a = Simulator(SimulatorConfig(customers=60, seed=1))
    b = Simulator(SimulatorConfig(customers=60, seed=1))
    c = Simulator(SimulatorConfig(customers=60, seed=2))
    assert _truth(a) == _truth(b)
    assert _truth(a)["customers"] != _truth(c)["customers"]
    # Time moves deterministically too.
    assert a.advance(hours=30) == b.advance(hours=30)
    assert _truth(a) == _truth(b)


def test_scale_follows_the_customer_count() -> None:
    small = Simulator(SimulatorConfig(customers=50, seed=1))
    large = Simulator(SimulatorConfig(customers=500, seed=1))
    assert len(small.truth("customers")) == 50
    assert len(large.truth("customers")) == 500
    total = sum(len(s) for s in large.world.stores.values())
    assert total > 500 * 10  # about 13 records per customer across entities


def test_invoices_add_up_to_the_cent(world: Simulator) -> None:
    items_by_invoice: dict[int, list[dict]] = defaultdict(list)
    for item in world.truth("invoice_items"):
        items_by_invoice[item["invoiceId"]].append(item)
        for field in ("quantity", "price", "total", "cost", "totalCost"):
            assert MONEY.match(item[field]), (field, item[field])
        assert Decimal(item["quantity"]) * Decimal(item["price"]) == Decimal(item["total"])
    invoices = world.truth("invoices")
    with_items = 0
    for invoice in invoices:
        for field in ("subTotal", "salesTax", "total", "balance"):
            assert MONEY.match(invoice[field]), (field, invoice[field])
        nested = invoice["items"]
        assert sorted(i["id"] for i in nested) == sorted(
            i["id"] for i in items_by_invoice[invoice["id"]] if i["active"]
        )
        sub_total = sum((Decimal(i["total"]) for i in nested), Decimal("0.00"))
        assert sub_total == Decimal(invoice["subTotal"]), invoice["id"]
        assert Decimal(invoice["subTotal"]) + Decimal(invoice["salesTax"]) == Decimal(
            invoice["total"]
        )
        taxable = sum((Decimal(i["total"]) for i in nested if i["taxable"]), Decimal(0))
        expected_tax = (taxable * Decimal("0.0825")).quantize(Decimal("0.01"), "ROUND_HALF_UP")
        assert Decimal(invoice["salesTax"]) == expected_tax
        with_items += bool(nested)
    assert with_items > len(invoices) / 2


def test_payments_are_applied_to_invoices_and_balances_agree(world: Simulator) -> None:
    invoices = {i["id"]: i for i in world.truth("invoices")}
    paid: dict[int, Decimal] = defaultdict(Decimal)
    payments = world.truth("payments")
    assert payments
    for payment in payments:
        assert MONEY.match(payment["total"])
        applied = payment["appliedTo"]
        assert applied and sum(Decimal(a["appliedAmount"]) for a in applied) == Decimal(
            payment["total"]
        )
        for a in applied:
            assert a["appliedTo"] in invoices
            assert payment["customer"]["id"] == invoices[a["appliedTo"]]["customer"]["id"]
            paid[a["appliedTo"]] += Decimal(a["appliedAmount"])
    owed_by_customer: dict[int, Decimal] = defaultdict(Decimal)
    for invoice in invoices.values():
        if invoice["adjustmentToId"] is not None:
            continue
        balance = Decimal(invoice["total"]) - paid[invoice["id"]]
        assert Decimal(invoice["balance"]) == balance, invoice["id"]
        if balance == 0 and paid[invoice["id"]] > 0:
            assert invoice["paidOn"] is not None
        owed_by_customer[invoice["customer"]["id"]] += balance
    for customer in world.truth("customers"):
        assert Decimal(str(customer["balance"])) == owed_by_customer[customer["id"]]


def test_adjustment_invoices_point_at_their_original(world: Simulator) -> None:
    invoices = {i["id"]: i for i in world.truth("invoices")}
    adjustments = [i for i in invoices.values() if i["adjustmentToId"] is not None]
    assert adjustments
    for adj in adjustments:
        original = invoices[adj["adjustmentToId"]]
        assert original["job"]["id"] == adj["job"]["id"]
        assert Decimal(adj["total"]) < 0


def test_inactive_and_merged_customers(world: Simulator) -> None:
    customers = {c["id"]: c for c in world.truth("customers")}
    merged = [c for c in customers.values() if c["mergedToId"] is not None]
    inactive = [c for c in customers.values() if not c["active"]]
    assert merged and len(inactive) > len(merged)
    for c in merged:
        assert c["active"] is False
        assert c["mergedToId"] != c["id"] and c["mergedToId"] in customers


def test_jobs_in_every_status_with_completion_dates(world: Simulator) -> None:
    every = {"Scheduled", "Dispatched", "InProgress", "Hold", "Completed", "Canceled"}
    history = Simulator(SimulatorConfig(customers=400, seed=5))
    assert {j["jobStatus"] for j in history.truth("jobs")} == every
    jobs = world.truth("jobs")
    # Time moving keeps booking, completing and canceling jobs.
    assert {"Scheduled", "Completed", "Canceled"} <= {j["jobStatus"] for j in jobs}
    for job in jobs:
        assert (job["completedOn"] is not None) == (job["jobStatus"] == "Completed")
        assert job["firstAppointmentId"] <= job["lastAppointmentId"]
        if job["completedOn"]:
            assert job["completedOn"] >= job["createdOn"]
    appointments = world.truth("appointments")
    by_job = defaultdict(list)
    for appt in appointments:
        by_job[appt["jobId"]].append(appt["id"])
    for job in jobs:
        assert (
            sorted(by_job[job["id"]])
            == sorted({job["firstAppointmentId"], job["lastAppointmentId"]})
            or len(by_job[job["id"]]) == job["appointmentCount"]
        )


def test_references_resolve(world: Simulator) -> None:
    truth = _truth(world)
    # Records are referenced by their key (most entities: "id"; payroll settings: employeeId).
    ids = {e.name: {r[e.key[0]] for r in truth[e.name]} for e in ENTITIES if len(e.key) == 1}
    checked = 0
    for entity in ENTITIES:
        for ref in entity.references:
            for record in truth[entity.name]:
                value = record
                for part in ref.field.split("."):
                    value = value[part] if value is not None else None
                if value is not None:
                    assert value in ids[ref.entity], (entity.name, ref.field, value)
                    checked += 1
    assert checked > sum(len(e.references) for e in ENTITIES)  # not a test of empty tables


def test_names_carry_real_world_characters(world: Simulator) -> None:
    names = " ".join(c["name"] for c in world.truth("customers"))
    assert "'" in names and '"' in names
    assert any(ord(ch) > 0x2000 for ch in names)  # emoji
    assert any(ch in names for ch in "éèëíóúñüøåç")  # accents
    kinds = {c["type"] for c in world.truth("customers")}
    assert kinds == {"Residential", "Commercial"}


def test_modified_on_never_precedes_created_on(world: Simulator) -> None:
    for entity in ENTITIES:
        for record in world.truth(entity.name):
            if record.get("modifiedOn"):
                assert record["modifiedOn"] >= record["createdOn"], (entity.name, record["id"])
                assert record["modifiedOn"] <= world.clock


def test_parallel_generation_gives_the_same_data() -> None:
    """History is built in chunks with their own RNGs: worker processes change nothing."""
    from servicetitan_pipeline.simulator.world.workers import CHUNK_CUSTOMERS

    config = SimulatorConfig(customers=CHUNK_CUSTOMERS + 100, seed=9)
    inline = Simulator(replace(config, generation_workers=1))
    parallel = Simulator(replace(config, generation_workers=2))
    for entity in ENTITIES:
        assert inline.truth(entity.name) == parallel.truth(entity.name), entity.name
    assert inline.advance(hours=12) == parallel.advance(hours=12)
    assert inline.truth("customers") == parallel.truth("customers")
