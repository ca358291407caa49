"""The code location with a report list: one asset per report, its comparison check, the job.

The definitions read SERVICETITAN_REPORTS_FILE when they load, so the code location itself is
loaded in a fresh interpreter with the variable set; the rest is built in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster_duckdb import DuckDBResource

from servicetitan_pipeline.config import REPORTS_FILE_ENV, ConfigError, EntitySelection
from servicetitan_pipeline.defs.ingestion import build_ingestion_assets
from servicetitan_pipeline.defs.jobs import build_sync_job
from servicetitan_pipeline.defs.reports import (
    build_report_assets,
    build_report_checks,
    configured_report_specs,
    report_asset_key,
)
from servicetitan_pipeline.defs.resources import ServiceTitanResource
from servicetitan_pipeline.entities import get_entity
from servicetitan_pipeline.simulator.reporting import DEMO_REPORTS_FILE
from servicetitan_pipeline.sync.report_specs import load_report_specs

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json
import dagster as dg
from servicetitan_pipeline.defs.definitions import defs
from servicetitan_pipeline.defs.jobs import SYNC_JOB_NAME

graph = defs.resolve_asset_graph()
reports = [k for k in graph.get_all_asset_keys() if k.path[-1].startswith("report_")]
job = defs.resolve_job_def(SYNC_JOB_NAME)
checks = [(c.asset_key.path[-1], c.name) for c in graph.asset_check_keys if c.asset_key in reports]
print(json.dumps({
    "reports": {
        "/".join(k.path): {
            "group": graph.get(k).group_name,
            "description": graph.get(k).description,
        }
        for k in reports
    },
    "checks": sorted([c[0], c[1]] for c in checks),
    "in_job": sorted("/".join(k.path) for k in job.asset_layer.selected_asset_keys if k in reports),
}))
"""


def load(env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICETITAN_")}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_each_listed_report_has_an_asset_a_check_and_a_place_in_the_job(tmp_path):
    result = load({REPORTS_FILE_ENV: str(DEMO_REPORTS_FILE)})
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(facts["reports"]) == {
        "servicetitan/report_revenue_by_bu",
        "servicetitan/report_tech_performance",
    }
    revenue = facts["reports"]["servicetitan/report_revenue_by_bu"]
    assert revenue["group"] == "servicetitan_raw"
    assert "report 1001 of category `accounting`" in revenue["description"]
    assert "raw_servicetitan.report_revenue_by_bu" in revenue["description"]
    assert facts["checks"] == [
        ["report_revenue_by_bu", "matches_rpt_revenue_servicetitan"],
        ["report_tech_performance", "matches_rpt_technician_scorecard"],
    ]
    assert facts["in_job"] == sorted(facts["reports"])


def test_no_report_list_means_no_report_assets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no servicetitan_reports.toml here
    monkeypatch.delenv(REPORTS_FILE_ENV, raising=False)
    assert configured_report_specs() == ()


def test_a_bad_report_list_fails_naming_the_report_and_key(tmp_path, monkeypatch):
    bad = tmp_path / "reports.toml"
    bad.write_text(
        '[[reports]]\nname = "x"\ncategory = "accounting"\nreport_id = 0\n'
        'date_parameters = { from = "From", to = "To" }\nstart_date = 2026-01-01\n',
        encoding="utf-8",
    )
    monkeypatch.setenv(REPORTS_FILE_ENV, str(bad))
    with pytest.raises(ConfigError, match=f"{bad}: report 'x': 'report_id' must be a whole"):
        configured_report_specs()


def test_a_selected_sync_job_still_pulls_the_reports():
    specs = load_report_specs(DEMO_REPORTS_FILE)
    assets = build_report_assets(specs)
    selection = EntitySelection(
        entities=(get_entity("customers"),), source="SERVICETITAN_ENTITIES", value="customers"
    )
    job = build_sync_job(selection, report_assets=assets)
    graph = dg.Definitions(
        assets=[*build_ingestion_assets(), *assets],
        asset_checks=build_report_checks(specs),
        resources={
            "servicetitan": ServiceTitanResource(
                name="t",
                environment="integration",
                tenant_id="1",
                client_id="cid.unused",
                client_secret="cs.unused",
                app_key="ak.unused",
            ),
            "duckdb": DuckDBResource(database=":memory:"),
        },
    ).resolve_asset_graph()
    selected = job.selection.resolve(graph)
    assert {report_asset_key(s) for s in specs} <= selected
    assert dg.AssetKey(["servicetitan", "customers"]) in selected
    assert dg.AssetKey(["servicetitan", "invoices"]) not in selected
