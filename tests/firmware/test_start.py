"""lightmeter.device.start: the board's entry point reads the link settings strictly and opens the UART the
link expects. Runs on CPython and MicroPython (neither has a `machine` module here)."""

from lightmeter.device import start
from lightmeter.errors import Malformed, Unsupported

from support import raises


class FakeMachineUart:
    """What machine.UART offers: any() and read(n) (None when nothing waits), write()."""

    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.out = b""

    def any(self):
        return len(self.chunks[0]) if self.chunks else 0

    def read(self, n):
        return self.chunks.pop(0) if self.chunks else None

    def write(self, data):
        self.out += data


def test_link_settings_of_an_esp32_profile():
    cfg = {"link": {"uart": 2, "tx": 17, "rx": 16, "baud": 115200}}
    assert start.link_settings(cfg) == (2, 17, 16, 115200)


def test_link_settings_of_a_linux_port_and_the_default_baud():
    assert start.link_settings({"link": {"uart": "/dev/ttyAMA0"}}) == ("/dev/ttyAMA0", None, None, 115200)


def test_bad_link_settings_name_the_field():
    for cfg, field in (({}, "config.link"), ({"link": {"uart": 1, "baud": 0}}, "baud"),
                       ({"link": {"uart": "COM3"}}, "/dev/"), ({"link": {"uart": True}}, "uart"),
                       ({"link": {"uart": 1, "tx": -1}}, "tx"), ({"link": {"uart": 1, "rx": "16"}}, "rx")):
        e = raises(Malformed, start.link_settings, cfg)
        assert field in str(e), (cfg, str(e))


def test_the_uart_wrapper_gives_bytes_and_never_none():
    u = start.MachineUart(FakeMachineUart([b"\x00ab", b"c"]))
    assert u.read() == b"\x00ab"
    assert u.read() == b"c"
    assert u.read() == b""
    u.write(b"xyz")
    assert u.uart.out == b"xyz"


def test_no_machine_module_means_unsupported_not_a_crash():
    raises(Unsupported, start.open_link, {"link": {"uart": 2, "tx": 17, "rx": 16, "baud": 115200}})


def test_main_without_a_config_returns_and_says_why():
    assert start.main("/nonexistent-lightmeter-root") is None
