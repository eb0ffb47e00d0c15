"""Run code on real MicroPython from the host: the official WebAssembly port (npm), driven by Node.

The firmware tests and `lightmeter verify --runtime micropython` use this to prove that the
firmware runs on MicroPython itself, not only on CPython. Each call starts one Node process
(mp_runner.mjs beside this file, about 0.1 s), copies the firmware package into the port's
in-memory filesystem at /lib/lightmeter (/lib, where a device keeps its packages, is on the port's
sys.path), and runs the code. The port comes from node_modules/ at the project root
(`make setup` runs `npm ci`).
"""

import json
import shutil
import subprocess
from pathlib import Path

import lightmeter

from lightmeter_host.paths import NODE_MODULES
PORT_PACKAGE = "@micropython/micropython-webassembly-pyscript"
RUNNER = Path(__file__).resolve().with_name("mp_runner.mjs")
# The firmware package (firmware/lightmeter/ in the repo) becomes /lib/lightmeter/, where a device
# keeps installed packages: `import lightmeter` resolves as it does there.
FIRMWARE_MOUNT = (Path(lightmeter.__file__).resolve().parent, "/lib/lightmeter")

_HEAP_TAG = "mp_runner:heap "


class MicroPythonUnavailable(RuntimeError):
    """Node or the MicroPython WebAssembly port is not installed."""


class MicroPythonError(RuntimeError):
    """Code that had to succeed raised on MicroPython; carries the run's output."""

    def __init__(self, message, result):
        super().__init__("%s\n--- stdout ---\n%s--- stderr ---\n%s" % (message, result.stdout, result.stderr))
        self.result = result


def _port_entry(node_modules=None):
    return Path(node_modules or NODE_MODULES) / PORT_PACKAGE / "micropython.mjs"


def _require_runtime(node_modules=None):
    """Paths of node and of the port's entry module; MicroPythonUnavailable if either is missing."""
    node = shutil.which("node")
    port = _port_entry(node_modules)
    if node is None or not port.is_file():
        missing = "node" if node is None else str(port)
        raise MicroPythonUnavailable(
            "node or the MicroPython WebAssembly port is missing (%s not found): "
            "run `make setup` (npm ci)" % missing)
    return node, port


def runtime_available(node_modules=None):
    """True when node and the WebAssembly port (node_modules/) are both there."""
    try:
        _require_runtime(node_modules)
    except MicroPythonUnavailable:
        return False
    return True


def _pairs(mapping):
    if mapping is None:
        return []
    items = mapping.items() if hasattr(mapping, "items") else mapping
    return [(Path(host).resolve(), mp) for host, mp in items]


def run(code=None, script=None, mounts=None, heap=None, timeout=120, stdin=None, *,
        args=(), paths=(), files=None, firmware=True, pystack=None, text=True,
        node_modules=None, heap_report=False):
    """Run CODE (source text) or SCRIPT (a path inside MicroPython's filesystem) on MicroPython.

    mounts: {host_dir: mp_dir} (or pairs), copied in (.py and .json files) besides the firmware,
    which goes to /lib/lightmeter unless firmware=False. files: {host_file: mp_path}, any kind.
    paths: sys.path entries to put first. args: sys.argv[1:]. heap: GC heap bytes (port default
    1 MiB; it grows on demand). stdin: bytes or str, served as sys.stdin and as /stdin.
    timeout: seconds, then subprocess.TimeoutExpired (node is killed; the exception carries the
    output so far). Returns the CompletedProcess: returncode 0 on success, 1 if Python raised
    (its traceback on stderr), SystemExit's code, 2 for a runner error; str output unless
    text=False. node_modules: where to find the port instead of the project's node_modules/.
    """
    if (code is None) == (script is None):
        raise ValueError("give exactly one of code= or script=")
    node, port = _require_runtime(node_modules)
    cmd = [node, str(RUNNER), "--port", str(port)]
    if heap is not None:
        cmd += ["--heap", str(int(heap))]
    if pystack is not None:
        cmd += ["--pystack", str(int(pystack))]
    for host, mp in ([FIRMWARE_MOUNT] if firmware else []) + _pairs(mounts):
        cmd += ["--mount", "%s=%s" % (host, mp)]
    for host, mp in _pairs(files):
        cmd += ["--file", "%s=%s" % (host, mp)]
    for p in paths:
        cmd += ["--path", p]
    if heap_report:
        cmd.append("--heap-report")
    if stdin is not None:
        cmd.append("--stdin")
        if isinstance(stdin, str):
            stdin = stdin.encode()
    cmd += ["--run", script] if script is not None else ["--code", code]
    if args:
        cmd += ["--"] + [str(a) for a in args]
    # No stdin wanted: DEVNULL, so an inherited terminal or pipe is never read.
    result = subprocess.run(cmd, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                            capture_output=True, timeout=timeout)
    if text:
        result.stdout = result.stdout.decode("utf-8", "replace")
        result.stderr = result.stderr.decode("utf-8", "replace")
    return result


def _heap_probe(code, heap, run_kwargs):
    """(fits, result): did CODE run at this heap size without the GC heap growing?"""
    result = run(code=code, heap=heap, heap_report=True, **run_kwargs)
    lines = result.stderr.splitlines()
    report = None
    if lines and lines[-1].startswith(_HEAP_TAG):
        report = json.loads(lines[-1][len(_HEAP_TAG):])
        result.stderr = "".join(s + "\n" for s in lines[:-1])
    if result.returncode != 0 or report is None or not report["ok"]:
        raise MicroPythonError("min_heap: the code failed on MicroPython (heap %d)" % heap, result)
    if report["awaited"]:
        raise ValueError("min_heap: the code awaited; the GC ran at the await, so growth can't be seen")
    return not report["grew"], result


def min_heap(code, mounts=None, lo=8192, hi=64 * 1024 * 1024, resolution=256, **run_kwargs):
    """Smallest GC heap (bytes, the port's heapsize) with which CODE runs without the heap growing.

    Method. This port (MICROPY_GC_SPLIT_HEAP_AUTO) never fails an allocation: when its heap is
    full it adds a new heap area ("split"). gc.mem_alloc() + gc.mem_free() sums the sizes of all
    areas (mem_free also counts the room left for new areas, a constant here), so comparing that
    sum before and after the code tells whether an area was added. The sum is taken before, in a
    top-level call of its own, and after, appended to the code in the same top-level call: added
    areas are only released by a sweep, and this port sweeps only when control returns to
    JavaScript, never inside a call. The search doubles the heap from `lo` until the code fits,
    then bisects down to `resolution` bytes; the runs are deterministic, so the answer is exact
    to that resolution (the GC allocates 16-byte blocks). If CODE already fits in `lo`, `lo` is
    returned. CODE must not `await` (an await lets the GC run).

    What the number means. Inside one top-level call this port does not collect garbage at all
    (gc.collect() and the allocation threshold only schedule a collection for the return to
    JavaScript, since it cannot scan the WebAssembly stack for roots). So the answer is the heap
    a 32-bit MicroPython needs to run CODE with no garbage collection: the firmware's loaded
    bytecode and data plus every byte allocated on the way, garbage included. It is an upper
    bound for a device whose GC runs as needed (same object sizes: wasm32, like an ESP32, has
    4-byte pointers), not the device's peak of live data. Modules are imported from source
    (their bytecode counts); the pystack (frames) is outside the heap.
    """
    run_kwargs["mounts"] = mounts
    if lo < 4096 or hi <= lo or resolution < 16:
        raise ValueError("min_heap: want 4096 <= lo < hi and resolution >= 16")
    bad = None
    good = lo
    while not _heap_probe(code, good, run_kwargs)[0]:
        bad = good
        if good >= hi:
            raise ValueError("min_heap: the code needs more than hi=%d bytes of heap" % hi)
        good = min(good * 2, hi)
    if bad is None:
        return lo
    while good - bad > resolution:
        mid = (bad + good) // 2 // 16 * 16
        if _heap_probe(code, mid, run_kwargs)[0]:
            good = mid
        else:
            bad = mid
    return good
