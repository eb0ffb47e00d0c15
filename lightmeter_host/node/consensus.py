"""The consensus precompile at 0x...1003: sealer-set changes through transactions.

Methods as FISCO BCOS 3.x registers them (bcos-executor ConsensusPrecompiled):
addSealer(string,uint256), addObserver(string), remove(string),
setWeight(string,uint256); node ids are 128 hex digits. A change made in block
N takes effect from block N + 1 (enableNumber = N + 1), so header N + 1 carries
the new sealer list. Selectors use the chain's hash (SM3 on SM chains).

This node keeps the rules a light client depends on (who is a sealer, with
which weight, from which block) and refuses what would break the chain (an
unknown node id format, a weight of 0, removing the last sealer). It does not
model FISCO's governance committee: any sender may call it, as on a chain
with isAuthCheck off.
"""

from lightmeter.chain import abi, abidecode, fields
from lightmeter.client import setchange, transition
from lightmeter.errors import LightmeterError

from lightmeter_host.node import status

# The precompile's address and methods are the firmware's (lightmeter.client.transition).
ADDRESS = bytes.fromhex(transition.CONSENSUS_ADDRESS.decode())
METHODS = {sig: tuple(types) for sig, _, types in setchange.METHODS}

# FISCO's precompiled error codes (bcos-framework precompiled/common/Common.h).
CODE_SUCCESS = 0
CODE_INVALID_NODE_ID = -51100
CODE_LAST_SEALER = -51101
CODE_INVALID_WEIGHT = -51102
CODE_NODE_NOT_EXIST = -51103


class Result:
    """What the node's execute() expects of an executor."""

    def __init__(self, status_code, output, message=""):
        self.status = status_code
        self.output = output
        self.message = message
        self.logs = []
        self.gas_used = 0
        self.contract_address = b""


def _fail(code, message):
    return Result(status.PRECOMPILED_ERROR, abi.encode(["int256"], [code]), message)


def execute(chain, sender, data, number):
    """Run one call of the precompile in block number; changes apply from number + 1."""
    sel = data[:4]
    for sig, types in METHODS.items():
        if abi.selector(sig, chain.suite.hash) == sel:
            break
    else:
        return Result(status.PRECOMPILED_ERROR, b"", "unknown consensus precompile method")
    try:
        args = abidecode.decode(list(types), data[4:])
        node = fields.hexbytes(args[0], "node id", 64, prefix=False)
    except LightmeterError as e:
        return _fail(CODE_INVALID_NODE_ID, str(e))
    name = sig.split("(")[0]
    weight = args[1] if len(args) > 1 else None
    if weight is not None and not 0 < weight < (1 << 63):
        return _fail(CODE_INVALID_WEIGHT, "weight must be positive")
    sealers = dict(chain.consensus)
    observers = set(chain.observers)
    for change in chain.changes:  # changes already made in this block
        _apply(sealers, observers, change)
    if name in ("remove", "setWeight") and node not in sealers and node not in observers:
        return _fail(CODE_NODE_NOT_EXIST, "node is neither sealer nor observer")
    if name == "setWeight" and node not in sealers:
        return _fail(CODE_NODE_NOT_EXIST, "only a sealer has a weight")
    change = (name, node, weight)
    _apply(sealers, observers, change)
    if not sealers:
        return _fail(CODE_LAST_SEALER, "the last sealer cannot be removed")
    chain.changes.append(change)
    return Result(status.NONE, abi.encode(["int256"], [CODE_SUCCESS]))


def _apply(sealers, observers, change):
    name, node, weight = change
    if name == "addSealer":
        observers.discard(node)
        sealers[node] = weight
    elif name == "addObserver":
        sealers.pop(node, None)
        observers.add(node)
    elif name == "remove":
        sealers.pop(node, None)
        observers.discard(node)
    elif name == "setWeight":
        sealers[node] = weight


def apply_pending(chain, number):
    """After block number is committed: its changes become the set of number + 1."""
    for change in chain.changes:
        _apply(chain.consensus, chain.observers, change)
    chain.changes = []
