"""`lightmeter sync`: a checkpoint moved forward over a simulated chain with sealer-set changes,
strictly and by skipping, on CPython (JSON-RPC) and MicroPython (virtual board + relay), and a
node that lies is caught with nothing written."""

import json
import subprocess
import sys

import pytest

from lightmeter_host.node import consensus
from lightmeter_host.node.chain import Chain
from nodeutil import SimulatedNode
from lightmeter_host.paths import PROJECT_ROOT

ROOT = str(PROJECT_ROOT)
BLOCKS, CHANGES = 40, 5


class Sim(SimulatedNode):
    def __init__(self, crypto, seed="s"):
        # seed "s" spreads the changes one per block; see the test of two changes in one block
        super().__init__(Chain(seed=b"sync-" + crypto.encode(), crypto=crypto), BLOCKS, CHANGES, seed)

    def sealers_now(self):
        return sorted((n.hex(), w) for n, w in self.chain.sealer_list())


@pytest.fixture(scope="module", params=["ecdsa", "sm"])
def sim(request):
    s = Sim(request.param)
    yield s
    s.srv.stop()


def write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)
    return str(path)


def lm(*args):
    return subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "sync"] + [str(a) for a in args],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


def sync_json(sim, trust_path, *extra):
    r = lm("--rpc", sim.url, "--trust", trust_path, "--json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def checkpoint(sim, tmp_path, n):
    """The checkpoint at block n, by a strict walk from genesis."""
    g = write(tmp_path / "genesis.json", sim.genesis)
    out = tmp_path / ("at%d.json" % n)
    sync_json(sim, g, "--to", n, "--out", out)
    return str(out)


def assert_head(sim, res, n=BLOCKS):
    assert res["number"] == n
    assert res["hash"] == "0x" + sim.chain.hashes[n].hex()


@pytest.mark.parametrize("runtime", ["python", "micropython"])
def test_strict_and_skipping_reach_the_head_from_genesis(sim, tmp_path, runtime):
    g = write(tmp_path / "genesis.json", sim.genesis)
    out_s, out_k = tmp_path / "strict.json", tmp_path / "skip.json"
    strict = sync_json(sim, g, "--runtime", runtime, "--mode", "strict", "--out", out_s)
    skip = sync_json(sim, g, "--runtime", runtime, "--mode", "skipping", "--out", out_k)
    assert_head(sim, strict)
    assert_head(sim, skip)
    assert strict["headers"] == BLOCKS and strict["proofs"] == CHANGES
    assert skip["headers"] < strict["headers"]
    assert strict["bytes"] > skip["bytes"] > 0
    for p in (out_s, out_k):
        t = json.load(open(p))
        assert sorted((s["node_id"], s["weight"]) for s in t["sealers"]) == sim.sealers_now()
    print("%s/%s: strict %d headers, skipping %d headers" % (sim.chain.crypto, runtime,
                                                             strict["headers"], skip["headers"]))


@pytest.mark.parametrize("runtime", ["python", "micropython"])
def test_from_a_mid_chain_checkpoint(sim, tmp_path, runtime):
    mid = checkpoint(sim, tmp_path, 15)
    assert json.load(open(mid))["number"] == 15
    strict = sync_json(sim, mid, "--runtime", runtime)
    skip = sync_json(sim, mid, "--runtime", runtime, "--mode", "skipping")
    assert_head(sim, strict)
    assert_head(sim, skip)
    assert strict["headers"] == BLOCKS - 15
    assert skip["headers"] < strict["headers"]


def test_to_stops_there_and_an_older_result_never_overwrites(sim, tmp_path):
    g = write(tmp_path / "genesis.json", sim.genesis)
    out = tmp_path / "trust.json"
    for mode in ("strict", "skipping"):
        res = sync_json(sim, g, "--to", 22, "--mode", mode)
        assert_head(sim, res, 22)
    sync_json(sim, g, "--out", out, "--mode", "skipping")
    before = out.read_text()
    r = lm("--rpc", sim.url, "--trust", g, "--to", 10, "--out", out)
    assert r.returncode == 2 and "not overwritten" in r.stderr
    assert out.read_text() == before
    # syncing a file onto itself moves it forward
    own = write(tmp_path / "own.json", json.load(open(checkpoint(sim, tmp_path, 5))))
    sync_json(sim, own, "--out", own, "--to", 30)
    assert json.load(open(own))["number"] == 30
    # going back is refused
    r = lm("--rpc", sim.url, "--trust", own, "--to", 10)
    assert r.returncode == 2 and "below" in r.stderr and "Traceback" not in r.stderr


def test_usage_errors_are_one_line(sim, tmp_path):
    g = write(tmp_path / "genesis.json", sim.genesis)
    r = lm("--rpc", "http://127.0.0.1:1", "--trust", g)
    assert r.returncode == 2 and "cannot reach" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = lm("--rpc", sim.url, "--trust", g, "--to", BLOCKS + 5)
    assert r.returncode == 2 and "above" in r.stderr
    bad = write(tmp_path / "bad.json", {"chain_id": "chain0"})
    r = lm("--rpc", sim.url, "--trust", bad)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    no_number = dict(sim.genesis)
    del no_number["number"], no_number["hash"]
    r = lm("--rpc", sim.url, "--trust", write(tmp_path / "nn.json", no_number))
    assert r.returncode == 2 and "number" in r.stderr


def _is_change(t):
    return isinstance(t, dict) and t.get("to", "").lower().replace("0x", "") == consensus.ADDRESS.hex()


@pytest.mark.parametrize("runtime", ["python", "micropython"])
def test_a_node_hiding_a_set_change_is_caught(sim, tmp_path, runtime):
    change_block = sim.made[0][0]

    def hide(real, number, only_header=True, only_tx_hash=True):
        out = real(number, only_header, only_tx_hash)
        if int(number) == change_block and isinstance(out.get("transactions"), list):
            out = dict(out, transactions=[t for t in out["transactions"] if not _is_change(t)])
        return out

    g = write(tmp_path / "genesis.json", sim.genesis)
    out = tmp_path / "new.json"
    sim.lie("getBlockByNumber", hide)
    try:
        r = lm("--rpc", sim.url, "--trust", g, "--runtime", runtime, "--out", out, "--json")
    finally:
        sim.restore()
    assert r.returncode == 1, r.stderr
    assert "sealer" in r.stderr and not out.exists() and r.stdout == ""


@pytest.mark.parametrize("mode", ["strict", "skipping"])
def test_a_tampered_header_is_caught(sim, tmp_path, mode):
    def tamper(real, number, only_header=True, only_tx_hash=True):
        out = real(number, only_header, only_tx_hash)
        if int(number) in (20, 40, 30, 10, 25, 35):
            out = dict(out, timestamp=out["timestamp"] + 1)
            out.pop("hash", None)
        return out

    g = write(tmp_path / "genesis.json", sim.genesis)
    out = tmp_path / "new.json"
    sim.lie("getBlockByNumber", tamper)
    try:
        r = lm("--rpc", sim.url, "--trust", g, "--mode", mode, "--out", out)
    finally:
        sim.restore()
    assert r.returncode == 1, r.stderr
    assert "signature" in r.stderr and not out.exists()


def test_two_set_changes_in_one_block_leave_identical_receipts_and_still_sync(tmp_path):
    # Precompile calls leave byte-identical receipts (receipts do not name their transaction),
    # so the receipts tree has equal leaves; the proof is placed by the transaction's position.
    from lightmeter.chain import receipt
    from lightmeter.crypto import suite

    sim = Sim("ecdsa", "sync-test")
    try:
        c = sim.chain
        twice = []
        for n in range(1, BLOCKS + 1):
            hashes = [receipt.from_json(rc).hash(suite.get("ecdsa")) for _, _, _, rc in c.store.block_txs(n)
                      if rc["status"] == 0 and not rc["logEntries"]]
            if len(hashes) != len(set(hashes)):
                twice.append(n)
        assert twice, "the seed no longer makes a block with two identical receipts"
        g = write(tmp_path / "genesis.json", sim.genesis)
        res = sync_json(sim, g, "--mode", "strict")
        assert_head(sim, res)
        assert res["proofs"] == CHANGES
    finally:
        sim.srv.stop()
