"""Run a lightmeter.client.check report inside real MicroPython (`--runtime micropython`).

The inputs go in as JSON on stdin; the firmware's own check module computes the
report there; the answer comes back as one tagged JSON line. Malformed and
Unsupported input is re-raised on the host with MicroPython's message, so both
runtimes behave the same for the caller.
"""

import json

from lightmeter.errors import Malformed, Unsupported

from lightmeter_host.runtimes import micropython

_TAG = "lightmeter-check:"

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


def run_check(name, inputs, timeout=300):
    """check.<name>(*inputs) computed on MicroPython; returns the report dict."""
    payload = json.dumps({"name": name, "inputs": list(inputs)})
    result = micropython.run(code=_PROGRAM, stdin=payload, timeout=timeout)
    for line in result.stdout.splitlines():
        if line.startswith(_TAG):
            res = json.loads(line[len(_TAG):])
            if "malformed" in res:
                raise Malformed(res["malformed"])
            if "unsupported" in res:
                raise Unsupported(res["unsupported"])
            return res["report"]
    raise micropython.MicroPythonError("the check did not complete on MicroPython", result)
