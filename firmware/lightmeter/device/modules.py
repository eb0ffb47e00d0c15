"""The device's modules loaded per step and released after it (docs/light-client.md, "Modules per step").

A board that loads the firmware from .mpy keeps every imported module's code in RAM. The device
cycle's steps need different modules (checking a header's quorum needs no signing code, signing
needs no Merkle code), so a device that holds only the resident modules and the current step's
needs less heap than one that holds them all (bench/RESULTS.md, "The device cycle on a 32-bit
MicroPython": 102 / 108 KiB against 120 / 127).

`load` imports a step's modules one at a time with a collection after each (as device/start.py
loads them: less fragmentation); `remove` drops them from sys.modules and from their package, so
that their code can be collected once nothing refers to them; `close` ends a step: `remove` on a
board, nothing on CPython (a host has the memory, and a process that runs tests keeps one object
per module). What crosses a release must be plain data (bytes, int, str, tuple, list, dict) or an
instance of a resident module's class: an instance of a released module's class keeps that module
alive, and a module imported again makes new classes (isinstance across the release fails).

The step lists are private constants behind `step` and the functions bear names the port already
interns: every public name is a qstr for good, and past 620 of them the port allocates a 4.4 KiB
pool (docs/architecture.md).
"""

import gc
import sys

from lightmeter.errors import Invalid

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# Held for the device's whole run: the link, the store and the checkpoint, the suite with its
# curve and hash; what every step's data passes through.
_RESIDENT = const(("lightmeter.errors", "lightmeter.chain.fields", "lightmeter.link.cbor",
                   "lightmeter.link.frame", "lightmeter.link.session", "lightmeter.device.store",
                   "lightmeter.crypto.suite", "lightmeter.client.trust", "lightmeter.device.checkpoint",
                   "lightmeter.crypto.ec", "lightmeter.crypto.keccak", "lightmeter.crypto.secp256k1",
                   "lightmeter.crypto.sm3", "lightmeter.crypto.sm2", "lightmeter.device.modules"))
# The answer's header decoded (a Header crosses to the proofs: chain.header stays until then).
_DECODE = const(("lightmeter.link.wire", "lightmeter.chain.header"))
# The header's quorum and the checkpoint moved to it.
_HEADER = const(("lightmeter.client.verify", "lightmeter.client.transition"))
# What device/app.py's header step adds: the relay's pivots followed (client/sync.py).
_SYNC = const(("lightmeter.chain.merkle", "lightmeter.chain.receipt", "lightmeter.client.sync"))
_PROOFS = const(("lightmeter.chain.header", "lightmeter.chain.merkle", "lightmeter.chain.receipt",
                 "lightmeter.chain.meter_registry", "lightmeter.client.verify", "lightmeter.link.wire",
                 "lightmeter.client.anchor"))
# The next reading, in four loads, each released before the next: taken ("reading"), its
# transaction built and hashed ("tx"), signed ("sign": the curve's generator tables, which signing
# imports anyway, first as the largest, crypto/ec.py), framed ("frame").
_READING = const(("lightmeter.device.reading",))
_TX = const(("lightmeter.chain.abi", "lightmeter.chain.meter_registry", "lightmeter.chain.tx"))
_SIGN_ECDSA = const(("lightmeter.crypto.gtab_secp256k1", "lightmeter.crypto.rfc6979"))
_SIGN_SM = const(("lightmeter.crypto.gtab_sm2", "lightmeter.crypto.rfc6979"))
_FRAME = const(("lightmeter.link.wire",))


def step(kind, suite=None):
    """The modules of a step, leaves first: "decode", "header", "sync", "proofs", "reading", "tx",
    "sign" (of suite, "ecdsa" or "sm"), "frame"; "resident": those never released. Invalid for
    any other kind."""
    if kind == "resident":
        return _RESIDENT
    if kind == "decode":
        return _DECODE
    if kind == "header":
        return _HEADER
    if kind == "sync":
        return _SYNC
    if kind == "proofs":
        return _PROOFS
    if kind == "reading":
        return _READING
    if kind == "tx":
        return _TX
    if kind == "sign" and suite == "ecdsa":
        return _SIGN_ECDSA
    if kind == "sign" and suite == "sm":
        return _SIGN_SM
    if kind == "frame":
        return _FRAME
    raise Invalid("no step %r (suite %r)" % (kind, suite))


def load(names):
    """Import names in order (on a board one at a time with a collection after each); the last
    one's module, None for no names."""
    mod = None
    for name in names:
        if name not in sys.modules:
            __import__(name)
            if sys.implementation.name == "micropython":
                gc.collect()
        mod = sys.modules[name]
    return mod


def remove(names):
    """Forget the modules names (those imported), then collect: their code is freed once nothing
    else refers to them, and a later import loads them anew. Invalid, and nothing removed, if a
    name is resident or not one of the firmware's modules."""
    for name in names:
        if name in _RESIDENT or not name.startswith("lightmeter."):
            raise Invalid("module %s is not the device's to release" % name)
    for name in names:
        if sys.modules.pop(name, None) is None:
            continue
        dot = name.rfind(".")
        pkg = sys.modules.get(name[:dot])
        if pkg is not None and hasattr(pkg, name[dot + 1:]):
            delattr(pkg, name[dot + 1:])  # the package's reference, set by the import
    gc.collect()


def close(names):
    """A step is over: `remove` its modules names on a board; on CPython nothing (see above).
    client.verify stays when a board has set its options (BATCH_SIZE, KEY_TABLES): they, and the
    kept tables they lead to, live in that module, and a module imported again starts afresh."""
    if sys.implementation.name == "micropython":
        v = sys.modules.get("lightmeter.client.verify")
        if v is not None and (v.BATCH_SIZE > 1 or v.KEY_TABLES):
            names = [n for n in names if n != "lightmeter.client.verify"]
        remove(names)
