"""Firmware test driver for MicroPython: runs every `test_*` function of tests/firmware/test_*.py.

Run on the WebAssembly port by lightmeter_host/runtimes/micropython.py (tests/host/test_micropython_firmware.py):
    node lightmeter_host/runtimes/mp_runner.mjs --mount firmware/lightmeter=/lib/lightmeter --mount tests=/tests \
        --run /tests/firmware/mp_main.py [-- test_module | test_module.test_function ...]
MicroPython only: it uses top-level `await` (the runner runs it with runPythonAsync).

Output, one result line per test, then a summary line:
    PASS test_hashes.test_sm3_vectors
    FAIL test_x.test_y: AssertionError('...')
    FAIL test_z: ImportError('...')          (the module did not import; none of its tests ran)
    3 passed, 1 failed
A failure's traceback is printed just before its FAIL line, so everything a test printed lies
between the previous result line and its own.
Select tests with arguments, or with a set MP_TEST_SELECT bound in __main__ before this runs.
"""

import os
import sys

import asyncio

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."


def _selected(name, selection):
    # "test_m" selects the module, "test_m.test_f" one function of it.
    if not selection:
        return True
    if "." in name:
        return name in selection or name.split(".")[0] in selection
    return any(s.split(".")[0] == name for s in selection)


def _test_modules():
    return sorted(n[:-3] for n in os.listdir(_HERE) if n.startswith("test_") and n.endswith(".py"))


def _test_functions(module):
    found = []
    for name in sorted(dir(module)):
        obj = getattr(module, name)
        if name.startswith("test_") and callable(obj) and not isinstance(obj, type):
            found.append((name, obj))
    return found


def _fail(name, exc):
    sys.print_exception(exc, sys.stdout)
    print("FAIL %s: %r" % (name, exc))


async def main(selection):
    passed = failed = 0
    for mod_name in _test_modules():
        if not _selected(mod_name, selection):
            continue
        try:
            module = __import__(mod_name)
        except Exception as e:
            _fail(mod_name, e)
            failed += 1
            continue
        for fn_name, fn in _test_functions(module):
            name = mod_name + "." + fn_name
            if not _selected(name, selection):
                continue
            try:
                fn()
            except Exception as e:
                _fail(name, e)
                failed += 1
            else:
                print("PASS " + name)
                passed += 1
            # Back to the JS event loop: the only point where this port's GC runs (it defers
            # every collection to the top level), so one test's garbage never reaches the next.
            await asyncio.sleep_ms(0)
    print("%d passed, %d failed" % (passed, failed))
    return failed


_selection = set(sys.argv[1:]) | set(globals().get("MP_TEST_SELECT") or ())
if await main(_selection):  # noqa: F704 - top-level await is what the runner provides
    raise SystemExit(1)
