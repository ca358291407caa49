"""Which tenants' raw data is stale, and which of them to tell about: once per stale episode.

A (tenant, entity) pair is stale when its last successful sync is older than the expected
freshness. An alert goes out when a pair *becomes* stale; while it stays stale nothing more is
sent, and once it is synced again (fresh) the episode ends, so a later staleness is told
again. The state that remembers this is a small JSON document (a sensor's cursor); nothing
here knows Dagster.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from servicetitan_pipeline.alerts.messages import Alert

# (tenant, entity) -> when it last synced (UTC epoch seconds), or None when it never did.
LastSyncs = Mapping[tuple[str, str], float | None]


@dataclass(frozen=True)
class StaleState:
    """What the last evaluation knew.

    Attributes:
        notified: the stale pairs already told about, ``"tenant/entity"``.
        first_missing: pairs never synced -> when they were first seen missing (epoch s):
            a tenant added to the connections file is not stale before it had its chance.
    """

    notified: frozenset[str] = frozenset()
    first_missing: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        """The state as the sensor's cursor holds it."""
        return json.dumps(
            {"notified": sorted(self.notified), "first_missing": dict(self.first_missing)},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | None) -> StaleState:
        """The state a cursor holds; a missing or unreadable cursor is a fresh start."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(
                frozenset(str(k) for k in data.get("notified", [])),
                {str(k): float(v) for k, v in data.get("first_missing", {}).items()},
            )
        except (ValueError, TypeError, AttributeError):
            return cls()


@dataclass(frozen=True)
class StalePair:
    """One stale (tenant, entity): its last sync (None: never) and its age in hours."""

    tenant: str
    entity: str
    last_sync: float | None
    age_hours: float


@dataclass(frozen=True)
class StaleEvaluation:
    """The pairs that became stale now (to tell), all stale pairs, and the next state."""

    newly_stale: tuple[StalePair, ...]
    stale: tuple[StalePair, ...]
    state: StaleState


def _key(tenant: str, entity: str) -> str:
    return f"{tenant}/{entity}"


def evaluate_staleness(
    last_syncs: LastSyncs, *, now: float, max_age_hours: float, state: StaleState
) -> StaleEvaluation:
    """Compare every pair's last sync with ``now``; what became stale since ``state``."""
    limit = max_age_hours * 3600
    stale: list[StalePair] = []
    first_missing: dict[str, float] = {}
    for (tenant, entity), last in sorted(last_syncs.items()):
        key = _key(tenant, entity)
        if last is None:
            since = state.first_missing.get(key, now)
            first_missing[key] = since
            if now - since > limit:
                stale.append(StalePair(tenant, entity, None, (now - since) / 3600))
        elif now - last > limit:
            stale.append(StalePair(tenant, entity, last, (now - last) / 3600))
    stale_keys = {_key(p.tenant, p.entity) for p in stale}
    newly = tuple(p for p in stale if _key(p.tenant, p.entity) not in state.notified)
    # Pairs synced again leave `notified`: their episode is over.
    return StaleEvaluation(newly, tuple(stale), StaleState(frozenset(stale_keys), first_missing))


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "never synced"
    moment = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return f"last synced {moment:%Y-%m-%d %H:%M} UTC"


def stale_alert(
    pairs: Sequence[StalePair], *, max_age_hours: float, link: str | None = None
) -> Alert:
    """One alert for pairs that became stale: a line per tenant, its entities named."""
    by_tenant: dict[str, list[StalePair]] = defaultdict(list)
    for pair in pairs:
        by_tenant[pair.tenant].append(pair)
    lines = []
    for tenant, tenant_pairs in by_tenant.items():
        oldest = max(tenant_pairs, key=lambda p: p.age_hours)
        names = ", ".join(p.entity for p in tenant_pairs)
        lines.append(
            f"{tenant}: {len(tenant_pairs)} entit{'y' if len(tenant_pairs) == 1 else 'ies'} "
            f"older than {max_age_hours:g} h (oldest {oldest.age_hours:.1f} h, "
            f"{_when(oldest.last_sync)}): {names}"
        )
    tenants = ", ".join(by_tenant)
    return Alert(
        kind="stale_data",
        title=f"Stale ServiceTitan data: {tenants}",
        lines=tuple(lines),
        link=link,
        link_text="Open the assets in Dagster",
    )
