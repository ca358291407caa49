"""The sync engine, without Dagster: ServiceTitan pages -> the raw layer.

* ``pages``: a response body (or parsed records) -> ``PreparedPage`` staging columns;
* ``prefetch``: the background thread that downloads the next page while one is written;
* ``engine``: ``sync_entity``, the export and list cursor rules, full refresh, ``SyncResult``.
"""
