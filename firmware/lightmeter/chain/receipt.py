"""FISCO BCOS 3.x transaction receipts: strict decoding from node JSON and the hash.

Preimage (bcos-tars-protocol impl/TarsHashable.h), raw concatenation:

    int32 version | gasUsed (decimal ASCII) | contractAddress (hex, no 0x) |
    int32 status | output | [version >= 1] effectiveGasPrice |
    per log: address | topic... | data | int64 blockNumber

message, transactionHash, logsBloom and indexes are not hashed: the receipt
does not commit to its transaction. Bind the two by position instead (the same
leaf index in txsRoot and receiptsRoot, see merkle.verify).
"""

from lightmeter.chain import fields
from lightmeter.errors import Malformed, Unsupported

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


_MAX_LOGS = const(256)
_MAX_TOPICS = const(4)
_MAX_DATA = const(1 << 20)


class Receipt:
    """A decoded receipt; byte fields are bytes, `logs` is [(address, [topics], data)]."""

    __slots__ = ("version", "gas_used", "contract_address", "status", "output",
                 "effective_gas_price", "logs", "block_number", "tx_hash", "claimed_hash")

    def preimage(self):
        """The exact bytes FISCO BCOS hashes for this receipt."""
        ib = fields.int_be
        parts = [ib(self.version, 4), self.gas_used, self.contract_address,
                 ib(self.status, 4), self.output]
        if self.version >= 1:
            parts.append(self.effective_gas_price)
        for address, topics, data in self.logs:
            parts.append(address)
            parts.extend(topics)
            parts.append(data)
        parts.append(ib(self.block_number, 8))
        return b"".join(parts)

    def hash(self, suite):
        """The receipt hash, recomputed from the fields."""
        return suite.hash(self.preimage())


def _contract_address(value):
    # The node stores an EVM address as 40 lowercase hex digits and hashes that;
    # v3.1.0+ print it with 0x, v3.0.x as stored (docs/fisco-versions.md §2);
    # "" when the transaction deployed nothing.
    if value == "":
        return b""
    if not isinstance(value, str):
        raise Malformed("contractAddress: expected a string")
    body = value[2:] if value[:2] == "0x" else value
    if len(body) != 40:
        raise Unsupported("contractAddress: only EVM addresses (40 hex, 0x optional) are handled")
    if body != body.lower():
        raise Malformed("contractAddress: expected lowercase hex")
    fields.hexbytes(body, "contractAddress", 20, False)
    return body.encode()


def from_json(obj):
    """Decode getTransactionReceipt JSON (the response or its result)."""
    obj = fields.unwrap(obj)
    g = fields.get
    r = Receipt()
    r.version = v = fields.integer(g(obj, "version"), "version", 0, fields.INT32_MAX)
    if v > 2:
        raise Unsupported("receipt version %d" % v)
    r.gas_used = fields.decimal(g(obj, "gasUsed"), "gasUsed")
    r.contract_address = _contract_address(g(obj, "contractAddress"))
    r.status = fields.integer(g(obj, "status"), "status", 0, fields.INT32_MAX)
    r.output = fields.hexbytes(g(obj, "output"), "output", None, True)
    if len(r.output) > _MAX_DATA:
        raise Malformed("output: longer than %d bytes" % _MAX_DATA)
    r.effective_gas_price = b""
    if v >= 1:
        r.effective_gas_price = fields.text(g(obj, "effectiveGasPrice"), "effectiveGasPrice", 80)
    logs = fields.array(g(obj, "logEntries"), "logEntries", _MAX_LOGS)
    r.logs = []
    for i, log in enumerate(logs):
        name = "logEntries[%d]" % i
        # The address is hashed as the node stores it, which is what it prints.
        address = fields.text(g(log, "address"), name + ".address", 64)
        topics = fields.array(g(log, "topics"), name + ".topics", _MAX_TOPICS)
        topics = [fields.hexbytes(t, name + ".topics[]", 32, True) for t in topics]
        data = fields.hexbytes(g(log, "data"), name + ".data", None, True)
        if len(data) > _MAX_DATA:
            raise Malformed("%s.data: longer than %d bytes" % (name, _MAX_DATA))
        r.logs.append((address, topics, data))
    r.block_number = fields.integer(g(obj, "blockNumber"), "blockNumber")
    txh = obj.get("transactionHash")
    r.tx_hash = None if txh is None else fields.hexbytes(txh, "transactionHash", 32, True)
    claimed = obj.get("hash")
    # A receipt returned before commit carries "0x" as its hash.
    r.claimed_hash = None if claimed in (None, "0x") else fields.hexbytes(claimed, "hash", 32, True)
    return r
