"""FISCO BCOS 3.x transactions read back: from node JSON, their nonce readings, proven, their sender.

The hash preimage is chain/tx.py's (what a device needs to sign); this module is what a light
client or a host needs to read a transaction it did not make. The sender is recovered from the
signature (ecdsa) or checked with the public key the signature carries (sm); its address is the
last 20 bytes of H(pub).

The nonce in node JSON (docs/fisco-versions.md §2): v3.0.0-v3.2.x print the
decimal digits of the u256 the nonce string parses to; v3.3.0+ print the hex of
the nonce string's bytes, without 0x. The hash always covers the string the
sender chose, and the JSON does not say which form it is in: an even-length
string of digits reads both ways. from_json keeps every reading
("nonce_readings", hex first); the caller keeps the one whose hash a trusted
digest confirms (prove): a Merkle proof into a verified header, or a hash the
caller already holds from a verified block. This is sound because the readings
differ only in the nonce, so they hash to different digests, and whichever
digest is proven is the hash of a transaction the chain committed with exactly
these decoded fields; the node's JSON only offers candidates, it never decides.
A v3.0-v3.2 nonce with leading zeros or a sign prints as other digits than it
hashed and cannot be verified from JSON.
"""

from lightmeter.chain import fields
from lightmeter.chain.tx import defaults, tx_hash
from lightmeter.errors import Invalid, Malformed

TEXT_FIELDS = ("chainID", "groupID", "nonce", "to", "abi", "value", "gasPrice",
               "maxFeePerGas", "maxPriorityFeePerGas")
MAX_INPUT = 1 << 20
MAX_NONCE = 256
U256_DIGITS = 78


def sender(tx, suite, digest=None):
    """20-byte address that signed tx (Invalid if the signature does not verify)."""
    if digest is None:
        digest = tx_hash(tx, suite)
    return suite.address(suite.tx_signer(digest, tx["signature"]))


def nonce_readings(value):
    """The nonce strings a node's JSON nonce can stand for, newest form first.

    [hex of the bytes (v3.3.0+)] and/or [decimal digits of a u256 (v3.0.0-v3.2.x)];
    Malformed when it is neither.
    """
    if not isinstance(value, str):
        raise Malformed("nonce: expected a string")
    out = []
    if len(value) % 2 == 0 and len(value) <= 2 * MAX_NONCE:
        try:
            out.append(fields.hexbytes(value, "nonce", prefix=False))
        except Malformed:
            pass
    try:
        digits = fields.decimal(value, "nonce")
    except Malformed:
        digits = None
    if digits is not None and (len(digits) < U256_DIGITS or int(value) < (1 << 256)):
        out.append(digits)
    if not out:
        raise Malformed("nonce: neither hex of the nonce bytes (FISCO BCOS 3.3.0+) nor the "
                        "decimal u256 that FISCO BCOS 3.0.0-3.2.x print")
    return out


def hashes(tx, suite):
    """[(nonce, tx hash)] for each reading of the nonce; one matching claimed_hash comes first."""
    readings = tx.get("nonce_readings") or [tx["nonce"]]
    keep = tx["nonce"]
    out = []
    try:
        for n in readings:
            tx["nonce"] = n
            out.append((n, tx_hash(tx, suite)))
    finally:
        tx["nonce"] = keep
    claimed = tx.get("claimed_hash")
    if claimed is not None and len(out) > 1 and out[0][1] != claimed:
        out = [p for p in out if p[1] == claimed] + [p for p in out if p[1] != claimed]
    return out


def settle(tx, nonce):
    """Fix the nonce reading to nonce (one of tx's readings); tx hashes by it from now on."""
    tx["nonce"] = nonce
    tx.pop("nonce_readings", None)


def prove(tx, suite, check):
    """(digest, check(digest)) for the reading of the nonce that check accepts; settles tx.

    check raises Invalid for a digest it cannot confirm (merkle.verify into a verified
    root, or a comparison with a trusted hash). A reading whose hash differs from a
    claimed hash is not tried: the node's hash field must match what is proven.
    The first Invalid is raised when no reading is accepted.
    """
    cands = hashes(tx, suite)
    claimed = tx.get("claimed_hash")
    if claimed is not None:
        cands = [p for p in cands if p[1] == claimed]
        if not cands:
            raise Invalid("the transaction's hash field does not match its fields")
    first = None
    for nonce, digest in cands:
        try:
            got = check(digest)
        except Invalid as e:
            if first is None:
                first = e
            continue
        settle(tx, nonce)
        return digest, got
    raise first


def prove_hash(tx, suite, trusted):
    """Settle tx by a digest the caller already trusts; False if no reading hashes to it."""
    for nonce, digest in hashes(tx, suite):
        if digest == trusted:
            settle(tx, nonce)
            return True
    return False


def likely_hash(tx, suite):
    """The hash to report before anything is proven: the reading matching the node's hash
    field, else the newest form. Never a verification result."""
    return hashes(tx, suite)[0][1]


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
    readings = nonce_readings(g(obj, "nonce"))
    tx["nonce"] = readings[0]
    if len(readings) > 1:
        tx["nonce_readings"] = readings
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
