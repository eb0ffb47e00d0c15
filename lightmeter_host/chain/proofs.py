"""FISCO BCOS Merkle proofs into the link's compact form (proto/link.md, "Compact proofs").

The relay turns a node's txProof / txReceiptProof into the bytes lightmeter.chain.merkle's
verify_compact reads: per level the side of the running hash and its sibling, without the count
slots and the running hash a FISCO proof repeats. The relay is not trusted, so this does no
checking the device relies on: a proof that does not lead anywhere is passed on as it is and the
device refuses it.
"""

from lightmeter.chain import merkle
from lightmeter.errors import LightmeterError


def compact(items, leaf, H, index=None):
    """The compact bytes of FISCO proof items (32-byte strings) for leaf, or None when the items
    are not a proof of leaf (then send them as they are). index settles a group holding the
    running hash twice (two identical receipts), as in merkle.verify."""
    if len(items) == 1:
        return b"" if items[0] == leaf else None
    out = bytearray()
    h, i, depth = leaf, 0, 0
    try:
        while i < len(items):
            c = int.from_bytes(items[i][:4], "big")
            group = items[i + 1:i + 1 + c]
            if c == 1 and len(group) == 1 and group[0] == h:
                out.append(merkle.ALONE)
            elif c == 2 and len(group) == 2 and h in group:
                if group[0] == group[1]:
                    side = (index >> depth) & 1 if index is not None else merkle.LEFT
                else:
                    side = merkle.LEFT if group[0] == h else merkle.RIGHT
                out.append(side)
                out += group[1 - side]
            else:
                return None
            h = H(b"".join(group))
            i += 1 + c
            depth += 1
    except (LightmeterError, TypeError, IndexError):
        return None
    return bytes(out)


def position(items, leaf, H):
    """The leaf's position along FISCO proof items, or None when they do not prove it."""
    try:
        got = compact(items, leaf, H)
    except LightmeterError:
        return None
    if got is None:
        return None
    pos, depth, i = 0, 0, 0
    while i < len(got):
        if got[i] == merkle.ALONE:
            i += 1
        else:
            pos |= got[i] << depth
            i += 33
        depth += 1
    return pos
