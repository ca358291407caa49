"""Dagster assets: ingestion (one per ServiceTitan entity), dbt models, asset checks."""
