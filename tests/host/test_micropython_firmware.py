"""Every firmware test (tests/firmware/test_*.py) must also pass on real MicroPython.

The tests are found here by parsing the files (top-level `def test_*`), run on the WebAssembly
port in one Node process (tests/firmware/mp_main.py, once per session), and reported one pytest
test each, `mp::module::function`. There is no skip: a missing runtime fails every one of them,
since a firmware test that passes only on CPython proves nothing about the device.
"""

import ast
import re
import subprocess

import pytest

from lightmeter_host.runtimes import micropython
from lightmeter_host.paths import PROJECT_ROOT

ROOT = PROJECT_ROOT
FIRMWARE_TESTS = ROOT / "tests" / "firmware"
DRIVER = "/tests/firmware/mp_main.py"
TIMEOUT = 900  # seconds for the whole firmware suite; CI's budget is 20 minutes for everything

_RESULT = re.compile(r"^(PASS|FAIL) (test_\w+)(?:\.(test_\w+))?(?:: .*)?$")
_SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")


def result_of(line):
    """(name, "PASS" | "FAIL") of a driver's result line, None for any other line; name is
    "module.function", or "module" when the module itself failed to import."""
    m = _RESULT.match(line)
    if not m:
        return None
    return m.group(2) + ("." + m.group(3) if m.group(3) else ""), m.group(1)


def _firmware_tests():
    """(module, function) for each top-level `def test_*` in tests/firmware/test_*.py."""
    found = []
    for path in sorted(FIRMWARE_TESTS.glob("test_*.py")):
        try:
            tree = ast.parse(path.read_text(), str(path))
        except SyntaxError as e:
            found.append((path.stem, "<syntax error: %s>" % e))
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found.append((path.stem, node.name))
    return found


CASES = _firmware_tests()


class DriverRun:
    """The driver's output, cut into one block per test (each ends with its result line)."""

    def __init__(self, stdout, stderr, returncode, problem=None):
        self.stdout, self.stderr, self.returncode, self.problem = stdout, stderr, returncode, problem
        self.results = {}  # "module.function" or "module" (import failed) -> (status, block)
        self.summary = None
        block = []
        for line in stdout.splitlines():
            block.append(line)
            r = result_of(line)
            if r:
                self.results[r[0]] = (r[1], "\n".join(block))
                block = []
            elif _SUMMARY.match(line):
                self.summary = tuple(int(n) for n in _SUMMARY.match(line).groups())
        self.tail = "\n".join(block)

    def context(self):
        return "\n--- driver stdout (end) ---\n%s\n--- driver stderr ---\n%s" % (
            self.stdout[-3000:], self.stderr[-3000:])


@pytest.fixture(scope="module")
def mp_run():
    mounts = {ROOT / "tests": "/tests"}
    try:
        r = micropython.run(script=DRIVER, mounts=mounts, timeout=TIMEOUT)
    except micropython.MicroPythonUnavailable as e:
        return DriverRun("", "", None, problem=str(e))
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        err = (e.stderr or b"").decode("utf-8", "replace")
        return DriverRun(out, err, None, problem="the driver timed out after %d s" % TIMEOUT)
    return DriverRun(r.stdout, r.stderr, r.returncode)


@pytest.mark.parametrize("module,function", CASES, ids=["mp::%s::%s" % c for c in CASES])
def test_firmware_test_passes_on_micropython(mp_run, module, function):
    if function.startswith("<syntax error"):
        pytest.fail("%s.py does not parse: %s" % (module, function))
    if module in mp_run.results:  # the module itself failed to import on MicroPython
        pytest.fail("%s does not import on MicroPython:\n%s" % (module, mp_run.results[module][1]))
    name = module + "." + function
    if name not in mp_run.results:
        why = mp_run.problem or "the driver did not report it"
        pytest.fail("%s was not run on MicroPython (%s)%s" % (name, why, mp_run.context()))
    status, block = mp_run.results[name]
    assert status == "PASS", "on MicroPython:\n" + block


def test_every_firmware_test_ran_on_micropython(mp_run):
    if mp_run.problem:
        pytest.fail(mp_run.problem + mp_run.context())
    assert CASES, "no firmware tests found in tests/firmware/test_*.py"
    expected = {m + "." + f for m, f in CASES}
    failed_modules = {n for n in mp_run.results if "." not in n}
    reported = {n for n in mp_run.results if "." in n}
    missing = sorted(n for n in expected - reported if n.split(".")[0] not in failed_modules)
    assert not missing, "found by ast but not run on MicroPython: %s%s" % (missing, mp_run.context())
    assert mp_run.summary is not None, "the driver printed no summary line" + mp_run.context()
    passed, failed = mp_run.summary
    assert passed + failed == len(mp_run.results), "summary disagrees with the result lines"
    assert mp_run.returncode == (1 if failed else 0), "driver exit status %s" % mp_run.returncode
