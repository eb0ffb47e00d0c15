"""A block's proven sealer-set changes applied to the trusted set (docs/light-client.md: LC-T1).

Apart from client/transition.py, which imports it only for a block that changes the set: nearly
every block changes nothing, and a board that loads the firmware from .mpy keeps every imported
module's code in RAM (docs/architecture.md).
"""

from lightmeter.chain import fields
from lightmeter.client import verify
from lightmeter.client.transition import CONSENSUS_ADDRESS
from lightmeter.errors import Invalid, LightmeterError

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# Methods that change sealers, in a fixed order (dicts are unordered on MicroPython).
METHODS = (
    ("addSealer(string,uint256)", "addSealer", ["string", "uint256"]),
    ("addObserver(string)", "addObserver", ["string"]),
    ("remove(string)", "remove", ["string"]),
    ("setWeight(string,uint256)", "setWeight", ["string", "uint256"]),
)
_MAX_WEIGHT = const((1 << 63) - 1)  # consensusWeights are int64 in the header hash


def decode_change(data, suite):
    """(method, node id bytes, weight or None) of consensus-precompile call data (LC-T1)."""
    # imported here, as abidecode below: only a set change needs them, and a device that loads
    # modules per step keeps the header step's set small (bench/RESULTS.md, phase loading)
    from lightmeter.chain import abi
    sel = bytes(data[:4])
    for sig, name, types in METHODS:
        if abi.selector(sig, suite.hash) == sel:
            break
    else:
        raise Invalid("not a known consensus precompile method (selector %s)" % fields.hex0x(sel))
    from lightmeter.chain import abidecode  # (chain/abidecode.py: a cold module of its own)
    try:
        args = abidecode.decode(types, data[4:])
        node = fields.hexbytes(args[0], "node id", 64, prefix=False)
    except LightmeterError as e:
        raise Invalid("%s call does not decode: %s" % (name, e))
    weight = None
    if len(args) > 1:
        weight = args[1]
        if not 0 < weight <= _MAX_WEIGHT:
            raise Invalid("%s with weight %d (must be 1..2**63-1)" % (name, weight))
    return name, node, weight


def apply_change(sealers, change):
    """A new sorted [(node, weight)] list: sealers with one decoded change applied."""
    name, node, weight = change
    out = []
    found = False
    for n, w in sealers:
        if n == node:
            found = True
            if name == "addSealer" or name == "setWeight":
                out.append((n, weight))
            # addObserver and remove drop it from the sealers
        else:
            out.append((n, w))
    if name == "setWeight" and not found:
        raise Invalid("setWeight of %s..., which is not a sealer" % fields.hex0x(node[:8]))
    if name == "addSealer" and not found:
        out.append((node, weight))
        out.sort()
    return out


def proven_change(trust, header, item, suite):
    """(position, decoded change) of one (tx, tx proof, receipt, receipt proof) of header.

    LC-T1: the transaction and its successful receipt proven at one position (LC-P1, LC-P2).
    """
    if len(item) != 4:
        raise Invalid("a change is (tx, tx proof, receipt, receipt proof)")
    tx, tx_proof, rcpt, rcpt_proof = item
    if tx["to"] != CONSENSUS_ADDRESS:
        raise Invalid("transaction is to %r, not the consensus precompile" % (tx["to"].decode(),))
    _, _, tpos = verify.verify_tx(tx, tx_proof, header, trust, suite)
    _, rpos = verify.verify_receipt(rcpt, rcpt_proof, header, suite, tpos)
    if tpos != rpos:
        raise Invalid("receipt is at position %d, its transaction at %d" % (rpos, tpos))
    return tpos, decode_change(tx["input"], suite)


def applied(trust, header, changes, suite):
    """The sealers after the proven changes of header (in block order, strictly increasing
    positions; transition.apply_set_changes has checked the header against trust)."""
    sealers = list(trust.sealers)
    last = -1
    for i, item in enumerate(changes):
        try:
            pos, change = proven_change(trust, header, item, suite)
        except LightmeterError as e:
            raise type(e)("change %d: %s" % (i, e))
        if pos <= last:
            raise Invalid("change %d: position %d is not after the previous change's %d" % (i, pos, last))
        last = pos
        sealers = apply_change(sealers, change)
        if not sealers:
            raise Invalid("change %d leaves no sealer" % i)
    return sealers
