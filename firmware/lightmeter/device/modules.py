"""The device's modules loaded per step and released after it (docs/light-client.md, "Modules per step").

A board that loads the firmware from .mpy keeps every imported module's code in RAM. The device
cycle's steps need different modules (checking a header's quorum needs no signing code, signing
needs no Merkle code), so a device that holds only the resident modules and the current step's
needs less heap than one that holds them all (bench/RESULTS.md, "The device cycle on a 32-bit
MicroPython": the header step sets the cycle's peak).

`load` imports a step's modules one at a time with a collection after each (as device/start.py
loads them: less fragmentation); `release` drops them from sys.modules and from their package, so
that their code can be collected once nothing refers to them. What crosses a release must be plain
data (bytes, int, str, tuple, list, dict) or an instance of a resident module's class: an instance
of a released module's class keeps that module alive, and a module imported again makes new
classes (isinstance across the release fails).
"""

import gc
import sys

from lightmeter.errors import Invalid

# Held for the device's whole run: the link, the store and the checkpoint, the suite with its
# curve and hash; what every step's data passes through.
RESIDENT = ("lightmeter.errors", "lightmeter.chain.fields", "lightmeter.link.cbor", "lightmeter.link.frame",
            "lightmeter.link.session", "lightmeter.device.store", "lightmeter.crypto.suite",
            "lightmeter.client.trust", "lightmeter.device.checkpoint", "lightmeter.crypto.ec",
            "lightmeter.crypto.keccak", "lightmeter.crypto.secp256k1", "lightmeter.crypto.sm3",
            "lightmeter.crypto.sm2", "lightmeter.device.modules")

# Each step's own modules, leaves first (device/app.py; lightmeter_host/mcubench.py's cycle).
DECODE = ("lightmeter.link.wire", "lightmeter.chain.header")
HEADER = ("lightmeter.client.verify", "lightmeter.client.transition")
PROOFS = ("lightmeter.chain.header", "lightmeter.chain.merkle", "lightmeter.chain.receipt",
          "lightmeter.chain.abi", "lightmeter.chain.meter_registry", "lightmeter.client.verify",
          "lightmeter.link.wire", "lightmeter.client.anchor")
# The next reading, in four loads (each released before the next): taken (READING), its
# transaction built and hashed (TX), signed (`signing`: the curve's generator tables, imported by
# signing anyway, loaded first as the largest, crypto/ec.py), framed (SEND).
READING = ("lightmeter.device.reading",)
TX = ("lightmeter.chain.abi", "lightmeter.chain.meter_registry", "lightmeter.chain.tx")
SEND = ("lightmeter.link.wire",)
_TABLES = {"ecdsa": "lightmeter.crypto.gtab_secp256k1", "sm": "lightmeter.crypto.gtab_sm2"}


def signing(suite_name):
    """The modules a suite's signature needs beyond the resident ones."""
    return (_TABLES[suite_name], "lightmeter.crypto.rfc6979")

def load(names):
    """Import names in order, one at a time with a collection after each; the last one's module."""
    mod = None
    for name in names:
        __import__(name)
        mod = sys.modules[name]
        gc.collect()
    return mod


def loaded(names):
    """The names among names that are imported now."""
    return [n for n in names if n in sys.modules]


def release(names):
    """Forget the modules names (those imported), then collect: their code is freed once nothing
    else refers to them, and a later import loads them anew. Invalid, and nothing released, if a
    name is resident or not one of the firmware's modules."""
    for name in names:
        if name in RESIDENT or not name.startswith("lightmeter."):
            raise Invalid("module %s is not the device's to release" % name)
    for name in names:
        if sys.modules.pop(name, None) is None:
            continue
        dot = name.rfind(".")
        pkg = sys.modules.get(name[:dot])
        attr = name[dot + 1:]
        if pkg is not None and hasattr(pkg, attr):
            delattr(pkg, attr)  # the package's reference, set by the import
    gc.collect()
