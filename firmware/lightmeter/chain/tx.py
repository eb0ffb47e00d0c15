"""FISCO BCOS 3.x transactions: fields, hash preimage (versions 0-2) and sender.

Preimage (bcos-tars-protocol impl/TarsHashable.h), raw concatenation:

    int32 version | chainID | groupID | int64 blockLimit | nonce | to | input | abi
    [version >= 1] | value | gasPrice | int64 gasLimit | maxFeePerGas | maxPriorityFeePerGas
    [version >= 2] | extension

Signature, importTime, attribute, sender, extraData are not hashed. The sender
is recovered from the signature (ecdsa) or checked with the public key the
signature carries (sm); its address is the last 20 bytes of H(pub).

A transaction is held as a dict with FISCO's field names, byte values as bytes:
the same dict the host's Tars codec produces, so both paths share this hash.
"""

from lightmeter.chain import fields
from lightmeter.errors import Malformed, Unsupported

TEXT_FIELDS = ("chainID", "groupID", "nonce", "to", "abi", "value", "gasPrice",
               "maxFeePerGas", "maxPriorityFeePerGas")
MAX_INPUT = 1 << 20


def defaults():
    """A version-0 transaction with every field at its default."""
    return {
        "version": 0, "chainID": b"", "groupID": b"", "blockLimit": 0, "nonce": b"",
        "to": b"", "input": b"", "abi": b"", "value": b"", "gasPrice": b"", "gasLimit": 0,
        "maxFeePerGas": b"", "maxPriorityFeePerGas": b"", "extension": b"",
        "signature": b"", "type": 0,
    }


def preimage(tx):
    """The exact bytes FISCO BCOS hashes for the transaction dict tx."""
    v = tx["version"]
    if v < 0 or v > 2:
        raise Unsupported("transaction version %d (0, 1 and 2 are known)" % v)
    if tx.get("type", 0) != 0:
        raise Unsupported("transaction type %d (only FISCO-native type 0)" % tx["type"])
    ib = fields.int_be
    parts = [ib(v, 4), tx["chainID"], tx["groupID"], ib(tx["blockLimit"], 8), tx["nonce"],
             tx["to"], tx["input"], tx["abi"]]
    if v >= 1:
        parts += [tx["value"], tx["gasPrice"], ib(tx["gasLimit"], 8), tx["maxFeePerGas"],
                  tx["maxPriorityFeePerGas"]]
    if v >= 2:
        parts.append(tx["extension"])
    return b"".join(parts)


def tx_hash(tx, suite):
    """The transaction hash, recomputed from the fields."""
    return suite.hash(preimage(tx))


def sender(tx, suite, digest=None):
    """20-byte address that signed tx (Invalid if the signature does not verify)."""
    if digest is None:
        digest = tx_hash(tx, suite)
    return suite.address(suite.tx_signer(digest, tx["signature"]))


def from_json(obj):
    """Decode getTransaction JSON (the response or its result) into a tx dict.

    Also returns the node's claims under "claimed_hash" and "claimed_from"
    (None when absent); they are never trusted, only compared.
    """
    obj = fields.unwrap(obj)
    g = fields.get
    tx = defaults()
    tx["version"] = v = fields.integer(g(obj, "version"), "version", 0, fields.INT32_MAX)
    tx["chainID"] = fields.text(g(obj, "chainID"), "chainID", 256)
    tx["groupID"] = fields.text(g(obj, "groupID"), "groupID", 256)
    tx["blockLimit"] = fields.integer(g(obj, "blockLimit"), "blockLimit")
    # The node prints the nonce string as the hex of its bytes, without 0x.
    tx["nonce"] = fields.hexbytes(g(obj, "nonce"), "nonce", prefix=False)
    if len(tx["nonce"]) > 256:
        raise Malformed("nonce: longer than 256 bytes")
    tx["to"] = fields.text(g(obj, "to"), "to", 256)
    tx["input"] = fields.hexbytes(g(obj, "input"), "input", prefix=True)
    if len(tx["input"]) > MAX_INPUT:
        raise Malformed("input: longer than %d bytes" % MAX_INPUT)
    tx["abi"] = fields.text(obj.get("abi", ""), "abi", MAX_INPUT)
    if v >= 1:
        for k in ("value", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas"):
            tx[k] = fields.text(g(obj, k), k, 256)
        tx["gasLimit"] = fields.integer(g(obj, "gasLimit"), "gasLimit")
    if v >= 2:
        ext = fields.array(g(obj, "extension"), "extension", MAX_INPUT)
        tx["extension"] = bytes([fields.integer(b, "extension[]", 0, 255) for b in ext])
    tx["signature"] = fields.hexbytes(g(obj, "signature"), "signature", prefix=True)
    claimed = obj.get("hash")
    tx["claimed_hash"] = None if claimed is None else fields.hexbytes(claimed, "hash", 32)
    frm = obj.get("from")
    tx["claimed_from"] = None if frm in (None, "") else fields.hexbytes(frm, "from", 20)
    return tx


def to_json(tx, suite, digest=None, sender_addr=None):
    """The node's getTransaction JSON for tx (hash and from recomputed unless given)."""
    if digest is None:
        digest = tx_hash(tx, suite)
    if sender_addr is None:
        sender_addr = sender(tx, suite, digest)
    out = {
        "version": tx["version"], "hash": fields.hex0x(digest), "nonce": fields.hex0x(tx["nonce"])[2:],
        "blockLimit": tx["blockLimit"], "to": tx["to"].decode(), "input": fields.hex0x(tx["input"]),
        "from": fields.hex0x(sender_addr), "importTime": tx.get("importTime", 0),
        "chainID": tx["chainID"].decode(), "groupID": tx["groupID"].decode(),
        "abi": tx["abi"].decode(), "signature": fields.hex0x(tx["signature"]),
        "extraData": tx.get("extraData", b"").decode(),
    }
    if tx["version"] >= 1:
        for k in ("value", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas"):
            out[k] = tx[k].decode()
        out["gasLimit"] = tx["gasLimit"]
    if tx["version"] >= 2:
        out["extension"] = list(tx["extension"])
    return out
