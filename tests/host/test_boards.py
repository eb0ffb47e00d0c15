"""Board profiles (boards/*.json, lightmeter_host/hardware/boards.py) and finding a board's port (lightmeter_host/hardware/ports.py).

Facts checked against MicroPython's download pages: ESP32_GENERIC images are written at 0x1000,
ESP32_GENERIC_S3 images at 0x0 (https://micropython.org/download/ESP32_GENERIC/,
.../ESP32_GENERIC_S3/), the Pico W takes a .uf2 on its RPI-RP2 drive (.../RPI_PICO_W/).
"""

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from serial.tools.list_ports_common import ListPortInfo

from lightmeter_host.hardware import boards, ports
from lightmeter_host import cli

NAMES = ["esp32", "esp32s3", "pico_w", "rpi_linux", "virtual"]


def good():
    return copy.deepcopy(boards.load("esp32"))


def write(tmp_path, doc, stem="x"):
    doc = dict(doc, name=stem) if isinstance(doc, dict) and "name" in doc else doc
    (tmp_path / (stem + ".json")).write_text(json.dumps(doc))
    return tmp_path / (stem + ".json")


def test_the_boards_ship_and_pass_the_schema():
    assert boards.known() == NAMES
    for n in NAMES:
        p = boards.load(n)
        assert p["name"] == n


def test_image_facts_follow_micropython_download_pages():
    esp32, s3, pico, rpi = (boards.load(n) for n in NAMES[:4])
    assert (esp32["firmware"]["method"], esp32["firmware"]["chip"], esp32["firmware"]["offset"]) == \
        ("esptool", "esp32", "0x1000")
    assert (s3["firmware"]["chip"], s3["firmware"]["offset"]) == ("esp32s3", "0x0")
    assert pico["firmware"]["method"] == "uf2" and pico["firmware"]["drive"] == "RPI-RP2"
    assert "2e8a:0005" in pico["usb"]  # Raspberry Pi's VID, MicroPython's rp2 CDC PID
    assert rpi["runtime"] == "cpython" and rpi["firmware"] == {"method": "none"}
    virtual = boards.load("virtual")  # comes with MicroPython: nothing to write
    assert virtual["runtime"] == "micropython" and virtual["firmware"] == {"method": "none"}
    for p in (esp32, s3, pico):
        assert p["firmware"]["download"].startswith("https://micropython.org/download/")


def test_every_board_names_a_known_meter_driver():
    for n in NAMES:
        p = boards.load(n)
        assert p["meter"]["driver"] in ("simulated", "dsmr_p1", "modbus_sdm", "s0")


@pytest.mark.parametrize("path,value,message", [
    (("link", "baud"), 0, "link.baud must be a positive integer"),
    (("link", "baud"), "115200", "link.baud must be a positive integer"),
    (("link", "baud"), True, "link.baud must be a positive integer"),
    (("link", "tx"), -1, "link.tx must be a GPIO number"),
    (("runtime",), "lua", "runtime must be one of micropython, cpython"),
    (("firmware", "offset"), 4096, "firmware.offset must be a hex flash offset"),
    (("firmware", "chip"), "esp8266", "firmware.chip must be one of"),
    (("firmware", "method"), "dfu", "firmware.method must be one of"),
    (("firmware", "download"), "http://x", "firmware.download must be an https:// URL"),
    (("usb",), ["10C4:EA60"], "usb[0] must be \"vid:pid\""),
    (("usb",), ["10c4:ea60", "10c4:ea60"], "usb lists an id twice"),
    (("meter", "driver"), "pulse", "meter.driver must be one of"),
    (("meter", "rx"), 16, "meter.rx uses pin 16, already link.rx"),
    (("meter", "baudrate"), 0, "meter.baudrate must be a positive integer"),
    (("meter", "invert"), True, "meter.invert must be \"rx\""),
    (("meter", "slave"), 1.5, "meter.slave must be text, an integer or true/false"),
    (("meter", "uart"), 2, "meter.uart is the link's UART"),
    (("storage", "lib"), "lib", "storage.lib must be an absolute path"),
    (("storage", "lib"), "/data", "storage.lib must differ from storage.root"),
    (("crypto",), ["native"], "crypto \"native\" backends need CPython"),
    (("crypto",), [], "crypto must be a non-empty list"),
    (("heap_kb",), -5, "heap_kb must be a positive integer"),
    (("colour",), "red", "colour is not a known field"),
    (("link", "parity"), "E", "link.parity is not a known field"),
])
def test_a_bad_profile_is_refused_naming_the_file_and_field(tmp_path, path, value, message):
    doc = good()
    target = doc
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    write(tmp_path, doc)
    with pytest.raises(boards.BoardError) as e:
        boards.load("x", tmp_path)
    assert str(e.value).startswith("boards/x.json: " + message), str(e.value)


def test_a_missing_field_and_a_wrong_name_are_refused(tmp_path):
    doc = good()
    del doc["storage"]
    with pytest.raises(boards.BoardError, match=r"^boards/x\.json: storage is missing$"):
        boards.load_file(write(tmp_path, doc))
    doc = good()
    (tmp_path / "y.json").write_text(json.dumps(doc))  # name "esp32" in y.json
    with pytest.raises(boards.BoardError, match=r"name must be the file name \(y\)"):
        boards.load("y", tmp_path)
    (tmp_path / "z.json").write_text("{not json")
    with pytest.raises(boards.BoardError, match=r"^boards/z\.json: not JSON"):
        boards.load("z", tmp_path)


def test_an_unknown_board_lists_the_known_ones():
    with pytest.raises(boards.BoardError) as e:
        boards.load("esp8266")
    assert str(e.value) == "unknown board 'esp8266' (known: esp32, esp32s3, pico_w, rpi_linux, virtual)"


_json = st.recursive(st.none() | st.booleans() | st.integers(-10, 10 ** 6) | st.text(max_size=12),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                     max_leaves=6)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))


ALL_PATHS = [p for p in _paths(boards.load("esp32")) if p]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(ALL_PATHS), _json, st.booleans())
def test_hostile_profiles_are_refused_with_a_named_field_or_accepted_whole(path, value, delete):
    doc = good()
    target = doc
    for k in path[:-1]:
        target = target[k]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    try:
        out = boards.check(doc, "boards/esp32.json", "esp32")
    except boards.BoardError as e:
        assert str(e).startswith("boards/esp32.json: ")
        field = str(e)[len("boards/esp32.json: "):].split(" ")[0]
        assert field.split(".")[0].split("[")[0] in boards.FIELDS or "not a known field" in str(e)
    else:
        # accepted: then it still has the shape flash and provision rely on
        assert out["link"]["baud"] > 0 and out["storage"]["lib"].startswith("/")
        assert out["meter"]["driver"] in boards.DRIVERS


def _port(device, vid=None, pid=None):
    p = ListPortInfo(device, skip_link_detection=True)
    p.vid, p.pid, p.description = vid, pid, "test port"
    return p


def test_port_detection_takes_the_one_port_with_a_listed_usb_id():
    profile = boards.load("esp32")
    seen = [_port("/dev/ttyS0"), _port("/dev/ttyUSB0", 0x10C4, 0xEA60), _port("/dev/ttyACM0", 0x2E8A, 5)]
    device, desc = ports.detect(profile, seen)
    assert device == "/dev/ttyUSB0" and "10c4:ea60" in desc
    assert ports.detect(boards.load("pico_w"), seen)[0] == "/dev/ttyACM0"


def test_port_detection_lists_what_it_saw_when_none_or_several_match():
    profile = boards.load("esp32")
    with pytest.raises(ports.PortError) as e:
        ports.detect(profile, [_port("/dev/ttyS0"), _port("/dev/ttyACM0", 0x2E8A, 5)])
    assert "no serial port has a USB id of board esp32" in str(e.value)
    assert "/dev/ttyS0 (no USB id" in str(e.value) and "/dev/ttyACM0 (2e8a:0005" in str(e.value)
    with pytest.raises(ports.PortError) as e:
        ports.detect(profile, [_port("/dev/ttyUSB0", 0x10C4, 0xEA60), _port("/dev/ttyUSB1", 0x1A86, 0x7523)])
    assert "several ports" in str(e.value) and "/dev/ttyUSB0" in str(e.value) and "/dev/ttyUSB1" in str(e.value)
    with pytest.raises(ports.PortError, match="no serial ports at all"):
        ports.detect(profile, [])


def test_lightmeter_boards_lists_every_profile(capsys):
    assert cli.main(["boards"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in out] == NAMES
    assert cli.main(["flash", "--list"]) == 0
    assert [ln.split()[0] for ln in capsys.readouterr().out.splitlines()] == NAMES
    assert cli.main(["boards", "--json"]) == 0
    assert sorted(json.loads(capsys.readouterr().out)) == NAMES
