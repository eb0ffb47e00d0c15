"""firmware/lightmeter/crypto/gtab_*.py are what lightmeter_host/gtables.py writes today."""

import importlib

from lightmeter_host import gtables


def test_gtab_files_are_current():
    for name, parts in gtables.CURVES:
        mod = importlib.import_module("lightmeter.crypto." + name)
        with open(gtables.path(name)) as f:
            assert f.read() == gtables.source(name, mod.CURVE, parts), "run python -m lightmeter_host.gtables"
