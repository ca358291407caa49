"""Rejected response bodies are committed on their own."""

from __future__ import annotations

from warehouse_helpers import T1

from servicetitan_pipeline.warehouse.rejects import record_rejected_response


def test_rejected_response_committed(conn):
    record_rejected_response(
        conn,
        entity="jobs",
        tenant_id=T1,
        connection_name="main",
        reason="invalid JSON after retries",
        body="<html>oops",
        request="GET /jpm/v2/tenant/1001/export/jobs?from=abc",
    )
    assert conn.execute(
        "SELECT entity, payload, request FROM raw_servicetitan._rejected"
    ).fetchall() == [("jobs", "<html>oops", "GET /jpm/v2/tenant/1001/export/jobs?from=abc")]
