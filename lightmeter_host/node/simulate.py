"""Reproducible test chains: `lightmeter node --simulate BLOCKS [--set-changes K] [--seed S]
[--interval-ms MS] [--background N] [--no-readings]`.

simulate() appends blocks to a Chain through the same path a client's transactions take
(chain.admit of Tars bytes, then chain.seal): every block holds MeterRegistry readings of a
few simulated devices, and K sealer-set changes are spread evenly over the blocks, each a
real transaction to the consensus precompile (0x...1003): a deterministic mix of addSealer
(a pool key the node can sign for), setWeight and remove, sometimes two in one block.

With background N every block also carries N transactions of other contracts
(lightmeter_host.node.background: real hashes, roots and proofs, no EVM), so proofs are as deep as
on a shared chain; without readings, blocks without a set change hold background transactions only
and cost no execution, which is what makes a day of blocks a matter of minutes.

Everything is derived from the seed and the chain's height: device and admin keys, nonces,
readings, which change is made when. While simulating, the chain's clock is
START_MS + block number * interval (1000 ms unless told), so the same seed on the same chain
gives the same block hashes.
"""

import hashlib
import random

from lightmeter.chain import abi, abidecode
from lightmeter.chain.meter_registry import RECORD

from lightmeter_host.chain import txbuild
from lightmeter_host.node import consensus, registry

START_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z: block n is sealed at START_MS + n * 1000
DEVICES = 4
MAX_WEIGHT = 3
OPS = ("addSealer", "setWeight", "remove")


def _key(seed, label, i):
    return hashlib.sha256(b"lightmeter-simulate:" + label + b":" + seed + i.to_bytes(4, "big")).digest()


def plan_changes(blocks, set_changes, rng):
    """[block offset] for each change: batches of one or two, spread evenly over the blocks."""
    batches = []
    left = set_changes
    while left:
        size = 2 if left >= 2 and rng.random() < 0.3 else 1
        batches.append(size)
        left -= size
    out = []
    span = max(blocks - 1, 1)  # a change in the last block would show in no header of the run
    for j, size in enumerate(batches):
        at = min(((2 * j + 1) * span) // (2 * len(batches)), blocks - 1)
        out.extend([at] * size)
    return out


def _pick_change(chain, sealers, observers, i, rng):
    """(name, node id, weight or None) valid for the set as it will be after this block's changes."""
    free = sorted(n for n in chain.keys if n not in sealers and n not in observers)
    feasible = [op for op in OPS
                if (op != "addSealer" or free) and (op != "remove" or len(sealers) > 1)]
    op = OPS[i % len(OPS)]
    if op not in feasible:
        op = feasible[0]  # setWeight is always feasible
    if op == "addSealer":
        return op, rng.choice(free), rng.randint(1, MAX_WEIGHT)
    members = sorted(sealers)
    node = rng.choice(members)
    if op == "remove":
        return op, node, None
    weights = [w for w in range(1, MAX_WEIGHT + 2) if w != sealers[node]]
    return op, node, rng.choice(weights)


def block_clock(chain, interval_ms=1000):
    """Make chain's clock the simulated one: block n is sealed at START_MS + n * interval_ms
    (for runs that mix simulated blocks with blocks sealed as transactions come)."""
    chain.now = lambda: START_MS + (chain.height() + 1) * interval_ms


def simulate(chain, blocks, set_changes=0, seed=b"", progress=None, interval_ms=1000, background=None,
             readings=True):
    """Append `blocks` blocks to chain with `set_changes` sealer-set changes among them.

    seed is bytes or text. progress(done, blocks, number) is called after each block.
    Each block is built under the chain's lock, so a running node's sealer thread cannot
    seal part of it; other clients' transactions may land in the simulated blocks, though
    (`lightmeter node` simulates before it serves).
    interval_ms: the simulated block interval (timestamps). background: background transactions
    in every block from now on (chain.background_per_block; None leaves it as it is). readings
    False: no meter readings, so a block without a set change holds background transactions only.
    Returns the changes made: [(block number, name, node id bytes, weight or None)],
    each effective from the next block.
    """
    if blocks < 0 or set_changes < 0:
        raise ValueError("blocks and set changes must not be negative")
    if set_changes and not blocks:
        raise ValueError("set changes need at least one block")
    if background is not None:
        if background < 0:
            raise ValueError("background must not be negative")
        chain.background_per_block = background
    if not readings and not chain.background_per_block:
        raise ValueError("blocks without readings need background transactions")
    seed = seed.encode() if isinstance(seed, str) else bytes(seed)
    suite = chain.suite
    start = chain.height()
    rng = random.Random(hashlib.sha256(b"lightmeter-simulate:" + seed + b":%d" % start).digest())
    devices = [_key(seed, b"device", i) for i in range(DEVICES)]
    admin = _key(seed, b"admin", 0)
    seqs = []
    for k in devices:  # continue each device's sequence (an existing chain may have readings)
        addr = suite.address(suite.public_key(k))
        res = chain.call(registry.ADDRESS, abi.encode_call("lastSeq(address)", [addr], suite.hash))
        seqs.append(abidecode.decode(["uint64"], res.output)[0] if res.status == 0 and res.output else 0)
    plan = plan_changes(blocks, set_changes, rng)
    made = []
    old_now = chain.now
    block_clock(chain, interval_ms)
    chain.store.synchronous(False)
    try:
        change_i = 0
        for b in range(blocks):
            if chain.closing:  # the node is stopping: its store is about to close
                break
            with chain.lock:  # a running sealer thread must not seal half a block
                number = chain.height() + 1
                pending = []

                def send(priv, to, data):
                    bits = rng.getrandbits(32)
                    if chain.release.decimal_nonce:  # a u256 in decimal, as nodes before v3.3.0 take
                        nonce = "9%09d%04d%010d" % (number, len(pending), bits)
                    else:
                        nonce = "sim-%d-%d-%08x" % (number, len(pending), bits)
                    tx = txbuild.make(chain.chain_id, chain.group_id, number + 500, nonce, to, data)
                    _, raw = txbuild.sign(tx, chain.crypto, priv)
                    pending.append(chain.admit(raw))

                for _ in range(rng.randint(1, 3) if readings else 0):
                    d = rng.randrange(DEVICES)
                    seqs[d] += 1
                    reading = b"kWh=%d.%03d;t=%d" % (rng.randrange(100000), rng.randrange(1000), number)
                    send(devices[d], registry.ADDRESS,
                         abi.encode_call(RECORD, [seqs[d], reading], suite.hash))
                sealers, observers = dict(chain.consensus), set(chain.observers)
                while change_i < len(plan) and plan[change_i] == b:
                    name, node, weight = _pick_change(chain, sealers, observers, len(made), rng)
                    consensus._apply(sealers, observers, (name, node, weight))
                    sig = "%s(string%s)" % (name, ",uint256" if weight is not None else "")
                    args = [node.hex()] + ([weight] if weight is not None else [])
                    send(admin, consensus.ADDRESS, abi.encode_call(sig, args, suite.hash))
                    made.append((number, name, node, weight))
                    change_i += 1
                got = chain.seal(pool=bool(pending))
                if got != number:
                    raise RuntimeError("simulate: expected block %d, sealed %r" % (number, got))
                for p in pending:
                    if p.receipt is None or p.receipt["status"] != 0:
                        raise RuntimeError("simulate: a transaction of block %d failed: %r"
                                           % (number, p.receipt and p.receipt.get("message")))
            if progress:
                progress(b + 1, blocks, number)
    finally:
        chain.now = old_now
        if not chain.closing:
            chain.store.synchronous(True)
    return made
