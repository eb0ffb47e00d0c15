"""lightmeter firmware core: FISCO BCOS light client for MicroPython devices.

Every module in this package runs unchanged on MicroPython and CPython; the host
imports the same code, so each FISCO BCOS encoding and check exists once, here.
"""

VERSION = "0.1.0"
