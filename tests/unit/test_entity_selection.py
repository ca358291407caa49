"""``SERVICETITAN_ENTITIES``: all, modules, entities, exclusions, and clear errors."""

from __future__ import annotations

import pytest

from servicetitan_pipeline.config import (
    DOCUMENTED_SETTINGS,
    ENTITIES_ENV,
    ConfigError,
    configured_entity_selection,
    missing_scope_remedy,
    select_entities,
    selection_name,
)
from servicetitan_pipeline.entities import ENTITIES, ENTITIES_BY_NAME, MODULES


def names_of_module(*modules: str) -> set[str]:
    return {e.name for e in ENTITIES if e.module in modules}


@pytest.mark.parametrize("value", [None, "", "   ", "all", "ALL", " all , "])
def test_unset_empty_and_all_select_every_entity(value):
    selection = select_entities(value)
    assert selection.entities == ENTITIES
    assert selection.is_everything and selection.unselected == ()
    assert selection.value == ((value or "").strip() or "all")


def test_modules_select_their_entities_in_table_order():
    selection = select_entities("jpm,crm, accounting ")
    assert set(selection.names) == names_of_module("jpm", "crm", "accounting")
    order = [e.name for e in ENTITIES]
    assert list(selection.names) == sorted(selection.names, key=order.index)
    assert not selection.is_everything
    assert {e.name for e in selection.unselected} == set(order) - set(selection.names)


def test_modules_and_entities_mix():
    selection = select_entities("crm,jpm,accounting,estimates")
    assert set(selection.names) == names_of_module("crm", "jpm", "accounting") | {"estimates"}


def test_exclusions_take_modules_and_entities_away_wherever_they_stand():
    selection = select_entities("all,-payroll,-reviews")
    assert set(selection.names) == set(ENTITIES_BY_NAME) - names_of_module("payroll") - {"reviews"}
    # the place of an exclusion does not matter
    assert select_entities("-payroll,crm,payroll").names == select_entities("crm").names
    assert select_entities("jpm,-jobs").names == tuple(
        n for n in select_entities("jpm").names if n != "jobs"
    )


def test_exclusions_alone_start_from_all():
    assert select_entities("-payroll").names == select_entities("all,-payroll").names


def test_a_name_that_is_a_module_and_an_entity_means_the_module_unless_qualified():
    assert "memberships" in MODULES and "memberships" in ENTITIES_BY_NAME
    module = names_of_module("memberships")
    assert len(module) > 1
    assert set(select_entities("memberships").names) == module
    assert set(select_entities("module:memberships").names) == module
    assert select_entities("entity:memberships").names == ("memberships",)
    assert set(select_entities("all,-entity:memberships").names) == set(ENTITIES_BY_NAME) - {
        "memberships"
    }
    assert selection_name(ENTITIES_BY_NAME["memberships"]) == "entity:memberships"
    assert selection_name(ENTITIES_BY_NAME["jobs"]) == "jobs"


def test_case_does_not_matter():
    assert select_entities("CRM,-Leads").names == select_entities("crm,-leads").names


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        ("crm,nope", "'nope'"),
        ("all,-payrol", "'-payrol'"),
        ("job-splits", "'job-splits'"),  # entities are snake_case, modules kebab-case
        ("module:jobs", "'module:jobs'"),  # jobs is an entity, not a module
        ("entity:payroll", "'entity:payroll'"),
        ("-all", "'-all'"),
    ],
)
def test_an_unknown_name_is_an_error_naming_the_setting_and_listing_the_names(value, bad):
    with pytest.raises(ConfigError) as info:
        select_entities(value)
    message = str(info.value)
    assert message.startswith(f"{ENTITIES_ENV}: unknown module or entity {bad}")
    assert "known modules: " + ", ".join(MODULES) in message
    assert "known entities: " + ", ".join(ENTITIES_BY_NAME) in message


def test_every_unknown_name_is_named_at_once_with_the_source():
    with pytest.raises(ConfigError, match=r"^--select: unknown module or entity 'a', 'b' in"):
        select_entities("a,crm,b", source="--select")


def test_a_selection_that_selects_nothing_is_an_error():
    with pytest.raises(ConfigError, match=rf"^{ENTITIES_ENV}: 'crm,-crm' selects no entity"):
        select_entities("crm,-crm")


def test_the_setting_is_read_from_the_environment_and_documented():
    assert ENTITIES_ENV == "SERVICETITAN_ENTITIES"
    assert ENTITIES_ENV in DOCUMENTED_SETTINGS  # a .env may set it
    selection = configured_entity_selection({ENTITIES_ENV: "payroll"})
    assert set(selection.names) == names_of_module("payroll")
    assert selection.source == ENTITIES_ENV and selection.value == "payroll"
    assert configured_entity_selection({}).is_everything


def test_references_are_not_pulled_in():
    # jobs reference customers and locations: those are checked as warnings, not synced
    assert select_entities("jobs").names == ("jobs",)


def test_the_missing_scope_remedy_names_the_scope_steps_and_the_setting():
    job_splits = ENTITIES_BY_NAME["job_splits"]
    remedy = missing_scope_remedy(job_splits)
    assert "developer portal" in remedy and "re-approve" in remedy
    assert "SERVICETITAN_ENTITIES=all,-payroll (the whole Payroll module)" in remedy
    assert remedy.endswith("SERVICETITAN_ENTITIES=all,-job_splits.")
    # what the remedy proposes is a valid selection that leaves the entity out
    for value in ("all,-payroll", "all,-job_splits"):
        assert "job_splits" not in select_entities(value).names
    memberships = missing_scope_remedy(ENTITIES_BY_NAME["memberships"])
    assert memberships.endswith("SERVICETITAN_ENTITIES=all,-entity:memberships.")


def test_the_setting_is_in_env_example_and_the_readme_settings_table():
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    example = (repo / ".env.example").read_text(encoding="utf-8")
    assert f"# {ENTITIES_ENV}=all\n" in example
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert f"| Entities (optional) | `{ENTITIES_ENV}` |" in readme
