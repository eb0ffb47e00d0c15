"""Verification reports for engineers: node JSON in, one result dict out.

This is what `lightmeter verify …` prints, computed by the firmware code itself
so that the CPython and the MicroPython runtime give identical answers.
Malformed input raises Malformed (the caller reports it and exits 2); a check
that fails gives {"valid": False, "reason": …}.
"""

from lightmeter.chain import fields, header as header_mod, merkle, receipt as receipt_mod
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import trust as trust_mod, verify
from lightmeter.chain import txread
from lightmeter.errors import Invalid


_hex = fields.hex0x


def _header(block, trust_obj):
    trust = trust_mod.from_json(trust_obj)
    suite = suite_mod.get(trust.crypto)
    hdr = header_mod.from_json(block, suite.node_sig_len)
    return trust, suite, hdr


def _header_report(hdr, trust, suite):
    out = {"valid": False, "number": hdr.number}
    try:
        res = verify.verify_header(hdr, trust, suite)
    except Invalid as e:
        out["hash"] = _hex(hdr.hash(suite))
        out["reason"] = str(e)
        return out, False
    out.update(valid=True, hash=_hex(res.hash), signers=res.signers, weight=res.weight,
               quorum=res.quorum)
    return out, True


def check_header(block, trust_obj):
    """Report for `verify header`."""
    trust, suite, hdr = _header(block, trust_obj)
    return _header_report(hdr, trust, suite)[0]


def _proof(obj, key):
    return merkle.from_json(obj, key)


def _item_report(hdr, trust, suite, key, digest, check_item):
    """The header's report, then check_item() -> extra fields, or the first failure."""
    out, ok = _header_report(hdr, trust, suite)
    out[key] = _hex(digest)
    if not ok:
        out["reason"] = "header: " + out["reason"]
        return out
    try:
        out.update(check_item())
    except Invalid as e:
        out.update(valid=False, reason=str(e))
    return out


def check_receipt(receipt_obj, block, trust_obj):
    """Report for `verify receipt`: the header first, then the receipt in it."""
    trust, suite, hdr = _header(block, trust_obj)
    rcpt = receipt_mod.from_json(receipt_obj)
    items = _proof(receipt_obj, "txReceiptProof")

    def item():
        return {"index": verify.verify_receipt(rcpt, items, hdr, suite)[1]}

    return _item_report(hdr, trust, suite, "receipt_hash", rcpt.hash(suite), item)


def check_tx(tx_obj, block, trust_obj):
    """Report for `verify tx`: the header first, then the transaction in it."""
    trust, suite, hdr = _header(block, trust_obj)
    tx = txread.from_json(tx_obj)
    items = _proof(tx_obj, "txProof")

    def item():
        digest, sender, pos = verify.verify_tx(tx, items, hdr, trust, suite)
        return {"tx_hash": _hex(digest), "sender": _hex(sender), "index": pos}

    return _item_report(hdr, trust, suite, "tx_hash", txread.likely_hash(tx, suite), item)
