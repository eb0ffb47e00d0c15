"""The Merkle tree of a reading batch (proto/batch.md): leaves, root, inclusion paths.

A concentrator anchors many devices' signed readings with one transaction that records
only the root of this tree; each device checks its own reading's path to that root.

The tree is RFC 9162 (Certificate Transparency 2.0) section 2.1 with the chain suite's
hash H (keccak256 or SM3) in place of SHA-256:

    leaf hash  = H(0x00 || leaf data)            (leaf data: the signed reading's bytes)
    inner node = H(0x01 || left || right)
    MTH(D[n])  = H(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of 2 below n

The 0x00/0x01 prefixes keep a leaf from ever passing as an inner node (and back). Built bottom
up, a level's lone last node moves up unhashed, which gives the same tree. A path lists the
sibling hashes from the leaf upwards; it is checked with the batch's leaf count (RFC 9162
section 2.1.3.2), so a path proves one position in a tree of exactly that many leaves. An
empty batch has no root here: a batch holds 1..MAX_COUNT leaves.
"""

from lightmeter.errors import Invalid, Malformed

MAX_COUNT = 1 << 20  # leaves in one batch: a concentrator sends far fewer
MAX_PATH = 20  # siblings on a path in a tree of MAX_COUNT leaves
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(data, H):
    """The leaf hash of one leaf's bytes."""
    return H(_LEAF + bytes(data))


def node_hash(left, right, H):
    """The hash of an inner node over its two children."""
    return H(_NODE + left + right)


def _check_count(count):
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise Malformed("batch: leaf count must be 1..%d" % MAX_COUNT)


def levels(hashes, H):
    """Every level of the tree, leaf hashes first, the root's one-hash level last (a concentrator
    keeps them to hand out paths without hashing again)."""
    _check_count(len(hashes))
    out = [list(hashes)]
    while len(out[-1]) > 1:
        level = out[-1]
        up = [node_hash(level[i], level[i + 1], H) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            up.append(level[-1])  # a lone last node moves up unhashed
        out.append(up)
    return out


def root(hashes, H):
    """The root of a batch whose leaf hashes are hashes (a non-empty list)."""
    return levels(hashes, H)[-1][0]


def path_in(tree, index):
    """The inclusion path of leaf number index, from the tree's levels."""
    if not 0 <= index < len(tree[0]):
        raise Malformed("batch: leaf index out of range")
    out = []
    for level in tree[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            out.append(level[sibling])
        index //= 2
    return out


def path(hashes, index, H):
    """The inclusion path (sibling hashes, leaf upwards) of leaf number index."""
    return path_in(levels(hashes, H), index)


def root_from_path(leaf, index, count, siblings, H):
    """The root that leaf at position index of a count-leaf tree leads to along siblings.

    RFC 9162 section 2.1.3.2: the path must have exactly the length the position and the count
    call for. Raises Malformed for a badly shaped path, Invalid for one of the wrong length.
    """
    _check_count(count)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise Malformed("batch: leaf index must be 0..count-1")
    if not isinstance(siblings, list) or len(siblings) > MAX_PATH:
        raise Malformed("batch: a path is an array of at most %d hashes" % MAX_PATH)
    for p in siblings:
        if not isinstance(p, (bytes, bytearray)) or len(p) != 32:
            raise Malformed("batch: path items are 32-byte hashes")
    fn, sn, r = index, count - 1, bytes(leaf)
    for p in siblings:
        if sn == 0:
            raise Invalid("batch: the path is longer than a %d-leaf tree allows" % count)
        p = bytes(p)
        if fn & 1 or fn == sn:
            r = node_hash(p, r, H)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p, H)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise Invalid("batch: the path is shorter than a %d-leaf tree needs" % count)
    return r


def verify(leaf, index, count, siblings, expected_root, H):
    """Check that leaf is leaf number index of the count-leaf tree with root expected_root."""
    if root_from_path(leaf, index, count, siblings, H) != expected_root:
        raise Invalid("batch: the path does not lead to the batch root")
