"""Telling the operator: alert sensors, and the freshness policy of every raw asset.

* :func:`run_failure_alert_sensor` -- a failed run posts the job, the run, its failed steps
  and each error's first line (which names the tenants and entities), with the run's link;
* :func:`check_failure_alert_sensor` -- a run that succeeded but whose ERROR-severity checks
  failed (checks do not fail a run) says which; a failed run's alert names them too;
* :func:`stale_data_alert_sensor` -- a tenant whose raw data of a synced entity is older than
  ``SERVICETITAN_FRESHNESS_HOURS`` is told once per stale episode (per tenant and entity,
  from each partition's last materialization);
* :func:`with_freshness_policy` -- the same expectation as a Dagster ``FreshnessPolicy`` on
  each raw asset, which the UI shows (Dagster evaluates it per asset: its latest partition).

Delivery (webhook, email) is :mod:`servicetitan_pipeline.alerts`; with neither configured,
:func:`build_alert_sensors` returns no sensor and nothing changes. Secrets are read when an
alert is sent (never stored in a sensor, its cursor or the event log) and are redacted from
every message: the tenants' client secrets and app keys, the webhook URL, the SMTP password.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Sequence

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster._time import get_current_timestamp
from dagster_shared.error import SerializableErrorInfo

from servicetitan_pipeline.alerts import (
    Alert,
    AlertSettings,
    AlertSettingsError,
    Delivery,
    Notifier,
    StaleState,
    error_lines,
    evaluate_staleness,
    first_line,
    stale_alert,
)
from servicetitan_pipeline.client.connections import TenantConnection
from servicetitan_pipeline.config import ALERT_SMTP_PASSWORD_ENV_ENV

__all__ = [
    "CHECK_FAILURE_SENSOR_NAME",
    "RUN_FAILURE_SENSOR_NAME",
    "STALE_DATA_SENSOR_NAME",
    "AlertDeliveryError",
    "build_alert_sensors",
    "check_failure_alert_sensor",
    "run_failure_alert_sensor",
    "stale_data_alert_sensor",
    "with_freshness_policy",
]

RUN_FAILURE_SENSOR_NAME = "servicetitan_run_failure_alert"
CHECK_FAILURE_SENSOR_NAME = "servicetitan_check_failure_alert"
STALE_DATA_SENSOR_NAME = "servicetitan_stale_data_alert"
# How often staleness is looked at: a fraction of any sensible freshness window.
STALE_SENSOR_INTERVAL_SECONDS = 300
# A failed run's alert names at most this many failed steps (a run has one or two).
MAX_STEPS_NAMED = 10

# Returns the secret values to redact, read when an alert is sent.
SecretSource = Callable[[], Iterable[str | None]]


class AlertDeliveryError(Exception):
    """An alert could not be delivered to every channel: the sensor's tick shows it."""


def connection_secrets(connections: Sequence[TenantConnection]) -> SecretSource:
    """The tenants' client secrets and app keys, read from the environment at each call."""
    names = sorted({name for c in connections for name in (c.client_secret_env, c.app_key_env)})

    def read() -> list[str | None]:
        return [os.environ.get(name) for name in names]

    return read


def _send(settings: AlertSettings, secrets: SecretSource, alert: Alert) -> list[Delivery]:
    return Notifier.of(settings, secrets()).send(alert)


def _raise_for_failures(alert: Alert, deliveries: Sequence[Delivery]) -> None:
    """Raise :class:`AlertDeliveryError` naming each channel that failed (the tick shows it)."""
    failed = [d for d in deliveries if not d.ok]
    if failed:
        raise AlertDeliveryError(
            f"{alert.kind} alert not delivered: "
            + "; ".join(f"{d.channel} {d.detail} ({d.attempts} attempt(s))" for d in failed)
        )


def _deliver(settings: AlertSettings, secrets: SecretSource, alert: Alert) -> list[Delivery]:
    """Send ``alert``; raise :class:`AlertDeliveryError` naming each channel that failed."""
    deliveries = _send(settings, secrets, alert)
    _raise_for_failures(alert, deliveries)
    return deliveries


def _failed_error_checks(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """``asset / check: description`` for each ERROR-severity check that failed in the run."""
    records = instance.get_records_for_run(
        run_id=run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    failed = []
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event is not None else None
        if not isinstance(evaluation, dg.AssetCheckEvaluation):
            continue
        if evaluation.passed or evaluation.severity != dg.AssetCheckSeverity.ERROR:
            continue
        where = f" [{evaluation.partition}]" if evaluation.partition else ""
        what = first_line(evaluation.description) or "failed"
        failed.append(
            f"{evaluation.asset_key.to_user_string()} / {evaluation.check_name}{where}: {what}"
        )
    return failed


def _users_error(error: SerializableErrorInfo | None) -> SerializableErrorInfo | None:
    """The error the step's code raised: Dagster wraps an exception from user code in its own
    ("Error occurred while executing op ...") with the real one as the cause; a ``Failure``
    is not wrapped."""
    while (
        error is not None
        and error.cause is not None
        and error.cls_name
        in {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}
    ):
        error = error.cause
    return error


def _step_failures(events: Sequence[DagsterEvent]) -> list[str]:
    lines = []
    for event in events[:MAX_STEPS_NAMED]:
        error = _users_error(getattr(event.event_specific_data, "error", None))
        message = error_lines(error.message if error is not None else None) or ["failed"]
        lines.append(f"step {event.step_key}: {message[0]}")
        lines += [f"  {line}" for line in message[1:]]
    if len(events) > MAX_STEPS_NAMED:
        lines.append(f"... and {len(events) - MAX_STEPS_NAMED} more failed steps")
    return lines


def _run_tenants(run: dg.DagsterRun) -> str | None:
    tags = run.tags
    if PARTITION_NAME_TAG in tags:
        return tags[PARTITION_NAME_TAG]
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start} to {end}"
    return None


def run_failure_alert(context: dg.RunFailureSensorContext, settings: AlertSettings) -> Alert:
    """The alert for a failed run: job, run ID, tenants, failed steps with their error's first
    line, failed ERROR checks, and the run's link."""
    run = context.dagster_run
    lines = [f"job {run.job_name}, run {run.run_id}"]
    tenants = _run_tenants(run)
    if tenants:
        lines.append(f"tenants: {tenants}")
    steps = _step_failures(context.get_step_failure_events())
    if steps:
        lines += steps
    else:
        # The run failed outside any step (the run worker died, a bad run config).
        lines.append(f"error: {first_line(context.failure_event.message) or 'run failed'}")
    checks = _failed_error_checks(context.instance, run.run_id)
    lines += [f"check failed: {line}" for line in checks]
    return Alert(
        kind="run_failure",
        title=f"Run failed: {run.job_name}",
        lines=tuple(lines),
        link=settings.run_url(run.run_id),
        link_text="Open the run in Dagster",
    )


def run_failure_alert_sensor(
    settings: AlertSettings, secrets: SecretSource = list
) -> dg.SensorDefinition:
    """Posts every failed run of this code location's jobs (see :func:`run_failure_alert`)."""

    @dg.run_failure_sensor(
        name=RUN_FAILURE_SENSOR_NAME,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Notifies the alert webhook and/or email of every failed run: the job, "
        "the run, the failed steps and their errors' first lines (tenants and entities "
        "named). Defined because SERVICETITAN_ALERT_WEBHOOK_URL or "
        "SERVICETITAN_ALERT_SMTP_HOST is set.",
    )
    def _on_failure(context: dg.RunFailureSensorContext) -> None:
        deliveries = _deliver(settings, secrets, run_failure_alert(context, settings))
        context.log.info(
            f"run {context.dagster_run.run_id[:8]}: alert sent to "
            + ", ".join(d.channel for d in deliveries)
        )

    return _on_failure


def check_failure_alert_sensor(
    settings: AlertSettings, secrets: SecretSource = list
) -> dg.SensorDefinition:
    """Posts the failed ERROR-severity checks of each run that succeeded.

    A failed check does not fail its run (none is blocking), so the run-failure sensor does not
    see it; a failed run's alert already lists its failed checks.
    """

    @dg.run_status_sensor(
        name=CHECK_FAILURE_SENSOR_NAME,
        run_status=dg.DagsterRunStatus.SUCCESS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Notifies the alert webhook and/or email when a run that succeeded has "
        "failed ERROR-severity asset checks (which do not fail the run), naming each.",
    )
    def _on_success(context: dg.RunStatusSensorContext) -> dg.SkipReason | None:
        run = context.dagster_run
        failed = _failed_error_checks(context.instance, run.run_id)
        if not failed:
            return None
        lines = [f"job {run.job_name}, run {run.run_id}", *failed]
        alert = Alert(
            kind="check_failure",
            title=f"{len(failed)} ERROR check(s) failed: {run.job_name}",
            lines=tuple(lines),
            link=settings.run_url(run.run_id),
            link_text="Open the run in Dagster",
        )
        deliveries = _deliver(settings, secrets, alert)
        context.log.info(
            f"run {run.run_id[:8]}: {len(failed)} failed check(s) sent to "
            + ", ".join(d.channel for d in deliveries)
        )
        return None

    return _on_success


def _last_syncs(
    instance: dg.DagsterInstance, keys: Sequence[dg.AssetKey], tenants: Sequence[str]
) -> dict[tuple[str, str], float | None]:
    """(tenant, entity) -> the time of its partition's latest materialization (None: never)."""
    storage = instance.event_log_storage
    found: dict[tuple[str, str], float | None] = {}
    for key in keys:
        entity = key.path[-1]
        latest = storage.get_latest_storage_id_by_partition(
            key, DagsterEventType.ASSET_MATERIALIZATION, partitions=set(tenants)
        )
        times: dict[str, float] = {}
        if latest:
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, storage_ids=list(latest.values())),
                limit=len(latest),
            ).records
            times = {r.partition_key: r.timestamp for r in records if r.partition_key}
        for tenant in tenants:
            found[(tenant, entity)] = times.get(tenant)
    return found


def stale_data_alert_sensor(
    settings: AlertSettings,
    asset_keys: Sequence[dg.AssetKey],
    tenants: Sequence[str],
    secrets: SecretSource = list,
) -> dg.SensorDefinition:
    """Tells once per stale episode when a tenant's raw data is older than its freshness.

    Every :data:`STALE_SENSOR_INTERVAL_SECONDS`, each (tenant, entity) of ``asset_keys`` x
    ``tenants`` is compared with ``settings.freshness_hours``; the pairs that became stale
    since the last tick are sent in one alert, a line per tenant. The cursor remembers what
    was told, so a pair that stays stale is not told again until it was synced (fresh) in
    between. A tenant never synced counts from when the sensor first saw it missing.
    """
    keys = list(asset_keys)
    hours = settings.freshness_hours
    link = f"{settings.ui_base_url}/assets/servicetitan" if settings.ui_base_url else None

    @dg.sensor(
        name=STALE_DATA_SENSOR_NAME,
        minimum_interval_seconds=STALE_SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Notifies the alert webhook and/or email once when a tenant's raw data of "
        f"a synced entity becomes older than {hours:g} h (SERVICETITAN_FRESHNESS_HOURS), "
        "per tenant and entity, from each tenant's last materialization; again only after it "
        "was fresh in between.",
    )
    def _stale(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        state = StaleState.from_json(context.cursor)
        evaluation = evaluate_staleness(
            _last_syncs(context.instance, keys, tenants),
            now=get_current_timestamp(),
            max_age_hours=hours,
            state=state,
        )
        if evaluation.newly_stale:
            alert = stale_alert(evaluation.newly_stale, max_age_hours=hours, link=link)
            deliveries = _send(settings, secrets, alert)
            # Told once a channel took it; when none did, the cursor stays where it was and
            # the next tick tries again. Either way a failed channel fails the tick, shown.
            if any(d.ok for d in deliveries):
                context.update_cursor(evaluation.state.to_json())
            _raise_for_failures(alert, deliveries)
            return dg.SkipReason(
                f"told: {len(evaluation.newly_stale)} (tenant, entity) pair(s) became stale"
            )
        context.update_cursor(evaluation.state.to_json())
        if evaluation.stale:
            return dg.SkipReason(f"{len(evaluation.stale)} pair(s) still stale, already told")
        return dg.SkipReason(f"every tenant's raw data is fresher than {hours:g} h")

    return _stale


def with_freshness_policy(
    assets: Sequence[dg.AssetsDefinition], keys: Iterable[dg.AssetKey], hours: float
) -> list[dg.AssetsDefinition]:
    """``assets`` with a time-window ``FreshnessPolicy`` of ``hours`` on each of ``keys``.

    The UI shows each raw asset's freshness from it (Dagster's freshness daemon evaluates it
    against the asset's latest materialization, of any tenant); per tenant, the stale-data
    sensor is the one that tells.
    """
    chosen = set(keys)
    policy = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=hours))

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        return dg.apply_freshness_policy(spec, policy) if spec.key in chosen else spec

    return [asset.map_asset_specs(apply) for asset in assets]


def build_alert_sensors(
    settings: AlertSettings,
    *,
    connections: Sequence[TenantConnection],
    raw_asset_keys: Sequence[dg.AssetKey],
) -> list[dg.SensorDefinition]:
    """The alert sensors ``settings`` call for: none when no webhook and no SMTP is set."""
    if not settings.enabled:
        return []
    credentials = {v for c in connections for v in c.credential_variables().values()}
    if settings.smtp is not None and settings.smtp.password_env in credentials:
        # The SMTP login would hand a tenant's ServiceTitan credential to the mail server.
        raise AlertSettingsError(
            f"{ALERT_SMTP_PASSWORD_ENV_ENV} names {settings.smtp.password_env}, which holds a "
            "tenant's ServiceTitan credential: name the variable of the SMTP password"
        )
    secrets = connection_secrets(connections)
    tenants = [c.name for c in connections]
    return [
        run_failure_alert_sensor(settings, secrets),
        check_failure_alert_sensor(settings, secrets),
        stale_data_alert_sensor(settings, raw_asset_keys, tenants, secrets),
    ]
