"""Dagster only: ingestion assets, checks, dbt assets, resources, jobs, schedules, definitions.

Nothing in the library below (client, sync, warehouse, simulator) imports this package.
"""
