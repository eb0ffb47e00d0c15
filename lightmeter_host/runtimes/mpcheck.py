"""Run a lightmeter.client.check report inside real MicroPython (`--runtime micropython`).

The inputs go in as JSON on stdin; the firmware's own check module computes the
report there; the answer comes back as one tagged JSON line. Malformed and
Unsupported input is re-raised on the host with MicroPython's message, so both
runtimes behave the same for the caller.

Before MicroPython sees anything, the host runs the same firmware check on CPython: input
it finds malformed or unsupported is refused with CPython's reason, which is the reason
`--runtime python` gives (MicroPython's JSON cannot even read some of it: NaN, Infinity).
A number that is not finite in a field the check ignores goes to MicroPython as null. Input
larger than MAX_INPUT bytes is refused (InputTooLarge) rather than left to run for minutes,
and a run that exceeds its time ends in MicroPythonError, never a traceback.
"""

import json
import math
import subprocess

from lightmeter.client import check
from lightmeter.errors import Malformed, Unsupported

from lightmeter_host.runtimes import micropython

_TAG = "lightmeter-check:"

# The WebAssembly port reads and parses about 60 KB of JSON a second; 1 MiB (some 17 s) is far
# more than a header, receipt or transaction with its proof needs, and more than a board's heap.
MAX_INPUT = 1 << 20


class InputTooLarge(Malformed):
    """The inputs, as JSON, exceed MAX_INPUT bytes."""

_PROGRAM = """
import json, sys
from lightmeter.client import check
from lightmeter.errors import Malformed, Unsupported
args = json.loads(sys.stdin.read())
try:
    res = {"report": getattr(check, args["name"])(*args["inputs"])}
except Malformed as e:
    res = {"malformed": str(e)}
except Unsupported as e:
    res = {"unsupported": str(e)}
print(%r + json.dumps(res))
""" % _TAG


def _finite(obj):
    """obj with every float that is not finite replaced by None (MicroPython's JSON has none)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    return obj


def precheck(name, inputs):
    """check.<name>(*inputs) on CPython: Malformed or Unsupported as `--runtime python` raises it."""
    from lightmeter_host.chain import backends
    backends.install()
    getattr(check, name)(*inputs)


def run_check(name, inputs, timeout=300):
    """check.<name>(*inputs) computed on MicroPython; returns the report dict."""
    inputs = list(inputs)
    precheck(name, inputs)
    payload = json.dumps({"name": name, "inputs": _finite(inputs)}, allow_nan=False)
    if len(payload) > MAX_INPUT:
        raise InputTooLarge("the input is %d bytes of JSON; --runtime micropython takes at most %d"
                            % (len(payload), MAX_INPUT))
    try:
        result = micropython.run(code=_PROGRAM, stdin=payload, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        result = subprocess.CompletedProcess(e.cmd, None, _text(e.stdout), _text(e.stderr))
        raise micropython.MicroPythonError("the check did not complete on MicroPython within %d s" % timeout,
                                           result) from None
    for line in result.stdout.splitlines():
        if line.startswith(_TAG):
            res = json.loads(line[len(_TAG):])
            if "malformed" in res:
                raise Malformed(res["malformed"])
            if "unsupported" in res:
                raise Unsupported(res["unsupported"])
            return res["report"]
    raise micropython.MicroPythonError("the check did not complete on MicroPython", result)


def _text(b):
    if b is None:
        return ""
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else b
