"""SM3 hash (GB/T 32905-2016), the hash of FISCO BCOS SM-crypto (guomi) chains.

Pure Python for the firmware, which has no SM3 in hashlib; the host may use a
native backend.

Speed trick: a 32-bit word x is often kept "repeated", x * (2**32 + 1) or
x * (2**64 + 2**32 + 1), so that rotating it left by n is one right shift by
32 - n. Bits above bit 31 are then junk, which is harmless wherever the word
only feeds additions mod 2**32 (the junk is a multiple of 2**32) or bitwise
operations whose result does; every sum is masked before it is repeated again.
"""

from struct import pack, unpack_from

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


_M = const(0xFFFFFFFF)
_X2 = const(0x100000001)  # x * _X2 repeats x twice
_X3 = const(0x10000000100000001)  # x * _X3 repeats x three times

_IV = const((0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600,
             0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E))

# T_j rotated left by j mod 32, as used in SS1 of round j.
_T = tuple(((0x79CC4519 if j < 16 else 0x7A879D8A) * _X2 >> (32 - j % 32)) & _M
           for j in range(64))


def _compress(v, data, off):
    """Compress the 64-byte block at data[off:off + 64] into chaining value v (list of 8)."""
    M, X2, X3, T = _M, _X2, _X3, _T
    # Message expansion, W[j] for j = 16..67 from the 16 words before it:
    # W[j] = P1(W[j-16] ^ W[j-9] ^ rotl(W[j-3], 15)) ^ rotl(W[j-13], 7) ^ W[j-6]
    # with P1(u) = u ^ rotl(u, 15) ^ rotl(u, 23). The last 16 words stay in
    # locals, x(j mod 16) = W[j], each new word replacing W[j-16]. Words are
    # repeated three times (96 bits) so that P1 still rotates real bits after
    # u took in a rotated word. W is a list of its final length filled by slices: grown by
    # `+=` instead, its reallocations among the rounds' short-lived integers fragmented a small
    # heap (one Z_A took 17 KiB more heap on the 32-bit port, bench/RESULTS.md).
    w = [0] * 68
    (x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15) = unpack_from(">16I", data, off)
    x0 *= X3
    x1 *= X3
    x2 *= X3
    x3 *= X3
    x4 *= X3
    x5 *= X3
    x6 *= X3
    x7 *= X3
    x8 *= X3
    x9 *= X3
    x10 *= X3
    x11 *= X3
    x12 *= X3
    x13 *= X3
    x14 *= X3
    x15 *= X3
    w[0:16] = (x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15)
    for o in (16, 32, 48):
        u = x0 ^ x7 ^ (x13 >> 17)
        x0 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x3 >> 25) ^ x10) & M) * X3
        u = x1 ^ x8 ^ (x14 >> 17)
        x1 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x4 >> 25) ^ x11) & M) * X3
        u = x2 ^ x9 ^ (x15 >> 17)
        x2 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x5 >> 25) ^ x12) & M) * X3
        u = x3 ^ x10 ^ (x0 >> 17)
        x3 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x6 >> 25) ^ x13) & M) * X3
        u = x4 ^ x11 ^ (x1 >> 17)
        x4 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x7 >> 25) ^ x14) & M) * X3
        u = x5 ^ x12 ^ (x2 >> 17)
        x5 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x8 >> 25) ^ x15) & M) * X3
        u = x6 ^ x13 ^ (x3 >> 17)
        x6 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x9 >> 25) ^ x0) & M) * X3
        u = x7 ^ x14 ^ (x4 >> 17)
        x7 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x10 >> 25) ^ x1) & M) * X3
        u = x8 ^ x15 ^ (x5 >> 17)
        x8 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x11 >> 25) ^ x2) & M) * X3
        u = x9 ^ x0 ^ (x6 >> 17)
        x9 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x12 >> 25) ^ x3) & M) * X3
        u = x10 ^ x1 ^ (x7 >> 17)
        x10 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x13 >> 25) ^ x4) & M) * X3
        u = x11 ^ x2 ^ (x8 >> 17)
        x11 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x14 >> 25) ^ x5) & M) * X3
        u = x12 ^ x3 ^ (x9 >> 17)
        x12 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x15 >> 25) ^ x6) & M) * X3
        u = x13 ^ x4 ^ (x10 >> 17)
        x13 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x0 >> 25) ^ x7) & M) * X3
        u = x14 ^ x5 ^ (x11 >> 17)
        x14 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x1 >> 25) ^ x8) & M) * X3
        u = x15 ^ x6 ^ (x12 >> 17)
        x15 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x2 >> 25) ^ x9) & M) * X3
        w[o:o + 16] = (x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15)
    u = x0 ^ x7 ^ (x13 >> 17)
    x0 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x3 >> 25) ^ x10) & M) * X3
    u = x1 ^ x8 ^ (x14 >> 17)
    x1 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x4 >> 25) ^ x11) & M) * X3
    u = x2 ^ x9 ^ (x15 >> 17)
    x2 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x5 >> 25) ^ x12) & M) * X3
    u = x3 ^ x10 ^ (x0 >> 17)
    x3 = ((u ^ (u >> 17) ^ (u >> 9) ^ (x6 >> 25) ^ x13) & M) * X3
    w[64:68] = (x0, x1, x2, x3)

    # The compression rounds. A and B are kept repeated (B is rotated by 9 as it
    # becomes C), so are E and F (F is rotated by 19 as it becomes G): E three
    # times, so that P0 leaves at least 45 real bits; C, D, G, H carry junk.
    a, b, c, d, e, f, g, h = v
    a *= X2
    b *= X2
    e *= X2
    f *= X2
    for j in range(16):
        a12 = a >> 20  # rotl(A, 12)
        ss1 = ((a12 + e + T[j]) & M) * X2 >> 25  # rotl(.., 7)
        tt1 = ((a ^ b ^ c) + d + (ss1 ^ a12) + (w[j] ^ w[j + 4])) & M
        tt2 = ((e ^ f ^ g) + h + ss1 + w[j]) & M
        d = c
        c = b >> 23  # rotl(B, 9)
        b = a
        a = tt1 * X2
        h = g
        g = f >> 13  # rotl(F, 19)
        f = e
        e = tt2 * X3
        e ^= (e >> 23) ^ (e >> 15)  # P0(TT2) = x ^ rotl(x, 9) ^ rotl(x, 17)
    for j in range(16, 64):
        a12 = a >> 20
        ss1 = ((a12 + e + T[j]) & M) * X2 >> 25
        # FF = majority(A, B, C), GG = (E & F) | (~E & G)
        tt1 = (((a & b) | (c & (a | b))) + d + (ss1 ^ a12) + (w[j] ^ w[j + 4])) & M
        tt2 = ((g ^ (e & (f ^ g))) + h + ss1 + w[j]) & M
        d = c
        c = b >> 23
        b = a
        a = tt1 * X2
        h = g
        g = f >> 13
        f = e
        e = tt2 * X3
        e ^= (e >> 23) ^ (e >> 15)
    v[0] ^= a & M
    v[1] ^= b & M
    v[2] ^= c & M
    v[3] ^= d & M
    v[4] ^= e & M
    v[5] ^= f & M
    v[6] ^= g & M
    v[7] ^= h & M


def _final(v, tail, n, total):
    """Absorb the last n < 64 bytes tail[:n] of a total-byte message; return the digest."""
    block = bytearray(128 if n >= 56 else 64)
    block[:n] = tail[:n]
    block[n] = 0x80
    end = len(block)
    block[end - 8:] = pack(">Q", total * 8)
    _compress(v, block, 0)
    if end == 128:
        _compress(v, block, 64)
    return pack(">8I", v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7])


def sm3(data):
    """SM3 digest (32 bytes) of bytes, bytearray or memoryview data."""
    if isinstance(data, str):
        raise TypeError("sm3 hashes bytes; encode text first")
    v = list(_IV)
    n = len(data)
    off = 0
    while n - off >= 64:
        _compress(v, data, off)
        off += 64
    return _final(v, data[off:], n - off, n)


class SM3:
    """Incremental SM3 with the hashlib interface: update, digest, copy."""

    def __init__(self, data=None):
        self._v = list(_IV)
        self._buf = bytearray(64)  # pending input, always less than one block
        self._n = 0
        self._total = 0
        if data is not None:
            self.update(data)

    def update(self, data):
        if isinstance(data, str):
            raise TypeError("SM3 hashes bytes; encode text first")
        v, buf, n = self._v, self._buf, self._n
        size = len(data)
        self._total += size
        off = 0
        if n:
            off = min(64 - n, size)
            buf[n:n + off] = data[:off]
            n += off
            if n < 64:
                self._n = n
                return
            _compress(v, buf, 0)
        while size - off >= 64:
            _compress(v, data, off)
            off += 64
        n = size - off
        buf[:n] = data[off:]
        self._n = n

    def digest(self):
        """Digest of everything passed so far; more update() calls may follow."""
        return _final(list(self._v), self._buf, self._n, self._total)

    def copy(self):
        other = SM3()
        other._v[:] = self._v
        other._buf[:] = self._buf
        other._n = self._n
        other._total = self._total
        return other
