"""Hostile inputs, generated: every verifier refuses with a typed error or a
"valid": false report, never accepts a forgery and never crashes otherwise.

Also: the header preimage, which has no length prefixes, reads back into
exactly one header (a parser that needs nothing but the bytes recovers every
field), so no two valid headers share a hash preimage.
"""

import copy
import json

from hypothesis import assume, given, settings, strategies as st

from lightmeter.client import check, trust as trust_mod
from lightmeter.chain import header, merkle, receipt, tx as txm
from lightmeter.chain import merklebuild
from lightmeter.chain import txread
from lightmeter.crypto import suite
from lightmeter.errors import LightmeterError
from support import load_vector

SM = suite.get("sm")
BLOCK = load_vector("fisco-doc-sm-block2.json")["result"]
RECEIPT = load_vector("fisco-doc-sm-receipt2.json")["result"]
TRUST = {"chain_id": "chain0", "group_id": "group0", "crypto": "sm",
         "sealers": [{"node_id": n, "weight": 1} for n in BLOCK["sealerList"]]}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=80) | st.sampled_from(["0x", "0x00", "0x" + "00" * 32, "0x" + "11" * 64, "24363", ""]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=8)


def paths(obj, prefix=()):
    """Every path to a value inside a JSON object."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from paths(v, prefix + (i,))


def replaced(obj, path, value):
    obj = copy.deepcopy(obj)
    if not path:
        return value
    cur = obj
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return obj


def get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


def outcome(fn, *args):
    try:
        return fn(*args)
    except LightmeterError:
        return None


BLOCK_PATHS = list(paths(BLOCK))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(BLOCK_PATHS), json_values)
def test_no_mutated_header_is_accepted(path, value):
    assume(get(BLOCK, path) != value)
    # A null "hash" is an absent claim: the header itself is unchanged.
    assume(not (path == ("hash",) and value is None))
    mutated = replaced(BLOCK, path, value)
    res = outcome(check.check_header, mutated, TRUST)
    assert res is None or not res["valid"], "accepted a forged header at %r = %r" % (path, value)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.binary(min_size=64, max_size=64)), max_size=5))
def test_random_signature_lists_never_reach_quorum(sigs):
    b = dict(BLOCK, signatureList=[{"sealerIndex": i, "signature": "0x" + s.hex()} for i, s in sigs])
    res = outcome(check.check_header, b, TRUST)
    assert res is None or not res["valid"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=9),
       st.integers(0, 8), st.integers(0, 10**6), st.integers(0, 255))
def test_a_changed_proof_byte_is_never_accepted(leaves, index, pos, xor):
    assume(index < len(leaves) and xor)
    root = merklebuild.root(leaves, SM.hash)
    items = merklebuild.proof(leaves, index, SM.hash)
    flat = bytearray(b"".join(items))
    flat[pos % len(flat)] ^= xor
    bad = [bytes(flat[i:i + 32]) for i in range(0, len(flat), 32)]
    try:
        pos_found = merkle.verify(bad, leaves[index], root, SM.hash)
    except LightmeterError:
        return
    # Accepting is only right if the change did not matter: a duplicate leaf.
    assert bad == items or leaves.count(leaves[index]) > 1, pos_found


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=12), st.binary(min_size=32, max_size=32),
       st.binary(min_size=32, max_size=32))
def test_random_proofs_only_raise_typed_errors(items, leaf, root):
    assume(not (items == [leaf] and leaf == root and any(leaf)))  # a genuine one-leaf proof
    try:
        merkle.verify(items, leaf, root, SM.hash)
    except LightmeterError:
        return
    raise AssertionError("a random proof was accepted")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(paths(RECEIPT))), json_values)
def test_mutated_receipt_is_refused(path, value):
    assume(get(RECEIPT, path) != value)
    assume(path[:1] not in (("checksumContractAddress",), ("input",), ("from",), ("to",),
                            ("message",), ("extraData",), ("receiptProof",), ("transactionProof",),
                            ("transactionHash",)))  # fields a receipt does not commit to
    assume(not (path == ("hash",) and value in (None, "0x")))  # an absent claim
    r = replaced(RECEIPT, path, value)
    res = outcome(check.check_receipt, r, {"result": BLOCK, "jsonrpc": "2.0"}, TRUST)
    assert res is None or not res["valid"], (path, value)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_as_trust_or_tx_or_receipt_gives_typed_errors(value):
    for fn in (trust_mod.from_json, txread.from_json, receipt.from_json,
               lambda v: header.from_json(v, 64)):
        outcome(fn, value)


# -- the preimage parses one way only ---------------------------------------

def parse_preimage(p):
    """Fields of a non-genesis header from its preimage alone (test-side reader)."""
    ib = lambda b: int.from_bytes(b, "big")
    f = {"version": ib(p[0:4]), "parent_number": ib(p[4:12]), "parent_hash": p[12:44],
         "txs_root": p[44:76], "receipts_root": p[76:108], "state_root": p[108:140],
         "number": ib(p[140:148])}
    i = 148
    while i < len(p) and 0x30 <= p[i] <= 0x39:
        i += 1
    f["gas_used"] = p[148:i]
    f["timestamp"] = ib(p[i:i + 8])
    f["sealer"] = ib(p[i + 8:i + 16])
    rest = p[i + 16:]
    k, e = divmod(len(rest), 72)
    f["sealer_list"] = [rest[64 * j:64 * j + 64] for j in range(k)]
    f["extra_data"] = rest[64 * k:64 * k + e]
    f["weights"] = [ib(rest[64 * k + e + 8 * j:64 * k + e + 8 * j + 8]) for j in range(k)]
    return f


@st.composite
def valid_headers(draw):
    n = draw(st.integers(1, 2**63 - 1))
    k = draw(st.integers(1, 6))
    ids = sorted(draw(st.lists(st.binary(min_size=64, max_size=64), min_size=k, max_size=k, unique=True)))
    obj = {
        "version": draw(st.integers(header.V3_0_0, 2**31 - 1)), "number": n,  # 3.x versions (below: rc)
        "parentInfo": [{"blockNumber": n - 1, "blockHash": "0x" + draw(st.binary(min_size=32, max_size=32)).hex()}],
        "txsRoot": "0x" + draw(st.binary(min_size=32, max_size=32)).hex(),
        "receiptsRoot": "0x" + draw(st.binary(min_size=32, max_size=32)).hex(),
        "stateRoot": "0x" + draw(st.binary(min_size=32, max_size=32)).hex(),
        "gasUsed": str(draw(st.integers(0, 2**256 - 1))),
        "timestamp": draw(st.integers(0, 2**48 - 1)), "sealer": draw(st.integers(0, k - 1)),
        "sealerList": ["0x" + x.hex() for x in ids],
        "consensusWeights": draw(st.lists(st.integers(1, 2**40), min_size=k, max_size=k)),
        "extraData": "0x" + draw(st.binary(max_size=71)).hex(),
    }
    return obj


@settings(max_examples=300, deadline=None)
@given(valid_headers())
def test_preimage_reads_back_into_the_same_header(obj):
    h = header.from_json(obj)
    f = parse_preimage(h.preimage())
    assert (f["parent_number"], f["parent_hash"]) == h.parents[0]
    for k in ("version", "txs_root", "receipts_root", "state_root", "number", "gas_used",
              "timestamp", "sealer", "sealer_list", "extra_data", "weights"):
        assert f[k] == getattr(h, k), k


def test_the_reader_above_reads_the_real_block():
    h = header.from_json(BLOCK, 64)
    f = parse_preimage(h.preimage())
    assert f["gas_used"] == b"24363" and len(f["sealer_list"]) == 4 and f["extra_data"] == b""


def _built_tx():
    from chainmaker import sealers, signed_header, trust_json

    s = suite.get("ecdsa")
    t = txm.defaults()
    t.update(chainID=b"chain0", groupID=b"group0", blockLimit=12, nonce=b"7", to=b"ab" * 20,
             input=b"\x01\x02", abi=b"[]")
    t["signature"] = s.sign_tx(b"\x09" * 32, txm.tx_hash(t, s))
    leaves = [txm.tx_hash(t, s), s.hash(b"other")]
    nodes = sealers("ecdsa", 4)
    blk, _ = signed_header("ecdsa", nodes, number=10, txs_root=merklebuild.root(leaves, s.hash))
    js = txread.to_json(t, s)
    js["txProof"] = [x.hex() for x in merklebuild.proof(leaves, 0, s.hash)]
    return js, blk, trust_json("ecdsa", nodes)


TX_JSON, TX_BLOCK, TX_TRUST = _built_tx()


def test_built_tx_is_valid():
    assert check.check_tx(TX_JSON, TX_BLOCK, TX_TRUST)["valid"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(paths(TX_JSON))), json_values)
def test_no_mutated_transaction_is_accepted(path, value):
    assume(get(TX_JSON, path) != value)
    assume(path[:1] not in (("importTime",), ("extraData",)))  # not hashed, not checked
    assume(not (path in (("hash",), ("from",)) and value in (None, "")))  # absent claims
    res = outcome(check.check_tx, replaced(TX_JSON, path, value), TX_BLOCK, TX_TRUST)
    assert res is None or not res["valid"], (path, value)
