"""Export endpoints: continuation tokens stay exact while the data changes."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sim_helpers import Api, record_key

from servicetitan_pipeline.entities import ENTITIES, ENTITIES_BY_NAME
from servicetitan_pipeline.simulator import SimulatorConfig, start_simulator
from servicetitan_pipeline.simulator.generated.behaviours import BEHAVIOURS
from servicetitan_pipeline.simulator.generated.contract import HAND_WRITTEN
from servicetitan_pipeline.simulator.generated.generator import MIN_RECORDS

EXPORTED = [e for e in ENTITIES if e.has_export]


def test_full_export_returns_every_record_once_with_a_final_token(api: Api) -> None:
    tenant = api.sim.config.tenant_id
    for entity in EXPORTED:
        params = dict(entity.export_params)
        records, token = api.export_all(entity.export_path(tenant), **params)
        truth = api.sim.truth(entity.name)
        keys = Counter(record_key(entity, r) for r in records)
        assert max(keys.values()) == 1, entity.name
        assert set(keys) == {record_key(entity, r) for r in truth}, entity.name
        # Inactive records are exported too (every plain generated entity has some).
        if entity.name in ("customers", "invoices", "technicians", "business_units") or (
            entity.name not in HAND_WRITTEN
            and entity.name not in BEHAVIOURS
            and entity.active_field is not None
            and len(truth) >= MIN_RECORDS
        ):
            assert any(not r[entity.active_field or "active"] for r in records), entity.name
        # Nothing new: polling with the final token gives an empty page and a token again.
        again = api.get(entity.export_path(tenant), **{"from": token}, **params).json()
        assert again == {"hasMore": False, "continueFrom": token, "data": []}


def test_pages_hold_at_most_a_page_and_are_not_ordered(api: Api) -> None:
    path = ENTITIES_BY_NAME["invoice_items"].export_path(api.sim.config.tenant_id)
    first = api.get(path)
    body = first.json()
    assert body["hasMore"] is True and len(body["data"]) == 100
    ids = [r["id"] for r in body["data"]]
    assert ids != sorted(ids)  # ServiceTitan promises no order within a page
    # ... but the same request gives the same answer (deterministic shuffle).
    assert api.get(path).content == first.content


def test_old_token_yields_exactly_what_changed_after_advance(fresh_api: Api) -> None:
    sim = fresh_api.sim
    tenant = sim.config.tenant_id
    before = {e.name: {record_key(e, r): r for r in sim.truth(e.name)} for e in EXPORTED}
    tokens = {
        e.name: fresh_api.export_all(e.export_path(tenant), **e.export_params)[1] for e in EXPORTED
    }
    summary = sim.advance(hours=48)
    assert summary["events"]["new_customer"] >= 2 and summary["events"]["merge_customer"] >= 1
    for entity in EXPORTED:
        after = {record_key(entity, r): r for r in sim.truth(entity.name)}
        changed = {k for k, r in after.items() if before[entity.name].get(k) != r}
        # Every plain generated entity moves with the clock within two days (changes, new
        # records); a behaviour may leave its records as they are (settled leads), which its
        # own tests cover.
        assert changed or entity.name in HAND_WRITTEN or entity.name in BEHAVIOURS, entity.name
        records, _ = fresh_api.export_all(
            entity.export_path(tenant), tokens[entity.name], **entity.export_params
        )
        got = Counter(record_key(entity, r) for r in records)
        assert set(got) == changed, entity.name
        assert max(got.values(), default=1) == 1, entity.name
        # The latest version of each.
        assert all(after[record_key(entity, r)] == r for r in records), entity.name
        counts = summary["entities"][entity.name]
        assert counts["created"] + counts["updated"] == len(changed), entity.name
    assert summary["entities"]["customers"]["created"] >= 2
    assert summary["entities"]["invoice_items"]["created"] > 0


def test_a_walk_interrupted_by_changes_ends_with_the_current_state(fresh_api: Api) -> None:
    sim = fresh_api.sim
    path = ENTITIES_BY_NAME["invoices"].export_path(sim.config.tenant_id)
    state: dict[int, dict] = {}
    body = fresh_api.get(path).json()
    state.update({r["id"]: r for r in body["data"]})
    sim.advance(hours=24)  # records not yet exported, and some already exported, change
    records, _ = fresh_api.export_all(path, body["continueFrom"])
    state.update({r["id"]: r for r in records})
    assert state == {r["id"]: r for r in sim.truth("invoices")}


def test_export_from_a_date(api: Api) -> None:
    path = ENTITIES_BY_NAME["jobs"].export_path(api.sim.config.tenant_id)
    cut = datetime.fromisoformat("2026-06-01T00:00:00+00:00")
    expected = {
        r["id"]
        for r in api.sim.truth("jobs")
        if datetime.fromisoformat(r["modifiedOn"].replace("Z", "+00:00")) >= cut
    }
    assert expected
    for start in ("2026-06-01", "2026-06-01T00:00:00Z", "2026-06-01T00:00:00.0000000Z"):
        records, _ = api.export_all(path, start)
        assert {r["id"] for r in records} == expected


def test_include_recent_changes_may_repeat_but_misses_nothing(api: Api) -> None:
    path = ENTITIES_BY_NAME["appointments"].export_path(api.sim.config.tenant_id)
    seen: list[int] = []
    token = None
    while True:
        params = {"includeRecentChanges": "true"}
        if token:
            params["from"] = token
        body = api.get(path, **params).json()
        seen += [r["id"] for r in body["data"]]
        token = body["continueFrom"]
        if not body["hasMore"]:
            break
    truth = {r["id"] for r in api.sim.truth("appointments")}
    assert set(seen) == truth
    assert len(seen) > len(truth)  # some records came twice, as documented


def test_tokens_survive_a_restart_with_the_same_seed() -> None:
    """The same seed gives the same seqs, so a token kept by the demo stays meaningful."""
    config = SimulatorConfig(customers=40, seed=3, export_page_size=25)
    tokens = []
    for _ in range(2):
        with start_simulator(config) as sim:
            api = Api(sim)
            tokens.append(
                api.get(ENTITIES_BY_NAME["customers"].export_path(sim.config.tenant_id)).json()[
                    "continueFrom"
                ]
            )
            api.close()
    assert tokens[0] == tokens[1]
