"""The entities generated from the table and the spec: keys, volumes, determinism, time.

Everything is derived from ``entities.ENTITIES`` and ``contract.HAND_WRITTEN``: no test names a
count of entities, and a new entry in the table is covered without a change here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest
from sim_helpers import Api, record_key

from servicetitan_pipeline import openapi
from servicetitan_pipeline.entities import ENTITIES, ENTITIES_BY_NAME, Entity
from servicetitan_pipeline.simulator import Simulator, SimulatorConfig, start_simulator
from servicetitan_pipeline.simulator.generated import generator as generator_module
from servicetitan_pipeline.simulator.generated.behaviours import BEHAVIOURS
from servicetitan_pipeline.simulator.generated.contract import HAND_WRITTEN
from servicetitan_pipeline.simulator.generated.generator import generated_entities
from servicetitan_pipeline.simulator.world import tenant as tenant_module

GENERATED = [e for e in ENTITIES if e.name not in HAND_WRITTEN]
# Generated entities without a behaviour: plain synthesised records and changes. (A behaviour
# sizes its own sets and decides which of its records change; its tests cover that.)
PLAIN = [e for e in GENERATED if e.name not in BEHAVIOURS]
_TIMESPAN = re.compile(r"^\d\d:[0-5]\d:[0-5]\d$")
_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


@pytest.fixture(scope="module")
def tenant() -> Iterator[Simulator]:
    """A small tenant (not serving) for read-only checks of the generated data."""
    yield Simulator(SimulatorConfig(customers=200, seed=21))


def _truth(sim: Simulator) -> dict[str, list[dict]]:
    return {e.name: sim.truth(e.name) for e in ENTITIES}


def test_every_entity_outside_the_hand_written_world_is_generated_in_dependency_order() -> None:
    order = [e.name for e in generated_entities()]
    assert sorted(order) == sorted(e.name for e in GENERATED)
    position = {name: i for i, name in enumerate(order)}
    for entity in GENERATED:
        needs = {r.entity for r in entity.references} | {entity.volume.per} - {None}
        for dependency in needs - HAND_WRITTEN - {entity.name}:
            assert position[dependency] < position[entity.name], (entity.name, dependency)


@pytest.mark.parametrize("entity", GENERATED, ids=lambda e: e.name)
def test_keys_are_unique_and_follow_the_table(tenant: Simulator, entity: Entity) -> None:
    records = tenant.truth(entity.name)
    assert records, entity.name
    keys = Counter(record_key(entity, r) for r in records)
    assert max(keys.values()) == 1
    assert all(isinstance(v, int) for key in keys for v in key)
    if entity.active_field is not None:
        flags = {r[entity.active_field] for r in records}
        assert flags <= {True, False} and True in flags


def test_volumes_follow_the_table(tenant: Simulator) -> None:
    stores = tenant.world.stores
    for entity in PLAIN:
        volume = entity.volume
        n = len(stores[entity.name])
        if volume.per is None:
            assert n == volume.count, entity.name
        else:
            expected = volume.rate * len(stores[volume.per])
            # Poisson draws around the rate (small tenants: wide bounds; a floor of a few).
            assert 0.5 * expected - 5 <= n <= 1.5 * expected + 5, (entity.name, n, expected)


def test_entities_keyed_by_their_parent_have_one_record_per_parent(tenant: Simulator) -> None:
    for entity in GENERATED:
        (key, *rest) = entity.key
        parent = entity.volume.per
        if rest or key == "id" or parent is None:
            continue
        if not any(r.field == key and r.entity == parent for r in entity.references):
            continue
        parents = {r["id"] for r in tenant.truth(parent)}
        assert {r[key] for r in tenant.truth(entity.name)} == parents, entity.name


def test_references_to_the_parent_and_its_own_references_agree(tenant: Simulator) -> None:
    """A child takes the references it shares with its parent from the parent (an estimate's
    customer is its job's customer), so joins in the warehouse line up."""
    checked = 0
    for entity in GENERATED:
        parent_name = entity.volume.per
        if parent_name is None:
            continue
        parent_entity = ENTITIES_BY_NAME[parent_name]
        own = next((r.field for r in entity.references if r.entity == parent_name), None)
        if own is None or "." in own:
            continue
        parents = {r["id"]: r for r in tenant.truth(parent_name) if "id" in r}
        shared = [
            (child_ref.field, parent_ref.field)
            for child_ref in entity.references
            for parent_ref in parent_entity.references
            if child_ref.entity == parent_ref.entity and "." not in child_ref.field
        ]
        for record in tenant.truth(entity.name):
            parent = parents[record[own]]
            for child_field, parent_field in shared:
                value = parent
                for part in parent_field.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                if value is not None:
                    assert record[child_field] == value, (entity.name, child_field)
                    checked += 1
    assert checked > 0


def test_values_follow_the_spec_formats_and_names(tenant: Simulator) -> None:
    truth = _truth(tenant)
    calls = truth["calls"]
    assert all(_TIMESPAN.match(c["duration"]) for c in calls)
    assert {c["direction"] for c in calls} <= {"Inbound", "Outbound"}
    assert any(c["customer"] is not None and c["customer"]["name"] for c in calls)
    # Money the spec types as a string is "123.45"; as a number, a number with cents.
    bills = [b for b in truth["inventory_bills"] if b["billAmount"] is not None]
    assert bills and all(re.match(r"^\d+\.\d{2}$", b["billAmount"]) for b in bills)
    assert all(isinstance(p["total"], float) for p in truth["purchase_orders"])
    assert all(round(p["total"], 2) == p["total"] for p in truth["purchase_orders"])
    equipment = [e for e in truth["installed_equipment"] if e["actualReplacementDate"]]
    assert equipment and all(_DATE.match(e["actualReplacementDate"]) for e in equipment)
    contacts = truth["customer_contacts"]
    assert all(c["type"] in ("Phone", "Email", "Fax", "MobilePhone") for c in contacts)
    # Nullable fields are null now and then, and not always.
    memos = [c["memo"] for c in contacts]
    assert None in memos and any(m is not None for m in memos)
    # Names beside references are the referenced record's.
    technicians = {t["id"]: t["name"] for t in truth["technicians"]}
    for assignment in truth["appointment_assignments"]:
        assert assignment["technicianName"] == technicians[assignment["technicianId"]]


def test_a_schema_that_contains_itself_ends_in_empty_lists(tenant: Simulator) -> None:
    spec = openapi.module("pricebook")
    item = spec.schema("Pricebook.V2.ExportCategoryResponse")["properties"]["subcategories"]
    assert "Pricebook.V2.CategoryResponse" in str(item)
    for category in tenant.truth("pricebook_categories"):
        for sub in category["subcategories"] or []:
            assert sub["subcategories"] in ([], None)


def test_same_seed_same_bytes_and_no_entity_depends_on_an_unrelated_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = SimulatorConfig(customers=60, seed=4)
    first, second = Simulator(config), Simulator(config)
    for entity in GENERATED:
        a, b = first.world.stores[entity.name], second.world.stores[entity.name]
        assert a.blobs == b.blobs, entity.name
    # Without one entity nobody depends on, every other entity's data is the same.
    order = generated_entities()
    needed = {r.entity for e in order for r in e.references} | {e.volume.per for e in order}
    leaf = next(e for e in reversed(order) if e.name not in needed)
    without = tuple(e for e in order if e.name != leaf.name)

    def generator_without_leaf(*args: object) -> generator_module.Generator:
        return generator_module.Generator(*args, entities=without)

    monkeypatch.setattr(tenant_module, "Generator", generator_without_leaf)
    third = Simulator(config)
    assert len(third.world.stores[leaf.name]) == 0
    for entity in without:
        assert third.world.stores[entity.name].blobs == first.world.stores[entity.name].blobs
    other = Simulator(SimulatorConfig(customers=60, seed=5))
    assert other.world.stores["calls"].blobs != first.world.stores["calls"].blobs


def test_advance_changes_every_generated_entity_deterministically() -> None:
    config = SimulatorConfig(customers=80, seed=6)
    a, b = Simulator(config), Simulator(config)
    before = _truth(a)
    summary = a.advance(hours=72)
    assert summary == b.advance(hours=72)
    after = _truth(a)
    assert after == _truth(b)
    for entity in GENERATED:
        old = {record_key(entity, r): r for r in before[entity.name]}
        changed = [r for r in after[entity.name] if old.get(record_key(entity, r)) != r]
        assert changed or entity.name in BEHAVIOURS, entity.name
        counts = summary["entities"][entity.name]
        assert counts["created"] + counts["updated"] == len(changed), entity.name
        if entity.modified_field == "modifiedOn" and entity.name not in BEHAVIOURS:
            # What changed carries the time it changed at: inside the advance.
            assert all(r["modifiedOn"] > a.config.start.isoformat()[:19] for r in changed)
        if entity.modified_field == "createdOn":
            # Immutable records are never edited: time moving on only adds new ones.
            assert all(record_key(entity, r) not in old for r in changed), entity.name


def test_new_parents_get_their_children_during_an_advance() -> None:
    sim = Simulator(SimulatorConfig(customers=80, seed=8))
    jobs_before = {r["id"] for r in sim.truth("jobs")}
    sim.advance(hours=96)
    new_jobs = {r["id"] for r in sim.truth("jobs")} - jobs_before
    assert new_jobs
    for entity in GENERATED:
        if entity.key == ("jobId",) and entity.volume.per == "jobs":
            assert new_jobs <= {r["jobId"] for r in sim.truth(entity.name)}, entity.name


@pytest.fixture(scope="module")
def served() -> Iterator[Api]:
    with start_simulator(SimulatorConfig(customers=150, seed=12, export_page_size=60)) as sim:
        api = Api(sim)
        yield api
        api.close()


def test_an_export_that_hides_inactive_records_by_default(served: Api) -> None:
    """Appointment assignments' export returns active ones unless asked (as the spec says);
    the entity table's export_params ask for all of them."""
    entity = ENTITIES_BY_NAME["appointment_assignments"]
    path = entity.export_path(served.sim.config.tenant_id)
    truth = served.sim.truth(entity.name)
    assert any(not r["active"] for r in truth)
    default, _ = served.export_all(path)
    assert {r["id"] for r in default} == {r["id"] for r in truth if r["active"]}
    everything, _ = served.export_all(path, **entity.export_params)
    assert {r["id"] for r in everything} == {r["id"] for r in truth}
    inactive, _ = served.export_all(path, active="False")
    assert {r["id"] for r in inactive} == {r["id"] for r in truth if not r["active"]}
    assert served.get(path, active="Sometimes").status_code == 400
    # An export without such a parameter in the table returns inactive records by default.
    jobs = ENTITIES_BY_NAME["appointments"]
    records, _ = served.export_all(jobs.export_path(served.sim.config.tenant_id))
    assert len(records) == len(served.sim.truth("appointments"))


def test_list_filters_exist_only_where_the_spec_has_them(served: Api) -> None:
    tenant = served.sim.config.tenant_id
    teams = ENTITIES_BY_NAME["teams"]
    truth = served.sim.truth("teams")
    active = served.list_all(teams.list_path(tenant))
    assert {r["id"] for r in active} == {r["id"] for r in truth if r["active"]}
    every = served.list_all(teams.list_path(tenant), **teams.list_inactive_params)
    assert len(every) == len(truth)
    # Arrival windows' list has no modifiedOnOrAfter in the spec: the filter is ignored.
    windows = ENTITIES_BY_NAME["arrival_windows"]
    path = windows.list_path(tenant)
    assert (
        "modifiedOnOrAfter"
        not in openapi.module("dispatch")
        .operations[f"/tenant/{{tenant}}/{windows.resource}"]
        .parameters
    )
    later = served.list_all(path, active="Any", modifiedOnOrAfter="2100-01-01")
    assert len(later) == len(served.sim.truth("arrival_windows"))


@pytest.mark.parametrize("entity", [e for e in GENERATED if e.has_export], ids=lambda e: e.name)
def test_export_pages_are_shuffled_and_repeat_with_recent_changes(
    served: Api, entity: Entity
) -> None:
    path = entity.export_path(served.sim.config.tenant_id)
    params = dict(entity.export_params)
    truth = {record_key(entity, r) for r in served.sim.truth(entity.name)}
    seen: list[tuple] = []
    token = None
    pages = 0
    while True:
        query = {"includeRecentChanges": "true", **params}
        if token:
            query["from"] = token
        first = served.get(path, **query)
        assert served.get(path, **query).content == first.content  # deterministic
        body = first.json()
        seen += [record_key(entity, r) for r in body["data"]]
        token = body["continueFrom"]
        pages += 1
        if not body["hasMore"]:
            break
    assert set(seen) == truth
    if pages > 1:
        assert len(seen) > len(truth)  # the documented repeats


def test_nested_records_are_modified_after_they_are_created(tenant: Simulator) -> None:
    def walk(node: object, found: list[dict]) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("createdOn"), str) and isinstance(node.get("modifiedOn"), str):
                found.append(node)
            for value in node.values():
                walk(value, found)
        elif isinstance(node, list):
            for value in node:
                walk(value, found)

    nested: list[dict] = []
    for entity in GENERATED:
        for record in tenant.truth(entity.name):
            for value in record.values():
                walk(value, nested)
    assert nested  # estimates' and purchase orders' items, inventory items, ...
    assert all(n["createdOn"] <= n["modifiedOn"] for n in nested)
