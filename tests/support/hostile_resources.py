"""The pipeline's Dagster resources pointed at a :class:`HostileServer`, for asset tests."""

from __future__ import annotations

from hostile_server import HostileServer

from servicetitan_pipeline.defs.resources import ServiceTitanResource


def hostile_resource(server: HostileServer) -> ServiceTitanResource:
    """A ``ServiceTitanResource`` for ``server``'s tenant and credentials, its rate limiter off
    (the hostile server has no limit to respect, and tests should not wait on one)."""
    settings = server.connection_settings()
    return ServiceTitanResource(
        name="hostile",
        environment="integration",
        tenant_id=str(server.tenant_id),
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        app_key=settings.app_key,
        api_base_url=server.base_url,
        auth_url=server.auth_url,
        rate_limit_per_second=None,
    )
