"""The firmware's canonical CBOR and link frames against independent oracles, generated.

- cbor2 (agronholm) is the oracle for the encoding. Its canonical=True sorts map
  keys length-first (RFC 7049 §3.9), while the link uses RFC 8949 §4.2.1's bytewise
  order of encoded keys; the two agree unless a map mixes key encodings of
  different lengths. So: our bytes equal cbor2's when the orders agree, and always
  equal cbor2's plain encoding of the same maps inserted in bytewise key order
  (cbor2 writes shortest integer and length forms in either mode).
- Non-canonical encodings of the same values (cbor2's insertion order and
  length-first order, and a loose encoder below that picks any argument width,
  indefinite lengths, any key order and repeated entries) are refused whenever their bytes differ
  from the canonical ones; whatever loads accepts re-encodes to the very same
  bytes.
- Hostile bytes into loads, Deframer and unpack raise Malformed or return.
- zlib.crc32 and a byte-at-a-time COBS written from Cheshire & Baker's
  description check the frames and proto/vectors/link.json; the firmware tests
  read tests/vectors/link.json, which must be the same file.
"""

import json
import zlib

import cbor2
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from lightmeter.link import cbor, frame
from lightmeter.errors import Malformed
from lightmeter_host.paths import PROJECT_ROOT

ROOT = PROJECT_ROOT
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

U64 = 1 << 64
ints = st.integers(-U64, U64 - 1) | st.sampled_from(
    [0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, U64 - 1, -1, -24, -25, -256, -257,
     -65536, -65537, -2**32, -2**32 - 1, -U64])
keys = st.integers(-U64, U64 - 1) | st.integers(-30, 300) | st.text(max_size=6) | st.binary(max_size=6)
scalars = st.none() | st.booleans() | ints | st.binary(max_size=40) | st.text(max_size=20)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=25)


def bytewise(x):
    """x with every map inserted in RFC 8949 §4.2.1 order (bytewise over cbor2's key encodings)."""
    if isinstance(x, dict):
        return {k: bytewise(x[k]) for k in sorted(x, key=cbor2.dumps)}
    if isinstance(x, list):
        return [bytewise(v) for v in x]
    return x


def orders_agree(x):
    """Whether length-first and bytewise key orders coincide in every map of x."""
    if isinstance(x, dict):
        enc = [cbor2.dumps(k) for k in x]
        return sorted(enc) == sorted(enc, key=lambda b: (len(b), b)) and all(map(orders_agree, x.values()))
    if isinstance(x, list):
        return all(map(orders_agree, x))
    return True


def only_malformed(fn, *args):
    try:
        return fn(*args)
    except Malformed:
        return None


@SETTINGS
@given(values)
def test_dumps_matches_cbor2(x):
    ours = cbor.dumps(x)
    assert ours == cbor2.dumps(bytewise(x))
    if orders_agree(x):
        assert ours == cbor2.dumps(x, canonical=True)
    assert cbor2.loads(ours) == x


def test_key_orders_differ_where_rfc8949_says():
    # RFC 8949 §4.2.1 vs §4.2.3 (RFC 7049's length-first order): 24 (1818) sorts before -1 (20)
    # bytewise, after it length-first.
    x = {24: 1, -1: 2}
    assert cbor.dumps(x).hex() == "a21818012002"
    assert cbor2.dumps(x, canonical=True).hex() == "a22002181801"
    raises_malformed(cbor2.dumps(x, canonical=True))


def raises_malformed(data, **kw):
    try:
        value = cbor.loads(data, **kw)
    except Malformed:
        return
    raise AssertionError("accepted %s as %r" % (data.hex(), value))


@SETTINGS
@given(values)
def test_loads_inverts_dumps(x):
    enc = cbor.dumps(x)
    assert cbor.loads(enc, max_depth=64) == x


@SETTINGS
@given(values, st.integers(0, 50))
def test_dump_pieces_join_to_dumps(x, big):
    # what a checkpoint is written with (device/checkpoint.py): the same bytes, never joined
    assert b"".join(bytes(p) for p in cbor.dump_pieces(x, big)) == cbor.dumps(x)


@SETTINGS
@given(values, st.randoms(use_true_random=False))
def test_cbor2_non_canonical_forms_refused(x, rnd):
    canonical = cbor.dumps(x)
    shuffled = shuffle_maps(x, rnd)
    for other in (cbor2.dumps(shuffled), cbor2.dumps(x, canonical=True)):
        assert cbor2.loads(other) == x
        if other != canonical:
            raises_malformed(other, max_depth=64)
        else:
            assert cbor.loads(other, max_depth=64) == x


def shuffle_maps(x, rnd):
    if isinstance(x, dict):
        ks = list(x)
        rnd.shuffle(ks)
        return {k: shuffle_maps(x[k], rnd) for k in ks}
    if isinstance(x, list):
        return [shuffle_maps(v, rnd) for v in x]
    return x


def loose(x, draw):
    """Some valid CBOR encoding of x, not necessarily the deterministic one (RFC 8949 §3)."""
    def head(major, n, indefinite=False):
        if indefinite:
            return bytes([(major << 5) | 31])
        widths = [w for w, top in ((0, 24), (1, 1 << 8), (2, 1 << 16), (4, 1 << 32), (8, U64)) if n < top]
        w = draw(st.sampled_from(widths))
        if w == 0:
            return bytes([(major << 5) | n])
        return bytes([(major << 5) | {1: 24, 2: 25, 4: 26, 8: 27}[w]]) + n.to_bytes(w, "big")

    def cuts(n):
        return sorted(set(draw(st.lists(st.integers(0, n), max_size=3)))) + [n]

    if x is None:
        return b"\xf6"
    if x is True or x is False:
        return b"\xf5" if x else b"\xf4"
    if isinstance(x, int):
        return head(0, x) if x >= 0 else head(1, -1 - x)
    if isinstance(x, (bytes, str)):
        major = 2 if isinstance(x, bytes) else 3
        if not draw(st.booleans()):
            raw = x if major == 2 else x.encode()
            return head(major, len(raw)) + raw
        out, start = head(major, 0, True), 0  # chunks split at character boundaries for text
        for end in cuts(len(x)):
            chunk = x[start:end] if major == 2 else x[start:end].encode()
            out += head(major, len(chunk)) + chunk
            start = end
        return out + b"\xff"
    indefinite = draw(st.booleans())
    if isinstance(x, list):
        out = head(4, len(x), indefinite) + b"".join(loose(v, draw) for v in x)
    else:
        ks = draw(st.permutations(list(x)))
        if ks and draw(st.booleans()):  # an entry twice (cbor2 keeps the last, the same here)
            ks.insert(draw(st.integers(0, len(ks))), draw(st.sampled_from(ks)))
        out = head(5, len(ks), indefinite) + b"".join(loose(k, draw) + loose(x[k], draw) for k in ks)
    return out + (b"\xff" if indefinite else b"")


@SETTINGS
@given(values, st.data())
def test_loose_encodings_refused_unless_canonical(x, data):
    enc = loose(x, data.draw)
    assert cbor2.loads(enc) == x  # the loose encoder is right
    if enc == cbor.dumps(x):
        assert cbor.loads(enc, max_depth=64) == x
    else:
        raises_malformed(enc, max_depth=64)


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_into_loads(data):
    value = only_malformed(cbor.loads, data)
    if value is not None or data == b"\xf6":
        assert cbor.dumps(value) == data  # anything accepted is exactly canonical


@SETTINGS
@given(values, st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255), st.sampled_from("fid")),
                        min_size=1, max_size=4))
def test_mutated_encodings_refused_or_canonical(x, edits):
    enc = bytearray(cbor.dumps(x))
    for where, byte, op in edits:
        i = where % (len(enc) + 1)
        if op == "f" and i < len(enc):
            enc[i] ^= byte or 1
        elif op == "i":
            enc[i:i] = bytes([byte])
        elif op == "d" and i < len(enc):
            del enc[i]
    enc = bytes(enc)
    try:
        value = cbor.loads(enc, max_depth=64)
    except Malformed:
        return
    assert cbor.dumps(value) == enc


@SETTINGS
@given(st.binary(max_size=12) | st.lists(
    st.sampled_from([b"\xc2\x80", b"\xe6\xb0\xb4", b"\xf0\x90\x85\x91", b"a", b"\x80", b"\xed\xa0\x80",
                     b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf4\x90\x80\x80", b"\xf0\x90", b"\xff", b"\xef\xbf\xbf"]),
    max_size=6).map(b"".join))
def test_text_validation_matches_python_strict_utf8(raw):
    enc = bytes([0x60 + len(raw)]) if len(raw) < 24 else bytes([0x78, len(raw)])
    enc += raw
    try:
        expected = raw.decode("utf-8")
    except UnicodeDecodeError:
        raises_malformed(enc)
    else:
        assert cbor.loads(enc) == expected


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_into_unpack(data):
    msg = only_malformed(frame.unpack, data)
    if msg is not None:
        assert frame.pack(*msg) == data


@SETTINGS
@given(values)
def test_random_values_into_unpack(x):
    msg = only_malformed(frame.unpack, cbor.dumps(x))
    if msg is not None:
        version, type_, id_, payload = msg
        assert version == 1 and 0 <= id_ <= 0xFFFF and (payload is None or isinstance(payload, dict))


def reference_cobs(data):
    """COBS, one byte at a time, as Cheshire & Baker describe it (code = 1 + bytes before the zero).

    A full block (code 0xFF, 254 bytes) implies no zero; data that ends right
    after one needs no further block.
    """
    out, block, after_full = bytearray(), bytearray(), False
    for b in data:
        after_full = False
        if b == 0:
            out += bytes([len(block) + 1]) + block
            block = bytearray()
        else:
            block.append(b)
            if len(block) == 254:
                out += b"\xff" + block
                block, after_full = bytearray(), True
    if not after_full:
        out += bytes([len(block) + 1]) + block
    return bytes(out)


@SETTINGS
@given(st.binary(max_size=800) | st.lists(st.sampled_from([b"\x00", b"\x01" * 253, b"\x02" * 254, b"\x03"]),
                                          max_size=6).map(b"".join))
def test_cobs_matches_reference(data):
    enc = frame.cobs_encode(data)
    assert enc == reference_cobs(data)
    assert frame.cobs_decode(enc) == data


def reference_frame(body):
    return reference_cobs(body + zlib.crc32(body).to_bytes(4, "little")) + b"\x00"


@SETTINGS
@given(st.lists(st.binary(min_size=1, max_size=600), min_size=1, max_size=5),
       st.lists(st.binary(max_size=40), min_size=6, max_size=6),
       st.lists(st.integers(1, 64), min_size=1, max_size=8))
def test_deframer_recovers_every_frame_between_noise(bodies, noise, steps):
    # A sender that opens each frame with 0x00: whatever noise lies between frames costs nothing.
    stream = b"".join(noise[i] + b"\x00" + reference_frame(b) for i, b in enumerate(bodies)) + noise[-1]
    d = frame.Deframer()
    got, i, k = [], 0, 0
    while i < len(stream):
        step = steps[k % len(steps)]
        got += d.feed(stream[i:i + step])
        i, k = i + step, k + 1
    assert got == bodies


@SETTINGS
@given(st.lists(st.binary(max_size=100), max_size=20))
def test_random_bytes_into_deframer(chunks):
    d = frame.Deframer()
    for c in chunks:
        for body in d.feed(c):
            assert isinstance(body, memoryview) and 0 < len(body) <= frame.MAX_FRAME
        assert d._n <= frame.MAX_ENCODED


def from_notation(v):
    if isinstance(v, dict):
        if set(v) == {"hex"}:
            return bytes.fromhex(v["hex"])
        return {int(k): from_notation(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_notation(x) for x in v]
    return v


def test_link_vectors_are_one_file():
    spec = (ROOT / "proto" / "vectors" / "link.json").read_bytes()
    assert (ROOT / "tests" / "vectors" / "link.json").read_bytes() == spec


def test_link_vectors_against_cbor2_and_zlib():
    vectors = json.loads((ROOT / "proto" / "vectors" / "link.json").read_text())["frames"]
    assert {"hello", "get_header", "error"} <= {v["name"] for v in vectors}
    for v in vectors:
        message = [v["version"], v["type"], v["id"], from_notation(v["payload"])]
        body = bytes.fromhex(v["body"])
        assert cbor2.dumps(bytewise(message)) == body
        assert cbor2.loads(body) == message
        assert reference_frame(body).hex() == v["frame"]
    assert any(b"\xff" in bytes.fromhex(v["frame"]) for v in vectors if len(v["body"]) > 2 * 254)
