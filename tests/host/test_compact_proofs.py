"""Compact Merkle proofs (proto/link.md, "Compact proofs"): the relay's converter
(lightmeter_host.chain.proofs) against the vectors, and hostile inputs against the device's
verify_compact, which must accept exactly what verify accepts for the FISCO form."""

import json
from pathlib import Path

from hypothesis import given, settings, strategies as st

from lightmeter.chain import merkle
from lightmeter.chain import merklebuild
from lightmeter.crypto import suite
from lightmeter.errors import Invalid, Malformed
from lightmeter_host import relay
from lightmeter_host.chain import proofs

ROOT = Path(__file__).resolve().parents[2]
K = suite.get("ecdsa").hash


def test_the_converter_makes_the_vectors():
    vs = json.loads((ROOT / "proto" / "vectors" / "link.json").read_text())["compact_proofs"]["vectors"]
    for v in vs:
        hf = suite.get(v["crypto"]).hash
        items = [bytes.fromhex(x) for x in v["proof"]]
        leaf = bytes.fromhex(v["leaf"])
        assert proofs.compact(items, leaf, hf).hex() == v["compact"]
        assert proofs.position(items, leaf, hf) == v["index"]


def expand(data, leaf, hf):
    """The one FISCO proof a compact proof stands for (from the spec's table), or None."""
    if not data:
        return [leaf]
    out, h, i = [], leaf, 0
    while i < len(data):
        kind = data[i]
        if kind == 2:
            group, i = [h], i + 1
        elif kind in (0, 1) and i + 33 <= len(data):
            sib = data[i + 1:i + 33]
            group, i = ([h, sib] if kind == 0 else [sib, h]), i + 33
        else:
            return None
        out += [merklebuild.count_slot(len(group))] + group
        h = hf(b"".join(group))
    return out


def outcome(fn, *args):
    try:
        return fn(*args)
    except (Malformed, Invalid) as e:
        return type(e)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 40), data=st.data())
def test_compact_and_fisco_forms_agree_for_every_leaf(n, data):
    leaves = [K(b"l%d" % data.draw(st.integers(0, 5))) for _ in range(n)]  # equal leaves too
    i = data.draw(st.integers(0, n - 1))
    r = merklebuild.root(leaves, K)
    items = merklebuild.proof(leaves, i, K)
    c = proofs.compact(items, leaves[i], K, i)
    assert c is not None and len(c) <= 33 * 6
    assert merkle.verify_compact(c, leaves[i], r, K) == i == merkle.verify(items, leaves[i], r, K, i)


@settings(max_examples=500, deadline=None)
@given(n=st.integers(1, 20), i=st.integers(0, 19), cut=st.integers(0, 200), flip=st.integers(0, 255),
       junk=st.binary(max_size=80))
def test_damaged_compact_proofs_fail_typed_or_prove_what_their_expansion_proves(n, i, cut, flip, junk):
    i %= n
    leaves = [K(bytes([k])) for k in range(n)]
    r = merklebuild.root(leaves, K)
    c = bytearray(proofs.compact(merklebuild.proof(leaves, i, K), leaves[i], K) + junk)
    if c:
        c[cut % len(c)] ^= flip
    c = bytes(c)
    got = outcome(merkle.verify_compact, c, leaves[i], r, K)
    assert got in (Malformed, Invalid) or isinstance(got, int)
    ex = expand(c, leaves[i], K)
    if isinstance(got, int):  # accepted: exactly when the FISCO proof it stands for is
        assert ex is not None and merkle.verify(ex, leaves[i], r, K, got) == got
    elif ex is not None:  # refused: so is the FISCO proof it stands for
        assert outcome(merkle.verify, ex, leaves[i], r, K, 0) in (Malformed, Invalid)


def test_the_relay_sends_compact_proofs_only_when_asked():
    leaves = [K(b"tx%d" % k) for k in range(51)]
    rleaves = [K(b"rc%d" % k) for k in range(51)]
    tx_hash = leaves[7]
    node_tx = {"txProof": [x.hex() for x in merklebuild.proof(leaves, 7, K)]}
    node_rc = {"hash": "0x" + rleaves[7].hex(), "blockNumber": 9,
               "txReceiptProof": [x.hex() for x in merklebuild.proof(rleaves, 7, K)]}
    got = relay._compact((merkle.from_json(node_rc, "txReceiptProof"), merkle.from_json(node_tx, "txProof")),
                         tx_hash, node_rc["hash"])
    assert all(isinstance(p, bytes) and len(p) == 6 * 33 for p in got)
    assert merkle.verify(got[1], tx_hash, merklebuild.root(leaves, K), K) == 7
    assert merkle.verify(got[0], rleaves[7], merklebuild.root(rleaves, K), K) == 7
    # a proof that proves nothing under either suite's hash is passed on as the node gave it
    bad = [merklebuild.count_slot(2), bytes(32), bytes(32)]
    assert relay._compact((bad, bad), tx_hash, node_rc["hash"]) == (bad, bad)
