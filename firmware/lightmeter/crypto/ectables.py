"""Tables of odd multiples kept beyond one call: a `PublicKey`'s, generator tables not shipped.

The curve arithmetic (crypto/ec.py) builds a point's table per verification and throws it away;
what keeps tables (ec.PublicKey, crypto/keys.py, crypto/batch.py, generator tables for a curve
with no `gtab` or for more parts than shipped) builds them here. Apart from ec.py because a
module loaded from .mpy keeps its code in RAM, and the device cycle keeps no table of its own
(bench/RESULTS.md, "The device cycle on a 32-bit MicroPython").

MicroPython heap: 48 bytes an integer stored compactly (`compact`), 32 bytes an entry `Packed`.
"""

import gc
import sys

from lightmeter.crypto.ec import G_WINDOW, Packed, inverse

_MICROPYTHON = sys.implementation.name == "micropython"


class Scaled:
    """A column c*x mod p over a column of x: the beta*x column of a packed GLV table, made as
    looked up (one multiplication) instead of stored (a third of the table)."""

    def __init__(self, xs, c, p):
        self.xs = xs
        self.c = c
        self.p = p

    def __len__(self):
        return len(self.xs)

    def __getitem__(self, j):
        return self.xs[j] * self.c % self.p


def compact(xs):
    """Fresh copies of integers below 2**256, each with a 256-bit digit buffer: on MicroPython
    a reduced product keeps the buffer of the unreduced one (96-128 bytes, not 48)."""
    return [int.from_bytes(x.to_bytes(32, "big"), "big") for x in xs]


def odd_packed(curve, chain, zi, bx, by):
    """`Curve.odd_affine` written straight into bytearrays bx, by (32 bytes an entry): `Packed`
    columns (x, y), the chain let go as it goes.

    For tables kept long: the affine integers (each holding a product's larger buffer on
    MicroPython) are never all alive at once, and no list of the table's size is made.
    """
    p = curve.p
    xs, ys, hs = chain
    i = len(xs) - 1
    while i >= 0:
        zi2 = zi * zi % p
        o = i << 5
        bx[o:o + 32] = (xs[i] * zi2 % p).to_bytes(32, "big")
        by[o:o + 32] = (ys[i] * zi2 * zi % p).to_bytes(32, "big")
        zi = zi * hs[i] % p
        xs[i] = ys[i] = hs[i] = None
        i -= 1
    return Packed(bx), Packed(by)


def table(curve, pt, w, packed=False):
    """A kept width-w table of an affine point, as `Curve.table` gives: (w, xs, ys, bxs).

    Integers stored compactly; packed: xs and ys as `Packed` bytes (32 bytes an entry, not 48)
    and bxs made as looked up (`Scaled`): a table kept long, as the sealers' tables of a batch
    check.
    """
    if not packed:
        w, xs, ys, bxs = curve.table(pt, w)
        return (w, compact(xs), compact(ys), None if bxs is None else compact(bxs))
    count = 1 << (w - 2)
    if _MICROPYTHON:
        # The columns live as long as the key: made first, right after a collection, they take
        # the lowest free blocks, not blocks between the chain's garbage, which would cut the
        # free heap into pieces (bench/RESULTS.md, "Heap").
        gc.collect()
    bx = bytearray(count << 5)
    by = bytearray(count << 5)
    chain, end = curve.odd_chain(pt, count)
    xs, ys = odd_packed(curve, chain, inverse(end, curve.p), bx, by)
    return (w, xs, ys, None if curve.glv is None else Scaled(xs, curve.glv[0], curve.p))


def shifted(curve, pt, parts, shift):
    """Affine [P, 2**shift * P, 2**(2*shift) * P, ...] (parts points)."""
    out = [pt]
    jp = (pt[0], pt[1], 1)
    for _ in range(parts - 1):
        for _ in range(shift):
            jp = curve.double(jp)
        out.append(curve.to_affine(jp))
    return out


def tables(curve, pt, w, parts, packed=False):
    """Kept width-w tables of P, 2**s * P, ... (parts of them, s = `Curve.shift(parts)`)."""
    return [table(curve, q, w, packed) for q in shifted(curve, pt, parts, curve.shift(parts))]


def g_tables(curve, parts):
    """The generator's kept tables (width G_WINDOW) for parts; G's own is shared with parts 1."""
    if parts == 1:
        return [table(curve, curve.g, G_WINDOW)]
    rest = shifted(curve, curve.g, parts, curve.shift(parts))[1:]
    return curve.g_tables(1) + [table(curve, q, G_WINDOW) for q in rest]
