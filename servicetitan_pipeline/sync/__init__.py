"""The sync engine, without Dagster: page decoding, prefetch, export and list cursor rules."""
