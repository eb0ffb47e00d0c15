"""Hostile inputs for the meter drivers' parsers (lightmeter.meters.dsmr, lightmeter.meters.modbus), with hypothesis.

- DSMR: arbitrary bytes and mutated telegrams raise only the typed errors; every single-bit flip
  of a valid telegram is rejected (CRC-16 detects every 1-bit error; flips outside the CRC'd part
  break the "!XXXX CR LF" tail); the framer finds the same telegrams however the stream is cut
  and whatever noise without "/" lies between them.
- Modbus: arbitrary bytes as an answer raise only the typed errors; every single-bit flip of a
  valid answer (registers or exception) is rejected; the float conversion equals exact rational
  rounding (fractions.Fraction, round(): ties to even) for any binary32 pattern.
- S0: under any edge sequence the count never goes down, what is stored never exceeds it, and
  read() answers exactly what is stored.
- The telegram vectors: tests/vectors/dsmr/telegrams.json holds each .txt file byte for byte.
"""

import json
import struct
from fractions import Fraction
from pathlib import Path

from hypothesis import given, settings, strategies as st

from lightmeter.meters import dsmr, modbus, s0
from lightmeter.device import store
from lightmeter.errors import Invalid, LightmeterError, Malformed
from test_dsmr import crc_arc_bitwise
from test_modbus import crc_modbus_bitwise
from test_store import PowerCutFs

DSMR_DIR = Path(__file__).resolve().parents[1] / "vectors" / "dsmr"
VECTORS = json.loads((DSMR_DIR / "telegrams.json").read_text())
TELEGRAMS = [VECTORS[n]["telegram"].encode() for n in sorted(VECTORS)]


def test_json_vectors_are_the_txt_files():
    names = sorted(p.name for p in DSMR_DIR.glob("*.txt"))
    assert names == sorted(VECTORS)
    for name in names:
        raw = (DSMR_DIR / name).read_bytes()
        assert VECTORS[name]["telegram"].encode() == raw, name
        # and the CRC each file carries is CRC-16/ARC of "/" through "!"
        # (4 digits, or fewer as a meter that drops leading zeros sends it: "!B9F")
        crc = crc_arc_bitwise(raw[:raw.index(b"!") + 1])
        assert raw.endswith(b"!%04X\r\n" % crc) or raw.endswith(b"!%X\r\n" % crc), name


def _parse_and_map(data):
    return dsmr.measurements(dsmr.parse(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_dsmr_arbitrary_bytes_raise_only_typed_errors(data):
    try:
        _parse_and_map(data)
    except (Malformed, Invalid):
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TELEGRAMS), st.data())
def test_dsmr_mutated_telegrams_raise_only_typed_errors(raw, data):
    # edits that keep most of the structure: replace, insert or delete a short run
    i = data.draw(st.integers(0, len(raw)))
    j = data.draw(st.integers(i, min(len(raw), i + 8)))
    tokens = st.sampled_from([b"(", b")", b"*", b"\r\n", b"!", b"/", b".", b"1-0:"])
    mid = data.draw(st.binary(max_size=8) | tokens)
    mutated = raw[:i] + mid + raw[j:]
    try:
        got = _parse_and_map(mutated)
    except (Malformed, Invalid):
        return
    # accepted only if the CRC it carries is right for the bytes it has
    bang = mutated.index(b"!")
    assert int(mutated[bang + 1:bang + 5], 16) == crc_arc_bitwise(mutated[:bang + 1])
    assert all(isinstance(m[1], int) and isinstance(m[2], int) for m in got)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(TELEGRAMS), st.data())
def test_dsmr_every_single_bit_flip_is_rejected(raw, data):
    pos = data.draw(st.integers(0, len(raw) - 1))
    bit = data.draw(st.integers(0, 7))
    flipped = bytearray(raw)
    flipped[pos] ^= 1 << bit
    try:
        dsmr.parse(bytes(flipped))
    except Malformed:
        return
    raise AssertionError("flip of bit %d at %d accepted" % (bit, pos))


def test_dsmr_every_single_bit_flip_of_one_telegram_is_rejected_exhaustively():
    raw = VECTORS["dsmr_parser-v5.txt"]["telegram"].encode()
    for pos in range(len(raw)):
        for bit in range(8):
            flipped = bytearray(raw)
            flipped[pos] ^= 1 << bit
            try:
                dsmr.parse(bytes(flipped))
            except Malformed:
                continue
            raise AssertionError("flip of bit %d at %d accepted" % (bit, pos))


noise = st.binary(max_size=40).map(lambda b: b.replace(b"/", b"#"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TELEGRAMS), min_size=1, max_size=4), st.lists(noise, min_size=5, max_size=5),
       st.lists(st.integers(1, 300), min_size=1, max_size=20))
def test_dsmr_framer_finds_every_telegram_however_the_stream_is_cut(telegrams, noises, cuts):
    stream = noises[0]
    for k, t in enumerate(telegrams):
        stream += t + noises[(k + 1) % len(noises)]
    f = dsmr.Framer()
    got = []
    i = k = 0
    while i < len(stream):
        step = cuts[k % len(cuts)]
        got += f.feed(stream[i:i + step])
        i += step
        k += 1
    assert got == telegrams
    for t in got:
        dsmr.parse(t)


def _answer(slave, regs):
    body = bytes((slave, 4, 2 * len(regs))) + b"".join(struct.pack(">H", r) for r in regs)
    c = crc_modbus_bitwise(body)
    return body + bytes((c & 0xFF, c >> 8))


def _exception(slave, code):
    body = bytes((slave, 0x84, code))
    c = crc_modbus_bitwise(body)
    return body + bytes((c & 0xFF, c >> 8))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 247), st.integers(1, 125))
def test_modbus_arbitrary_answers_raise_only_typed_errors(frame, slave, count):
    try:
        regs = modbus.parse_response(frame, slave, count)
    except LightmeterError:
        return
    assert len(regs) == count and frame[0] == slave


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 247), st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=125), st.data())
def test_modbus_every_single_bit_flip_of_an_answer_is_rejected(slave, regs, data):
    frame = _answer(slave, regs)
    assert modbus.parse_response(frame, slave, len(regs)) == regs
    pos = data.draw(st.integers(0, len(frame) - 1))
    bit = data.draw(st.integers(0, 7))
    flipped = bytearray(frame)
    flipped[pos] ^= 1 << bit
    try:
        modbus.parse_response(bytes(flipped), slave, len(regs))
    except (Malformed, Invalid):
        return
    raise AssertionError("flip of bit %d at %d accepted" % (bit, pos))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 247), st.integers(0, 255), st.integers(0, 39))
def test_modbus_every_single_bit_flip_of_an_exception_is_rejected(slave, code, flip):
    frame = bytearray(_exception(slave, code))
    frame[flip // 8] ^= 1 << (flip % 8)
    try:
        modbus.parse_response(bytes(frame), slave, 2)
    except modbus.ExceptionResponse:
        raise AssertionError("a flipped exception frame was taken for an exception")
    except (Malformed, Invalid):
        return
    raise AssertionError("a flipped exception frame was accepted")


@settings(max_examples=2000, deadline=None)
@given(st.integers(0, 0xFFFFFFFF), st.integers(-6, 3))
def test_modbus_float_conversion_is_exact_rounding(u32, scale):
    hi, lo = u32 >> 16, u32 & 0xFFFF
    x = struct.unpack(">f", struct.pack(">I", u32))[0]
    if x != x or x in (float("inf"), float("-inf")):
        try:
            modbus.float32_to_decimal(hi, lo, scale)
        except Invalid:
            return
        raise AssertionError("NaN or infinity accepted")
    assert modbus.float32_to_decimal(hi, lo, scale) == round(Fraction(x) / Fraction(10) ** scale)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 80), st.booleans(), st.booleans()), max_size=200),
       st.integers(1, 6))
def test_s0_count_is_monotonic_and_never_ahead_of_what_read_answers(steps, k):
    fs = PowerCutFs()
    c = s0.PulseCounter(store.Store("/dev0", fs), persist_every=k)
    t = 0
    last = 0
    for gap, level, read in steps:
        t += gap
        c.edge(t, level)
        assert c.count >= last and c.stored <= c.count
        assert c.count - c.stored < k  # no write under way here: the handler kept up
        last = c.count
        if read:
            assert c.read() == c.count == c.stored
    again = s0.PulseCounter(store.Store("/dev0", fs), persist_every=k)
    assert c.stored == again.count <= c.count
