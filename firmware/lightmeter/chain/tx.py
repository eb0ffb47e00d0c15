"""FISCO BCOS 3.x transactions: fields and hash preimage (versions 0-2).

Preimage (bcos-tars-protocol impl/TarsHashable.h), raw concatenation:

    int32 version | chainID | groupID | int64 blockLimit | nonce | to | input | abi
    [version >= 1] | value | gasPrice | int64 gasLimit | maxFeePerGas | maxPriorityFeePerGas
    [version >= 2] | extension

Signature, importTime, attribute, sender, extraData are not hashed.

A transaction is held as a dict with FISCO's field names, byte values as bytes:
the same dict the host's Tars codec produces, so both paths share this hash.

What a device needs to sign its own transactions. Reading one from node JSON, its nonce
readings, proving it and its sender are in chain/txread.py: a module loaded from .mpy keeps its
code in RAM, and a device's cycle reads no transaction (bench/RESULTS.md).
"""

from lightmeter.chain import fields
from lightmeter.errors import Unsupported


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
