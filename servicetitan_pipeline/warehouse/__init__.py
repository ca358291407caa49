"""The DuckDB raw layer, ``raw_servicetitan``: its contract and its writer (DuckDB only).

Nothing here knows HTTP or Dagster, so it can be unit-tested on a temporary file. One module
per job:

* ``schema``: schema, table and column names, DDL, and the staged page the writer consumes
  (the raw-layer contract that checks, demo and the dbt test fixtures import), and
  ``RecordFields``: which record fields an entity is keyed (``id``, ``id_2``), ordered
  (``modified_on``) and flagged (``active``) by;
* ``session``: DuckDB session settings of a writer (time zone, memory and thread bounds,
  checkpoint);
* ``state``: cursors, the whole cursor protocol (kinds, ``KEEP_CURSOR``);
* ``rejects``: records and bodies that could not be loaded;
* ``upsert``: the version rule, one page in a transaction, full refresh;
* ``batch``: several pages per transaction (``PageBatchWriter``);
* ``writer``: ``EntityWriter``, all of the above for one entity sync (the engine's interface);
* ``lake``: the DuckLake warehouse (``SERVICETITAN_WAREHOUSE=ducklake``): its settings, its
  connections, and the replay of a commit that conflicted with another writer's; every module
  above asks ``lake.is_lake_connection`` once and writes the lake's dialect there (no keys:
  MERGE by the same version rule; cursors appended behind a ``_sync_state`` view);
* ``locking``: one writer process at a time per DuckDB file (not for a lake);
* ``opening``: opening the file, waiting only for another process's lock, every other failure
  named (``WarehouseFileError``).
"""
