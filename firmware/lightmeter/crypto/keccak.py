"""Keccak-256 as Ethereum and FISCO BCOS (non-SM chains) use it.

This is the original Keccak submission with padding byte 0x01, not NIST SHA3-256
(padding 0x06): the two give different digests for every input. Pure Python for
the firmware, which has no keccak in hashlib; the host may use a native backend.

Speed: the 25 lanes of the state live in local variables and a round is written
out in full, since a list or an inner loop would cost more lookups than the ~200
integer operations a round needs (on MicroPython each one makes a heap bignum).
Two tricks save operations:
- rotating a 64-bit x left by r is (x * K >> (64 - r)) & M with K = 2**64 + 1:
  the product holds x twice side by side, so one multiply replaces a second
  shift and an or;
- lane complementing (Bertoni et al., "Keccak implementation overview", 2.2):
  six lanes are kept inverted during the 24 rounds, which lets chi do without
  most of its 25 NOTs. Each chi line below is b0 ^ (~b1 & b2) rewritten for
  which of its inputs and output are stored inverted.
"""

from struct import pack, unpack_from

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


_RATE = const(136)  # bytes absorbed per permutation: 1600 - 2 * 256 bits of capacity

# Round constants of iota (FIPS 202, algorithm 5).
_RC = const((
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
))


def _absorb(s, data, off):
    """XOR the block at data[off:off + 136] into state s, then apply Keccak-f[1600].

    s is a list of 25 lanes, lane (x, y) at index x + 5 * y; aXY below is that lane.
    """
    block = unpack_from("<17Q", data, off)
    for i in range(17):
        s[i] ^= block[i]
    M = 0xFFFFFFFFFFFFFFFF
    K = 0x10000000000000001
    (a00, a10, a20, a30, a40, a01, a11, a21, a31, a41, a02, a12, a22, a32, a42,
     a03, a13, a23, a33, a43, a04, a14, a24, a34, a44) = s
    # invert the complemented lanes (see the module docstring) for the rounds
    a10 ^= M
    a20 ^= M
    a31 ^= M
    a22 ^= M
    a23 ^= M
    a04 ^= M
    for rc in _RC:
        # theta: xor each lane with the parities of the two neighbouring columns
        c0 = a00 ^ a01 ^ a02 ^ a03 ^ a04
        c1 = a10 ^ a11 ^ a12 ^ a13 ^ a14
        c2 = a20 ^ a21 ^ a22 ^ a23 ^ a24
        c3 = a30 ^ a31 ^ a32 ^ a33 ^ a34
        c4 = a40 ^ a41 ^ a42 ^ a43 ^ a44
        d0 = c4 ^ ((c1 * K >> 63) & M)
        d1 = c0 ^ ((c2 * K >> 63) & M)
        d2 = c1 ^ ((c3 * K >> 63) & M)
        d3 = c2 ^ ((c4 * K >> 63) & M)
        d4 = c3 ^ ((c0 * K >> 63) & M)
        # rho and pi: lane (x, y) rotated left by its offset r becomes b(y, 2x + 3y);
        # the shift below is 64 - r
        b00 = a00 ^ d0
        b10 = ((a11 ^ d1) * K >> 20) & M
        b20 = ((a22 ^ d2) * K >> 21) & M
        b30 = ((a33 ^ d3) * K >> 43) & M
        b40 = ((a44 ^ d4) * K >> 50) & M
        b01 = ((a30 ^ d3) * K >> 36) & M
        b11 = ((a41 ^ d4) * K >> 44) & M
        b21 = ((a02 ^ d0) * K >> 61) & M
        b31 = ((a13 ^ d1) * K >> 19) & M
        b41 = ((a24 ^ d2) * K >> 3) & M
        b02 = ((a10 ^ d1) * K >> 63) & M
        b12 = ((a21 ^ d2) * K >> 58) & M
        b22 = ((a32 ^ d3) * K >> 39) & M
        b32 = ((a43 ^ d4) * K >> 56) & M
        b42 = ((a04 ^ d0) * K >> 46) & M
        b03 = ((a40 ^ d4) * K >> 37) & M
        b13 = ((a01 ^ d0) * K >> 28) & M
        b23 = ((a12 ^ d1) * K >> 54) & M
        b33 = ((a23 ^ d2) * K >> 49) & M
        b43 = ((a34 ^ d3) * K >> 8) & M
        b04 = ((a20 ^ d2) * K >> 2) & M
        b14 = ((a31 ^ d3) * K >> 9) & M
        b24 = ((a42 ^ d4) * K >> 25) & M
        b34 = ((a03 ^ d0) * K >> 23) & M
        b44 = ((a14 ^ d1) * K >> 62) & M
        # chi along each row, then iota
        a00 = b00 ^ (b10 | b20)
        a10 = b10 ^ ((b20 ^ M) | b30)
        a20 = b20 ^ (b30 & b40)
        a30 = b30 ^ (b40 | b00)
        a40 = b40 ^ (b00 & b10)
        a01 = b01 ^ (b11 | b21)
        a11 = b11 ^ (b21 & b31)
        a21 = b21 ^ (b31 | (b41 ^ M))
        a31 = b31 ^ (b41 | b01)
        a41 = b41 ^ (b01 & b11)
        a02 = b02 ^ (b12 | b22)
        a12 = b12 ^ (b22 & b32)
        a22 = b22 ^ (b42 & ~b32)
        a32 = b32 ^ ((b42 | b02) ^ M)
        a42 = b42 ^ (b02 & b12)
        a03 = b03 ^ (b13 & b23)
        a13 = b13 ^ (b23 | b33)
        a23 = b23 ^ ((b33 ^ M) | b43)
        a33 = b33 ^ ((b43 & b03) ^ M)
        a43 = b43 ^ (b03 | b13)
        a04 = b04 ^ (b24 & ~b14)
        a14 = b14 ^ ((b24 | b34) ^ M)
        a24 = b24 ^ (b34 & b44)
        a34 = b34 ^ (b44 | b04)
        a44 = b44 ^ (b04 & b14)
        a00 ^= rc
    a10 ^= M
    a20 ^= M
    a31 ^= M
    a22 ^= M
    a23 ^= M
    a04 ^= M
    s[:] = (a00, a10, a20, a30, a40, a01, a11, a21, a31, a41, a02, a12, a22, a32, a42,
            a03, a13, a23, a33, a43, a04, a14, a24, a34, a44)


def _final(s, tail, n):
    """Absorb the last n < 136 bytes tail[:n] with Keccak padding; return the digest."""
    block = bytearray(_RATE)
    block[:n] = tail[:n]
    block[n] = 0x01
    block[_RATE - 1] |= 0x80
    _absorb(s, block, 0)
    return pack("<4Q", s[0], s[1], s[2], s[3])


def keccak256(data):
    """Keccak-256 digest (32 bytes) of bytes, bytearray or memoryview data."""
    if isinstance(data, str):
        raise TypeError("keccak256 hashes bytes; encode text first")
    s = [0] * 25
    n = len(data)
    off = 0
    while n - off >= _RATE:
        _absorb(s, data, off)
        off += _RATE
    return _final(s, data[off:], n - off)


class Keccak256:
    """Incremental Keccak-256 with the hashlib interface: update, digest, copy."""

    def __init__(self, data=None):
        self._s = [0] * 25
        self._buf = bytearray(_RATE)  # pending input, always less than one block
        self._n = 0
        if data is not None:
            self.update(data)

    def update(self, data):
        if isinstance(data, str):
            raise TypeError("Keccak256 hashes bytes; encode text first")
        s, buf, n = self._s, self._buf, self._n
        size = len(data)
        off = 0
        if n:
            off = min(_RATE - n, size)
            buf[n:n + off] = data[:off]
            n += off
            if n < _RATE:
                self._n = n
                return
            _absorb(s, buf, 0)
        while size - off >= _RATE:
            _absorb(s, data, off)
            off += _RATE
        n = size - off
        buf[:n] = data[off:]
        self._n = n

    def digest(self):
        """Digest of everything passed so far; more update() calls may follow."""
        return _final(list(self._s), self._buf, self._n)

    def copy(self):
        other = Keccak256()
        other._s[:] = self._s
        other._buf[:] = self._buf
        other._n = self._n
        return other
