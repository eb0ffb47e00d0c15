"""Chain data read on MicroPython interns no name per character it holds (docs/architecture.md).

On MicroPython a character taken out of a str (iterating it, indexing it) is interned: a qstr kept
in RAM for good, counted in the pools that grow by doubling. The readers that check text digit by
digit (chain/fields.py hex and decimals, chain/abi.py type and signature names) walk its bytes
instead, so the device's count of names does not grow with the data it reads. Runs on the
WebAssembly port (the same core as a board's); qstr_info prints the count.
"""

import re

from lightmeter_host.runtimes import micropython

_SCRIPT = r'''
import micropython
from lightmeter.chain import abi, fields
from lightmeter.crypto import keccak


def read(hexs, digits, signature):
    fields.hexbytes(hexs, "h", None, True)
    fields.decimal(digits, "d")
    abi.selector(signature, keccak.keccak256)


read("0x" + "00" * 32, "10", "a(uint8)")  # the code's own names, interned once
micropython.qstr_info()
read("0x" + "7c5D" * 16, "98765432", "Zq_$w(uint64,bytes32)")  # characters not seen before
micropython.qstr_info()
'''


def test_reading_new_characters_interns_no_new_names():
    r = micropython.run(code=_SCRIPT)
    assert r.returncode == 0, r.stderr
    counts = [int(n) for n in re.findall(r"n_qstr=(\d+)", r.stdout)]
    assert len(counts) == 2, r.stdout
    assert counts[1] == counts[0], r.stdout
