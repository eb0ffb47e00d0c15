"""A lying node against the collector: each lie is caught with its typed kind, recorded in
rejections, the walk stops before the block it lied about, nothing false is stored, and once the
node is honest again the walk resumes and completes exactly as if it had never lied.

The node is the local node serving the STANDARD chain (collector_chain.py) with one JSON-RPC
method swapped to lie (FleetChain.lie), on SQLite and on PostgreSQL."""

import copy
import json
import subprocess
import sys

import pytest

from collector_chain import FleetChain, STANDARD_GOOD
from pgserver import db_url, pg_server  # noqa: F401  (fixtures)
from lightmeter_host.collector import db as db_mod, ingest, reverify
from lightmeter_host.paths import PROJECT_ROOT

ROOT = str(PROJECT_ROOT)


@pytest.fixture(scope="module")
def fc():
    c = FleetChain(seed=b"collector-hostile").standard()
    yield c
    c.stop()


def block_of(fc, h):
    return fc.chain.store.tx(bytes.fromhex(h[2:]))[0]


def first_tx(fc, n):
    return "0x" + fc.chain.store.block_txs(n)[0][0].hex()


def record_tx(fc, n):
    """A MeterRegistry transaction of block n (its hash)."""
    from lightmeter_host.node import registry
    for h, raw, _, rc in fc.chain.store.block_txs(n):
        if rc["logEntries"] and rc["logEntries"][0]["address"] == registry.ADDRESS.hex():
            return "0x" + h.hex()
    raise AssertionError("no record() in block %d" % n)


# -- the lies: fn(real handler, *params) -> answer ----------------------------------------------

def lie_tampered_log(fc):
    def fn(real, h, proof=False):
        out = copy.deepcopy(real(h, proof))
        if block_of(fc, h) == 2 and out["logEntries"]:
            d = out["logEntries"][0]["data"]
            out["logEntries"][0]["data"] = d[:-2] + ("00" if d[-2:] != "00" else "01")
        return out
    return "getTransactionReceipt", fn, 2, "tampered_log"


def lie_tampered_log_rehashed(fc):
    """Log changed and the receipt's hash field recomputed to match: only the proof can tell."""
    from lightmeter.chain import fields, receipt
    def fn(real, h, proof=False):
        out = copy.deepcopy(real(h, proof))
        if block_of(fc, h) == 2 and out["logEntries"]:
            out["logEntries"][0]["topics"][2] = "0x" + "00" * 31 + "63"  # seq 99
            out["hash"] = fields.hex0x(receipt.from_json(out).hash(fc.suite))
        return out
    return "getTransactionReceipt", fn, 2, "bad_proof"


def lie_proof_for_another_block(fc):
    other = first_tx(fc, 1)

    def fn(real, h, proof=False):
        out = copy.deepcopy(real(h, proof))
        if block_of(fc, h) == 3:
            out["txReceiptProof"] = real(other, True)["txReceiptProof"]
        return out
    return "getTransactionReceipt", fn, 3, "bad_proof"


def lie_tx_proof_for_another_block(fc):
    other = first_tx(fc, 1)

    def fn(real, h, proof=False):
        out = copy.deepcopy(real(h, proof))
        if block_of(fc, h) == 2:
            out["txProof"] = real(other, True)["txProof"]
        return out
    return "getTransaction", fn, 2, "bad_proof"


def lie_short_quorum(fc):
    def fn(real, n, only_header=True, only_hash=True):
        out = copy.deepcopy(real(n, only_header, only_hash))
        if n == 3:
            out["signatureList"] = out["signatureList"][:2]
        return out
    return "getBlockByNumber", fn, 3, "short_quorum"


def lie_forged_signature(fc):
    def fn(real, n, only_header=True, only_hash=True):
        out = copy.deepcopy(real(n, only_header, only_hash))
        if n == 2:
            s = out["signatureList"][0]["signature"]
            out["signatureList"][0]["signature"] = s[:10] + ("0" if s[10] != "0" else "1") + s[11:]
        return out
    return "getBlockByNumber", fn, 2, "bad_header"


def lie_hidden_transaction(fc):
    def fn(real, n, only_header=True, only_hash=True):
        out = copy.deepcopy(real(n, only_header, only_hash))
        if n == 2 and "transactions" in out:
            out["transactions"] = out["transactions"][1:]
        return out
    return "getBlockByNumber", fn, 2, "incomplete_block"


def lie_transaction_redirected(fc):
    """A reading hidden by showing its transaction as one to another contract."""
    def fn(real, h, proof=False):
        out = copy.deepcopy(real(h, proof))
        if block_of(fc, h) == 2:
            out["to"] = "11" * 20
        return out
    return "getTransaction", fn, 2, "tampered_tx"


def lie_block_copy_redirected(fc):
    """A reading hidden in the block's own copy of its transactions (getBlockByNumber with whole
    transactions), shown as a call to another contract: the collector takes other contracts'
    transactions from that copy without a look-up, so the copy must hash to its listed hash."""
    def fn(real, n, only_header=True, only_hash=True):
        out = copy.deepcopy(real(n, only_header, only_hash))
        if n == 2 and not only_hash:
            out["transactions"][0]["to"] = "0x" + "11" * 20
        return out
    return "getBlockByNumber", fn, 2, "tampered_tx"


def lie_block_copy_redirected_and_relisted(fc):
    """The same with the listed hash made to fit the forged copy: the list no longer makes the
    header's txsRoot."""
    from lightmeter.chain import fields, tx as tx_mod
    from lightmeter.chain import txread

    def fn(real, n, only_header=True, only_hash=True):
        out = copy.deepcopy(real(n, only_header, only_hash))
        if n == 2 and not only_hash:
            t = out["transactions"][0]
            t["to"] = "0x" + "11" * 20
            t["hash"] = fields.hex0x(tx_mod.tx_hash(txread.from_json(t), fc.suite))
        return out
    return "getBlockByNumber", fn, 2, "incomplete_block"


def lie_replayed_reading(fc):
    """Block 5's readings answered with block 1's transaction and receipt, proofs and all."""
    old = record_tx(fc, 1)

    def make(method):
        def fn(real, h, proof=False):
            return real(old, proof) if block_of(fc, h) == 5 else real(h, proof)
        return fn
    fc.lie("getTransactionReceipt", make("r"))
    return "getTransaction", make("t"), 5, "bad_proof"


def lie_hidden_set_change(fc):
    """Block 3's set change shown as a plain transaction to nowhere: its hash no longer fits."""
    from lightmeter_host.node import consensus
    def fn(real, h, proof=False):
        out = copy.deepcopy(real(h, proof))
        if out.get("to", "").lower().endswith(consensus.ADDRESS.hex()):
            out["to"] = "22" * 20
        return out
    return "getTransaction", fn, 3, "tampered_tx"


LIES = {f.__name__[4:]: f for f in (lie_tampered_log, lie_tampered_log_rehashed, lie_proof_for_another_block,
                                     lie_tx_proof_for_another_block, lie_short_quorum, lie_forged_signature,
                                     lie_hidden_transaction, lie_transaction_redirected, lie_replayed_reading,
                                     lie_hidden_set_change, lie_block_copy_redirected,
                                     lie_block_copy_redirected_and_relisted)}


@pytest.fixture(scope="module")
def honest(fc, tmp_path_factory):
    """{(meter, seq): block} of an honest collection."""
    url = "sqlite://" + str(tmp_path_factory.mktemp("honest") / "c.db")
    ingest.collect(fc.url, fc.genesis, fc.entries, url)
    d = db_mod.open_db(url)
    try:
        return {(r["meter_id"], r["seq"]): (r["block_number"], r["tx_hash"], r["evidence"])
                for r in d.query("SELECT meter_id, seq, block_number, tx_hash, evidence FROM readings")}
    finally:
        d.close()


def rows(url):
    d = db_mod.open_db(url)
    try:
        return ({(r["meter_id"], r["seq"]): (r["block_number"], r["tx_hash"], r["evidence"])
                 for r in d.query("SELECT meter_id, seq, block_number, tx_hash, evidence FROM readings")},
                d.query("SELECT kind, block_number FROM rejections ORDER BY id"), d.get_state("checkpoint"))
    finally:
        d.close()


@pytest.mark.parametrize("name", sorted(LIES))
def test_a_lie_is_caught_typed_nothing_false_is_stored_and_resume_completes(fc, honest, db_url, name):
    method, fn, block, kind = LIES[name](fc)
    fc.lie(method, fn)
    try:
        out = ingest.collect(fc.url, fc.genesis, fc.entries, db_url)
    finally:
        fc.restore()
    assert out["stopped"]["kind"] == kind and out["stopped"]["block"] == block, out
    got, rejections, checkpoint = rows(db_url)
    # exactly the honest readings of the blocks before the lie: nothing false, nothing after it
    assert got == {k: v for k, v in honest.items() if v[0] < block}
    assert checkpoint["number"] == block - 1
    assert (kind, block) in [(r["kind"], r["block_number"]) for r in rejections]
    # honest again: the walk resumes at the block it stopped at and completes
    out = ingest.collect(fc.url, fc.genesis, fc.entries, db_url)
    assert "stopped" not in out and out["to_block"] == 5
    got, _, _ = rows(db_url)
    assert got == honest and set(got) == STANDARD_GOOD
    d = db_mod.open_db(db_url)
    try:
        assert reverify.verify_db(d)["ok"]
    finally:
        d.close()


def test_cli_collect_exits_1_when_the_node_lies(fc, tmp_path):
    method, fn, block, kind = lie_short_quorum(fc)
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(fc.genesis))
    fleet_path = tmp_path / "fleet.json"
    fleet_path.write_text(json.dumps({"version": 1, "devices": fc.entries}))
    fc.lie(method, fn)
    try:
        r = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "collect", "--rpc", fc.url, "--trust", str(trust),
                            "--fleet", str(fleet_path), "--db", "sqlite://" + str(tmp_path / "c.db"), "--json"],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    finally:
        fc.restore()
    assert r.returncode == 1, r.stderr
    assert "short_quorum" in r.stderr and "block 3" in r.stderr and "Traceback" not in r.stderr
    assert json.loads(r.stdout)["to_block"] == 2
