"""A hostile relay against the device's link decoder, on MicroPython itself and on CPython.

One bounded corpus, drawn by hypothesis with a fixed seed (derandomize): random bytes, valid
frames of the relay's answers with mutated bodies (bit flips, truncations, inserted bytes, length
fields too large, deep nesting, huge counts, non-canonical CBOR, tags and floats) and valid CBOR
with wrong types in the message fields (real header and receipt maps from tests/vectors with one
value replaced). tests/firmware/linkfuzz.py runs all of it in one MicroPython (WebAssembly) run
and once on CPython: the stream decoder alone, and the device's answer handling for a queued,
signed reading whose store is compared byte for byte before and after each input.

Each input must end in a typed error (a LightmeterError subclass) or a valid message; never in
another exception, never in a change to the stored state; and both runtimes must agree, input
by input.
"""

import copy
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from lightmeter.link import cbor, frame
from lightmeter.link import relaywire
from lightmeter_host.paths import PROJECT_ROOT
from lightmeter_host.runtimes import micropython
from support import load_vector

DRIVER = PROJECT_ROOT / "tests" / "firmware" / "linkfuzz.py"
FIRST_ID = 1000  # linkfuzz.FIRST_ID: the device's ids in a round are 1000, 1001, 1002...
# per kind: (the id of the request the hostile bytes answer, the answer type it expects)
TARGET = {"stream": (FIRST_ID, 8), "ack": (FIRST_ID, 10), "receipt": (FIRST_ID + 1, 12),
          "number": (FIRST_ID + 2, 6), "header": (FIRST_ID + 3, 8)}
KINDS = ("stream", "stream", "ack", "receipt", "receipt", "number", "header")
N_INPUTS = 2500

BLOCK = load_vector("fisco-doc-sm-block2.json")["result"]
RECEIPT = load_vector("fisco-doc-sm-receipt2.json")["result"]
HEADER_MAP = relaywire.header_to_wire(BLOCK)
RECEIPT_MAP = relaywire.receipt_to_wire(RECEIPT)
TEMPLATES = {
    2: {0: "relay-1", 1: 7},
    4: {0: 1700000000000},
    6: {0: 100},
    8: HEADER_MAP,
    10: {0: b"\x11" * 32, 1: 0, 2: ""},
    12: {0: RECEIPT_MAP, 1: [b"\x22" * 32], 2: [b"\x33" * 32], 3: HEADER_MAP},
    14: {0: [[{0: 1, 1: "chain0", 2: "group0", 3: 600, 4: b"1", 5: b"\x10" * 20, 6: b"", 7: "",
               14: b"\x01" * 65}, [b"\x44" * 32], RECEIPT_MAP, []]]},
    15: {0: 4, 1: "not found"},
}

cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**64, 2**64 - 1)
    | st.sampled_from([0, 1, 2, 5, 2**63, -1, 10001, 2**64 - 1])
    | st.binary(max_size=70) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.integers(0, 16) | st.text(max_size=2) | st.binary(max_size=2), inner, max_size=4),
    max_leaves=10)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _replaced(obj, path, value):
    if not path:
        return value
    obj = copy.deepcopy(obj)
    cur = obj
    for p in path[:-1]:
        cur = cur[p]
    if value is _DELETE:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return obj


_DELETE = object()


def _head(major, n, width):
    # a CBOR head with argument n in the given width: 0 = shortest, else 1/2/4/8 bytes (maybe
    # non-shortest, which the decoder must refuse)
    if width == 0:
        out = bytearray()
        cbor._head(out, major, n)
        return bytes(out)
    ai = {1: 24, 2: 25, 4: 26, 8: 27}[width]
    return bytes([major << 5 | ai]) + (n % (1 << 8 * width)).to_bytes(width, "big")


def loose_cbor(rnd, depth=0):
    """Bytes of one CBOR item, canonical or not: non-shortest heads, indefinite lengths, unsorted
    or duplicate keys, tags, floats, simple values, lengths past the end, huge counts."""
    choice = rnd.randint(0, 11 if depth < 3 else 5)
    width = rnd.choice([0, 0, 0, 1, 2, 4, 8])
    if choice == 0:
        return _head(rnd.randint(0, 1), rnd.choice([rnd.randint(0, 30), rnd.getrandbits(64)]), width)
    if choice == 1:
        b = rnd.randbytes(rnd.randint(0, 20))
        return _head(2, len(b), width) + b
    if choice == 2:
        b = rnd.choice([b"ok", "\u00e9\u20ac".encode(), b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                        rnd.randbytes(rnd.randint(0, 12))])  # as text: often invalid UTF-8
        return _head(3, len(b), width) + b
    if choice == 3:
        return rnd.choice([b"\xf4", b"\xf5", b"\xf6", b"\xf7", b"\xf0", b"\xf8\x20",
                           b"\xf9\x3c\x00", b"\xfa\x00\x00\x00\x00", b"\xff", b"\x1c"])
    if choice == 4:  # a length or count far beyond the data
        major = rnd.choice([2, 3, 4, 5])
        return _head(major, rnd.choice([2**16, 2**31, 2**32 - 1, 2**63, 2**64 - 1]), 8)
    if choice == 5:  # deep nesting
        return rnd.choice([b"\x81", b"\xa1\x00", b"\x9f"]) * rnd.randint(10, 400) + b"\xf6"
    if choice == 6:
        return b"\xc0" + loose_cbor(rnd, depth + 1)
    items = [loose_cbor(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    if choice in (7, 8):
        if rnd.random() < 0.3:
            return b"\x9f" + b"".join(items) + b"\xff"
        return _head(4, max(len(items) + rnd.choice([0, 0, 0, 1, -1]), 0), width) + b"".join(items)
    keys = [rnd.choice([b"\x00", b"\x01", b"\x05", b"\x0c", b"\x18\x18", b"\x20", b"\x61a", b"\x40"])
            for _ in items]
    if choice == 9:  # an indefinite map
        return b"\xbf" + b"".join(k + v for k, v in zip(keys, items)) + b"\xff"
    return _head(5, len(items), width) + b"".join(k + v for k, v in zip(keys, items))


def _frame_of(body):
    # a frame with a correct CRC, whatever the body's length (so oversize bodies reach the check)
    return frame.cobs_encode(body + frame._crc(body)) + b"\x00"


@st.composite
def relay_bytes(draw, kind):
    # hypothesis draws the values (its boundary cases are the point); a seeded Random it draws
    # makes the choices, so each kind of damage comes up about as often as intended
    rnd = draw(st.randoms(use_true_random=True))
    rid, mtype = TARGET[kind]
    how = rnd.randint(0, 9)
    if how == 0:  # noise
        return draw(st.binary(max_size=300))
    if rnd.random() < 0.15:
        mtype = rnd.choice([15, 15, 2, 4, 6, 8, 10, 12, 14, 0, 255])
    if rnd.random() < 0.08:
        rid = rnd.choice([rid, rid + 1, 0, 65535, 65536, -1])
    payload = TEMPLATES.get(mtype)
    if how in (1, 2, 3):  # valid CBOR, one value replaced by another of any type, or removed
        path = rnd.choice(list(_paths(payload)))
        new = _DELETE if path and rnd.random() < 0.2 else draw(cbor_values)
        payload = _replaced(payload, path, new)
    elif how == 4:
        payload = draw(cbor_values)
    if how == 5:  # a loose item in the payload's place, or a loose item as the whole body
        loose = loose_cbor(rnd)
        if rnd.random() < 0.7:
            body = b"\x84\x01" + cbor.dumps(mtype) + cbor.dumps(rid) + loose
        else:
            body = loose
    else:
        version = 1 if rnd.random() < 0.95 else draw(cbor_values)
        msg = [version, mtype, rid, payload]
        if rnd.random() < 0.05:
            msg = rnd.choice([msg[:3], msg + [None], {0: msg}])
        try:
            body = cbor.dumps(msg)
        except Exception:  # noqa: BLE001 (a value dumps refuses: a loose body instead)
            body = loose_cbor(rnd)
    if how in (6, 7, 8):  # bytes of the body changed: flips, a truncation, inserted bytes
        b = bytearray(body)
        for _ in range(rnd.randint(1, 3)):
            op = rnd.randint(0, 2)
            at = rnd.randint(0, max(len(b) - 1, 0))
            if op == 0 and b:
                b[at] ^= 1 << rnd.randint(0, 7)
            elif op == 1:
                del b[at:]
            else:
                b[at:at] = rnd.randbytes(rnd.randint(1, 4))
        body = bytes(b)
    if rnd.random() < 0.03:
        body += bytes(rnd.choice([max(frame.MAX_FRAME - len(body) + 1, 1), 10]))
    out = _frame_of(body)
    if how == 9:  # the frame itself damaged: a flip, lost bytes, a lost terminator
        b = bytearray(out)
        at = rnd.randint(0, len(b) - 1)
        op = rnd.randint(0, 2)
        if op == 0:
            b[at] ^= 1 << rnd.randint(0, 7)
        elif op == 1:
            del b[at:at + rnd.randint(1, 4)]
        else:
            del b[-1]
        out = bytes(b)
    if rnd.random() < 0.1:  # noise before, or a second frame after
        out = rnd.randbytes(rnd.randint(0, 8)) + b"\x00" + out + rnd.choice([b"", out])
    return out


entries = st.sampled_from(KINDS).flatmap(lambda k: relay_bytes(k).map(lambda b: (k, b)))


def build_corpus(n=N_INPUTS):
    found = []

    @settings(derandomize=True, database=None, max_examples=n, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), deadline=None)
    @given(entries)
    def draw(entry):
        found.append(entry)

    draw()
    # One untouched answer of each kind first: the layers behind the decoders are reached by
    # these whatever the draw (a corpus that only ever fails the CRC proves nothing about them).
    valid = [(k, _frame_of(cbor.dumps([1, TARGET[k][1], TARGET[k][0], TEMPLATES.get(TARGET[k][1])])))
             for k in sorted(set(KINDS)) if k in TARGET]
    # and the relay's well-formed error answer to each request (the device's RemoteError path)
    valid += [(k, _frame_of(cbor.dumps([1, 15, TARGET[k][0], TEMPLATES[15]])))
              for k in sorted(set(KINDS)) if k in TARGET and k != "stream"]
    return valid + found[:n - len(valid)]


@pytest.fixture(scope="module")
def corpus():
    # built in a fresh interpreter: in a process where many other hypothesis tests ran first, the
    # same seeded draw gave a different corpus (the layers it reached changed from run to run)
    here = pathlib.Path(__file__).parent
    r = subprocess.run([sys.executable, "-c", "import json, test_link_fuzz as t; "
                        "print(json.dumps([[k, b.hex()] for k, b in t.build_corpus()]))"],
                       cwd=here, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONHASHSEED="0",
                                PYTHONPATH="%s:%s:%s" % (PROJECT_ROOT / "firmware", here.parent / "firmware", here)))
    assert r.returncode == 0, r.stderr[-3000:]
    c = [(k, bytes.fromhex(b)) for k, b in json.loads(r.stdout)]
    assert len(c) >= N_INPUTS * 9 // 10
    return c


def _stdin(corpus):
    return "".join(json.dumps({"k": k, "b": b.hex()}) + "\n" for k, b in corpus)


def _outcomes(stdout, n):
    lines = stdout.splitlines()
    out = {}
    for line in lines:
        i, _, rest = line.partition(" ")
        if i.isdigit():
            out[int(i)] = rest
    assert lines and lines[-1].startswith("done %d " % n), "the driver did not finish: " + stdout[-2000:]
    return [out[i] for i in range(n)]


@pytest.fixture(scope="module")
def cpython_outcomes(corpus):
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, str(DRIVER), tmp + "/dev"], input=_stdin(corpus),
                           capture_output=True, text=True, timeout=300,
                           env={"PYTHONPATH": "%s:%s" % (PROJECT_ROOT / "firmware", DRIVER.parent),
                                "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-3000:]
    return _outcomes(r.stdout, len(corpus))


@pytest.fixture(scope="module")
def micropython_outcomes(corpus):
    r = micropython.run(code="import linkfuzz\nawait linkfuzz.main('/linkfuzz-device')\n",
                        mounts={DRIVER.parent: "/tests/firmware"}, paths=["/tests/firmware"],
                        stdin=_stdin(corpus), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return _outcomes(r.stdout, len(corpus))


def _failures(corpus, outcomes):
    bad = [(i, corpus[i][0], corpus[i][1].hex(), o) for i, o in enumerate(outcomes)
           if o.startswith("BUG") or o.startswith("STATE")]
    return bad


def test_corpus_reaches_every_layer(corpus, cpython_outcomes):
    # a corpus that only ever fails the CRC proves nothing about the layers behind it
    seen = {(k, o.split(" ")[0]) for (k, _), o in zip(corpus, cpython_outcomes)}
    want = {("stream", "ok:1"), ("stream", "Malformed"), ("ack", "ok:False"), ("ack", "LinkTimeout"),
            ("receipt", "ok:False"),  # a receipt answer refused by the device's checks
            ("receipt", "RemoteError"), ("number", "ok:False"), ("number", "Malformed"),
            ("header", "ok:False")}
    assert want <= seen, want - seen


def test_hostile_relay_on_cpython_ends_in_typed_errors(corpus, cpython_outcomes):
    bad = _failures(corpus, cpython_outcomes)
    assert not bad, "%d inputs, first: %r" % (len(bad), bad[:5])


def test_hostile_relay_on_micropython_ends_in_typed_errors(corpus, micropython_outcomes):
    bad = _failures(corpus, micropython_outcomes)
    assert not bad, "%d inputs, first: %r" % (len(bad), bad[:5])


def test_runtimes_agree_on_every_input(corpus, cpython_outcomes, micropython_outcomes):
    def verdict(o):
        return "accept" if o.startswith("ok") else o.split(" ")[0]

    for i, (c, m) in enumerate(zip(cpython_outcomes, micropython_outcomes)):
        assert verdict(c) == verdict(m), "input %d (%s %s): CPython %r, MicroPython %r" % (
            i, corpus[i][0], corpus[i][1].hex(), c, m)
