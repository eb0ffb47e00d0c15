"""The signed meter reading: what a device records on chain (proto/reading.md).

A reading is a canonical-CBOR map with small integer keys, modelled on what
OCMF-style signed meter values carry: meter identity, a sequence number that
never repeats, the time and how far the clock can be trusted, the OBIS code,
the value as an integer mantissa and decimal exponent (no floats on the wire:
identical bytes on every runtime), the unit, status flags and the crypto suite
whose device signature (the transaction's) covers it.
"""

from lightmeter.link import cbor
from lightmeter.errors import Malformed

METER_ID, VENDOR, MODEL, SERIAL, FIRMWARE, SEQ, TIME, CLOCK, OBIS, VALUE, SCALE, UNIT, STATUS, SUITE = range(14)
CLOCK_SYNCED, CLOCK_UNSYNCED, CLOCK_SINCE_BOOT = 0, 1, 2
# status flags (bits)
FLAG_METER_ERROR = 1
FLAG_TAMPER = 2
FLAG_POWER_RESTORED = 4
FLAG_CLOCK_ADJUSTED = 8

_TEXT = {METER_ID: 64, VENDOR: 64, MODEL: 64, SERIAL: 64, FIRMWARE: 32, OBIS: 32, UNIT: 16, SUITE: 8}
_REQUIRED = (METER_ID, FIRMWARE, SEQ, TIME, CLOCK, OBIS, VALUE, SCALE, UNIT, STATUS, SUITE)
MAX_BYTES = 512


def _check(m):
    if not isinstance(m, dict):
        raise Malformed("reading: expected a map")
    for k in _REQUIRED:
        if k not in m:
            raise Malformed("reading: field %d missing" % k)
    for k, v in m.items():
        if not isinstance(k, int) or not 0 <= k <= SUITE:
            raise Malformed("reading: unknown field %r" % (k,))
        if k in _TEXT:
            if not isinstance(v, str) or len(v.encode()) > _TEXT[k]:
                raise Malformed("reading: field %d must be text of at most %d bytes" % (k, _TEXT[k]))
        elif isinstance(v, bool) or not isinstance(v, int):
            raise Malformed("reading: field %d must be an integer" % k)
    if m[SEQ] < 1:
        raise Malformed("reading: sequence numbers start at 1")
    if m[CLOCK] not in (CLOCK_SYNCED, CLOCK_UNSYNCED, CLOCK_SINCE_BOOT):
        raise Malformed("reading: unknown clock status %d" % m[CLOCK])
    if not -18 <= m[SCALE] <= 18:
        raise Malformed("reading: decimal exponent out of range")
    if m[SUITE] not in ("ecdsa", "sm"):
        raise Malformed("reading: unknown suite")
    if m[TIME] < 0 or m[STATUS] < 0:
        raise Malformed("reading: negative time or status")
    return m


def encode(m):
    """Canonical CBOR of a reading map (validated first)."""
    data = cbor.dumps(_check(m))
    if len(data) > MAX_BYTES:
        raise Malformed("reading: longer than %d bytes" % MAX_BYTES)
    return data


def decode(data):
    """The reading map of canonical CBOR bytes (strict)."""
    if len(data) > MAX_BYTES:
        raise Malformed("reading: longer than %d bytes" % MAX_BYTES)
    return _check(cbor.loads(data))
