"""FISCO BCOS 3.x binary Merkle trees (txsRoot, receiptsRoot) and their proofs.

Tree (bcos-crypto merkle/Merkle.h, width 2): leaves are the raw 32-byte
transaction or receipt hashes; a parent is H(left || right); a lone last node is
hashed alone, H(node); one leaf is its own root; no leaves give 32 zero bytes.

Proof, as getTransaction / getTransactionReceipt return it (txProof,
txReceiptProof): bottom-up groups, each a "count slot" (uint32 big-endian count
in the first 4 bytes, 28 zero bytes) followed by the whole sibling group, the
node on the path included. A one-transaction block's proof is [root].

The upstream verifier only checks membership of the running hash in each group.
This one also bounds counts to 1..2, requires zero slot padding, limits the
depth, and returns the leaf position the path proves, so a caller can bind a
receipt to its transaction. Two leaves may be equal (receipts do not name their
transaction: two identical calls leave identical receipts); where a group holds
the running hash twice the path alone cannot tell the side, so the caller's
expected position decides, and without one the proof is refused as ambiguous.
"""

from lightmeter.chain import fields
from lightmeter.errors import Invalid, Malformed, Unsupported

MAX_DEPTH = 32  # 2**32 leaves: far above any block
_PAD = bytes(28)
_EMPTY = bytes(32)


def from_json(obj, key):
    """Proof items under key ("txProof", "txReceiptProof") of a getTransaction or
    getTransactionReceipt result (or response).

    Nodes print these from FISCO BCOS 3.2.0 on, and only when asked with
    requireProof = true; before, there is nothing to read (Unsupported). The
    "transactionProof" and "receiptProof" lists they also print are always empty
    and are never read as proofs.
    """
    obj = fields.unwrap(obj)
    items = obj.get(key)
    if items is None:
        raise Unsupported("%s: proof unavailable from this node (FISCO BCOS < 3.2.0), "
                          "or not asked for (requireProof = true)" % key)
    return parse_proof(items, key)


def parse_proof(items, name="proof"):
    """32-byte items from the JSON list of 64-hex strings (0x tolerated)."""
    fields.array(items, name, 1 + 3 * MAX_DEPTH)
    if not items:
        raise Malformed("%s: empty (an empty list is never a proof)" % name)
    return [fields.hexbytes(x, "%s[%d]" % (name, i), 32) for i, x in enumerate(items)]


def check_items(items, name="proof"):
    """A proof as the device link carries it: a non-empty list of 32-byte strings, or the compact
    form (one byte string, see verify_compact)."""
    if isinstance(items, (bytes, bytearray)):
        if len(items) > 33 * MAX_DEPTH:
            raise Malformed("%s: too long" % name)
        return items
    if not isinstance(items, list) or not items:
        raise Malformed("%s: expected a non-empty array" % name)
    if len(items) > 1 + 3 * MAX_DEPTH:
        raise Malformed("%s: too long" % name)
    for x in items:
        if not isinstance(x, (bytes, bytearray)) or len(x) != 32:
            raise Malformed("%s: items are 32-byte strings" % name)
    return items


def verify(items, leaf, expected_root, H, index=None):
    """Check that leaf is in the tree with root expected_root; return its position.

    items are 32-byte proof items (see parse_proof). index, if given, is the
    position the caller expects; it settles a group whose two hashes are equal.
    Raises Malformed for a proof that breaks the format, Invalid for one that
    does not lead to the root.
    """
    if isinstance(items, (bytes, bytearray)):
        return verify_compact(items, leaf, expected_root, H)
    n = len(items)
    if n == 0:
        raise Malformed("proof: empty")
    if expected_root == _EMPTY:
        raise Invalid("proof: the root is that of a block without transactions")
    if n == 1:
        if items[0] != leaf:
            raise Invalid("proof: single-leaf proof is not this leaf")
        if leaf != expected_root:
            raise Invalid("proof: leads to another root")
        return 0
    h = leaf
    i = 0
    position = 0
    depth = 0
    while i < n:
        slot = items[i]
        if slot[4:] != _PAD:
            raise Malformed("proof: count slot %d has non-zero padding" % i)
        c = int.from_bytes(slot[:4], "big")
        if c < 1 or c > 2:
            raise Malformed("proof: count %d at slot %d (groups hold 1 or 2 hashes)" % (c, i))
        if i + 1 + c > n:
            raise Malformed("proof: group at slot %d runs past the end" % i)
        if depth >= MAX_DEPTH:
            raise Malformed("proof: deeper than %d levels" % MAX_DEPTH)
        group = items[i + 1:i + 1 + c]
        if c == 2 and group[0] == group[1] == h:
            if index is None:
                raise Invalid("proof: level %d holds the hash twice; its position is ambiguous" % depth)
            bit = (index >> depth) & 1
        elif group[0] == h:
            bit = 0
        elif c == 2 and group[1] == h:
            bit = 1
        else:
            raise Invalid("proof: level %d does not contain the hash being proven" % depth)
        position |= bit << depth
        h = H(b"".join(group))
        i += 1 + c
        depth += 1
    if h != expected_root:
        raise Invalid("proof: leads to another root")
    return position


# The compact form (proto/link.md, "Compact proofs"): per level, bottom-up, one byte for where the
# running hash sits in its group, then the sibling for a pair. It is the FISCO proof without what
# the verifier recomputes anyway (count slots, the running hash itself): each compact proof stands
# for exactly one FISCO proof, which verify() accepts with the same position.
LEFT, RIGHT, ALONE = 0, 1, 2


def verify_compact(data, leaf, expected_root, H):
    """verify() for a compact proof: its position, or Malformed / Invalid. Empty data is the
    one-leaf block's proof (the leaf is the root)."""
    if expected_root == _EMPTY:
        raise Invalid("proof: the root is that of a block without transactions")
    data = bytes(data)
    h = leaf
    i = 0
    position = 0
    depth = 0
    n = len(data)
    while i < n:
        if depth >= MAX_DEPTH:
            raise Malformed("proof: deeper than %d levels" % MAX_DEPTH)
        kind = data[i]
        if kind == ALONE:
            h = H(h)
            i += 1
        elif kind == LEFT or kind == RIGHT:
            if i + 33 > n:
                raise Malformed("proof: level %d runs past the end" % depth)
            sibling = data[i + 1:i + 33]
            h = H(h + sibling) if kind == LEFT else H(sibling + h)
            position |= kind << depth
            i += 33
        else:
            raise Malformed("proof: level %d has kind %d (0 left, 1 right, 2 alone)" % (depth, kind))
        depth += 1
    if h != expected_root:
        raise Invalid("proof: leads to another root")
    return position
