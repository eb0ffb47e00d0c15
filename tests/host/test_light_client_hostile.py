"""Hostile input against the light-client state (python runtime): every case is refused with a
typed reason (Invalid / Malformed, reason text checked, or the `lightmeter sync` exit code and
message) and the stored checkpoint is left exactly as it was: a lightmeter.device.checkpoint store
compared before/after, or the CLI's --out file compared byte for byte.

In-process cases build blocks with chainmaker (header.new + suite.sign_node, same keys as the
trusted set); CLI cases run `lightmeter sync` against a simulated chain served by NodeServer,
with a JSON-RPC method swapped to lie."""

import json
import subprocess
import sys

import pytest

import chainmaker
from chainmaker import sealers, signed_header, trust_json
from nodeutil import SimulatedNode
from lightmeter_host.node import consensus
from lightmeter_host.node.chain import Chain
from lightmeter.chain import abi
from lightmeter.device import checkpoint, store as store_mod
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import transition, trust as trust_mod, verify
from lightmeter.errors import Invalid, Malformed
from lightmeter_host.paths import PROJECT_ROOT

ROOT = str(PROJECT_ROOT)
S = "ecdsa"
PARENT = bytes(range(32))
BLOCKS, CHANGES = 12, 3
SEED = b"hostile-ecdsa"


# -- in-process helpers: chainmaker blocks and a device store ---------------------------

def suite():
    return suite_mod.get(S)


def pool():
    return sealers(S, 7, b"hostile")


def make_trust(nodes, weights=None, number=4, hash=PARENT):
    return trust_mod.from_json(trust_json(S, nodes, weights, number, hash))


def call(sig, args):
    return abi.encode_call(sig, args, suite().hash)


def node_hex(node):
    return node.hex()


def block(nodes, calls, **kw):
    """(Header signed by nodes, [(tx, tx proof, receipt, receipt proof)]) of a block of precompile calls."""
    return chainmaker.block(S, nodes, calls, **kw)


@pytest.fixture
def device(tmp_path):
    """A store holding the checkpoint at block 4 of the first four pool sealers."""
    st = store_mod.Store(str(tmp_path / "store"))
    checkpoint.save(st, make_trust(pool()[:4]))
    return st


def stored(st):
    return json.dumps(checkpoint.load(st).to_json(), sort_keys=True)


def refused(st, step, exc=Invalid):
    """Run step(stored trust) -> new trust, saving it as a device would; it must raise exc.

    Returns the error text; asserts the stored checkpoint did not change."""
    before = stored(st)
    with pytest.raises(exc) as e:
        checkpoint.save(st, step(checkpoint.load(st)))
    assert isinstance(e.value, (Invalid, Malformed))
    assert stored(st) == before
    return str(e.value)


# -- CLI helpers: a simulated chain and `lightmeter sync` -------------------------------

def Sim(chain_id="chain0", changes=CHANGES, sim_seed="h"):
    return SimulatedNode(Chain(seed=SEED, crypto=S, chain_id=chain_id), BLOCKS, changes, sim_seed)


@pytest.fixture(scope="module")
def sim():
    s = Sim()
    yield s
    s.stop()


def lm(*args):
    return subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "sync"] + [str(a) for a in args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def genesis_file(sim, tmp_path, name="trust.json"):
    p = tmp_path / name
    p.write_text(json.dumps(sim.genesis))
    return p


def sync_refused(sim, tmp_path, code, *extra):
    """`lightmeter sync --trust F --out F ...` where F is the genesis checkpoint: returns stderr
    after asserting the exit code, an empty stdout or no new checkpoint, and F's bytes unchanged."""
    f = genesis_file(sim, tmp_path)
    before = f.read_bytes()
    r = lm("--rpc", sim.url, "--trust", f, "--out", f, *extra)
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    assert f.read_bytes() == before
    return r


def _is_change(t):
    return isinstance(t, dict) and t.get("to", "").lower().replace("0x", "") == consensus.ADDRESS.hex()


# -- 1. forged set changes --------------------------------------------------------------

def test_a_hidden_set_change_is_refused_by_the_next_headers_sealer_list(sim, tmp_path):
    change_block, name = sim.made[0][:2]
    assert name == "addSealer"  # simulate seed "h": the first change adds a fifth sealer

    def hide(real, number, only_header=True, only_tx_hash=True):
        out = real(number, only_header, only_tx_hash)
        if int(number) == change_block and isinstance(out.get("transactions"), list):
            out = dict(out, transactions=[t for t in out["transactions"] if not _is_change(t)])
        return out

    sim.lie("getBlockByNumber", hide)
    try:
        r = sync_refused(sim, tmp_path, 1, "--mode", "strict", "--json")
    finally:
        sim.restore()
    assert r.stdout == ""
    # header change_block + 1 carries the real set, the trust (without the change) refuses it
    assert "sync failed: sealer list has 5 nodes, the trusted set 4; nothing written" in r.stderr


def test_a_hidden_set_change_in_process_leaves_the_store_untouched(device):
    p = pool()
    s = suite()
    # block 5 adds p[4] under the trusted set; the node offers no change for it
    h5, items = block(p[:4], [call("addSealer(string,uint256)", [node_hex(p[4][0]), 1])])
    hidden = transition.apply_set_changes(checkpoint.load(device), h5, [], s)
    _, h6 = signed_header(S, sorted(p[:5]), 6, None, None, h5.hash(s))
    msg = refused(device, lambda t: transition.verify_next(hidden, h6, s) and hidden)
    assert "sealer list has 5 nodes, the trusted set 4" in msg
    # with the change proven the same header is accepted
    real = transition.apply_set_changes(checkpoint.load(device), h5, items, s)
    assert transition.verify_next(real, h6, s).weight == 5


def test_a_failed_precompile_transaction_is_not_a_set_change(device):
    p = pool()
    s = suite()
    h, items = block(p[:4], [call("remove(string)", [node_hex(p[0][0])])], statuses=[15])
    verify.verify_header(h, checkpoint.load(device), s)
    msg = refused(device, lambda t: transition.apply_set_changes(t, h, items, s))
    assert "change 0" in msg and "transaction failed with status 15" in msg


# -- 2. the old set signing after a removal ---------------------------------------------

def test_a_header_signed_by_the_old_set_after_a_removal_is_refused_strictly(device):
    p = pool()
    s = suite()
    old = p[:4]
    h5, items = block(old, [call("remove(string)", [node_hex(old[1][0])])])
    after = transition.apply_set_changes(checkpoint.load(device), h5, items, s)
    assert [n for n, _ in after.sealers] == [n for n, _ in old if n != old[1][0]]
    checkpoint.save(device, after)
    # header 6 still names the old set and carries every old sealer's signature (same keys)
    _, h6 = signed_header(S, old, 6, None, None, h5.hash(s))
    msg = refused(device, lambda t: transition.verify_next(t, h6, s) and t)
    assert "sealer list has 4 nodes, the trusted set 3" in msg
    # the removed sealer's signature, even with the header claiming the new set, counts for nothing
    new = [n for n in old if n[0] != old[1][0]]
    _, h6b = signed_header(S, new, 6, [0], None, h5.hash(s))
    h6b.signatures = h6b.signatures + [(2, s.sign_node(old[1][1], h6b.hash(s)))]
    msg = refused(device, lambda t: transition.verify_next(t, h6b, s) and t)
    assert "signature of sealer 2 does not verify" in msg


# -- 3. quorum only with duplicate or unknown signers -----------------------------------

def _forged_signatures(h, nodes, outsider):
    s = suite()
    d = h.hash(s)
    sig = [(i, s.sign_node(nodes[i][1], d)) for i in range(len(nodes))]
    return {
        "signs twice": [sig[0], sig[1], sig[0]],  # 3 entries, 2 distinct sealers (quorum 3 of 4)
        "unknown sealer index 4": [sig[0], sig[1], (4, s.sign_node(outsider[1], d))],
        "signature of sealer 2 does not verify": [sig[0], sig[1], (2, s.sign_node(outsider[1], d))],
    }


@pytest.mark.parametrize("reason", ["signs twice", "unknown sealer index 4", "signature of sealer 2 does not verify"])
def test_a_quorum_of_duplicate_or_unknown_signers_is_refused_strictly(device, reason):
    p = pool()
    s = suite()
    _, h = signed_header(S, p[:4], 5, [], None, PARENT)
    h.signatures = _forged_signatures(h, p[:4], p[6])[reason]
    assert reason in refused(device, lambda t: transition.verify_next(t, h, s) and t)


@pytest.mark.parametrize("reason", ["signs twice", "unknown sealer index 4", "signature of sealer 2 does not verify"])
def test_a_quorum_of_duplicate_or_unknown_signers_is_refused_when_skipping(device, reason):
    p = pool()
    s = suite()
    nodes = p[:4]  # the trusted set vouches (> 1/3 overlap): only the signatures are wrong
    _, h = signed_header(S, nodes, 9, [], None, PARENT)
    h.signatures = _forged_signatures(h, nodes, p[6])[reason]
    assert reason in refused(device, lambda t: transition.verify_skip(t, h, s).trust)


@pytest.mark.parametrize("mode", ["strict", "skipping"])
def test_a_duplicated_signature_from_the_node_is_refused(sim, tmp_path, mode):
    def dup(real, number, only_header=True, only_tx_hash=True):
        out = real(number, only_header, only_tx_hash)
        sigs = out.get("signatureList") or []
        if sigs:
            out = dict(out, signatureList=sigs[:1] * 3)
        return out

    sim.lie("getBlockByNumber", dup)
    try:
        r = sync_refused(sim, tmp_path, 1, "--mode", mode)
    finally:
        sim.restore()
    assert "signs twice" in r.stderr


# -- 4. equivocation seen through a witness ---------------------------------------------

def test_an_equivocation_seen_by_a_witness_is_reported_and_nothing_written(sim, tmp_path):
    fork = Sim(changes=0, sim_seed="fork")  # same sealer keys and genesis, another history
    try:
        assert fork.chain.hashes[0] == sim.chain.hashes[0]
        assert fork.chain.hashes[BLOCKS] != sim.chain.hashes[BLOCKS]
        ev = tmp_path / "evidence.json"
        r = sync_refused(sim, tmp_path, 1, "--to", 1, "--witness", fork.url, "--evidence", ev, "--json")
    finally:
        fork.stop()
    assert "conflict at block 1" in r.stderr and "nothing written" in r.stderr
    shown = json.loads(r.stdout)
    assert shown["conflict"] is True and shown["number"] == 1
    assert shown["headers"] == ["0x" + sim.chain.hashes[1].hex(), "0x" + fork.chain.hashes[1].hex()]
    assert json.load(open(ev)) == shown


# -- 5. proofs from another chain or group ----------------------------------------------

@pytest.mark.parametrize("chain_id,group_id,reason", [
    (b"chain1", b"group0", "transaction is for chain 'chain1', trusted chain is 'chain0'"),
    (b"chain0", b"group1", "transaction is for group 'group1', trusted group is 'group0'"),
])
def test_a_set_change_for_another_chain_or_group_is_refused(device, chain_id, group_id, reason):
    p = pool()
    s = suite()
    # the header is signed by the trusted set and its roots do hold the foreign transaction
    h, items = block(p[:4], [call("remove(string)", [node_hex(p[0][0])])], chain_id=chain_id, group_id=group_id)
    verify.verify_header(h, checkpoint.load(device), s)
    msg = refused(device, lambda t: transition.apply_set_changes(t, h, items, s))
    assert "change 0" in msg and reason in msg


def test_a_group0_checkpoint_fed_another_chains_headers_is_refused(sim, tmp_path):
    other = Sim(chain_id="chain1")  # same sealer keys, another chain id: another genesis
    try:
        assert other.chain.hashes[0] != sim.chain.hashes[0]
        f = genesis_file(sim, tmp_path)
        before = f.read_bytes()
        r = lm("--rpc", other.url, "--trust", f, "--out", f)
        # and a checkpoint relabelled to chain1 (the hash still chain0's) is refused just the same
        relabelled = genesis_file(sim, tmp_path, "relabelled.json")
        relabelled.write_text(json.dumps(dict(sim.genesis, chain_id="chain1")))
        before_r = relabelled.read_bytes()
        r2 = lm("--rpc", other.url, "--trust", relabelled, "--out", relabelled)
    finally:
        other.stop()
    assert r.returncode == 1, r.stderr
    assert "header 1's parent is not the trusted header" in r.stderr
    assert f.read_bytes() == before
    assert r2.returncode == 1, r2.stderr
    assert "parent is not the trusted header" in r2.stderr
    assert relabelled.read_bytes() == before_r


def test_another_chains_set_change_in_a_synced_chain_is_refused(sim, tmp_path):
    # a checkpoint that agrees with the chain's headers but names another chain id: the
    # headers verify, the first set change (chainID chain0) is refused by verify_tx
    f = tmp_path / "trust.json"
    f.write_text(json.dumps(dict(sim.genesis, chain_id="chainX")))
    before = f.read_bytes()
    r = lm("--rpc", sim.url, "--trust", f, "--out", f, "--mode", "strict")
    assert r.returncode == 1, r.stderr
    assert "transaction is for chain 'chain0', trusted chain is 'chainX'" in r.stderr
    assert f.read_bytes() == before


# -- 6. an older checkpoint offered as newer --------------------------------------------

def test_an_older_checkpoint_is_never_saved_over_a_newer_one(device, tmp_path):
    p = pool()
    s = suite()
    h5, items = block(p[:4], [call("remove(string)", [node_hex(p[3][0])])])
    newer = transition.apply_set_changes(checkpoint.load(device), h5, items, s)
    checkpoint.save(device, newer)
    assert checkpoint.load(device).number == 5
    msg = refused(device, lambda t: make_trust(p[:4], number=4))
    assert "stored version 5 is newer than 4" in msg
    # install() of an older provisioning file keeps the stored one too
    stale = str(tmp_path / "stale.json")
    with open(stale, "w") as fh:
        json.dump(trust_json(S, p[:4], None, 3, PARENT), fh)
    before = stored(device)
    assert checkpoint.install(device, stale).number == 5
    assert stored(device) == before


def test_sync_out_never_overwrites_a_newer_checkpoint(sim, tmp_path):
    from lightmeter_host.lightclient import synccmd
    newer, _ = synccmd.run_python(sim.genesis, sim.url, "skipping", None, quiet=True)
    assert newer["number"] == BLOCKS
    out = tmp_path / "newer.json"
    out.write_text(json.dumps(newer))
    before = out.read_bytes()
    r = lm("--rpc", sim.url, "--trust", genesis_file(sim, tmp_path), "--to", 5, "--out", out)
    assert r.returncode == 2, r.stderr
    assert "holds block %d, newer than 5: not overwritten" % BLOCKS in r.stderr
    assert out.read_bytes() == before
