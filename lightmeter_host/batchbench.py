"""`lightmeter bench --batch`: a header's quorum, 15 signatures of 21 sealers, batch against single.

One guest script runs unchanged on CPython (process time), on the MicroPython WebAssembly port
(time.ticks_us) and on the 32-bit port's m0 target in QEMU (guest instructions, exact and the
same on every run, so its ratios do not move with the machine's load). Per runtime it measures,
interleaved, best of n:

- singles: 15 `secp256k1.verify` with bare keys, as a device checks a header today;
- singles_kept: the same with the sealers' kept tables (crypto/keys.py, as the light client keeps them);
- batch: `batch.verify_same_hash` with the kept tables (the light client's batch path), each R
  lifted by a square root;
- batch_hints: the same with each R's y given as a hint (what a relay sends when asked,
  proto/link.md "R hints"; checked, then used instead of the square root);
- batch_bare: the batch with bare keys (its tables built per batch);
- tables: building the 15 kept tables (once per sealer set, not per header);
- for SM2 (no v, so no batch): 15 `sm2.verify_digest` with bare keys and with kept tables
  (parts 2: half the doublings) at each width of SM2_WIDTHS, and the tables' build.

The ratios: batch_speedup_ecdsa_15_* is singles / batch_hints (against what a device runs today),
batch_speedup_ecdsa_15_same_tables_* is singles_kept / batch_hints (the same tables on both sides);
the keys ending in _no_hints are the same ratios for the batch that lifts every R itself.
Heap (`cycle_heaps`, not --quick, with the 32-bit port built): the device cycle's smallest heap
(host32: same objects and GC as m0) with kept tables and batches, bisected with real
MemoryErrors, and what a kept table holds.
"""

import hashlib

from lightmeter.crypto import batch, secp256k1, sm2

SEALERS = 21
SIGNERS = 15
SM2_WIDTHS = (5, 6, 7)  # kept SM2 tables measured (parts 2)

GUEST = r'''
import gc
from lightmeter.crypto import batch, keys, secp256k1, sm2
try:
    import mcu
    clock = mcu.instructions
except (ImportError, AttributeError):  # not the 32-bit port (on CPython, mcu/ is a folder)
    import time
    try:
        clock = time.ticks_us
    except AttributeError:  # CPython
        clock = lambda: int(time.process_time() * 1e6)

h = bytes.fromhex(ARGS["hash"])
items = [(bytes.fromhex(p), bytes.fromhex(s)) for p, s in ARGS["ecdsa"]]
ys = [bytes.fromhex(y) for y in ARGS["ys"]]
e_sm = bytes.fromhex(ARGS["sm_digest"])
sm_items = [(bytes.fromhex(p), bytes.fromhex(s)) for p, s in ARGS["sm"]]
best = {}


def timed(name, fn):
    gc.collect()
    t = clock()
    out = fn()
    d = clock() - t
    if name not in best or d < best[name]:
        best[name] = d
    return out


def all_verify(verify, digest, pairs):
    for p, s in pairs:
        if not verify(p, digest, s):
            return False
    return True


for _ in range(ARGS["n"]):
    kept = keys.Keys(secp256k1.prepare, keys.WINDOWS["ecdsa"][0], 1)
    timed("tables", lambda: [kept.get(p) for p, _ in items])
    pre = [(kept.get(p), s) for p, s in items]
    assert timed("singles", lambda: all_verify(secp256k1.verify, h, items))
    assert timed("batch", lambda: batch.verify_same_hash(h, pre))
    assert timed("batch_hints", lambda: batch.verify_same_hash(h, pre, ys=ys))
    assert timed("singles_kept", lambda: all_verify(secp256k1.verify, h, pre))
    pre = kept = None
    if ARGS["bare"]:
        assert timed("batch_bare", lambda: batch.verify_same_hash(h, items))
    assert timed("sm_singles", lambda: all_verify(sm2.verify_digest, e_sm, sm_items))
    for w in ARGS["sm_widths"]:
        kept = keys.Keys(sm2.prepare, w, 2)
        timed("sm_tables_w%d" % w, lambda: [kept.get(p) for p, _ in sm_items])
        pre = [(kept.get(p), s) for p, s in sm_items]
        assert timed("sm_singles_kept_w%d" % w, lambda: all_verify(sm2.verify_digest, e_sm, pre))
        pre = kept = None
print("BATCHBENCH " + repr(best))
'''


def guest_args(n, bare=True, sm_widths=SM2_WIDTHS):
    """The guest's input: one header hash signed by 15 of 21 sealers on each curve."""
    privs = [hashlib.sha256(b"bench-sealer" + bytes([i])).digest() for i in range(SEALERS)]
    digest = hashlib.sha256(b"bench-header").digest()
    e_sm = hashlib.sha256(b"bench-sm-digest").digest()  # stands for SM3(Z_A || hash)
    ecdsa = [(secp256k1.public_key(k).hex(), secp256k1.sign(k, digest).hex()) for k in privs[:SIGNERS]]
    sm = [(sm2.public_key(k).hex(), sm2.sign_digest(k, e_sm).hex()) for k in privs[:SIGNERS]]
    ys = [batch.r_hint(bytes.fromhex(sig)).hex() for _, sig in ecdsa]  # as a relay computes them
    return {"hash": digest.hex(), "ecdsa": ecdsa, "ys": ys, "sm_digest": e_sm.hex(), "sm": sm, "n": n,
            "bare": bare, "sm_widths": list(sm_widths)}


def script(args):
    return "ARGS = %r\n" % (args,) + GUEST


def _parse(stdout):
    for line in stdout.splitlines():
        if line.startswith("BATCHBENCH "):
            return eval(line[len("BATCHBENCH "):], {"__builtins__": {}})  # a dict of numbers
    raise RuntimeError("batch benchmark printed no result:\n" + stdout[-3000:])


def run_cpython(n):
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(script(guest_args(n)), "batchbench-guest", "exec"), {"__name__": "guest"})
    return _parse(out.getvalue())


def run_micropython(n):
    from lightmeter_host.runtimes import micropython
    res = micropython.run(code=script(guest_args(n)), timeout=1800)
    if res.returncode != 0:
        raise RuntimeError("MicroPython batch benchmark failed:\n" + res.stdout[-2000:] + res.stderr[-3000:])
    return _parse(res.stdout)


def run_m0():
    """Guest instructions on m0 (one run: the count is exact); the plain batch of 15 does not fit
    m0's 256 KiB heap with its per-batch tables, so it is left out there."""
    from lightmeter_host.runtimes import mcu
    res = mcu.run(script(guest_args(1, bare=False)), heap=mcu.HEAP_MAX["m0"], paths=[_firmware()],
                  target="m0", mpy=True, timeout=3600)
    if not res.ok:
        raise RuntimeError("m0 batch benchmark failed (status %s):\n%s" % (res.status, res.stdout[-3000:]))
    return _parse(res.stdout)


def _firmware():
    import os
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware")


NAMES = {"singles": "singles_ecdsa_15", "singles_kept": "singles_kept_tables_ecdsa_15",
         "batch": "batch_ecdsa_15", "batch_hints": "batch_hinted_ecdsa_15",
         "batch_bare": "batch_bare_keys_ecdsa_15",
         "tables": "kept_tables_build_ecdsa_15", "sm_singles": "singles_sm_15"}


def _name(name):
    if name in NAMES:
        return NAMES[name]
    if name.startswith("sm_singles_kept_"):
        return "singles_kept_tables_%s_sm_15" % name[len("sm_singles_kept_"):]
    return "kept_tables_build_%s_sm_15" % name[len("sm_tables_"):]


def figures(best, tag, unit, scale):
    """The bench keys of one runtime's results: times (ms) or m0 instructions (minstr), ratios."""
    out = {}
    for name, v in best.items():
        out["%s_%s_%s" % (_name(name), unit, tag)] = round(v / scale, 3)
    key = "batch_speedup_ecdsa_%d" % SIGNERS
    out["%s_%s" % (key, tag)] = round(best["singles"] / best["batch_hints"], 3)
    out["%s_same_tables_%s" % (key, tag)] = round(best["singles_kept"] / best["batch_hints"], 3)
    out["%s_no_hints_%s" % (key, tag)] = round(best["singles"] / best["batch"], 3)
    out["%s_same_tables_no_hints_%s" % (key, tag)] = round(best["singles_kept"] / best["batch"], 3)
    if "batch_bare" in best:
        out["%s_bare_keys_no_hints_%s" % (key, tag)] = round(best["singles"] / best["batch_bare"], 3)
    for name, v in best.items():
        if name.startswith("sm_singles_kept_"):
            out["sm2_kept_tables_speedup_%s_%s" % (name[len("sm_singles_kept_"):], tag)] = round(
                best["sm_singles"] / v, 3)
    return out


# Device cycles whose heap `cycle_heaps` bisects: (suite, name, mcubench.build_cycle options).
CYCLES = (("ecdsa", "single", {}),
          ("ecdsa", "kept", {"key_tables": True}),
          ("ecdsa", "kept_warm", {"key_tables": True, "warm_tables": True}),
          ("ecdsa", "batch15", {"batch_size": 15}),
          ("ecdsa", "batch15_warm", {"batch_size": 15, "warm_tables": True}),
          ("sm", "single", {}),
          ("sm", "kept", {"key_tables": True}),
          ("sm", "kept_warm", {"key_tables": True, "warm_tables": True}))

TABLE_SIZE = r"""
import gc
from lightmeter.crypto import keys, secp256k1, sm2
pubs = [secp256k1.public_key(bytes([i + 1]) * 32) for i in range(15)]
smpubs = [sm2.public_key(bytes([i + 1]) * 32) for i in range(15)]
for name, prep, w, parts, ps in (("ecdsa", secp256k1.prepare, 7, 1, pubs), ("sm", sm2.prepare, 5, 2, smpubs),
                                 ("sm", sm2.prepare, 6, 2, smpubs), ("sm", sm2.prepare, 7, 2, smpubs)):
    gc.collect()
    m = gc.mem_alloc()
    k = keys.Keys(prep, w, parts)
    for p in ps:
        k.get(p)
    gc.collect()
    print("TABLE %s_w%d %d" % (name, w, (gc.mem_alloc() - m) // len(ps)))
    k = None
"""


def cycle_heaps():
    """The device cycle's smallest heap (21 sealers, host32, modules from .mpy) with the kept tables
    and batches of CYCLES, and the heap a kept table takes, on the 32-bit port.

    Bisected from 64 to 512 KiB (host32 accepts more than m0's 256 KiB), the same way for every row,
    so rows compare with each other (a bisection's path moves the answer by up to ~15 KiB)."""
    import tempfile
    from lightmeter_host import mcubench
    from lightmeter_host.runtimes import mcu
    out = {}
    res = mcu.run(TABLE_SIZE, heap=1024 * 1024, paths=[_firmware()], target="host32", mpy=True, timeout=600)
    for line in res.stdout.splitlines():
        if line.startswith("TABLE "):
            _, name, size = line.split()
            out["kept_table_bytes_%s" % name] = int(size)
    for suite, name, options in CYCLES:
        with tempfile.TemporaryDirectory(prefix="mcu-cycle-") as d:
            mcubench.build_cycle(suite, 21, d, **options)
            full = mcubench._script_result(mcu.run(mcubench.MAIN, heap=1024 * 1024, paths=mcubench._paths(d),
                                                   target="host32", mpy=True, timeout=600, args=[d]))
            smallest = mcu.smallest_heap(mcubench.MAIN, lo=64 * 1024, hi=512 * 1024, paths=mcubench._paths(d),
                                         target="host32", mpy=True, timeout=600, args=[d])
        tag = "%s_%s" % (suite, name)
        out["cycle_heap_kib_" + tag] = None if smallest is None else smallest / 1024
        out["cycle_heap_above_baseline_kib_" + tag] = (
            None if smallest is None else round((smallest - full["baseline"]) / 1024, 1))
    return out


def collect(quick=False, m0=True):
    out = figures(run_cpython(3 if quick else 10), "cpython", "ms", 1000)
    out.update(figures(run_micropython(2 if quick else 8), "micropython", "ms", 1000))
    if m0 and not quick:
        from lightmeter_host.runtimes import mcu
        try:
            mcu.executable("m0")
        except mcu.McuError as e:
            out["batch_m0"] = "not measured: %s" % e
        else:
            out.update(figures(run_m0(), "m0", "minstr", 1e6))
            out.update(cycle_heaps())
    return out
