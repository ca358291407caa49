"""The in-process run's summary: every failure says why, in the summary and in the run log;
a step's own dagster.Failure description is its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from servicetitan_pipeline.cli.runner import run_sync


def test_a_tenant_with_a_bad_setting_says_why_in_the_summary_and_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # `sync` validates the settings first; a run launched otherwise (the UI, a script) does
    # not: the tenant's settings are read when the run reaches it, and it fails, named.
    for name, value in {
        "SERVICETITAN_CONNECTION_NAME": "n",
        "SERVICETITAN_ENVIRONMENT": "integration",
        "SERVICETITAN_TENANT_ID": "acme",
        "SERVICETITAN_CLIENT_ID": "cid",
        "SERVICETITAN_CLIENT_SECRET": "cs1.unit-secret",
        "SERVICETITAN_APP_KEY": "ak1.unit",
        "SERVICETITAN_DUCKDB_PATH": str(tmp_path / "st.duckdb"),
    }.items():
        monkeypatch.setenv(name, value)
    outcome = run_sync(entities=["business_units"], include_dbt=False)
    assert not outcome.success
    # The partition's name is the connection name the definitions were loaded with (another
    # test of this process may have loaded them first).
    (tenant,) = outcome.tenants
    reason = (
        "business_units: SERVICETITAN_TENANT_ID / tenant_id must be a positive integer, got 'acme'"
    )
    assert outcome.failures == [f"servicetitan_ingestion: {tenant.name}: {reason}"]
    assert not tenant.success and tenant.failures == outcome.failures
    assert outcome.log_path is not None
    log = Path(outcome.log_path).read_text()
    assert "servicetitan_ingestion failed:" in log and "SERVICETITAN_TENANT_ID / tenant_id" in log
    assert "cs1.unit-secret" not in log


def test_a_failed_steps_summary_is_its_failure_description_after_the_causes_class():
    import dagster as dg

    from servicetitan_pipeline.cli.runner import ONE_LINE_LIMIT, summarise
    from servicetitan_pipeline.client import PermissionDeniedError

    description = "job_splits: the app lacks the API scope 'Payroll: Job Splits (View)'. " + (
        "How to fix it. " * 20
    )

    @dg.asset
    def job_splits() -> None:
        try:
            raise PermissionDeniedError("ServiceTitan GET /x failed: HTTP 403", status=403)
        except PermissionDeniedError as exc:
            raise dg.Failure(description=description, allow_retries=False) from exc

    @dg.asset
    def customers() -> None:
        pass

    result = dg.materialize([job_splits, customers], raise_on_error=False)
    outcome = summarise(result, 0.0)
    assert len(description) < ONE_LINE_LIMIT  # a scope's message and its fix are read whole
    assert outcome.failures == [f"job_splits: PermissionDeniedError: {description.strip()}"]
    assert [a.key for a in outcome.assets] == ["customers"]  # the other asset ran
