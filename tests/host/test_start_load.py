"""device/start.py's `load` imports everything lightmeter.device.app needs before app itself, one
module at a time (its MODULES list must not fall behind app's imports)."""

import subprocess
import sys

from lightmeter_host.paths import PROJECT_ROOT

SCRIPT = r"""
import sys
from lightmeter.device import start
start.load()
before = set(sys.modules)
from lightmeter.device import app
new = sorted(m for m in sys.modules if m not in before and m.startswith("lightmeter."))
print(" ".join(new))
"""


def test_load_covers_every_module_the_device_program_imports():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=PROJECT_ROOT / "firmware",
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["lightmeter.device.app"]


def test_load_leaves_out_no_module_and_names_no_missing_one():
    from lightmeter.device import start
    assert len(set(start.MODULES)) == len(start.MODULES)
    for name in start.MODULES:
        assert (PROJECT_ROOT / "firmware" / (name.replace(".", "/") + ".py")).is_file(), name
