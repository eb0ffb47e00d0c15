"""Builds small signed chains for firmware tests (both suites, any sealer set).

Keys are derived from a label with SHA-256, so every run and both runtimes see
the same chain.
"""

import hashlib

from lightmeter.chain import receipt, tx as tx_mod
from lightmeter.chain import merklebuild
from lightmeter.chain import headerwrite
from lightmeter.client import transition
from lightmeter.crypto import suite as suite_mod

PARENT = bytes(range(32))
SENDER = b"\x42" * 32  # the key that signs the transactions of block()


def sealers(suite_name, n, label=b"sealer"):
    """[(node_id, priv)] for n sealers, sorted by node id as FISCO orders them."""
    s = suite_mod.get(suite_name)
    out = []
    for i in range(n):
        priv = hashlib.sha256(label + bytes([i])).digest()
        out.append((s.public_key(priv), priv))
    out.sort()
    return out


def trust_json(suite_name, nodes, weights=None, number=None, hash=None):
    """A TRUST.json object for the sealer set nodes."""
    weights = weights or [1] * len(nodes)
    t = {"chain_id": "chain0", "group_id": "group0", "crypto": suite_name,
         "sealers": [{"node_id": n.hex(), "weight": w} for (n, _), w in zip(nodes, weights)]}
    if number is not None:
        t["number"] = number
        t["hash"] = "0x" + hash.hex()
    return t


def signed_header(suite_name, nodes, number=5, signers=None, weights=None, parent=None, **kw):
    """(JSON result, Header) of a header signed by the sealers at indices signers."""
    s = suite_mod.get(suite_name)
    h = headerwrite.new(number, parent or bytes(range(32)), [n for n, _ in nodes], weights,
                   txs_root=kw.pop("txs_root", b"\x11" * 32),
                   receipts_root=kw.pop("receipts_root", b"\x22" * 32),
                   state_root=b"\x33" * 32, gas_used=b"21000", timestamp=kw.pop("timestamp", 1700000000000), **kw)
    digest = h.hash(s)
    if signers is None:
        signers = range(len(nodes))
    h.signatures = [(i, s.sign_node(nodes[i][1], digest)) for i in signers]
    return headerwrite.to_json(h, digest), h


def make_tx(name, data, number, to=transition.CONSENSUS_ADDRESS, nonce=b"n", chain_id=b"chain0",
            group_id=b"group0"):
    s = suite_mod.get(name)
    t = tx_mod.defaults()
    t["chainID"] = chain_id
    t["groupID"] = group_id
    t["blockLimit"] = number + 10
    t["nonce"] = nonce
    t["to"] = to
    t["input"] = data
    t["signature"] = s.sign_tx(SENDER, tx_mod.tx_hash(t, s))
    return t


def make_receipt(number, status=0, gas=21000):
    return receipt.from_json({"version": 0, "gasUsed": str(gas), "contractAddress": "", "status": status,
                              "output": "0x", "logEntries": [], "blockNumber": number})


def block(name, nodes, calls, number=5, weights=None, signers=None, statuses=None, tos=None,
          parent=PARENT, chain_id=b"chain0", group_id=b"group0"):
    """(Header signed by nodes, [(tx, tx proof, receipt, receipt proof)]) of a block holding the
    calls (to the consensus precompile unless tos says otherwise)."""
    s = suite_mod.get(name)
    txs = []
    rcs = []
    for i in range(len(calls)):
        to = tos[i] if tos else transition.CONSENSUS_ADDRESS
        txs.append(make_tx(name, calls[i], number, to, bytes([0x6e, i]), chain_id, group_id))
        rcs.append(make_receipt(number, statuses[i] if statuses else 0, 21000 + i))
    th = [tx_mod.tx_hash(t, s) for t in txs]
    rh = [r.hash(s) for r in rcs]
    _, h = signed_header(name, nodes, number, signers, weights, parent,
                         txs_root=merklebuild.root(th, s.hash), receipts_root=merklebuild.root(rh, s.hash))
    items = [(txs[i], merklebuild.proof(th, i, s.hash), rcs[i], merklebuild.proof(rh, i, s.hash))
             for i in range(len(txs))]
    return h, items
