"""Sealer-set transitions against the local node: change the set through the consensus
precompile, then follow the chain from the genesis trust, strictly (every header, proven
changes) and by skipping (as few headers as possible, bisecting on refusal)."""

import os

import pytest

from lightmeter.chain import abi, header as header_mod, merkle, receipt as receipt_mod
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import transition, trust as trust_mod
from lightmeter.chain import txread
from lightmeter.errors import Invalid
from lightmeter_host.chain import txbuild
from lightmeter_host.node import consensus, registry
from nodeutil import start_node, trust_of

KEY = b"\x42" * 32


def send(c, crypto, to=registry.ADDRESS, data=None):
    if data is None:
        data = abi.encode_call("lastSeq(address)", [bytes(20)], suite_mod.get(crypto).hash)
    tx = txbuild.make("chain0", "group0", c("getBlockNumber") + 100, os.urandom(8).hex(), to=to, data=data)
    _, raw = txbuild.sign(tx, crypto, KEY)
    return c("sendTransaction", "0x" + raw.hex(), False)


def change(c, crypto, sig, *args):
    rc = send(c, crypto, consensus.ADDRESS, abi.encode_call(sig, list(args), suite_mod.get(crypto).hash))
    return rc


def genesis_trust(c, crypto):
    t = trust_of(c, crypto)
    t["number"] = 0
    t["hash"] = c("getBlockHashByNumber", 0)
    return trust_mod.from_json(t)


def node_set(c, crypto):
    return trust_mod.from_json(trust_of(c, crypto)).sealers


class Walker:
    """Fetches and decodes headers, counting them."""

    def __init__(self, c, crypto):
        self.c = c
        self.suite = suite_mod.get(crypto)
        self.fetched = 0

    def header(self, n):
        self.fetched += 1
        blk = self.c("getBlockByNumber", n, False, True)
        return header_mod.from_json(blk, self.suite.node_sig_len), blk.get("transactions", [])

    def changes(self, tx_hashes):
        """Proven changes: the block's successful transactions to the precompile, in block order."""
        out = []
        for h in tx_hashes:
            txj = self.c("getTransaction", h, True)
            t = txread.from_json(txj)
            if t["to"] != transition.CONSENSUS_ADDRESS:
                continue
            rj = self.c("getTransactionReceipt", h, True)
            r = receipt_mod.from_json(rj)
            if r.status != 0:
                continue  # a failed change changes nothing (apply_set_changes would refuse it)
            out.append((t, merkle.parse_proof(txj["txProof"]), r, merkle.parse_proof(rj["txReceiptProof"])))
        return out


def strict_walk(c, crypto, trust, head):
    w = Walker(c, crypto)
    change_blocks = []
    for n in range(trust.number + 1, head + 1):
        h, txs = w.header(n)
        transition.verify_next(trust, h, w.suite)
        ch = w.changes(txs)
        if ch:
            change_blocks.append(n)
        trust = transition.apply_set_changes(trust, h, ch, w.suite)
    return trust, w.fetched, change_blocks


def skip_walk(c, crypto, trust, head):
    """Jump to head; on refusal try the midpoint. Returns (trust, headers fetched, path)."""
    w = Walker(c, crypto)
    path = []
    target = head
    while trust.number < head:
        h, txs = w.header(target)
        try:
            trust = transition.verify_skip(trust, h, w.suite).trust
        except Invalid:
            if target == trust.number + 1:
                raise
            target = (trust.number + 1 + target) // 2
            continue
        path.append(target)
        if target < head:
            # the checkpoint holds block target's own set; a change made in that block
            # applies from target + 1, so take it in strictly
            ch = w.changes(txs)
            if ch:
                trust = transition.apply_set_changes(trust, h, ch, w.suite)
        target = head
    return trust, w.fetched, path


@pytest.mark.parametrize("crypto", ["ecdsa", "sm"])
def test_walk_sealer_set_changes_strict_and_skipping(crypto):
    srv, c = start_node(crypto=crypto)
    try:
        g = genesis_trust(c, crypto)
        initial = sorted(srv.chain.consensus)
        spare = [k for k in sorted(srv.chain.keys) if k not in srv.chain.consensus]
        e, f, gg = spare[:3]
        send(c, crypto)
        steps = [
            ("addSealer(string,uint256)", e.hex(), 2),
            ("addSealer(string,uint256)", f.hex(), 1),
            ("setWeight(string,uint256)", e.hex(), 3),
            ("remove(string)", initial[0].hex()),
        ]
        for st in steps:
            assert change(c, crypto, *st)["status"] == 0
        send(c, crypto)
        assert change(c, crypto, "setWeight(string,uint256)", f.hex(), 0)["status"] != 0  # refused by the node
        for st in [("addObserver(string)", initial[1].hex()),
                   ("addSealer(string,uint256)", gg.hex(), 1),
                   ("remove(string)", initial[2].hex()),
                   ("setWeight(string,uint256)", f.hex(), 2)]:
            assert change(c, crypto, *st)["status"] == 0
        for _ in range(3):
            send(c, crypto)
        head = c("getBlockNumber")
        want = node_set(c, crypto)
        assert want == sorted([(initial[3], 1), (e, 3), (f, 2), (gg, 1)])

        t, strict_count, change_blocks = strict_walk(c, crypto, g, head)
        assert t.sealers == want and t.number == head
        assert t.hash == bytes.fromhex(c("getBlockHashByNumber", head)[2:])
        assert len(change_blocks) == 8

        # leaving out a change is caught by the next header
        w = Walker(c, crypto)
        first = change_blocks[0]
        trust = strict_walk(c, crypto, g, first - 1)[0]
        h, _ = w.header(first)
        transition.verify_next(trust, h, w.suite)
        trust = transition.apply_set_changes(trust, h, [], w.suite)
        h2, _ = w.header(first + 1)
        with pytest.raises(Invalid, match="sealer list"):
            transition.verify_next(trust, h2, w.suite)

        s, skip_count, path = skip_walk(c, crypto, g, head)
        assert s.sealers == want and s.number == head and s.hash == t.hash
        assert skip_count < strict_count
        # straight to the head is refused: of the genesis set only one sealer (weight 1 of 4) remains
        hh, _ = Walker(c, crypto).header(head)
        with pytest.raises(Invalid, match="need more than a third"):
            transition.verify_skip(g, hh, suite_mod.get(crypto))
        print("%s: head %d; strict %d headers, skipping %d headers fetched, accepted at %s"
              % (crypto, head, strict_count, skip_count, path))
    finally:
        srv.stop()
