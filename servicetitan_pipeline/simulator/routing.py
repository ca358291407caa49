"""Which simulated tenant answers a request, when one server serves several.

ServiceTitan issues client credentials per tenant (one app key may serve many tenants), so the
token endpoint picks the tenant by the client id, and the API by the ``/tenant/{id}/`` segment
of the path, whose tenant then checks the token and app key as a lone simulator does. A single
simulator is a one-entry table: every request falls to it, and it answers as it always has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .api import ApiProblem

if TYPE_CHECKING:
    from .server import Simulator

# The control endpoints' query parameter that picks a tenant (the first one without it).
TENANT_PARAMETER = "tenant"


class TenantRoutes:
    """The simulators one server serves, by tenant id and by client id (in config order).

    Raises:
        ValueError: no simulator, or two with the same tenant id or client id (a token request
            or an API path could not tell them apart).
    """

    def __init__(self, simulators: Sequence[Simulator]) -> None:
        if not simulators:
            raise ValueError("a simulator server needs at least one tenant")
        self.simulators = tuple(simulators)
        self.first = simulators[0]
        self.by_tenant: dict[int, Simulator] = {}
        self.by_client: dict[str, Simulator] = {}
        for sim in simulators:
            tenant_id, client_id = sim.config.tenant_id, sim.config.client_id
            if tenant_id in self.by_tenant:
                raise ValueError(f"two simulated tenants have the tenant id {tenant_id}")
            if client_id in self.by_client:
                raise ValueError(f"two simulated tenants have the client id {client_id!r}")
            self.by_tenant[tenant_id] = sim
            self.by_client[client_id] = sim

    def for_client(self, client_id: str | None) -> Simulator:
        """The tenant a token request is for: the one whose client id it names.

        An unknown (or missing) client id goes to the first tenant, which refuses it as
        ServiceTitan does (``invalid_client``, or ``invalid_request`` without one): one code
        path for one tenant and many.
        """
        return self.by_client.get(client_id or "", self.first)

    def for_control(self, query: Mapping[str, str]) -> Simulator:
        """The tenant a ``/_simulator/`` request controls: ``?tenant=<id>``, else the first.

        Raises:
            ApiProblem: 404 naming the tenants served, for an id not among them.
        """
        raw = query.get(TENANT_PARAMETER)
        if raw is None or raw == "":
            return self.first
        sim = self._served(raw)
        if sim is None:
            known = ", ".join(str(t) for t in self.by_tenant)
            raise ApiProblem(404, f"No simulated tenant {raw}; tenants served: {known}")
        return sim

    def authorize(self, tenant: str, authorization: str | None, app_key: str | None) -> Simulator:
        """The tenant of an API path's ``tenant`` segment, once its token and app key pass.

        Raises:
            ApiProblem: 401 for a missing, unknown or expired token or a wrong app key; 403 for
                a token another tenant's credentials got (it grants no access to this tenant)
                and for a tenant not served here; 400 for a segment that is not a number.
        """
        sim = self._served(tenant)
        if sim is None:
            # Not a tenant served here: the token's own tenant checks it (401 if it is bad)
            # and then refuses the path (400 or 403), exactly as a lone simulator does.
            issuer = self._issuer(authorization, app_key, besides=None) or self.first
            issuer.api.check_auth(authorization, app_key)
            issuer.api.check_tenant(tenant)
            return issuer  # pragma: no cover - check_tenant refused the foreign tenant
        try:
            sim.api.check_auth(authorization, app_key)
        except ApiProblem as refused:
            # A valid token, issued to another tenant's client: ServiceTitan's tokens are
            # per tenant, and the answer is the one for a tenant the caller cannot reach
            # (a 401 would only make a client refresh a token that can never work here).
            if refused.status == 401 and self._issuer(authorization, app_key, besides=sim):
                raise ApiProblem(
                    403, f"Forbidden: this application has no access to tenant {tenant}"
                ) from None
            raise
        return sim

    def _served(self, raw: str) -> Simulator | None:
        """The simulator of tenant id ``raw`` (text), or None if not a tenant served here."""
        number = _tenant_number(raw)
        return None if number is None else self.by_tenant.get(number)

    def _issuer(
        self, authorization: str | None, app_key: str | None, *, besides: Simulator | None
    ) -> Simulator | None:
        """The tenant (other than ``besides``) that accepts this token and app key, if any."""
        for sim in self.simulators:
            if sim is besides:
                continue
            try:
                sim.api.check_auth(authorization, app_key)
            except ApiProblem:
                continue
            return sim
        return None


def _tenant_number(raw: str) -> int | None:
    """``raw`` as a tenant id, or None when it is not a plain (ASCII) number."""
    return int(raw) if raw.isascii() and raw.isdigit() else None
