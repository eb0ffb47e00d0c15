"""lightmeter.device.modules: a step's modules loaded one at a time and released after, so that a
later import loads them anew and works as before. Runs on CPython and MicroPython.

Each test puts back the module objects it released, so the other tests of the run keep theirs."""

import sys

from lightmeter.device import modules
from lightmeter.errors import Invalid

from support import raises

NAMES = ("lightmeter.chain.merkle", "lightmeter.chain.receipt")


class Kept:
    """The modules of names and their packages' attributes as they are now, to put back."""

    def __init__(self, names):
        self.saved = [(n, sys.modules.get(n)) for n in names]

    def restore(self):
        for name, mod in self.saved:
            dot = name.rfind(".")
            pkg = sys.modules[name[:dot]]
            if mod is None:
                sys.modules.pop(name, None)
                if hasattr(pkg, name[dot + 1:]):
                    delattr(pkg, name[dot + 1:])
            else:
                sys.modules[name] = mod
                setattr(pkg, name[dot + 1:], mod)


def _loaded(names):
    return [n for n in names if n in sys.modules]


def _root(hash_fn, leaves):
    from lightmeter.chain import merklebuild
    return merklebuild.root(leaves, hash_fn)


def test_load_imports_in_order_and_gives_the_last():
    kept = Kept(NAMES)
    try:
        mod = modules.load(NAMES)
        assert mod is sys.modules[NAMES[1]]
        assert _loaded(NAMES) == list(NAMES)
        assert modules.load(()) is None
    finally:
        kept.restore()


def test_a_released_module_is_gone_and_comes_back_new_and_working():
    from lightmeter.crypto import suite as suite_mod
    s = suite_mod.get("ecdsa")
    leaves = [s.hash(b"leaf-%d" % i) for i in range(5)]
    kept = Kept(NAMES)
    try:
        old = modules.load(NAMES[:1])
        proof_root = _root(s.hash, leaves)
        pkg = sys.modules["lightmeter.chain"]
        modules.remove(NAMES)
        assert _loaded(NAMES) == []
        assert not hasattr(pkg, "merkle") and not hasattr(pkg, "receipt")
        new = modules.load(NAMES[:1])
        assert new is not old and new is sys.modules[NAMES[0]] and getattr(pkg, "merkle") is new
        # the module imported again checks what the old one checked
        from lightmeter.chain import merklebuild
        items = merklebuild.proof(leaves, 3, s.hash)
        assert new.verify(items, leaves[3], proof_root, s.hash, 3) == old.verify(items, leaves[3], proof_root, s.hash, 3)
        # its classes are new ones: what crosses a release must be plain data or a resident class
        assert new.verify is not old.verify
        modules.remove(NAMES)
        modules.remove(NAMES)  # releasing what is not loaded does nothing
        assert _loaded(NAMES) == []
    finally:
        kept.restore()


def test_resident_and_foreign_names_are_refused_and_nothing_is_released():
    kept = Kept(NAMES)
    try:
        modules.load(NAMES + ("lightmeter.link.cbor",))
        for bad in (NAMES + ("lightmeter.link.cbor",), NAMES + ("sys",), ("lightmeter.device.modules",) + NAMES,
                    NAMES + ("lightmeterx.chain.merkle",)):
            raises(Invalid, modules.remove, bad)
            assert _loaded(NAMES) == list(NAMES)
        assert "lightmeter.link.cbor" in sys.modules
    finally:
        kept.restore()


def test_the_steps_name_firmware_modules_and_release_no_resident_one():
    import os
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    root = here + "/../../firmware"
    try:
        os.stat(root + "/lightmeter")
    except OSError:  # on a board or the WebAssembly port the firmware is in /lib
        root = "/lib"
    steps = ()
    for kind in ("decode", "header", "sync", "proofs", "reading", "tx", "frame"):
        steps += modules.step(kind)
    steps += modules.step("sign", "ecdsa") + modules.step("sign", "sm")
    for name in steps + modules.step("resident"):
        path = root + "/" + name.replace(".", "/")
        try:
            os.stat(path + ".py")
        except OSError:  # a board loading the firmware from .mpy
            os.stat(path + ".mpy")
    assert [n for n in steps if n in modules.step("resident")] == []
    assert modules.step("sign", "sm")[0] != modules.step("sign", "ecdsa")[0]
    for kind, suite in (("sign", None), ("sign", "rsa"), ("store", None), (None, None)):
        raises(Invalid, modules.step, kind, suite)


def test_closing_a_step_removes_its_modules_on_micropython_only():
    kept = Kept(NAMES)
    try:
        modules.load(NAMES)
        modules.close(NAMES)
        on_board = sys.implementation.name == "micropython"
        assert _loaded(NAMES) == ([] if on_board else list(NAMES))
    finally:
        kept.restore()


def test_closing_a_step_keeps_verify_when_a_board_set_its_options():
    # a board that checks in batches (verify.BATCH_SIZE) or keeps the sealers' tables
    # (KEY_TABLES) keeps verify and its settings through the steps that load it
    names = modules.step("header")
    kept = Kept(names)
    try:
        verify = modules.load(names[:1])
        assert verify.__name__ == "lightmeter.client.verify"
        verify.BATCH_SIZE = 15
        modules.load(names)
        modules.close(names)
        assert sys.modules.get("lightmeter.client.verify") is verify and verify.BATCH_SIZE == 15
        on_board = sys.implementation.name == "micropython"
        assert _loaded(names[1:]) == ([] if on_board else list(names[1:]))
    finally:
        v = sys.modules.get("lightmeter.client.verify")
        if v is not None:
            v.BATCH_SIZE = 1
        kept.restore()


def test_signing_after_its_tables_are_released_loads_them_again():
    # The curve reads its generator tables from their module on each call (crypto/ec.py): the sign
    # step releases that module, and the next signature imports it again, with the same result.
    from lightmeter.crypto import suite as suite_mod
    for name in ("ecdsa", "sm"):
        s = suite_mod.get(name)
        key = s.hash(b"device key " + name.encode())
        digest = s.hash(b"tx")
        names = modules.step("sign", name)
        kept = Kept(names)
        try:
            modules.load(names)
            pub = s.public_key(key)
            first = s.sign_node(key, digest)
            modules.remove(names)
            assert s.verify_node(pub, digest, first)  # verifying does not need them
            assert names[0] not in sys.modules
            assert s.sign_node(key, digest) == first  # loads them again; RFC 6979: the same signature
            assert names[0] in sys.modules
        finally:
            kept.restore()
