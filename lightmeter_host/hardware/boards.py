"""Board profiles (boards/NAME.json): what a board is, how it is flashed, where the firmware lives.

One JSON file per board. `load(name)` returns a checked profile (a dict) and `known()` the names.
The schema is `check()` below, one rule per field; a profile that breaks one is refused with the
file and the field named ("boards/x.json: link.baud must be a positive integer"). boards/README.md
describes every field for people.

The firmware image facts (esptool chip and offset, the UF2 drive) are MicroPython's own download
pages: https://micropython.org/download/ESP32_GENERIC/ (write at 0x1000),
https://micropython.org/download/ESP32_GENERIC_S3/ (write at 0x0) and
https://micropython.org/download/RPI_PICO_W/ (hold BOOTSEL, copy the .uf2 to the RPI-RP2 drive).
"""

import json
import re
from pathlib import Path

from lightmeter_host.errors import BoardError  # a profile missing or breaking the schema
from lightmeter_host.paths import BOARDS_DIR

RUNTIMES = ("micropython", "cpython")
METHODS = ("esptool", "uf2", "none")
# esptool's --chip names for the Espressif parts MicroPython publishes images for
ESPTOOL_CHIPS = ("esp32", "esp32s2", "esp32s3", "esp32c3", "esp32c6")
DRIVERS = ("simulated", "dsmr_p1", "modbus_sdm", "s0")
CRYPTO = ("native", "pure")
PIN_KEYS = ("tx", "rx", "pin")
FIELDS = ("name", "description", "mcu", "runtime", "firmware", "usb", "link", "meter", "storage",
          "crypto", "heap_kb")
FIRMWARE_FIELDS = {"esptool": ("method", "chip", "offset", "baud", "image", "download"),
                   "uf2": ("method", "drive", "image", "download"),
                   "none": ("method",)}

_NAME = re.compile(r"[a-z0-9_]{1,32}\Z")
_USB = re.compile(r"[0-9a-f]{4}:[0-9a-f]{4}\Z")
_OFFSET = re.compile(r"0x[0-9a-fA-F]{1,8}\Z")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class _Checker:
    def __init__(self, where):
        self.where = where

    def fail(self, field, rule):
        raise BoardError("%s: %s %s" % (self.where, field, rule))

    def obj(self, v, field, allowed):
        if not isinstance(v, dict):
            self.fail(field, "must be an object")
        for k in v:
            if k not in allowed:
                self.fail("%s.%s" % (field, k) if field else k, "is not a known field")
        return v

    def text(self, v, field):
        if not isinstance(v, str) or not v.strip():
            self.fail(field, "must be non-empty text")
        return v

    def choice(self, v, field, options):
        if v not in options:
            self.fail(field, "must be one of %s" % ", ".join(options))
        return v

    def positive(self, v, field):
        if not _is_int(v) or v <= 0:
            self.fail(field, "must be a positive integer")
        return v

    def pin(self, v, field):
        if not _is_int(v) or not 0 <= v <= 255:
            self.fail(field, "must be a GPIO number (0-255)")
        return v

    def path(self, v, field):
        if not isinstance(v, str) or not v.startswith("/") or "\n" in v or "'" in v or '"' in v:
            self.fail(field, "must be an absolute path")
        return v


def _check_uart(c, section, d, prefix):
    """A UART: a peripheral number with tx/rx pins (microcontrollers) or a /dev path (Linux)."""
    u = d.get("uart")
    if isinstance(u, str):
        if not u.startswith("/dev/"):
            c.fail(prefix + ".uart", "must be a UART number or a /dev/ path")
        for k in PIN_KEYS:
            if k in d:
                c.fail(prefix + "." + k, "is not used with a /dev/ UART")
    elif _is_int(u):
        if not 0 <= u <= 7:
            c.fail(prefix + ".uart", "must be a UART number (0-7)")
    else:
        c.fail(prefix + ".uart", "must be a UART number or a /dev/ path")


def check(doc, where, stem=None):
    """The profile doc if it follows the schema; BoardError naming the first field that does not."""
    c = _Checker(where)
    c.obj(doc, "", FIELDS)
    for f in FIELDS:
        if f not in doc:
            c.fail(f, "is missing")
    name = doc["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        c.fail("name", "must be 1-32 characters a-z, 0-9, _")
    if stem is not None and name != stem:
        c.fail("name", "must be the file name (%s)" % stem)
    c.text(doc["description"], "description")
    c.text(doc["mcu"], "mcu")
    runtime = c.choice(doc["runtime"], "runtime", RUNTIMES)

    fw = doc["firmware"]
    if not isinstance(fw, dict):
        c.fail("firmware", "must be an object")
    method = c.choice(fw.get("method"), "firmware.method", METHODS)
    c.obj(fw, "firmware", FIRMWARE_FIELDS[method])
    for f in FIRMWARE_FIELDS[method]:
        if f not in fw:
            c.fail("firmware." + f, "is missing")
    if method == "esptool":
        c.choice(fw["chip"], "firmware.chip", ESPTOOL_CHIPS)
        if not isinstance(fw["offset"], str) or not _OFFSET.match(fw["offset"]):
            c.fail("firmware.offset", "must be a hex flash offset like \"0x1000\"")
        c.positive(fw["baud"], "firmware.baud")
    if method == "uf2":
        c.text(fw["drive"], "firmware.drive")
        if not str(fw["image"]).endswith(".uf2"):
            c.fail("firmware.image", "must name a .uf2 file")
    if method != "none":
        c.text(fw["image"], "firmware.image")
        if not isinstance(fw["download"], str) or not fw["download"].startswith("https://"):
            c.fail("firmware.download", "must be an https:// URL")
    # "none" on a MicroPython board: it comes with MicroPython (the virtual board)
    if runtime == "cpython" and method != "none":
        c.fail("firmware.method", "must be \"none\" when runtime is \"cpython\"")

    usb = doc["usb"]
    if not isinstance(usb, list):
        c.fail("usb", "must be a list of \"vid:pid\" (4 hex digits each, lower case)")
    for i, u in enumerate(usb):
        if not isinstance(u, str) or not _USB.match(u):
            c.fail("usb[%d]" % i, "must be \"vid:pid\" (4 hex digits each, lower case)")
    if len(set(usb)) != len(usb):
        c.fail("usb", "lists an id twice")

    link = c.obj(doc["link"], "link", ("uart", "tx", "rx", "baud"))
    _check_uart(c, "link", link, "link")
    if _is_int(link["uart"]):
        for k in ("tx", "rx"):
            if k not in link:
                c.fail("link." + k, "is missing")
            c.pin(link[k], "link." + k)
    c.positive(link.get("baud"), "link.baud")

    meter = doc["meter"]
    if not isinstance(meter, dict):
        c.fail("meter", "must be an object")
    c.choice(meter.get("driver"), "meter.driver", DRIVERS)
    for k, v in meter.items():
        if k == "driver":
            continue
        if not isinstance(k, str) or not re.match(r"[a-z][a-z0-9_]{0,31}\Z", k):
            c.fail("meter.%s" % k, "is not a valid option name")
        if not (isinstance(v, (str, bool)) or _is_int(v)):
            c.fail("meter." + k, "must be text, an integer or true/false")
        if k == "baudrate":
            c.positive(v, "meter.baudrate")
        if k == "invert" and v != "rx":
            c.fail("meter.invert", "must be \"rx\" (the only line the drivers invert)")
    if "uart" in meter:
        _check_uart(c, "meter", meter, "meter")
    pins = {}
    if _is_int(link["uart"]):
        pins[link["tx"]] = "link.tx"
        pins[link["rx"]] = "link.rx"
    for k in PIN_KEYS:
        if k in meter:
            c.pin(meter[k], "meter." + k)
            if meter[k] in pins:
                c.fail("meter." + k, "uses pin %d, already %s" % (meter[k], pins[meter[k]]))
            pins[meter[k]] = "meter." + k
    if _is_int(meter.get("uart")) and meter["uart"] == link["uart"]:
        c.fail("meter.uart", "is the link's UART")

    storage = c.obj(doc["storage"], "storage", ("root", "lib"))
    for k in ("root", "lib"):
        c.path(storage.get(k), "storage." + k)
    if storage["root"].rstrip("/") == storage["lib"].rstrip("/"):
        c.fail("storage.lib", "must differ from storage.root")

    crypto = doc["crypto"]
    if not isinstance(crypto, list) or not crypto:
        c.fail("crypto", "must be a non-empty list of backends in order of preference")
    for i, b in enumerate(crypto):
        c.choice(b, "crypto[%d]" % i, CRYPTO)
    if len(set(crypto)) != len(crypto):
        c.fail("crypto", "lists a backend twice")
    if runtime == "micropython" and "native" in crypto:
        c.fail("crypto", "\"native\" backends need CPython; a MicroPython board uses \"pure\"")

    heap = doc["heap_kb"]
    if heap is not None:
        c.positive(heap, "heap_kb")
    return doc


def known(boards_dir=None):
    """Sorted names of the profiles in boards/."""
    folder = Path(boards_dir or BOARDS_DIR)
    return sorted(p.stem for p in folder.glob("*.json") if p.stem != "schema")


def load_file(path):
    """The checked profile in the file at path."""
    path = Path(path)
    where = "boards/%s" % path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise BoardError("%s: cannot read: %s" % (where, e.strerror or e)) from None
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise BoardError("%s: not JSON (%s)" % (where, e)) from None
    return check(doc, where, path.stem)


def load(name, boards_dir=None):
    """The checked profile of the board called name; BoardError listing the known ones if none."""
    names = known(boards_dir)
    if name not in names:
        raise BoardError("unknown board %r (known: %s)" % (name, ", ".join(names) or "none"))
    return load_file(Path(boards_dir or BOARDS_DIR) / (name + ".json"))


def usb_ids(profile):
    """[(vid, pid)] as integers."""
    return [tuple(int(x, 16) for x in u.split(":")) for u in profile["usb"]]


def summary(profile):
    """One line describing how the board is flashed and connected."""
    fw = profile["firmware"]
    if fw["method"] == "esptool":
        how = "esptool --chip %s at %s" % (fw["chip"], fw["offset"])
    elif fw["method"] == "uf2":
        how = "UF2 copied to the %s drive" % fw["drive"]
    else:
        how = "no image (runs under Linux)"
    return "%-10s %-11s %-34s meter %-10s %s" % (profile["name"], profile["runtime"], how,
                                                  profile["meter"]["driver"],
                                                  profile["description"].split(";")[0])
