"""Helpers of the simulator's tests: an authenticated HTTP client for a running simulator."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from servicetitan_pipeline import openapi
from servicetitan_pipeline.entities import Entity
from servicetitan_pipeline.simulator import Simulator


def record_key(entity: Entity, record: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies a record of ``entity`` (its ``id``, or the fields ``entity.key`` names)."""
    return tuple(record[field] for field in entity.key)


REPO = Path(__file__).resolve().parents[2]


def official_spec_dir() -> Path:
    """Where the official ServiceTitan OpenAPI documents are: ``SERVICETITAN_OPENAPI_DIR``,
    else ``shared/servicetitan-openapi`` beside the repository or beside the folder of
    worktrees it is in (``/work/shared`` for ``/work/main`` and ``/work/wt/<name>`` alike).
    The path may not exist: tests that need the documents skip then."""
    configured = os.environ.get("SERVICETITAN_OPENAPI_DIR")
    if configured:
        return Path(configured)
    candidates = [base / "shared" / "servicetitan-openapi" for base in REPO.parents[:2]]
    return next((c for c in candidates if c.is_dir()), candidates[0])


def envelope_item_schema(module: str, envelope: str) -> str:
    """The component schema of the records in a response envelope's ``data`` (most envelopes
    are named ``ExportResponse_Of_<schema>``; installed equipment's is not)."""
    data = openapi.module(module).schema(envelope)["properties"]["data"]
    ref: str = data["items"]["$ref"]
    return ref.rpartition("/")[2]


class Api:
    """An httpx client that fetches a token and sends it (and the app key) on every call."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.http = httpx.Client(base_url=sim.base_url, timeout=30)
        self.token = self.new_token()

    def new_token(self) -> str:
        c = self.sim.config
        response = self.http.post(
            "/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": c.client_id,
                "client_secret": c.client_secret,
            },
        )
        response.raise_for_status()
        return response.json()["access_token"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "ST-App-Key": self.sim.config.app_key}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params, headers=self.headers)

    def list_all(self, path: str, page_size: int = 5000, **params: Any) -> list[dict]:
        out: list[dict] = []
        page = 1
        while True:
            body = self.get(path, page=page, pageSize=page_size, **params).json()
            out.extend(body["data"])
            if not body["hasMore"]:
                return out
            page += 1

    def export_all(
        self, path: str, start: str | None = None, **extra: Any
    ) -> tuple[list[dict], str]:
        """Every record of an export from ``start``, and the final continuation token
        (``extra``: query parameters sent with every request, e.g. an entity's export_params)."""
        out: list[dict] = []
        token = start
        while True:
            params = {"from": token} if token is not None else {}
            response = self.get(path, **params, **extra)
            assert response.status_code == 200, response.text
            body = response.json()
            out.extend(body["data"])
            token = body["continueFrom"]
            if not body["hasMore"]:
                return out, token

    def close(self) -> None:
        self.http.close()
