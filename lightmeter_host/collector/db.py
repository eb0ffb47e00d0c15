"""The collector's database: one schema on SQLite and on PostgreSQL (docs/collector.md).

`open_db(url)` takes `sqlite:///ABS/PATH.db` (sqlite3, WAL journal) or `postgresql://...`
(psycopg 3; `postgresql:///dbname?host=/socket/dir` too) and creates the tables if absent (the
collector). Readers open with read_only=True, writers of an existing database with create=False:
then nothing is created and a database without the collector's tables, or of a schema version
this code does not know, is refused with NotCollectorDatabase.
Rows go in and come out as plain dicts. Every write is one transaction; a row that breaks a
UNIQUE constraint raises Duplicate and nothing of its batch is stored.

Tables: readings, rejections, gaps (the shared contract, read by the web page), and the
collector's own: state (resume checkpoint, trust anchor), checkpoints (proven sealer-set
changes, for offline re-verification) and devices (the fleet entries the readings were
checked against).
"""

import json
import operator
import threading

SCHEMES = ("sqlite:///", "postgresql://", "postgres://")

READING_COLUMNS = ("meter_id", "address", "seq", "obis", "value", "mantissa", "scale", "unit", "ts",
                   "clock", "status", "block_number", "tx_index", "tx_hash", "reading", "evidence",
                   "verified", "collected_at", "batch_tx", "leaf_index")
REJECTION_COLUMNS = ("meter_id", "address", "seq", "block_number", "tx_hash", "kind", "reason",
                     "collected_at")
GAP_COLUMNS = ("meter_id", "address", "after_seq", "before_seq", "block_number")
DEVICE_COLUMNS = ("address", "meter_id", "public_key", "suite")
# schema 2: batch-anchored readings (proto/batch.md); the block's header and signatures once per
# block, each batch's transaction, receipt, proofs and leaf hashes once per batch
BLOCK_COLUMNS = ("block_number", "header", "sealers")
BATCH_COLUMNS = ("tx_hash", "block_number", "tx_index", "root", "count", "submitter", "registry", "tx",
                 "receipt", "leaves", "state", "kind", "reason", "attempts", "readings", "collected_at")
# several workers on one database: one resume point per block range (ingest.collect_range)
RANGE_COLUMNS = ("first_block", "last_block", "checkpoint", "worker", "updated_at")
# rejection kinds counted as duplicates in meters(); every other kind counts as rejected
DUPLICATE_KINDS = ("duplicate", "replay")
# what readings() returns, in this order
READING_VIEW = ("meter_id", "seq", "obis", "value", "mantissa", "scale", "unit", "ts", "clock", "status",
                "block_number", "tx_hash", "verified")


_CONVERTED = ("verified", "reading", "leaves")  # columns whose Python value _value adapts
COPY_ROWS = 64  # PostgreSQL: this many rows or more go in by COPY
# PostgreSQL types of the readings columns (as _schema makes them), for COPY in binary: no text
# formatting here and no parsing in the server, the reading's bytes not hex-escaped both ways
# (bench/RESULTS.md, "Collector ingest of a fleet's batches")
READING_PG_TYPES = {"meter_id": "text", "address": "text", "seq": "int8", "obis": "text", "value": "float8",
                    "mantissa": "int8", "scale": "int4", "unit": "text", "ts": "int8", "clock": "int4",
                    "status": "int4", "block_number": "int8", "tx_index": "int4", "tx_hash": "text",
                    "reading": "bytea", "evidence": "text", "verified": "bool", "collected_at": "int8",
                    "batch_tx": "text", "leaf_index": "int4"}


def ts_range(t_from, t_to):
    """The SQL condition (" AND ts ..." or "") and its parameters for ts within t_from..t_to (ms,
    inclusive; None: open on that side)."""
    sql, params = "", []
    if t_from is not None:
        sql += " AND ts >= ?"
        params.append(int(t_from))
    if t_to is not None:
        sql += " AND ts <= ?"
        params.append(int(t_to))
    return sql, params


class DatabaseError(Exception):
    """The database cannot be opened or a statement failed; the message says which."""


class NotCollectorDatabase(DatabaseError):
    """The URL names no database, or one without the collector's tables, or one of a schema version
    this code does not know; the message says which, in one line."""


class Duplicate(DatabaseError):
    """A row would break UNIQUE(address, seq) or UNIQUE(tx_hash); its batch was not stored."""


# state key holding the schema version; databases made before it was written have none and
# are version 1 when every table has its columns
SCHEMA_KEY = "schema_version"
SCHEMA_VERSION = 3
TABLE_COLUMNS = {"readings": ("id",) + READING_COLUMNS, "rejections": ("id",) + REJECTION_COLUMNS,
                 "gaps": ("id",) + GAP_COLUMNS, "state": ("key", "value"), "meters": ("meter_id",), "totals": ("name", "n"),
                 "checkpoints": ("block_number", "header", "changes", "sealers"), "devices": DEVICE_COLUMNS,
                 "blocks": BLOCK_COLUMNS, "batches": BATCH_COLUMNS, "ranges": RANGE_COLUMNS}


def _schema(pg):
    pk = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" if pg else "INTEGER PRIMARY KEY"
    blob = "BYTEA" if pg else "BLOB"
    real = "DOUBLE PRECISION" if pg else "REAL"
    flag = "BOOLEAN" if pg else "INTEGER"
    big = "BIGINT"
    return [
        """CREATE TABLE IF NOT EXISTS readings (
            id %s, meter_id TEXT NOT NULL, address TEXT NOT NULL, seq %s NOT NULL,
            obis TEXT NOT NULL, value %s NOT NULL, mantissa %s NOT NULL, scale INTEGER NOT NULL,
            unit TEXT NOT NULL, ts %s NOT NULL, clock INTEGER NOT NULL, status INTEGER NOT NULL,
            block_number %s NOT NULL, tx_index INTEGER NOT NULL, tx_hash TEXT NOT NULL,
            reading %s NOT NULL, evidence TEXT NOT NULL, verified %s NOT NULL, collected_at %s NOT NULL,
            UNIQUE (address, seq), UNIQUE (tx_hash))""" % (pk, big, real, big, big, big, blob, flag, big),
        "CREATE INDEX IF NOT EXISTS readings_meter_ts ON readings (meter_id, ts, seq)",
        "CREATE INDEX IF NOT EXISTS readings_meter_seq ON readings (meter_id, seq)",
        """CREATE TABLE IF NOT EXISTS rejections (
            id %s, meter_id TEXT, address TEXT, seq %s, block_number %s NOT NULL,
            tx_hash TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL, collected_at %s NOT NULL)"""
        % (pk, big, big, big),
        "CREATE INDEX IF NOT EXISTS rejections_meter ON rejections (meter_id)",
        """CREATE TABLE IF NOT EXISTS gaps (
            id %s, meter_id TEXT NOT NULL, address TEXT NOT NULL, after_seq %s NOT NULL,
            before_seq %s NOT NULL, block_number %s NOT NULL)""" % (pk, big, big, big),
        "CREATE INDEX IF NOT EXISTS gaps_meter ON gaps (meter_id)",
        "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS checkpoints (
            block_number %s PRIMARY KEY, header TEXT NOT NULL, changes TEXT NOT NULL,
            sealers TEXT NOT NULL)""" % big,
        """CREATE TABLE IF NOT EXISTS devices (
            address TEXT PRIMARY KEY, meter_id TEXT NOT NULL, public_key TEXT NOT NULL,
            suite TEXT NOT NULL)""",
        # the page finds a meter's devices and counts its verified readings from indexes alone
        # (collector/fleetquery.py): verified sits after the evidence text in a row
        "CREATE INDEX IF NOT EXISTS devices_meter ON devices (meter_id)",
        "CREATE INDEX IF NOT EXISTS readings_meter_verified ON readings (meter_id, verified)",
        # a register's readings in a time range, bucketed for a plot from the index alone
        "CREATE INDEX IF NOT EXISTS readings_plot ON readings (meter_id, obis, ts, seq, clock, status, id)",
        # schema 2 (additive): a version 1 database gets these on its next collect
        """CREATE TABLE IF NOT EXISTS blocks (
            block_number %s PRIMARY KEY, header TEXT NOT NULL, sealers TEXT NOT NULL)""" % big,
        """CREATE TABLE IF NOT EXISTS batches (
            tx_hash TEXT PRIMARY KEY, block_number %s NOT NULL, tx_index INTEGER NOT NULL, root TEXT NOT NULL,
            count INTEGER NOT NULL, submitter TEXT NOT NULL, registry TEXT NOT NULL, tx TEXT NOT NULL,
            receipt TEXT NOT NULL, leaves %s, state TEXT NOT NULL, kind TEXT, reason TEXT,
            attempts INTEGER NOT NULL, readings INTEGER NOT NULL, collected_at %s NOT NULL)""" % (big, blob, big),
        "CREATE INDEX IF NOT EXISTS batches_state ON batches (state, block_number)",
        """CREATE TABLE IF NOT EXISTS ranges (
            first_block %s PRIMARY KEY, last_block %s NOT NULL, checkpoint TEXT NOT NULL, worker TEXT,
            updated_at %s NOT NULL)""" % (big, big, big),
        # schema 3 (additive): every meter id the database names, kept by put_devices (each stored
        # row's meter comes from a fleet entry), so the page lists meters in its own order from
        # this key alone (code-point order: "C" in PostgreSQL, SQLite's BINARY)
        "CREATE TABLE IF NOT EXISTS meters (meter_id TEXT%s PRIMARY KEY)" % (' COLLATE "C"' if pg else ""),
        # schema 3: the fleet's totals (TOTALS), moved in the transaction that adds or marks the
        # rows, so the page's summary reads seven numbers instead of counting the tables
        "CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, n %s NOT NULL)" % big,
    ]


# what the totals count: name -> SQL count over the tables (run once, when a database gets the
# table; from then on each writer moves them)
TOTALS = {
    "meters": "SELECT COUNT(*) FROM meters",
    "readings": "SELECT COUNT(*) FROM readings",
    "verified": "SELECT COUNT(*) FROM readings WHERE verified = {true}",
    "rejected": "SELECT COUNT(*) FROM rejections WHERE meter_id IS NOT NULL AND kind NOT IN {dup}",
    "duplicates": "SELECT COUNT(*) FROM rejections WHERE meter_id IS NOT NULL AND kind IN {dup}",
    "gaps": "SELECT COUNT(*) FROM gaps",
    "problems": "SELECT COUNT(*) FROM rejections WHERE meter_id IS NULL",
}


# A table's distinct meter ids, one index seek each (readings_meter_seq, rejections_meter,
# gaps_meter): a version 2 database's meters, listed once when it is brought to version 3.
_DISTINCT = ("{n}(id) AS (SELECT MIN(meter_id) FROM {t} UNION ALL "
             "SELECT (SELECT MIN(meter_id) FROM {t} WHERE meter_id > {n}.id) FROM {n} WHERE {n}.id IS NOT NULL)")
METER_IDS = ("WITH RECURSIVE " + ", ".join(_DISTINCT.format(n=n, t=t) for n, t in
                                           (("r", "readings"), ("j", "rejections"), ("g", "gaps"))) +
             ", ids(id) AS (SELECT meter_id FROM devices UNION SELECT id FROM r WHERE id IS NOT NULL "
             "UNION SELECT id FROM j WHERE id IS NOT NULL UNION SELECT id FROM g WHERE id IS NOT NULL) ")


# columns added to version 1 tables by schema 2 (nullable: a reading of its own transaction has none)
ADDED_COLUMNS = (("readings", "batch_tx", "TEXT"), ("readings", "leaf_index", "INTEGER"))
ADDED_INDEXES = ("CREATE INDEX IF NOT EXISTS readings_batch ON readings (batch_tx)",)


def _sqlite_path(url):
    path = url[len("sqlite://"):]
    if not path.startswith("/") or path == "/":
        raise DatabaseError("sqlite URL needs an absolute path: sqlite:///ABS/PATH.db, got %r" % url)
    return path


def open_db(url, read_only=False, create=None):
    """A Database for url; DatabaseError naming the schemes for anything else.

    read_only: for readers (collector verify and export, the web page): the database must exist
    and hold the schema, and the connection cannot write (SQLite mode=ro, PostgreSQL read-only
    transactions). create (default: not read_only): make the database and its tables if absent;
    create=False opens an existing collector database for writing and changes nothing else.
    Without create, a URL that is not a collector database raises NotCollectorDatabase."""
    if not isinstance(url, str) or not url.startswith(SCHEMES):
        raise DatabaseError("unknown database URL %r: use sqlite:///ABS/PATH.db or postgresql://..."
                            % (url,))
    if create is None:
        create = not read_only
    if create and read_only:
        raise ValueError("a read-only database cannot be created")
    if url.startswith("sqlite:///"):
        return Database(url, "sqlite", read_only, create)
    return Database(url, "postgresql", read_only, create)


class Database:
    """One connection, used under a lock (the web page calls from worker threads)."""

    def __init__(self, url, kind, read_only=False, create=True):
        self.url = url
        self.kind = kind
        self.pg = kind == "postgresql"
        self.read_only = read_only
        self._lock = threading.RLock()
        try:
            if self.pg:
                import psycopg
                self._errors = psycopg
                self.conn = psycopg.connect(url, autocommit=True,
                                            **({"options": "-c default_transaction_read_only=on"}
                                               if read_only else {}))
            else:
                import os
                import sqlite3
                import urllib.parse
                self._errors = sqlite3
                path = _sqlite_path(url)
                if not create:
                    if not os.path.isfile(path):
                        raise NotCollectorDatabase("%s is not a collector database (%s)" % (
                            url, "no such file" if not os.path.lexists(path) else "not a regular file"))
                    full = "/" + os.path.abspath(path).lstrip("/")  # POSIX keeps a leading "//"
                    uri = "file://%s?mode=%s" % (urllib.parse.quote(full), "ro" if read_only else "rw")
                    self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False,
                                                isolation_level=None, timeout=30)
                else:
                    if os.path.dirname(path):
                        os.makedirs(os.path.dirname(path), exist_ok=True)
                    # isolation_level=None: we open each transaction ourselves (BEGIN IMMEDIATE)
                    self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                                timeout=30)
                    _wal(self.conn, sqlite3)
                    self.conn.execute("PRAGMA synchronous=NORMAL")
        except DatabaseError:
            raise
        except Exception as e:
            raise DatabaseError("cannot open %s: %s" % (_redact(url), str(e).strip().splitlines()[0]
                                                        if str(e).strip() else type(e).__name__))
        try:
            if not create:
                self._check_schema()
            else:
                with self.transaction() as cur:
                    if self.pg:
                        # several workers opening one new database: CREATE TABLE IF NOT EXISTS
                        # races in PostgreSQL's catalog, so one at a time
                        cur.execute("SELECT pg_advisory_xact_lock(7041950311)")
                    for stmt in _schema(self.pg):
                        cur.execute(stmt)
                    self._add_columns(cur)
                    for stmt in ADDED_INDEXES:
                        cur.execute(stmt)
                    cur.execute(self._sql("SELECT value FROM state WHERE key = ?"), (SCHEMA_KEY,))
                    got = cur.fetchone()
                    version = None if got is None else json.loads(got[0])
                    if version in (None, 1, 2):
                        # new, or an older version brought up by the additions above: its meters
                        # listed once (nothing to list in a new database)
                        cur.execute(METER_IDS + "INSERT INTO meters (meter_id) SELECT id FROM ids WHERE true "
                                    "ON CONFLICT DO NOTHING")
                    cur.execute("SELECT COUNT(*) FROM totals")
                    if cur.fetchone()[0] != len(TOTALS):  # new, older, or made before the totals were
                        self._count_totals(cur)
                    if version in (None, 1, 2, SCHEMA_VERSION):
                        cur.execute(self._sql("DELETE FROM state WHERE key = ?"), (SCHEMA_KEY,))
                        cur.execute(self._sql("INSERT INTO state (key, value) VALUES (?, ?)"),
                                    (SCHEMA_KEY, json.dumps(SCHEMA_VERSION)))
        except NotCollectorDatabase:
            self.close()
            raise
        except DatabaseError as e:
            self.close()
            if not create:
                raise NotCollectorDatabase("%s is not a collector database (%s)" % (_redact(url), e))
            raise

    def _add_columns(self, cur):
        for table, column, kind in ADDED_COLUMNS:
            if self.pg:
                cur.execute("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s" % (table, column, kind))
            else:
                cur.execute("PRAGMA table_info(%s)" % table)
                if column not in [r[1] for r in cur.fetchall()]:
                    cur.execute("ALTER TABLE %s ADD COLUMN %s %s" % (table, column, kind))

    def _count_totals(self, cur):
        """The totals counted from the tables (a database that gets the totals table)."""
        dup = "(%s)" % ", ".join("'%s'" % k for k in DUPLICATE_KINDS)
        cur.execute("DELETE FROM totals")
        for name, sql in sorted(TOTALS.items()):
            cur.execute(sql.format(true="TRUE" if self.pg else "1", dup=dup))
            n = cur.fetchone()[0]
            cur.execute(self._sql("INSERT INTO totals (name, n) VALUES (?, ?)"), (name, int(n)))

    def _move_totals(self, cur, deltas):
        # in name order, so that two writers never wait on each other's rows crosswise
        for name in sorted(deltas):
            if deltas[name]:
                cur.execute(self._sql("UPDATE totals SET n = n + ? WHERE name = ?"), (deltas[name], name))

    def _add_rows(self, cur, readings=(), rejections=(), gaps=()):
        """Insert a transaction's readings, rejections and gaps and move the totals with them."""
        readings, rejections, gaps = list(readings), list(rejections), list(gaps)
        self._insert(cur, "readings", READING_COLUMNS, readings)
        self._insert(cur, "rejections", REJECTION_COLUMNS, rejections)
        self._insert(cur, "gaps", GAP_COLUMNS, gaps)
        named = [r for r in rejections if r.get("meter_id") is not None]
        dups = sum(1 for r in named if r["kind"] in DUPLICATE_KINDS)
        self._move_totals(cur, {"readings": len(readings), "verified": sum(1 for r in readings if r.get("verified")),
                                "rejected": len(named) - dups, "duplicates": dups, "gaps": len(gaps),
                                "problems": len(rejections) - len(named)})

    def _add_meters(self, cur, ids):
        """Meter ids into the meters table (those already there are kept), its total moved."""
        ids = sorted({m for m in ids if m is not None})
        if not ids:
            return
        if self.pg:  # one statement for the lot: a fleet of 10,000 is not 10,000 round trips
            cur.execute("INSERT INTO meters (meter_id) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (ids,))
        else:
            cur.executemany("INSERT INTO meters (meter_id) VALUES (?) ON CONFLICT DO NOTHING", [(m,) for m in ids])
        self._move_totals(cur, {"meters": max(cur.rowcount, 0)})

    def totals(self):
        """{name: count} of TOTALS, as the writers keep them."""
        return {r["name"]: int(r["n"]) for r in self.query("SELECT name, n FROM totals")}

    def _check_schema(self):
        """NotCollectorDatabase unless every table has its columns and the version is known."""
        for table, columns in TABLE_COLUMNS.items():
            try:
                self.query("SELECT %s FROM %s WHERE 0 = 1" % (", ".join(columns), table))
            except DatabaseError as e:
                raise NotCollectorDatabase("%s is not a collector database (table %s: %s)"
                                           % (_redact(self.url), table, e))
        try:
            version = self.get_state(SCHEMA_KEY)
        except ValueError:
            version = "?"
        if version is not None and version != SCHEMA_VERSION:
            raise NotCollectorDatabase("%s is a collector database of schema version %r; this lightmeter "
                                       "knows version %d" % (_redact(self.url), version, SCHEMA_VERSION))

    # -- plumbing -----------------------------------------------------------------

    def _sql(self, sql):
        return sql.replace("?", "%s") if self.pg else sql

    def transaction(self):
        return _Transaction(self)

    def _wrap(self, e):
        if self.pg:
            if isinstance(e, self._errors.errors.UniqueViolation):
                return Duplicate(str(e).strip().splitlines()[0])
        elif isinstance(e, self._errors.IntegrityError) and "UNIQUE" in str(e):
            return Duplicate(str(e))
        return DatabaseError(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)

    def query(self, sql, params=()):
        """All rows of a SELECT as dicts."""
        with self._lock:
            try:
                cur = self.conn.cursor()
                cur.execute(self._sql(sql), params)
                names = [d[0] for d in cur.description]
                return [dict(zip(names, row)) for row in cur.fetchall()]
            except self._errors.Error as e:
                raise self._wrap(e)

    def iterate(self, sql, params=(), batch=500):
        """Rows of a SELECT as dicts, fetched in batches (for long scans)."""
        with self._lock:
            try:
                cur = self.conn.cursor()
                cur.execute(self._sql(sql), params)
                names = [d[0] for d in cur.description]
                rows = cur.fetchall()
            except self._errors.Error as e:
                raise self._wrap(e)
        # fetched at once under the lock, handed out lazily: simple and safe across threads
        for row in rows:
            yield dict(zip(names, row))

    def _insert(self, cur, table, columns, rows):
        if not rows:
            return
        conv = [(i, c) for i, c in enumerate(columns) if c in _CONVERTED]
        get = operator.itemgetter(*columns)

        def values(r):
            try:
                t = list(get(r)) if len(columns) > 1 else [get(r)]  # one C call for a full row
            except KeyError:
                t = [r.get(c) for c in columns]  # an optional column left out: NULL
            for i, c in conv:
                t[i] = self._value(c, t[i])
            return t
        if self.pg and len(rows) >= COPY_ROWS:
            # COPY: one stream for the lot, several times faster than row-by-row INSERTs
            binary = table == "readings" and all(c in READING_PG_TYPES for c in columns)
            with cur.copy("COPY %s (%s) FROM STDIN%s" % (table, ", ".join(columns),
                                                         " (FORMAT BINARY)" if binary else "")) as cp:
                if binary:
                    cp.set_types([READING_PG_TYPES[c] for c in columns])
                for r in rows:
                    cp.write_row(values(r))
            return
        sql = self._sql("INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(columns),
                                                           ", ".join("?" * len(columns))))
        cur.executemany(sql, [values(r) for r in rows])

    def _value(self, column, v):  # the columns of _CONVERTED
        if column == "verified":
            return bool(v) if self.pg else int(bool(v))
        if column in ("reading", "leaves") and v is not None:
            return bytes(v)
        return v

    # -- the shared contract ----------------------------------------------------------

    def add_readings(self, rows):
        with self.transaction() as cur:
            self._add_meters(cur, [r["meter_id"] for r in rows])
            self._add_rows(cur, readings=rows)

    def add_rejections(self, rows):
        with self.transaction() as cur:
            self._add_meters(cur, [r.get("meter_id") for r in rows])
            self._add_rows(cur, rejections=rows)

    def add_gaps(self, rows):
        with self.transaction() as cur:
            self._add_meters(cur, [r["meter_id"] for r in rows])
            self._add_rows(cur, gaps=rows)

    def problems(self, limit=50):
        """The latest rejections that name no meter, newest first: a node's lie about a block, a
        call that never decoded to a reading. The fleet table cannot show them."""
        return self.query("SELECT block_number, tx_hash, kind, reason, collected_at FROM rejections "
                          "WHERE meter_id IS NULL ORDER BY id DESC LIMIT %d" % int(limit))

    def meters(self):
        """One dict per meter (readings, rejections, gaps or fleet entry), sorted by meter_id."""
        out = {}

        def meter(mid):
            m = out.get(mid)
            if m is None:
                m = out[mid] = {"meter_id": mid, "address": None, "last_seq": None, "last_value": None,
                                "last_unit": None, "last_obis": None, "last_ts": None, "last_clock": None,
                                "verified": 0, "rejected": 0, "gaps": 0, "duplicates": 0}
            return m

        for d in self.query("SELECT meter_id, address FROM devices ORDER BY address"):
            m = meter(d["meter_id"])
            m["address"] = m["address"] or d["address"]
        for r in self.query(
                "SELECT r.meter_id, r.address, r.seq, r.value, r.unit, r.obis, r.ts, r.clock FROM readings r "
                "JOIN (SELECT meter_id, MAX(seq) AS s FROM readings GROUP BY meter_id) l "
                "ON r.meter_id = l.meter_id AND r.seq = l.s ORDER BY r.id"):
            m = meter(r["meter_id"])
            m.update(address=r["address"], last_seq=r["seq"], last_value=r["value"], last_unit=r["unit"],
                     last_obis=r["obis"], last_ts=r["ts"], last_clock=r["clock"])
        for r in self.query("SELECT meter_id, COUNT(*) AS n FROM readings WHERE verified = ? GROUP BY meter_id",
                            (self._value("verified", True),)):
            meter(r["meter_id"])["verified"] = r["n"]
        for r in self.query("SELECT meter_id, kind, COUNT(*) AS n FROM rejections WHERE meter_id IS NOT NULL "
                            "GROUP BY meter_id, kind"):
            m = meter(r["meter_id"])
            m["duplicates" if r["kind"] in DUPLICATE_KINDS else "rejected"] += r["n"]
        for r in self.query("SELECT meter_id, COUNT(*) AS n FROM gaps GROUP BY meter_id"):
            meter(r["meter_id"])["gaps"] = r["n"]
        return [out[k] for k in sorted(out)]

    def readings(self, meter_id, t_from=None, t_to=None, limit=None):
        """The meter's readings ordered by ts, seq; t_from/t_to in ms, inclusive."""
        rng, params = ts_range(t_from, t_to)
        sql = "SELECT %s FROM readings WHERE meter_id = ?%s" % (", ".join(READING_VIEW), rng)
        params = [meter_id] + params
        sql += " ORDER BY ts, seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        rows = self.query(sql, params)
        for r in rows:
            r["verified"] = bool(r["verified"])
        return rows

    def close(self):
        with self._lock:
            try:
                self.conn.close()
            except self._errors.Error:
                pass

    # -- the collector's own ------------------------------------------------------------

    def get_state(self, key):
        """The JSON value stored under key, or None."""
        rows = self.query("SELECT value FROM state WHERE key = ?", (key,))
        return json.loads(rows[0]["value"]) if rows else None

    def put_devices(self, entries):
        """Remember the fleet entries (address, meter_id, public_key, suite); existing ones are kept
        unless they changed, in which case the new entry replaces them."""
        with self.transaction() as cur:
            if self.pg:  # several workers start at once: one writes the fleet at a time
                cur.execute("SELECT pg_advisory_xact_lock(7041950312)")
            cur.execute("SELECT %s FROM devices" % ", ".join(DEVICE_COLUMNS))
            have = {r[0]: tuple(r) for r in cur.fetchall()}
            # a fleet of 10,000 that has not changed costs one SELECT, not 20,000 statements
            new = [e for e in entries if have.get(e["address"]) != tuple(e[c] for c in DEVICE_COLUMNS)]
            for e in new:
                if e["address"] in have:
                    cur.execute(self._sql("DELETE FROM devices WHERE address = ?"), (e["address"],))
            self._insert(cur, "devices", DEVICE_COLUMNS, new)
            # the meters table names every meter a stored row can carry: rows take their meter
            # from these entries (ingest.fleet_index), so this is where a meter first appears
            self._add_meters(cur, [e["meter_id"] for e in new])

    def devices(self):
        return self.query("SELECT %s FROM devices ORDER BY address" % ", ".join(DEVICE_COLUMNS))

    def last_seqs(self, meter_ids, block_range=None):
        """{meter_id: its highest stored seq, None if it has none} for the given meters; with
        block_range (first, last), of the readings stored in those blocks only (a worker's view).

        One index seek a meter (readings_meter_seq, read backwards to the first row in range),
        whatever the table holds: a collector starting on a database of billions of readings
        reads only the meters it meets, not every reading's (meter, seq)."""
        ids = sorted(set(meter_ids))
        out = {}
        rng, extra = "", ()
        if block_range is not None:
            rng, extra = " AND block_number >= ? AND block_number <= ?", tuple(block_range)
        for i in range(0, len(ids), 2000):
            chunk = ids[i:i + 2000]
            if self.pg:
                sql = ("SELECT m.id AS meter_id, (SELECT MAX(seq) FROM readings WHERE meter_id = m.id%s) AS s "
                       "FROM unnest(?::text[]) AS m(id)" % rng)
                params = extra + (chunk,)
            else:
                sql = ("SELECT j.value AS meter_id, (SELECT MAX(seq) FROM readings WHERE meter_id = j.value%s) "
                       "AS s FROM json_each(?) AS j" % rng)
                params = extra + (json.dumps(chunk),)
            for r in self.query(sql, params):
                out[r["meter_id"]] = r["s"]
        return out

    def commit_block(self, readings=(), rejections=(), gaps=(), checkpoint=None, state=None,
                     before_commit=None, blocks=(), batches=(), range_checkpoint=None):
        """One block's results and the new resume state in one transaction (all or nothing).

        checkpoint: {block_number, header, changes, sealers} (text values) or None;
        state: {key: JSON-able value}; blocks, batches: rows of those tables (a batch reading
        names its batch, whose block is in blocks); range_checkpoint: (first_block, checkpoint
        JSON) of a worker's range; before_commit() runs last inside the transaction.
        The rows' meters are those of stored fleet entries (put_devices), as the walk makes them."""
        with self.transaction() as cur:
            self._insert(cur, "blocks", BLOCK_COLUMNS, list(blocks))
            self._insert(cur, "batches", BATCH_COLUMNS, list(batches))
            self._add_rows(cur, readings, rejections, gaps)
            if checkpoint is not None:
                self._insert(cur, "checkpoints", ("block_number", "header", "changes", "sealers"), [checkpoint])
            for k, v in (state or {}).items():
                cur.execute(self._sql("DELETE FROM state WHERE key = ?"), (k,))
                cur.execute(self._sql("INSERT INTO state (key, value) VALUES (?, ?)"),
                            (k, json.dumps(v, sort_keys=True)))
            if range_checkpoint is not None:
                self._move_range(cur, *range_checkpoint)
            if before_commit is not None:
                before_commit()  # tests: a crash with the transaction open

    # -- batches (schema 2) --------------------------------------------------------------

    def pending_batches(self):
        """The batches whose contents are not stored yet, oldest first."""
        return self.query("SELECT %s FROM batches WHERE state = 'pending' ORDER BY block_number, tx_index"
                          % ", ".join(BATCH_COLUMNS))

    def store_batch(self, tx_hash, leaves, readings=(), rejections=(), gaps=(), before_commit=None):
        """A pending batch's readings, rejections and gaps, and the batch marked stored, in one
        transaction: a batch is stored whole or not at all. False if it was no longer pending
        (another worker stored it first); then nothing is written."""
        with self.transaction() as cur:
            cur.execute(self._sql("UPDATE batches SET state = 'stored', leaves = ?, kind = NULL, reason = NULL, "
                                  "attempts = attempts + 1, readings = ? WHERE tx_hash = ? AND state = 'pending'"),
                        (bytes(leaves), len(readings), tx_hash))
            if cur.rowcount != 1:
                return False
            self._add_rows(cur, readings, rejections, gaps)
            if before_commit is not None:
                before_commit()
        return True

    def batch_failed(self, tx_hash, kind, reason):
        """Another failed attempt at a pending batch's contents."""
        with self.transaction() as cur:
            cur.execute(self._sql("UPDATE batches SET kind = ?, reason = ?, attempts = attempts + 1 "
                                  "WHERE tx_hash = ? AND state = 'pending'"), (kind, reason, tx_hash))

    # -- block ranges of several workers --------------------------------------------------

    def _move_range(self, cur, first_block, checkpoint):
        cur.execute(self._sql("UPDATE ranges SET checkpoint = ?, updated_at = ? WHERE first_block = ?"),
                    (json.dumps(checkpoint, sort_keys=True), _now_ms(), first_block))
        if cur.rowcount != 1:
            raise DatabaseError("no block range starting at %d" % first_block)

    def ranges(self):
        rows = self.query("SELECT %s FROM ranges ORDER BY first_block" % ", ".join(RANGE_COLUMNS))
        for r in rows:
            r["checkpoint"] = json.loads(r["checkpoint"])
        return rows

    def add_range(self, first_block, last_block, checkpoint, worker=None):
        """A block range and its starting checkpoint (at first_block - 1); Duplicate if the range
        exists. Ranges must not overlap: the caller plans them (ingest.plan_ranges)."""
        with self.transaction() as cur:
            self._insert(cur, "ranges", RANGE_COLUMNS, [{
                "first_block": first_block, "last_block": last_block, "worker": worker, "updated_at": _now_ms(),
                "checkpoint": json.dumps(checkpoint, sort_keys=True)}])

    def set_verified(self, ids, flag):
        """Mark the readings with these ids verified (or not)."""
        ids = list(ids)
        value = self._value("verified", flag)
        with self.transaction() as cur:
            moved = 0
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                cur.execute(self._sql("UPDATE readings SET verified = ? WHERE verified <> ? AND id IN (%s)"
                                      % ", ".join("?" * len(chunk))), [value, value] + chunk)
                moved += cur.rowcount
            self._move_totals(cur, {"verified": moved if flag else -moved})


class _Transaction:
    """`with db.transaction() as cur`: commit on success, roll back on any error."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        db = self.db
        db._lock.acquire()
        try:
            if db.pg:
                self.tx = db.conn.transaction()
                self.tx.__enter__()
                self.cur = db.conn.cursor()
            else:
                self.cur = db.conn.cursor()
                self.cur.execute("BEGIN IMMEDIATE")
        except db._errors.Error as e:
            db._lock.release()
            raise db._wrap(e)
        except BaseException:
            db._lock.release()
            raise
        return self.cur

    def __exit__(self, et, ev, tb):
        db = self.db
        try:
            if db.pg:
                try:
                    self.tx.__exit__(et, ev, tb)
                except db._errors.Error as e:
                    raise db._wrap(e)
            elif et is None:
                try:
                    self.cur.execute("COMMIT")
                except db._errors.Error as e:
                    self.cur.execute("ROLLBACK")
                    raise db._wrap(e)
            else:
                self.cur.execute("ROLLBACK")
            if et is not None and issubclass(et, db._errors.Error):
                raise db._wrap(ev) from ev
        finally:
            db._lock.release()
        return False


def _now_ms():
    import time
    return int(time.time() * 1000)


def _wal(conn, sqlite3, wait=30.0):
    """Put the database in WAL mode (it stays so). Switching needs the file to itself: a second
    process opening a new database at the same moment gets "locked" at once, whatever the busy
    timeout, so wait for it here."""
    import time
    deadline = time.monotonic() + wait
    while conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _redact(url):
    """url without a password (user:secret@ -> user:***@)."""
    at = url.find("@")
    colon = url.find(":", url.find("//") + 2)
    if at > 0 and 0 < colon < at:
        return url[:colon + 1] + "***" + url[at:]
    return url
