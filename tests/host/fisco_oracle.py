"""An independent FISCO BCOS 3.x oracle for tests: hashes, Merkle trees and signatures written
apart from the firmware, from docs/fisco-versions.md (§3 hash rules, §5 Merkle) and
/work/shared/fisco-bcos-3x.md, on coincurve (libsecp256k1) and pycryptodome (Keccak-256).

It never imports lightmeter: tests compare the firmware's answers with this one's. It also builds
tests/vectors/oracle-ecdsa-block.json, a signed ecdsa v3.x block (no public one with signatures
exists), deterministically (RFC 6979 signatures, keys from SHA-256 of labels).
"""

import hashlib

import coincurve
from Crypto.Hash import keccak


def keccak256(data):
    k = keccak.new(digest_bits=256)
    k.update(data)
    return k.digest()


def be(n, width):
    return n.to_bytes(width, "big")


def unhex(s):
    return bytes.fromhex(s[2:] if s[:2] == "0x" else s)


# -- preimages (docs/fisco-versions.md §3) ------------------------------------------------------

def header_preimage(j):
    """§3.1 from node JSON; genesis hashes its unset roots and gasUsed as empty strings."""
    out = be(j["version"], 4)
    for p in j["parentInfo"]:
        out += be(p["blockNumber"], 8) + unhex(p["blockHash"])
    if j["number"] != 0:
        out += unhex(j["txsRoot"]) + unhex(j["receiptsRoot"]) + unhex(j["stateRoot"])
    out += be(j["number"], 8)
    if j["number"] != 0:
        out += j["gasUsed"].encode()
    out += be(j["timestamp"], 8) + be(j["sealer"], 8)
    out += b"".join(unhex(n) for n in j["sealerList"])
    out += unhex(j["extraData"])
    out += b"".join(be(w, 8) for w in j["consensusWeights"])
    return out


def rc4_header_preimage(j):
    """§3.4 rc4: the same order, each integer as htonl of its low 32 bits in an 8-byte
    little-endian long: be32(value mod 2**32) then four zero bytes."""
    def i(n):
        return be(n % (1 << 32), 4) + bytes(4)
    out = i(j["version"])
    for p in j["parentInfo"]:
        out += i(p["blockNumber"]) + unhex(p["blockHash"])
    out += unhex(j["txsRoot"]) + unhex(j["receiptsRoot"]) + unhex(j["stateRoot"])
    out += i(j["number"]) + j["gasUsed"].encode() + i(j["timestamp"]) + i(j["sealer"])
    out += b"".join(unhex(n) for n in j["sealerList"]) + unhex(j["extraData"])
    out += b"".join(i(w) for w in j["consensusWeights"])
    return out


def tx_preimage(t):
    """§3.2; t has str fields as the sender chose them (nonce the raw string), input bytes."""
    v = t["version"]
    out = (be(v, 4) + t["chainID"].encode() + t["groupID"].encode() + be(t["blockLimit"], 8) +
           t["nonce"].encode() + t["to"].encode() + t["input"] + t.get("abi", "").encode())
    if v >= 1:
        out += (t["value"].encode() + t["gasPrice"].encode() + be(t["gasLimit"], 8) +
                t["maxFeePerGas"].encode() + t["maxPriorityFeePerGas"].encode())
    if v >= 2:
        out += bytes(t["extension"])
    return out


def receipt_preimage(j):
    """§3.3 from node JSON; contractAddress hashed as stored (no 0x)."""
    ca = j["contractAddress"]
    ca = ca[2:] if ca.startswith("0x") else ca
    out = be(j["version"], 4) + j["gasUsed"].encode() + ca.encode() + be(j["status"], 4) + unhex(j["output"])
    if j["version"] >= 1:
        out += j["effectiveGasPrice"].encode()
    for log in j["logEntries"]:
        out += log["address"].encode() + b"".join(unhex(t) for t in log["topics"]) + unhex(log["data"])
    return out + be(j["blockNumber"], 8)


# -- Merkle (§5.1, §5.2) --------------------------------------------------------------------------

def _levels(leaves, H):
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        cur = levels[-1]
        levels.append([H(b"".join(cur[i:i + 2])) for i in range(0, len(cur), 2)])
    return levels


def merkle_root(leaves, H=keccak256):
    return _levels(leaves, H)[-1][0] if leaves else bytes(32)


def merkle_proof(leaves, index, H=keccak256):
    levels = _levels(leaves, H)
    if len(leaves) == 1:
        return [leaves[0]]
    out = []
    for level in levels[:-1]:
        start = index - index % 2
        group = level[start:start + 2]
        out += [be(len(group), 4) + bytes(28)] + group
        index //= 2
    return out


def walk_proof(items, leaf, H=keccak256):
    """(root, position) a proof leads to from leaf, with no checks beyond membership."""
    if len(items) == 1:
        return items[0], 0
    h, i, pos, depth = leaf, 0, 0, 0
    while i < len(items):
        c = int.from_bytes(items[i][:4], "big")
        group = items[i + 1:i + 1 + c]
        pos |= group.index(h) << depth
        h = H(b"".join(group))
        i += 1 + c
        depth += 1
    return h, pos


# -- secp256k1 ------------------------------------------------------------------------------------

def key(label):
    return coincurve.PrivateKey(hashlib.sha256(label).digest())


def node_id(priv):
    return priv.public_key.format(compressed=False)[1:]


def sign(priv, digest):
    return priv.sign_recoverable(digest, hasher=None)


def recover_address(sig, digest):
    pub = coincurve.PublicKey.from_signature_and_message(bytes(sig), digest, hasher=None)
    return keccak256(pub.format(compressed=False)[1:])[-20:]


# -- the oracle's block ---------------------------------------------------------------------------

def _h0x(b):
    return "0x" + b.hex()


def build_block():
    """A v3.7-format ecdsa block 41 with 5 transactions (versions 0, 1, 2; decimal and hex
    nonces), their receipts (a deployment, logs, versions 0-2), a 5-leaf tree (one-child groups
    at two levels) and 3 of 4 sealers' signatures. Returns the vector's dict."""
    sealers = sorted((node_id(k), k) for k in (key(b"oracle-sealer-%d" % i) for i in range(4)))
    user = key(b"oracle-user")
    registry = "0x" + keccak256(b"registry")[-20:].hex()
    txs = []
    for i, (v, nonce) in enumerate(((0, "78312947563912009188"), (0, "n-oracle-1"), (1, "31323334"),
                                    (2, "12345678901234567890123456789"), (0, "5"))):
        t = {"version": v, "chainID": "chain0", "groupID": "group0", "blockLimit": 41 + 500 + i,
             "nonce": nonce, "to": registry if i != 4 else "", "input": bytes([i]) * (4 + i), "abi": ""}
        if v >= 1:
            t.update(value="0x0", gasPrice="0x%x" % i, gasLimit=3000000 + i, maxFeePerGas="",
                     maxPriorityFeePerGas="")
        if v >= 2:
            t["extension"] = [1, 2, i]
        txs.append(t)
    tx_hashes = [keccak256(tx_preimage(t)) for t in txs]
    receipts = []
    for i, t in enumerate(txs):
        r = {"version": t["version"], "gasUsed": str(21000 + i), "status": 0,
             "contractAddress": keccak256(b"deployed")[-20:].hex() if t["to"] == "" else "",
             "output": _h0x(bytes([i])) if i % 2 else "0x",
             "logEntries": [{"address": registry[2:], "topics": [_h0x(keccak256(b"topic%d" % k)) for k in range(i % 3)],
                             "data": _h0x(bytes([i, i]))}] if i in (0, 2, 3) else [],
             "blockNumber": 41}
        if t["version"] >= 1:
            r["effectiveGasPrice"] = str(i)
        receipts.append(r)
    receipt_hashes = [keccak256(receipt_preimage(r)) for r in receipts]
    hdr = {"version": 0x03070000, "number": 41, "timestamp": 1718000000123, "sealer": 2,
           "parentInfo": [{"blockNumber": 40, "blockHash": _h0x(keccak256(b"block40"))}],
           "txsRoot": _h0x(merkle_root(tx_hashes)), "receiptsRoot": _h0x(merkle_root(receipt_hashes)),
           "stateRoot": _h0x(keccak256(b"state41")), "gasUsed": str(sum(21000 + i for i in range(5))),
           "sealerList": [_h0x(n) for n, _ in sealers], "consensusWeights": [1, 2, 1, 1],
           "extraData": "0x"}
    digest = keccak256(header_preimage(hdr))
    hdr["hash"] = _h0x(digest)
    hdr["signatureList"] = [{"sealerIndex": i, "signature": _h0x(sign(sealers[i][1], digest))} for i in (0, 1, 3)]
    tx_json = []
    for i, t in enumerate(txs):
        sig = sign(user, tx_hashes[i])
        j = {k: v for k, v in t.items() if k != "nonce"}
        j.update(input=_h0x(t["input"]), signature=_h0x(sig), hash=_h0x(tx_hashes[i]),
                 **{"from": _h0x(recover_address(sig, tx_hashes[i]))}, importTime=1718000000000,
                 txProof=[x.hex() for x in merkle_proof(tx_hashes, i)], transactionProof=[])
        j["nonce_as_sent"] = t["nonce"]
        j["nonce_v3_2"] = t["nonce"] if t["nonce"].isdigit() and t["nonce"][0] != "0" else None
        j["nonce_v3_3"] = t["nonce"].encode().hex()
        tx_json.append(j)
    rc_json = [dict(r, hash=_h0x(receipt_hashes[i]), transactionHash=_h0x(tx_hashes[i]),
                    txReceiptProof=[x.hex() for x in merkle_proof(receipt_hashes, i)], receiptProof=[])
               for i, r in enumerate(receipts)]
    return {
        "_source": "built by tests/host/fisco_oracle.py (coincurve + pycryptodome, its own preimage "
                   "and Merkle code from docs/fisco-versions.md §3 and §5; no lightmeter import), not by "
                   "a node; test_fisco_oracle.py rebuilds it and checks this file is its output",
        "suite": "ecdsa",
        "trust": {"chain_id": "chain0", "group_id": "group0", "crypto": "ecdsa",
                  "sealers": [{"node_id": n.hex(), "weight": w} for (n, _), w in zip(sealers, hdr["consensusWeights"])]},
        "header": hdr,
        "transactions": tx_json,
        "receipts": rc_json,
        "sender": _h0x(keccak256(user.public_key.format(compressed=False)[1:])[-20:]),
    }
