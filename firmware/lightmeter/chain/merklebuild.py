"""FISCO BCOS 3.x binary Merkle trees built: roots and proofs of a list of leaves.

What a node, a relay or a test makes (chain/merkle.py has the tree's rules and checks proofs, all
a device does with one). Apart from it because a module loaded from .mpy keeps its code in RAM
(bench/RESULTS.md).
"""

from lightmeter.errors import Malformed


def root(leaves, H):
    """Merkle root of a list of 32-byte leaves with hash function H."""
    if not leaves:
        return bytes(32)
    level = list(leaves)
    while len(level) > 1:
        level = [H(b"".join(level[i:i + 2])) for i in range(0, len(level), 2)]
    return level[0]


def count_slot(count):
    """The 32-byte slot that announces a group of count hashes."""
    return count.to_bytes(4, "big") + bytes(28)


def proof(leaves, index, H):
    """The node's proof (list of 32-byte items) for leaves[index]."""
    n = len(leaves)
    if not 0 <= index < n:
        raise Malformed("proof: leaf index out of range")
    if n == 1:
        return [leaves[0]]
    out = []
    level = list(leaves)
    while len(level) > 1:
        start = index - (index % 2)
        group = level[start:start + 2]
        out.append(count_slot(len(group)))
        out.extend(group)
        level = [H(b"".join(level[i:i + 2])) for i in range(0, len(level), 2)]
        index //= 2
    return out
