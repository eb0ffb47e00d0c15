"""SQLite persistence of the local node: blocks, transactions, receipts, settings.

Each block is written in one SQLite transaction (WAL journal, synchronous
FULL), so a killed node has either all of a block or none of it. Execution
state is not stored: the node rebuilds it by replaying the blocks, which also
checks them.
"""

import json
import os
import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, header TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
    hash BLOB PRIMARY KEY, number INTEGER NOT NULL, idx INTEGER NOT NULL,
    raw BLOB NOT NULL, nonce BLOB NOT NULL, import_time INTEGER NOT NULL, receipt TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS txs_by_block ON txs (number, idx);
CREATE INDEX IF NOT EXISTS txs_by_nonce ON txs (nonce);
CREATE TABLE IF NOT EXISTS background (number INTEGER PRIMARY KEY, count INTEGER NOT NULL);
"""


class Store:
    """One chain's database; path None keeps it in memory."""

    def __init__(self, path=None):
        if path is not None:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.db = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def synchronous(self, full):
        """FULL (the default) or NORMAL while simulate() writes a run of blocks: in WAL mode a
        killed process still leaves each block whole or absent; only a power cut may lose the
        last ones, and a simulated run is made again from its seed. (An fsync a block is most
        of a background block's cost.)"""
        self.db.execute("PRAGMA synchronous=%s" % ("FULL" if full else "NORMAL"))

    def get_meta(self):
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    def set_meta(self, values):
        with self.db:
            self.db.execute("BEGIN")
            for k, v in values.items():
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, json.dumps(v)))

    def add_block(self, number, digest, header_json, txs, background=0):
        """txs: [(hash, raw, nonce, import_time, receipt_json)] in block order; all or nothing.
        background: how many background transactions follow them (lightmeter_host.node.background)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("INSERT INTO blocks VALUES (?, ?, ?)", (number, digest, json.dumps(header_json)))
            if background:
                self.db.execute("INSERT INTO background VALUES (?, ?)", (number, background))
            for i, (h, raw, nonce, t, rc) in enumerate(txs):
                self.db.execute("INSERT INTO txs VALUES (?, ?, ?, ?, ?, ?, ?)",
                                (h, number, i, raw, nonce, t, json.dumps(rc)))

    def height(self):
        row = self.db.execute("SELECT MAX(number) FROM blocks").fetchone()
        return -1 if row[0] is None else row[0]

    def block(self, number):
        row = self.db.execute("SELECT hash, header FROM blocks WHERE number = ?", (number,)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def background(self, number):
        """How many background transactions block number carries after its own."""
        row = self.db.execute("SELECT count FROM background WHERE number = ?", (number,)).fetchone()
        return 0 if row is None else row[0]

    def number_of(self, digest):
        row = self.db.execute("SELECT number FROM blocks WHERE hash = ?", (digest,)).fetchone()
        return None if row is None else row[0]

    def block_txs(self, number):
        """[(hash, raw, import_time, receipt_json)] of block number, in order."""
        return [(h, raw, t, json.loads(rc)) for h, raw, t, rc in self.db.execute(
            "SELECT hash, raw, import_time, receipt FROM txs WHERE number = ? ORDER BY idx", (number,))]

    def tx(self, digest):
        """(number, idx, raw, import_time, receipt_json) or None."""
        row = self.db.execute("SELECT number, idx, raw, import_time, receipt FROM txs WHERE hash = ?",
                              (digest,)).fetchone()
        return None if row is None else row[:4] + (json.loads(row[4]),)

    def nonce_used(self, nonce):
        return self.db.execute("SELECT 1 FROM txs WHERE nonce = ? LIMIT 1", (nonce,)).fetchone() is not None

    def counts(self):
        total = self.db.execute("SELECT COUNT(*) FROM txs").fetchone()[0]
        failed = self.db.execute(
            "SELECT COUNT(*) FROM txs WHERE json_extract(receipt, '$.status') != 0").fetchone()[0]
        return total, failed

    def close(self):
        self.db.close()
