"""The ``/_simulator/`` control endpoints: the simulator's Python controls over HTTP.

``POST /_simulator/advance {"hours": N}``, ``GET /_simulator/truth/{entity}``,
``POST|GET /_simulator/faults``, ``POST /_simulator/expire-tokens``, ``GET /_simulator/status``
control one tenant: the one ``?tenant=<id>`` names, else the first the server serves.
``GET /_simulator/tenants`` lists the tenants served (ids and client ids, no secrets).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

from .api import ApiProblem, bad_request
from .config import FaultConfig

if TYPE_CHECKING:
    from .server import Simulator

PREFIX = "/_simulator/"


def answer_control(sim: Simulator, method: str, path: str, body: bytes) -> bytes:
    """The JSON answer (status 200) of a control request.

    Raises:
        ApiProblem: 400 for a bad body, 404 for an unknown control or entity.
    """
    parts = path.strip("/").split("/")
    try:
        payload: Any = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        raise ApiProblem(400, "The request body is not valid JSON.") from None
    if parts == ["_simulator", "advance"] and method == "POST":
        hours = payload.get("hours", 24) if isinstance(payload, dict) else None
        if not isinstance(hours, int | float) or isinstance(hours, bool) or hours < 0:
            raise bad_request("hours", "hours must be a non-negative number.")
        return orjson.dumps(sim.advance(hours))
    if parts[:2] == ["_simulator", "truth"] and len(parts) == 3 and method == "GET":
        try:
            records = sim.truth(parts[2])
        except KeyError as exc:
            raise ApiProblem(404, str(exc.args[0])) from None
        return orjson.dumps(records)
    if parts == ["_simulator", "faults"] and method == "POST":
        if not isinstance(payload, dict):
            raise ApiProblem(400, "The faults body must be a JSON object.")
        try:
            faults = FaultConfig.from_dict(payload)
        except (TypeError, ValueError) as exc:
            raise ApiProblem(400, str(exc)) from None
        sim.set_faults(faults)
        return orjson.dumps(faults.to_dict())
    if parts == ["_simulator", "faults"] and method == "GET":
        return orjson.dumps(sim.faults.to_dict())
    if parts == ["_simulator", "expire-tokens"] and method == "POST":
        return orjson.dumps({"expired": sim.expire_tokens()})
    if parts == ["_simulator", "status"] and method == "GET":
        return orjson.dumps(
            {
                "tenantId": sim.config.tenant_id,
                "clock": sim.clock,
                "records": {n: len(s) for n, s in sim.world.stores.items()},
                "stats": dict(sim.stats),
            }
        )
    raise ApiProblem(404, "Not Found")


def tenants_body(simulators: Iterable[Simulator]) -> bytes:
    """``GET /_simulator/tenants``: each tenant's id, client id and clock, in order.

    No secret or app key: the list is for finding a tenant, not for logging in.
    """
    return orjson.dumps(
        [
            {
                "tenantId": sim.config.tenant_id,
                "clientId": sim.config.client_id,
                "clock": sim.clock,
            }
            for sim in simulators
        ]
    )
