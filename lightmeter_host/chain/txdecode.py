"""`lightmeter decode tx`: a Tars-encoded transaction made readable and checked.

The Tars codec (txcodec) gives the fields; the firmware (lightmeter.chain.tx) computes
the hash and recovers the sender, so the rule used here is the device's rule.
"""

from lightmeter.crypto import suite as suite_mod
from lightmeter.chain import tx as txm
from lightmeter.chain import txread
from lightmeter.errors import Invalid, Malformed

from lightmeter_host.chain import txcodec


def read_input(arg):
    """Transaction bytes from HEX or @FILE (a file of hex text or of raw bytes)."""
    if not arg.startswith("@"):
        return txcodec.decode_hex(arg.strip())
    with open(arg[1:], "rb") as f:
        data = f.read()
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        return data
    try:
        return txcodec.decode_hex(text)
    except Malformed:
        return data


def to_firmware(fields):
    """The codec's dict (str strings) as the firmware's tx dict (bytes everywhere)."""
    tx = txm.defaults()
    for k in tx:
        v = fields.get(k, tx[k])
        tx[k] = v.encode() if isinstance(v, str) else v
    return tx


def _jsonable(v):
    return "0x" + bytes(v).hex() if isinstance(v, (bytes, bytearray)) else v


def describe(raw, crypto):
    """Decoded fields under FISCO names, plus hash, sender and signature_valid."""
    from lightmeter_host.chain import backends

    backends.install()
    fields = txcodec.decode_transaction(raw)
    suite = suite_mod.get(crypto)
    tx = to_firmware(fields)
    digest = txm.tx_hash(tx, suite)
    out = {k: _jsonable(v) for k, v in fields.items()}
    out["hash"] = "0x" + digest.hex()
    if fields.get("dataHash"):
        out["dataHash_matches"] = fields["dataHash"] == digest
    try:
        out["sender"] = "0x" + txread.sender(tx, suite, digest).hex()
        out["signature_valid"] = True
    except (Invalid, Malformed) as e:
        out["sender"] = None
        out["signature_valid"] = False
        out["reason"] = str(e)
    return out
