"""Elliptic-curve arithmetic for lightmeter's signature schemes (secp256k1 ECDSA, SM2).

Short-Weierstrass curves y^2 = x^3 + a*x + b over GF(p) whose generator G has
prime order n and cofactor 1 (true of secp256k1 and sm2p256v1). Pure Python
that runs unchanged on CPython and MicroPython.

Point forms:
- affine: a tuple (x, y), or None for the point at infinity;
- Jacobian: a tuple (X, Y, Z) meaning (X/Z^2, Y/Z^3); Z == 0 is infinity.
  Jacobian results are handed out so that verifiers can test x without an
  inversion (see `Curve.x_equals`).

Speed (the hot path is verifying the PBFT signatures of every block header):
- every coordinate is kept reduced in [0, p); each product gets one `% p`;
  doubling and mixed addition are written out inline in `Curve.combine`,
  with local aliases, because a call costs as much as a field
  multiplication in an interpreter;
- doubling has the a = 0 form (secp256k1) and the a = -3 form (SM2), and a
  generic form for any other a;
- scalars are recoded as sparse width-w NAFs and all the terms of a sum
  k1*P1 + k2*P2 + ... share one chain of doublings (interleaving);
- table points are affine, so every addition is the cheaper mixed addition;
  a table of odd multiples costs a single field inversion (`odd_multiples`);
- on secp256k1 the GLV endomorphism lambda*(x, y) = (beta*x, y) splits each
  256-bit scalar into two halves of ~128 bits, halving the doublings; on
  SM2 a table of 2**128*G does the same for the generator's part.

Generator tables (`G_WINDOW` = 8: the 64 odd multiples G, 3G, ..., 127G as
affine (x, y), plus beta*x on secp256k1; SM2 also the same for 2**128*G, to
sign) ship precomputed as `bytes` constants (gtab_*.py, columns of 32-byte
integers in 512-byte pieces read by `Chunked`): in flash when the firmware is frozen, 6 KB
(secp256k1) or 8 KB (SM2) in RAM when loaded from .mpy, where the integers
built on first use took about 10 KB (secp256k1) or 6.7 KB a table (SM2).
A curve names its table module (`gtab`) and imports it when a generator table
is first asked for (signing, `mul_g`), reading the tables from that module on
every call and keeping no reference to them: a device that loads its modules
per step loads the module for signing only and frees its 6 / 8 KB by
releasing it (device/modules.py). Verification (`mul_add`) while that module
is not loaded uses a small table of G instead (width `P_WINDOW`, 8 entries,
built once and kept: 1.2 KB / 0.8 KB), about 7 % (secp256k1) or 3 % (SM2)
more instructions for the header step's fifteen checks (bench/RESULTS.md).
Other tables are built on first use and kept (MicroPython heap: 48 bytes an
integer stored compactly, 4 bytes a list slot):
- a `PublicKey` with more parts than shipped (a host-side speed-up) adds one
  such table per extra part, shared by all keys with as many parts (it holds
  the shipped part, and with it the table module's bytes).

Not constant time: the running time depends on the scalars. That is
harmless for verification (everything is public) and is the price of pure
Python when signing; see secp256k1.py and sm2.py.
"""

import sys

from lightmeter.errors import Malformed, Unsupported

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


G_WINDOW = const(8)  # wNAF width for the generator: 2**(8-2) = 64 table entries
P_WINDOW = const(5)  # wNAF width for a variable point: 8 entries, built per call


def _inverse_euclid(a, m):
    # Extended Euclid with full quotients: on MicroPython (no pow(a, -1, m))
    # about 10x faster than Fermat's pow(a, m-2, m) for 256-bit numbers.
    x0, x1 = 0, 1
    r0, r1 = m, a % m
    while r1:
        q = r0 // r1
        r0, r1 = r1, r0 - q * r1
        x0, x1 = x1, x0 - q * x1
    return x0 % m


def _inverse_pow(a, m):
    return pow(a, -1, m)


# inverse(a, m): a**-1 mod m, for a prime m and a not divisible by m.
try:
    # CPython >= 3.8 inverts in C; MicroPython answers pow(3, -1, 7) with a
    # wrong value instead of raising, hence the check of the result.
    inverse = _inverse_pow if pow(3, -1, 7) == 5 else _inverse_euclid
except (ValueError, TypeError):
    inverse = _inverse_euclid


def _trailing_zeros_table():
    t = bytearray(256)
    for i in range(1, 256):
        c = 0
        while not (i >> c) & 1:
            c += 1
        t[i] = c
    return bytes(t)


_TZ = _trailing_zeros_table()  # trailing zero bits of a byte (0 for 0)


def wnaf(k, w):
    """Sparse width-w NAF of an integer k >= 0 (w >= 2).

    Returns (positions, digits), least significant first: k is the sum of
    digits[i] * 2**positions[i]; every digit is odd with |digit| < 2**(w-1)
    and any two positions are at least w apart.
    """
    codes = _wnaf_codes(k, w)
    return [c >> 10 for c in codes], [(c & 1023) - 512 for c in codes]


def _wnaf_codes(k, w):
    # wnaf(k, w) as one list of small integers, position << 10 | digit + 512 (|digit| < 256),
    # least significant first: what combine walks (one list a term, no pair of lists).
    # Zero runs are skipped a byte at a time, then by a table of trailing
    # zeros, so the loop runs about once per nonzero digit (int.bit_length
    # does not exist on MicroPython, and each bignum step allocates there).
    out = []
    full = 1 << w
    half = full >> 1
    mask = full - 1
    i = 0
    while k:
        t = k & 255
        if not t:
            k >>= 8
            i += 8
            continue
        z = _TZ[t]
        if z:
            k >>= z
            i += z
        d = k & mask
        if d >= half:
            d -= full
        k = (k - d) >> w
        out.append((i << 10) + d + 512)
        i += w
    return out


class Packed:
    """A table column kept as bytes: entry j is the big-endian integer at bytes 32*j .. 32*j + 31.

    Generator tables ship precomputed in this form (gtab_*.py): a `bytes` constant stays in
    flash when the modules are frozen, and takes 32 bytes an entry in RAM when they are not
    (an integer takes 48 or more); each lookup makes one short-lived integer. The sealers'
    kept tables (crypto/keys.py) are `bytearray`s in this form, built by `ectables.odd_packed`.
    """

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data) >> 5

    def __getitem__(self, j):
        if j < 0:
            j += len(self.data) >> 5
        o = j << 5
        return int.from_bytes(self.data[o:o + 32], "big")


class Chunked:
    """A generator table column as a tuple of bytes chunks of 16 entries (512 bytes) each, read as
    `Packed` reads one bytes: a module loaded late in a device's cycle finds room for 512-byte
    pieces where one 2 KB piece can fail on a fragmented heap (a board that loads per step,
    device/modules.py; bench/RESULTS.md)."""

    def __init__(self, chunks):
        self.chunks = chunks

    def __len__(self):
        return len(self.chunks) << 4

    def __getitem__(self, j):
        if j < 0:
            j += len(self.chunks) << 4
        o = (j & 15) << 5
        return int.from_bytes(self.chunks[j >> 4][o:o + 32], "big")


class Curve:
    """A curve y^2 = x^3 + a*x + b over GF(p) with generator (gx, gy) of prime order n.

    glv, for curves with an efficient endomorphism, is (beta, lam, a1, b1, a2, b2):
    lam*(x, y) == (beta*x, y), and (a1, b1), (a2, b2) are short vectors with
    a + b*lam == 0 (mod n) (Gallant, Lambert, Vanstone, CRYPTO 2001, section 4).

    sqrt, if given, is c**((p+1)/4) mod p written as an addition chain for this p (`lift_x`);
    otherwise lift_x calls pow().

    gtab, if given, names the module of the generator's precomputed tables (its COLUMNS: one
    (xs, ys, bxs) of bytes per part, in the order `g_tables` builds them; gtab_*.py), imported
    when a generator table is first needed.
    """

    def __init__(self, name, p, a, b, n, gx, gy, glv=None, sqrt=None, gtab=None):
        self.name = name
        self.sqrt = sqrt
        self.p = p
        self.a = a % p
        self.b = b % p
        self.n = n
        self.g = (gx, gy)
        # Doubling formula: 0 for a = 0, 1 for a = -3, 2 for any other a.
        self.kind = 0 if self.a == 0 else (1 if self.a == p - 3 else 2)
        self.glv = glv
        if glv is not None:
            b1, b2 = glv[3], glv[5]
            # Rounded 2**384 * (b2/n, -b1/n): c = (k*g + 2**383) >> 384 stands
            # for round(k*b/n) without a division when splitting a scalar.
            self._g1 = ((b2 << 384) + (n >> 1)) // n
            self._g2 = ((-b1 << 384) + (n >> 1)) // n
        if not self.on_curve(gx, gy):
            raise Malformed("generator is not on the curve")
        self.gtab = gtab
        self._gts = {}  # generator tables built on first use, by number of parts
        self._gsmall = None  # G's small table for verifying while gtab is not loaded

    # -- encoding ------------------------------------------------------------

    def on_curve(self, x, y):
        """True if 0 <= x, y < p and (x, y) satisfies the curve equation."""
        p = self.p
        if not (0 <= x < p and 0 <= y < p):
            return False
        return (y * y - (x * x + self.a) * x - self.b) % p == 0

    def decode_point(self, data):
        """Affine point from 64 bytes x || y (big endian); Malformed unless on the curve."""
        if len(data) != 64:
            raise Malformed("public key: expected 64 bytes (x || y), got %d" % len(data))
        x = int.from_bytes(data[:32], "big")
        y = int.from_bytes(data[32:], "big")
        if not self.on_curve(x, y):
            raise Malformed("public key is not a point of %s" % self.name)
        return (x, y)

    def encode_point(self, pt):
        """64 bytes x || y of an affine point (infinity has no encoding)."""
        if pt is None:
            raise Malformed("the point at infinity has no 64-byte encoding")
        return pt[0].to_bytes(32, "big") + pt[1].to_bytes(32, "big")

    def lift_x(self, x, odd):
        """The affine point with this x and y of parity odd (0 or 1), or None."""
        p = self.p
        if not 0 <= x < p:
            return None
        if p & 3 != 3:
            raise Unsupported("square roots are implemented for p = 3 mod 4 only")
        c = ((x * x + self.a) * x + self.b) % p
        y = pow(c, (p + 1) >> 2, p) if self.sqrt is None else self.sqrt(c)
        if y * y % p != c:
            return None
        if (y & 1) != odd:
            y = p - y
        return (x, y % p)

    # -- single operations (not the hot path) ---------------------------------

    def to_affine(self, jp):
        """Affine form of a Jacobian point (one inversion)."""
        X, Y, Z = jp
        if not Z:
            return None
        p = self.p
        zi = inverse(Z, p)
        zi2 = zi * zi % p
        return (X * zi2 % p, Y * zi2 * zi % p)

    def x_equals(self, jp, x):
        """True if the Jacobian point is finite and its affine x equals x.

        Compares X with x*Z^2 instead of inverting Z.
        """
        X, Y, Z = jp
        if not Z:
            return False
        p = self.p
        return 0 <= x < p and X == x * (Z * Z % p) % p

    def double(self, jp):
        """2*P for a Jacobian point P."""
        X, Y, Z = jp
        if not Z:
            return (0, 1, 0)
        p = self.p
        zz = Z * Z % p
        kind = self.kind
        if kind == 0:
            m = X * X % p * 3
        elif kind == 1:
            m = (X - zz) * (X + zz) % p * 3
        else:
            m = (X * X * 3 + self.a * (zz * zz % p)) % p
        Z = (Y * Z << 1) % p
        yy = Y * Y % p
        s = X * yy % p
        X = (m * m - (s << 3)) % p
        Y = (m * ((s << 2) - X) - (yy * yy << 3)) % p
        return (X, Y, Z)

    def add_affine(self, jp, x2, y2):
        """P + (x2, y2) for a Jacobian P and an affine point (mixed addition)."""
        X, Y, Z = jp
        if not Z:
            return (x2, y2, 1)
        p = self.p
        zz = Z * Z % p
        h = x2 * zz % p - X
        r = y2 * zz * Z % p - Y
        if not h:
            if r:
                return (0, 1, 0)
            return self.double(jp)
        hh = h * h % p
        hhh = h * hh % p
        v = X * hh % p
        X = (r * r - hhh - (v << 1)) % p
        return (X, (r * (v - X) - Y * hhh) % p, Z * h % p)

    def add(self, p1, p2):
        """Sum of two affine points (None is infinity)."""
        if p1 is None:
            return p2
        if p2 is None:
            return p1
        return self.to_affine(self.add_affine((p1[0], p1[1], 1), p2[0], p2[1]))

    def neg(self, pt):
        """-P of an affine point."""
        if pt is None:
            return None
        return (pt[0], (self.p - pt[1]) % self.p)

    # -- tables --------------------------------------------------------------

    def odd_multiples(self, pt, count):
        """Affine ([x], [y]) of P, 3P, ..., (2*count-1)P for a finite point P.

        One inversion in all: 2P = (X2, Y2, Z2) is affine on the curve
        isomorphic by Z2, so the odd multiples are a chain of mixed additions
        there whose Z values are running products of the h's; the last Z is
        inverted and walked back down the chain. Needs n > 2*count.
        """
        chain, end = self.odd_chain(pt, count)
        return self.odd_affine(chain, inverse(end, self.p))

    def odd_chain(self, pt, count):
        """The chain of `odd_multiples` before its inversion: ((xs, ys, hs), Z of its last entry).

        Entry i is (xs[i], ys[i], Z_i * Z2) on the original curve, Z_i the product of hs[1..i].
        Callers with many points invert all their last Z values together (batch.py).
        """
        p = self.p
        x, y = pt
        X2, Y2, Z2 = self.double((x, y, 1))
        zz = Z2 * Z2 % p
        X = x * zz % p
        Y = y * zz * Z2 % p
        Z = 1
        xs = [X]
        ys = [Y]
        hs = [1]
        for _ in range(count - 1):
            # (X, Y, Z) += (X2, Y2); never exceptional: the multiples differ.
            zz = Z * Z % p
            h = X2 * zz % p - X
            r = Y2 * zz * Z % p - Y
            hh = h * h % p
            hhh = h * hh % p
            v = X * hh % p
            X = (r * r - hhh - (v << 1)) % p
            Y = (r * (v - X) - Y * hhh) % p
            Z = Z * h % p
            xs.append(X)
            ys.append(Y)
            hs.append(h)
        return (xs, ys, hs), Z * Z2 % p

    def odd_affine(self, chain, zi):
        """Affine ([x], [y]) of an `odd_chain`, given the inverse zi of its last Z (in place)."""
        p = self.p
        xs, ys, hs = chain
        i = len(xs) - 1
        while i >= 0:
            zi2 = zi * zi % p
            xs[i] = xs[i] * zi2 % p
            ys[i] = ys[i] * zi2 * zi % p
            zi = zi * hs[i] % p
            i -= 1
        return xs, ys

    def table(self, pt, w, keep=False, packed=False):
        """Width-w table of an affine point: (w, xs, ys, bxs), bxs = beta*xs on GLV curves else None.

        keep, packed: a table that outlives the call, its integers stored compactly or as
        `Packed` bytes (crypto/ectables.py, loaded only by who keeps tables).
        """
        if keep or packed:
            from lightmeter.crypto import ectables
            return ectables.table(self, pt, w, packed)
        xs, ys = self.odd_multiples(pt, 1 << (w - 2))
        bxs = None
        if self.glv is not None:
            beta = self.glv[0]
            p = self.p
            bxs = [x * beta % p for x in xs]
        return (w, xs, ys, bxs)

    def shift(self, parts):
        """Bits per part when scalars are cut into parts (GLV halves are < 2**129)."""
        bits = 129 if self.glv is not None else 256
        return (bits + parts - 1) // parts

    def _shipped(self, parts):
        """The tables for parts read from the gtab module (imported here if it is not loaded),
        or None if it ships none for parts. Made on each call and not kept, so that releasing
        the module frees its bytes (device/modules.py)."""
        if self.gtab is None:
            return None
        mod = sys.modules.get(self.gtab)
        if mod is None:
            __import__(self.gtab)
            mod = sys.modules[self.gtab]
        cols = mod.COLUMNS
        if parts != 1 and parts != len(cols):
            return None
        t = []
        for xs, ys, bxs in cols[:parts]:
            t.append((G_WINDOW, Chunked(xs), Chunked(ys), None if bxs is None else Chunked(bxs)))
        return t

    def g_tables(self, parts):
        """The generator's tables (width G_WINDOW) for parts: shipped (`gtab`), else built on first
        use and kept (crypto/ectables.py)."""
        t = self._gts.get(parts)
        if t is None:
            t = self._shipped(parts)
        if t is None:
            from lightmeter.crypto import ectables
            t = self._gts[parts] = ectables.g_tables(self, parts)
        return t

    def _g_for_verify(self, parts):
        # the shipped tables when their module is loaded (or tables were built), else G's small
        # table: a header step need not load 6 / 8 KB of tables for fifteen checks
        if parts != 1 or self.gtab is None or self.gtab in sys.modules or 1 in self._gts:
            return self.g_tables(parts)
        if self._gsmall is None:
            self._gsmall = [self.table(self.g, P_WINDOW)]
        return self._gsmall

    # -- scalars -------------------------------------------------------------

    def split(self, k):
        """(k1, k2) with k1 + k2*lam == k (mod n) and |k1|, |k2| < 2**129 (GLV curves)."""
        _, _, a1, b1, a2, b2 = self.glv
        c1 = (k * self._g1 + (1 << 383)) >> 384
        c2 = (k * self._g2 + (1 << 383)) >> 384
        return k - c1 * a1 - c2 * a2, -c1 * b1 - c2 * b2

    def terms(self, k, tables):
        """Terms (k', w, xs, ys) of k*T for `combine`, given the `tables` of T.

        On a GLV curve k is first split by the endomorphism (the second half
        uses the beta*x columns); with several tables, each part of k
        (`shift` bits) goes with the table of T shifted as far.
        """
        k %= self.n
        if self.glv is not None:
            k1, k2 = self.split(k)
            halves = ((k1, 1), (k2, 3))  # index of the x column in a table
        else:
            halves = ((k, 1),)
        parts = len(tables)
        out = []
        for h, col in halves:
            if parts == 1:
                t = tables[0]
                out.append((h, t[0], t[col], t[2]))
                continue
            sign = 1
            if h < 0:
                h = -h
                sign = -1
            s = self.shift(parts)
            mask = (1 << s) - 1
            for j in range(parts):
                t = tables[j]
                c = h >> (j * s)
                if j < parts - 1:
                    c &= mask
                out.append((sign * c, t[0], t[col], t[2]))
        return out

    # -- the hot loop ----------------------------------------------------------

    def combine(self, terms):
        """Jacobian sum of the k*T over terms (k, w, xs, ys); xs, ys: T's odd multiples.

        k may be negative; each table must hold 2**(w-2) entries.
        """
        p = self.p
        # Each term's nonzero wNAF digits (_wnaf_codes, least significant first) are gathered a
        # window of bits at a time, from the top, into one sorted list of small integers,
        # bit << tb | (last term - term index) << 10 | digit + 512 (|digit| < 2**(w-1) <= 256),
        # walked from its end: bits come from the top and, within a bit, terms in order. The
        # list holds one window's digits, never all of them: all of a single check's made a
        # 512-byte block (3.5 KB for a batch) on a heap the device cycle leaves in pieces
        # (bench/RESULTS.md); walking the terms' own lists bit by bit instead cost a batch's ~60
        # terms 10 % on CPython. The table entry is looked up when it is added.
        nt = len(terms)
        tb = 10
        while (1 << (tb - 10)) < nt:
            tb += 1
        cols = []
        codes = []
        at = []
        top = -1
        for t in range(nt):
            k, w, xs, ys = terms[t]
            neg = k < 0
            if neg:
                k = -k
            cols.append((xs, ys, neg))
            c = _wnaf_codes(k, w)
            codes.append(c)
            at.append(len(c) - 1)
            if c and c[-1] >> 10 > top:
                top = c[-1] >> 10
        win = 64 if nt <= 8 else 8  # about 30 digits a window either way
        last = nt - 1
        tmask = (1 << (tb - 10)) - 1
        kind = self.kind
        a = self.a
        X = Y = Z = 0
        low = top + 1  # the first bit gathers the first window
        for i in range(top, -1, -1):
            if i < low:
                # the next window's digits, bits low .. i
                low = i - win + 1
                events = []
                for t in range(nt):
                    c = codes[t]
                    k = at[t]
                    code = (last - t) << 10
                    while k >= 0 and c[k] >> 10 >= low:
                        events.append(((c[k] >> 10) << tb) + code + (c[k] & 1023))
                        k -= 1
                    at[t] = k
                events.sort()
                j = len(events) - 1
            if Z:
                # Doubling; m = 3x^2 + a*z^4 in three shapes.
                if kind == 0:
                    m = X * X % p * 3
                elif kind == 1:
                    zz = Z * Z % p
                    m = (X - zz) * (X + zz) % p * 3
                else:
                    zz = Z * Z % p
                    m = (X * X * 3 + a * (zz * zz % p)) % p
                Z = (Y * Z << 1) % p
                yy = Y * Y % p
                s = X * yy % p
                X = (m * m - (s << 3)) % p
                Y = (m * ((s << 2) - X) - (yy * yy << 3)) % p
            while j >= 0 and events[j] >> tb == i:
                c = events[j]
                j -= 1
                xs, ys, neg = cols[last - ((c >> 10) & tmask)]
                d = (c & 1023) - 512
                if d < 0:
                    e = -d >> 1
                    x2 = xs[e]
                    y2 = ys[e] if neg else p - ys[e]
                else:
                    e = d >> 1
                    x2 = xs[e]
                    y2 = p - ys[e] if neg else ys[e]
                if not Z:
                    X = x2
                    Y = y2
                    Z = 1
                    continue
                # Mixed addition (X, Y, Z) += (x2, y2).
                zz = Z * Z % p
                h = x2 * zz % p - X
                r = y2 * zz * Z % p - Y
                if not h:
                    if r:  # P + (-P)
                        Z = 0
                    else:
                        X, Y, Z = self.double((X, Y, Z))
                    continue
                hh = h * h % p
                hhh = h * hh % p
                v = X * hh % p
                X = (r * r - hhh - (v << 1)) % p
                Y = (r * (v - X) - Y * hhh) % p
                Z = Z * h % p
        if not Z:
            return (0, 1, 0)
        return (X, Y, Z)

    # -- scalar multiplication -----------------------------------------------

    def mul_g(self, k):
        """k*G as a Jacobian point, from the generator's tables.

        SM2 (no GLV) cuts k in two halves: 128 doublings instead of 256, for
        a second generator table.
        """
        return self.combine(self.terms(k, self.g_tables(1 if self.glv is not None else 2)))

    def mul(self, k, pt):
        """k*P as a Jacobian point for an affine P (None is infinity)."""
        if pt is None:
            return (0, 1, 0)
        return self.combine(self.terms(k, [self.table(pt, P_WINDOW)]))

    def mul_add(self, u1, u2, pt):
        """u1*G + u2*P as a Jacobian point: the verification equation.

        pt: P as an affine point, or a PublicKey holding P's tables (whose
        parts also set how the generator's scalar is cut).
        """
        if isinstance(pt, PublicKey):
            tables = pt.tables
        else:
            tables = [self.table(pt, P_WINDOW)]
        return self.combine(self.terms(u1, self._g_for_verify(len(tables))) + self.terms(u2, tables))


class PublicKey:
    """A decoded public key and its tables, for verifying many signatures of one signer.

    PBFT sealers sign every block, so a light client can keep one per sealer:
    decoding and table building are skipped, and with parts > 1 the tables of
    P, 2**s*P, ... (and as many of G) cut the doublings of a verification by
    as much: 128/parts on secp256k1 (after GLV), 256/parts on SM2.
    parts defaults to 1 on secp256k1 and 2 on SM2.

    MicroPython heap, 48 bytes an integer: parts * 2**(window-2) entries of 3
    (secp256k1) or 2 (SM2) integers: 1.2 KB (secp256k1, defaults), 1.6 KB
    (SM2, defaults). Each generator table for parts > 1 that is not built yet
    adds 10 KB (secp256k1) or 6.7 KB (SM2), once for all keys.
    packed: 2**(window-2) * 64 bytes a part (x and y as `Packed` bytes, beta*x made as looked
    up): 2 KB for window 7 on secp256k1 (crypto/batch.py keeps one per sealer).
    """

    def __init__(self, curve, data, window=P_WINDOW, parts=None, packed=False):
        if parts is None:
            parts = 1 if curve.glv is not None else 2
        if not (2 <= window <= 9 and 1 <= parts <= 8):
            raise Malformed("table width must be in 2..9 and parts in 1..8")
        self.curve = curve
        self.data = bytes(data)
        self.point = curve.decode_point(data)
        # table building lives apart: a device that keeps no key never loads it
        from lightmeter.crypto import ectables
        self.tables = ectables.tables(curve, self.point, window, parts, packed)
