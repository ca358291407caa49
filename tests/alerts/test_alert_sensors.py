"""The alert sensors, on Dagster's in-process instance, posting to the loopback webhook:

* a real failing run of the project's ingestion asset (a tenant whose client ID variable is
  missing) posts once, naming the job, run, step, tenant and variable, and no secret;
* an error that quotes a secret has it redacted;
* a run whose ERROR check failed posts; a WARN check or a passing one does not;
* a stale tenant is told once per stale episode;
* a webhook that is down fails the sensor's tick, named and bounded, instead of hanging it;
* with no webhook and no SMTP there is no sensor at all.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import freeze_time
from receivers import WEBHOOK_TOKEN, WebhookReceiver, _free_port

from servicetitan_pipeline.alerts import AlertSettings
from servicetitan_pipeline.client.connections import TenantConnection
from servicetitan_pipeline.defs.alerts import (
    AlertDeliveryError,
    build_alert_sensors,
    check_failure_alert_sensor,
    connection_secrets,
    run_failure_alert_sensor,
    stale_data_alert_sensor,
    with_freshness_policy,
)
from servicetitan_pipeline.defs.ingestion import build_ingestion_assets
from servicetitan_pipeline.defs.resources import (
    WarehouseResource,
    servicetitan_tenants_from_connections,
)
from servicetitan_pipeline.entities import get_entity

CLIENT_SECRET = "north-client-secret-5f2c9a"
APP_KEY = "ak1.shared-app-key-77d1e0"
NORTH = TenantConnection(
    name="north-hvac",
    environment="integration",
    tenant_id=1000001,
    client_id_env="NORTH_ALERTS_CLIENT_ID",  # left unset: the tenant fails before any request
    client_secret_env="NORTH_ALERTS_CLIENT_SECRET",
    app_key_env="ALERTS_APP_KEY",
)


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NORTH_ALERTS_CLIENT_ID", raising=False)
    monkeypatch.setenv("NORTH_ALERTS_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("ALERTS_APP_KEY", APP_KEY)


def _settings(webhook_url: str) -> AlertSettings:
    return AlertSettings.from_env(
        {
            "SERVICETITAN_ALERT_WEBHOOK_URL": webhook_url,
            "SERVICETITAN_ALERT_UI_BASE_URL": "http://127.0.0.1:3000",
        }
    )


def _assert_no_secret(text: str) -> None:
    for secret in (CLIENT_SECRET, APP_KEY, WEBHOOK_TOKEN):
        assert secret not in text


def _failure_context(
    result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance
) -> dg.RunFailureSensorContext:
    assert not result.success
    return dg.build_run_status_sensor_context(
        sensor_name="test",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()


@pytest.mark.usefixtures("secrets_in_environment")
def test_a_failed_ingestion_run_posts_once_with_its_steps_and_no_secret(
    webhook: WebhookReceiver,
    instance: dg.DagsterInstance,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assets = build_ingestion_assets([get_entity("business_units")], tenants=[NORTH.name])
    result = dg.materialize(
        assets,
        partition_key=NORTH.name,
        instance=instance,
        resources={
            "servicetitan": servicetitan_tenants_from_connections([NORTH]),
            "duckdb": WarehouseResource(database=str(tmp_path / "w.duckdb")),
        },
        raise_on_error=False,
    )
    sensor = run_failure_alert_sensor(_settings(webhook.url), connection_secrets([NORTH]))
    sensor(_failure_context(result, instance))

    (post,) = webhook.posts
    text = post["text"]
    run_id = result.run_id
    assert text.startswith("*Run failed: __ephemeral_asset_job__*")
    assert f"run {run_id}" in text
    assert "tenants: north-hvac" in text
    assert "step servicetitan_ingestion:" in text
    # The error's first lines: what failed, then each failed tenant and why (no stack trace).
    lines = text.splitlines()
    step = lines.index(
        "step servicetitan_ingestion: Failure: 1 of 1 entities failed (business_units); "
        "the others are synced."
    )
    assert (
        "north-hvac (tenant 1000001): business_units: environment variable NORTH_ALERTS_CLIENT_ID"
        in lines[step + 1]
    )
    assert "Stack Trace" not in text and "execute_plan.py" not in text
    assert f"<http://127.0.0.1:3000/runs/{run_id}|Open the run in Dagster>" in text
    _assert_no_secret(text)
    _assert_no_secret(caplog.text)


@pytest.mark.usefixtures("secrets_in_environment")
def test_an_error_quoting_a_secret_is_redacted(
    webhook: WebhookReceiver, instance: dg.DagsterInstance
) -> None:
    @dg.asset
    def leaky() -> None:
        raise RuntimeError(f"upstream said: bad key {APP_KEY} for secret {CLIENT_SECRET}")

    result = dg.materialize([leaky], instance=instance, raise_on_error=False)
    sensor = run_failure_alert_sensor(_settings(webhook.url), connection_secrets([NORTH]))
    sensor(_failure_context(result, instance))
    (post,) = webhook.posts
    # The step's own error (RuntimeError), not Dagster's wrapper around it.
    assert (
        "step leaky: RuntimeError: upstream said: bad key [redacted] for secret [redacted]"
        in (post["text"])
    )
    _assert_no_secret(post["text"])


def _checked_asset(severity: dg.AssetCheckSeverity, passed: bool) -> list[object]:
    @dg.asset(name=f"checked_{severity.value.lower()}_{passed}")
    def checked() -> None:
        return None

    @dg.asset_check(asset=checked, name="rows_reconcile")
    def rows_reconcile() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            passed=passed, severity=severity, description="2 of 2 tenants fail: north-hvac"
        )

    return [checked, rows_reconcile]


@pytest.mark.parametrize(
    ("severity", "passed", "posts"),
    [
        (dg.AssetCheckSeverity.ERROR, False, 1),
        (dg.AssetCheckSeverity.WARN, False, 0),
        (dg.AssetCheckSeverity.ERROR, True, 0),
    ],
)
def test_a_failed_error_check_of_a_successful_run_posts(
    webhook: WebhookReceiver,
    instance: dg.DagsterInstance,
    severity: dg.AssetCheckSeverity,
    passed: bool,
    posts: int,
) -> None:
    asset, check = _checked_asset(severity, passed)
    result = dg.materialize([asset, check], instance=instance)  # type: ignore[list-item]
    assert result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="test",
        dagster_event=result.get_run_success_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    )
    check_failure_alert_sensor(_settings(webhook.url))(context)
    assert len(webhook.posts) == posts
    if posts:
        text = webhook.posts[0]["text"]
        assert text.startswith("*1 ERROR check(s) failed: __ephemeral_asset_job__*")
        assert "checked_error_False / rows_reconcile: 2 of 2 tenants fail: north-hvac" in text


def test_a_stale_tenant_is_told_once_per_episode(
    webhook: WebhookReceiver, instance: dg.DagsterInstance
) -> None:
    # Keys no other test of the module materializes.
    keys = [dg.AssetKey(["servicetitan", "customers"]), dg.AssetKey(["servicetitan", "jobs"])]
    tenants = ["north-hvac", "south-plumbing"]
    start = time.time()
    hour = 3600.0

    def synced(tenant: str, at: float) -> None:
        with freeze_time(at):
            for key in keys:
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(asset_key=key, partition=tenant)
                )

    sensor = stale_data_alert_sensor(_settings(webhook.url), keys, tenants)
    cursor: str | None = None

    def tick(at: float) -> str:
        nonlocal cursor
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        with freeze_time(at):
            skip = sensor(context)
        cursor = context.cursor
        assert isinstance(skip, dg.SkipReason)
        return skip.skip_message or ""

    synced("north-hvac", start)
    synced("south-plumbing", start)
    assert "fresher than 3 h" in tick(start + hour)
    assert webhook.posts == []

    assert "became stale" in tick(start + 4 * hour)
    (post,) = webhook.posts
    text = post["text"]
    assert text.startswith("*Stale ServiceTitan data: north-hvac, south-plumbing*")
    assert "north-hvac: 2 entities older than 3 h (oldest 4.0 h" in text
    assert "customers, jobs" in text
    assert "<http://127.0.0.1:3000/assets/servicetitan|" in text

    # Still stale: nothing more; north synced again, then stale again: told again.
    assert "still stale, already told" in tick(start + 4.5 * hour)
    synced("north-hvac", start + 5 * hour)
    assert "still stale" in tick(start + 5.5 * hour)  # south only, already told
    assert len(webhook.posts) == 1
    tick(start + 9 * hour)
    assert len(webhook.posts) == 2
    assert webhook.posts[1]["text"].startswith("*Stale ServiceTitan data: north-hvac*")


def test_a_webhook_that_is_down_fails_the_tick_within_bounds(
    instance: dg.DagsterInstance,
) -> None:
    @dg.asset
    def broken() -> None:
        raise RuntimeError("boom")

    result = dg.materialize([broken], instance=instance, raise_on_error=False)
    url = f"http://127.0.0.1:{_free_port()}/services/{WEBHOOK_TOKEN}"
    sensor = run_failure_alert_sensor(_settings(url))
    started = time.monotonic()
    with pytest.raises(AlertDeliveryError, match=r"webhook \(127\.0\.0\.1\) could not") as caught:
        sensor(_failure_context(result, instance))
    assert time.monotonic() - started < 30  # the webhook's 25 s deadline, not a hang
    _assert_no_secret(str(caught.value))


def test_no_channel_no_sensor_and_freshness_only_on_the_synced_assets() -> None:
    nothing = AlertSettings.from_env({})
    assert build_alert_sensors(nothing, connections=[NORTH], raw_asset_keys=[]) == []
    names = [
        s.name
        for s in build_alert_sensors(
            _settings("https://hooks.slack.com/services/x"), connections=[NORTH], raw_asset_keys=[]
        )
    ]
    assert names == [
        "servicetitan_run_failure_alert",
        "servicetitan_check_failure_alert",
        "servicetitan_stale_data_alert",
    ]
    entities = [get_entity("customers"), get_entity("jobs")]
    (assets,) = with_freshness_policy(
        build_ingestion_assets(entities, tenants=[NORTH.name]),
        [dg.AssetKey(["servicetitan", "customers"])],
        hours=2,
    )
    policies = {spec.key.path[-1]: spec.freshness_policy for spec in assets.specs}
    assert policies["jobs"] is None
    assert policies["customers"] == dg.FreshnessPolicy.time_window(
        fail_window=dt.timedelta(hours=2)
    )


def test_the_smtp_password_may_not_be_a_tenant_credential() -> None:
    settings = AlertSettings.from_env(
        {
            "SERVICETITAN_ALERT_SMTP_HOST": "smtp.example.com",
            "SERVICETITAN_ALERT_EMAIL_FROM": "pipeline@example.com",
            "SERVICETITAN_ALERT_EMAIL_TO": "ops@example.com",
            "SERVICETITAN_ALERT_SMTP_USER": "pipeline",
            "SERVICETITAN_ALERT_SMTP_PASSWORD_ENV": "NORTH_ALERTS_CLIENT_SECRET",
        }
    )
    with pytest.raises(ValueError, match="SERVICETITAN_ALERT_SMTP_PASSWORD_ENV names NORTH_ALERTS"):
        build_alert_sensors(settings, connections=[NORTH], raw_asset_keys=[])


def test_through_dagsters_sensor_ticks_a_failed_run_posts_once(
    webhook: WebhookReceiver, instance: dg.DagsterInstance
) -> None:
    @dg.asset
    def broken() -> None:
        raise RuntimeError("north-hvac: invoices: HTTP 500")

    sensor = run_failure_alert_sensor(_settings(webhook.url))

    def tick(cursor: str | None) -> str | None:
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        return sensor.evaluate_tick(context).cursor

    cursor = tick(None)  # the first tick only starts the cursor
    dg.materialize([broken], instance=instance, raise_on_error=False)
    cursor = tick(cursor)
    cursor = tick(cursor)
    (post,) = webhook.posts
    assert "step broken: RuntimeError: north-hvac: invoices: HTTP 500" in post["text"]
