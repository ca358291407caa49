"""servicetitan-pipeline: ServiceTitan -> DuckDB ELT with Dagster and dbt."""

__version__ = "0.1.0"
