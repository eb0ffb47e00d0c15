"""The collector: verified meter readings from the chain into a database, with their evidence.

Modules: db (the schema on SQLite and PostgreSQL), source (where blocks come from), evidence (the
checks and the stored proof bundle), ingest (`lightmeter collect`), reverify (`lightmeter
collector verify`), export (`lightmeter collector export`), bench (ingest throughput), web (the
read-only page, `lightmeter collector serve`). docs/collector.md describes them.
"""


def collect(rpc_url, trust, fleet_entries, db_url, **kw):
    """Collect the readings of fleet_entries from the node at rpc_url into db_url; the summary dict.

    See lightmeter_host.collector.ingest.collect for the options."""
    from lightmeter_host.collector import ingest
    return ingest.collect(rpc_url, trust, fleet_entries, db_url, **kw)
