"""`servicetitan-pipeline check`: the "test connection" button, from a shell."""

from __future__ import annotations

import re

import pytest

from servicetitan_pipeline.entities import ENTITIES

pytestmark = pytest.mark.e2e


def test_check_reports_every_entity_ok(simulator_env, tmp_path, run_cli, canary_secret):
    sim, env = simulator_env
    result = run_cli("check", env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "e2e" in out and str(sim.config.tenant_id) in out and sim.base_url in out
    for entity in ENTITIES:
        pattern = re.compile(rf"^ {{4}}{re.escape(entity.name)} +OK ")
        assert any(pattern.match(ln) for ln in out.splitlines()), f"no OK line for {entity}"
    assert f"All {len(ENTITIES)} entities OK." in out
    assert canary_secret not in out + result.stderr


def test_check_fails_clearly_on_a_wrong_secret(simulator_env, tmp_path, run_cli):
    _, env = simulator_env
    env["SERVICETITAN_CLIENT_SECRET"] = "not-the-secret"
    result = run_cli("check", env=env, cwd=tmp_path, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "client ID" in output or "client id" in output.lower()
    assert "not-the-secret" not in output


def test_check_names_a_bad_setting(simulator_env, tmp_path, run_cli):
    _, env = simulator_env
    env["SERVICETITAN_TENANT_ID"] = "acme"
    result = run_cli("check", env=env, cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "SERVICETITAN_TENANT_ID" in result.stdout + result.stderr


def test_check_probes_the_changes_of_the_servers_day(simulator_env, tmp_path, run_cli):
    """The simulator's clock is not the wall clock: check must ask for the simulated day."""
    import httpx

    from servicetitan_pipeline.client.transport import parse_http_date

    sim, env = simulator_env
    served = parse_http_date(httpx.get(sim.base_url + "/").headers.get("Date"))
    if served is None or served.strftime("%Y-%m-%d") != sim.clock[:10]:
        pytest.skip("this simulator does not send its simulated clock in the Date header")
    result = run_cli("check", env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"changes of   {sim.clock[:10]} (the server's date)" in result.stdout
    samples = [int(n) for n in re.findall(r"export endpoint .*\((\d+) record", result.stdout)]
    assert samples and sum(samples) > 0, result.stdout
