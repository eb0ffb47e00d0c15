"""Options for the whole test tree.

--board PORT: run the device-side suite (tests/host/test_board_suite.py) on the MicroPython board
at that serial port over mpremote, as a test rig does; without it that suite runs on a fresh
virtual REPL board.
"""


def pytest_addoption(parser):
    parser.addoption("--board", metavar="PORT", default=None,
                     help="serial port of a MicroPython board (e.g. /dev/ttyUSB0) to run the firmware "
                          "tests on over mpremote (tests/host/test_board_suite.py); the firmware and "
                          "the tests are copied to it, as .mpy if it loads them. Default: a virtual "
                          "REPL board and a representative subset")
