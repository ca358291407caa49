"""``SimulatorConfig.denied_modules``: an app without a module's scopes gets 403 there only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sim_helpers import Api

from servicetitan_pipeline.entities import ENTITIES, ENTITIES_BY_NAME
from servicetitan_pipeline.simulator import Simulator, SimulatorConfig, start_simulator


@pytest.fixture(scope="module")
def denied() -> Iterator[Simulator]:
    config = SimulatorConfig(customers=30, seed=5, denied_modules=frozenset({"payroll", "crm"}))
    with start_simulator(config) as sim:
        yield sim


def test_every_endpoint_of_a_denied_module_answers_403_as_servicetitan_does(denied):
    api = Api(denied)
    tenant = denied.config.tenant_id
    for entity in ENTITIES:
        paths = [entity.export_path(tenant)] if entity.has_export else []
        paths += [entity.list_path(tenant)] if entity.has_list else []
        for path in paths:
            response = api.get(path)
            if entity.module in ("payroll", "crm"):
                assert response.status_code == 403, path
                body = response.json()
                assert body["status"] == 403 and body["title"] == "Forbidden"
                assert body["type"] == "https://tools.ietf.org/html/rfc7231#section-6.5.3"
                assert body["traceId"]
            else:
                assert response.status_code == 200, (path, response.text)


def test_a_request_without_a_token_is_still_401_first(denied):
    path = ENTITIES_BY_NAME["job_splits"].export_path(denied.config.tenant_id)
    response = Api(denied).http.get(path)
    assert response.status_code == 401


def test_an_unknown_module_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"denied_modules: unknown module\(s\) payrol; known: "):
        SimulatorConfig(denied_modules=frozenset({"payrol"}))


def test_the_simulator_command_takes_denied_modules():
    import argparse

    from servicetitan_pipeline.simulator.cli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--deny-module", "payroll", "--deny-module", "crm"])
    assert frozenset(args.deny_module) == {"payroll", "crm"}
    assert parser.parse_args([]).deny_module == []
    with pytest.raises(SystemExit):
        parser.parse_args(["--deny-module", "payrol"])
