"""`lightmeter flash`: put MicroPython and the firmware package on a board, and prove it got there.

Steps, each printed as it happens (`--dry-run` prints them and does nothing):

 1. the MicroPython image (--firmware): with esptool (`esptool --chip C --port P --baud B
    write-flash OFFSET IMAGE`, a subprocess of the installed esptool) or by copying the .uf2 to
    the board's boot drive, as its profile says; skipped for a virtual board (it says so over
    its REPL: sys.implementation._machine) and when no image is given;
 2. the package: firmware/lightmeter/**/*.py compiled with mpy-cross when the board loads .mpy of
    the same bytecode version (sys.implementation._mpy), its error messages as numbers and their
    texts in messages.txt (runtimes/messages.py: no message in RAM), else the .py sources;
 3. copied with mpremote into LIB/lightmeter (LIB: the profile's storage.lib), after a marker
    file LIB/lightmeter/.flashing is written and the old files removed;
 4. the sha256 of every file read back from the device and compared;
 5. a manifest of the hashes (LIB/lightmeter/.manifest.json, written atomically) last, then the
    marker removed, then the package imported on the device and keccak256("abc") checked.

A flash cut short leaves the marker (or files that no longer match the manifest): `state()` finds
that, `provision` refuses such a board, and `flash` says so and flashes it again.
"""

import fnmatch
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

from lightmeter_host.runtimes import build
from lightmeter_host.hardware import devrepl

PACKAGE = "lightmeter"
MARKER = ".flashing"
MANIFEST = ".manifest.json"
MANIFEST_VERSION = 1
INCOMPLETE = "a previous flash did not finish: run lightmeter flash again"
# keccak256("abc"), the Keccak team's KAT as used by Ethereum (web3.utils.keccak256("abc"))
KECCAK_ABC = "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"


class FlashError(RuntimeError):
    """The flash cannot go on (image missing, esptool failed, read-back mismatch...)."""


class FlashIncomplete(devrepl.DeviceError):
    """The board holds a half-done flash."""

    def __init__(self):
        super().__init__(INCOMPLETE)


MAIN_PY = "/main.py"
MAIN_CODE = "# lightmeter: run the device at power-on (Ctrl-C in the REPL stops it)\nfrom lightmeter.device import start\nstart.main(%r)\n"


def package_dir(profile):
    return profile["storage"]["lib"].rstrip("/") + "/" + PACKAGE


def kb(n):
    return "%.1f kB" % (n / 1000.0)


# -- code run on the device -------------------------------------------------------------------
# Plain MicroPython (os, json, hashlib, binascii): it must work while the package is half there.

_STATE = """
import os, json
d = %r
r = {'marker': False, 'manifest': None, 'bad_manifest': False}
try:
    os.stat(d + '/' + %r)
    r['marker'] = True
except OSError:
    pass
try:
    with open(d + '/' + %r) as f:
        r['manifest'] = json.load(f)
except OSError:
    pass
except ValueError:
    r['bad_manifest'] = True
print(json.dumps(r))
"""

_HASHES = """
import hashlib, binascii, json
d = %r
out = {}
b = bytearray(512)
for n in %r:
    try:
        h = hashlib.sha256()
        with open(d + '/' + n, 'rb') as f:
            while True:
                k = f.readinto(b)
                if not k:
                    break
                h.update(b[:k])
        out[n] = binascii.hexlify(h.digest()).decode()
    except OSError:
        out[n] = None
print(json.dumps(out))
"""

_BEGIN = """
import os
def _mk(p):
    try:
        os.stat(p)
    except OSError:
        os.mkdir(p)
q = ''
for part in %r.split('/'):
    if part:
        q += '/' + part
        _mk(q)
d = %r
with open(d + '/' + %r, 'w') as f:
    f.write('flash in progress')
def _rm(p):
    try:
        os.remove(p)
    except OSError:
        for n in os.listdir(p):
            _rm(p + '/' + n)
        os.rmdir(p)
for n in os.listdir(d):
    if n != %r:
        _rm(d + '/' + n)
for sub in %r:
    _mk(d + '/' + sub)
"""

_COMMIT = """
import os
d = %r
os.rename(d + '/' + %r + '.tmp', d + '/' + %r)
os.remove(d + '/' + %r)
if hasattr(os, 'sync'):
    os.sync()
"""

_SMOKE = """
import sys, binascii
if %r not in sys.path:
    sys.path.append(%r)
from lightmeter.crypto import keccak
print(binascii.hexlify(keccak.keccak256(b'abc')).decode())
"""


# -- the board's state ------------------------------------------------------------------------

def state(repl, profile):
    """"ok" (manifest present, every file matches), "empty" (no flash by this tool) or
    "incomplete" (a marker left, an unreadable manifest, or a file that differs from it);
    with the manifest (or None)."""
    d = package_dir(profile)
    st = repl.run_json(_STATE % (d, MARKER, MANIFEST))
    man = st["manifest"]
    if st["marker"] or st["bad_manifest"]:
        return "incomplete", man
    if man is None:
        return "empty", None
    files = man.get("files") if isinstance(man, dict) else None
    if not isinstance(files, dict) or not files:
        return "incomplete", man
    got = repl.run_json(_HASHES % (d, sorted(files)))
    if any(got.get(n) != h for n, h in files.items()):
        return "incomplete", man
    return "ok", man


def require_flashed(repl, profile):
    """The manifest of a completely flashed board; FlashIncomplete or FlashError otherwise."""
    st, man = state(repl, profile)
    if st == "incomplete":
        raise FlashIncomplete()
    if st == "empty":
        raise FlashError("the firmware is not on the board (no %s/%s): run lightmeter flash first"
                         % (package_dir(profile), MANIFEST))
    return man


def is_virtual(info):
    """Whether the REPL belongs to a virtual board (the WebAssembly port on the host)."""
    machine = (info.get("machine") or "").lower()
    return "emscripten" in machine or "virtual" in machine or info.get("platform") == "webassembly"


# -- the image --------------------------------------------------------------------------------

def esptool_command(profile, port, image):
    """The esptool command line that writes image at the profile's offset."""
    fw = profile["firmware"]
    exe = os.path.join(os.path.dirname(sys.executable), "esptool")
    base = [exe] if os.path.exists(exe) else [sys.executable, "-m", "esptool"]
    return base + ["--chip", fw["chip"], "--port", port, "--baud", str(fw["baud"]),
                   "write-flash", fw["offset"], image]


# where desktop Linux (udisks) and macOS mount a USB drive with a given label
MOUNT_PATTERNS = ("/media/*/%s", "/run/media/*/%s", "/media/%s", "/Volumes/%s")


def uf2_drives(label, patterns=MOUNT_PATTERNS):
    """Mount points of a USB boot drive named label (the RP2040's RPI-RP2)."""
    found = []
    for pattern in patterns:
        found += [p for p in glob.glob(pattern % label) if os.path.isdir(p)]
    return sorted(set(found))


def _check_image(profile, image, say):
    if not os.path.isfile(image):
        raise FlashError("no MicroPython image at %s (download one from %s)"
                         % (image, profile["firmware"]["download"]))
    method = profile["firmware"]["method"]
    try:
        with open(image, "rb") as f:
            head = f.read(4)
        size = os.path.getsize(image)
    except OSError as e:
        raise FlashError("cannot read %s: %s" % (image, e.strerror or e))
    # what the tool would be handed: an ESP image starts with its magic byte 0xE9 (Espressif,
    # "Firmware Image Format"); a UF2 file is 512-byte blocks starting "UF2\n" (Microsoft UF2)
    if method == "esptool" and head[:1] != b"\xe9":
        raise FlashError("%s is not an ESP firmware image (it does not start with 0xE9)" % image)
    if method == "uf2" and (head != b"UF2\n" or size % 512):
        raise FlashError("%s is not a UF2 file (512-byte blocks starting UF2)" % image)
    pattern = profile["firmware"]["image"]
    if not fnmatch.fnmatch(os.path.basename(image), pattern):
        say("note: %s is not named like this board's images (%s, from %s)"
            % (os.path.basename(image), pattern, profile["firmware"]["download"]))


def write_image(profile, port, image, say, dry_run=False, mounts=MOUNT_PATTERNS):
    """Write the MicroPython image the profile's way; returns after the board has it."""
    fw = profile["firmware"]
    if fw["method"] == "esptool":
        cmd = esptool_command(profile, port, image)
        if dry_run:
            say("would run: %s" % " ".join(cmd))
            return
        _check_image(profile, image, say)
        say("writing %s with esptool (%s at %s)" % (os.path.basename(image), fw["chip"], fw["offset"]))
        r = subprocess.run(cmd)
        if r.returncode != 0:
            raise FlashError("esptool failed (exit status %d): is the board in its bootloader?"
                             % r.returncode)
    elif fw["method"] == "uf2":
        if dry_run:
            say("would copy %s to the %s drive (hold BOOTSEL while plugging the board in)"
                % (image, fw["drive"]))
            return
        _check_image(profile, image, say)
        drives = uf2_drives(fw["drive"], mounts)
        if len(drives) != 1:
            raise FlashError("%s %s drive mounted: hold BOOTSEL while plugging the board in, then "
                             "run again" % ("no" if not drives else "more than one", fw["drive"]))
        say("copying %s to %s" % (os.path.basename(image), drives[0]))
        shutil.copyfile(image, os.path.join(drives[0], os.path.basename(image)))
    else:
        raise FlashError("board %s takes no MicroPython image" % profile["name"])


# -- the package ------------------------------------------------------------------------------

def sources():
    """[(name, path)] of the firmware package's .py files, name relative to the package
    ("crypto/keccak.py"), sorted."""
    return build.sources()


def subfolders(names):
    """The package's folders that files with these relative names need, parents first."""
    return sorted({n.rsplit("/", 1)[0] for n in names if "/" in n})


def mpy_version(path):
    """The bytecode version byte of an .mpy file (its header: b"M", version, flags, ...)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if len(head) < 4 or head[:1] != b"M":
        raise FlashError("%s is not an .mpy file" % path)
    return head[1]


def package_files(device_mpy, workdir, say):
    """[(name on device, bytes)] and the format ("mpy" or "py") for a device with this _mpy."""
    if device_mpy is not None:
        written = build.compile_firmware(workdir)
        version = mpy_version(written[0])
        if version == device_mpy & 0xFF:
            say("the board loads .mpy version %d: compiled %d modules with mpy-cross, their error "
                "messages in %s" % (version, sum(1 for p in written if p.endswith(".mpy")),
                                    os.path.basename(written[-1])))
            return [(os.path.relpath(p, os.path.join(workdir, PACKAGE)).replace(os.sep, "/"), _read(p))
                    for p in written], "mpy"
        say("the board loads .mpy version %d, mpy-cross makes version %d: copying .py sources"
            % (device_mpy & 0xFF, version))
    else:
        say("the board does not load .mpy: copying .py sources")
    return [(n, _read(p)) for n, p in sources()], "py"


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def wait_for_port(profile, seconds=30.0):
    """The board's port once it shows up (a Pico W has none while in BOOTSEL mode)."""
    import time
    from lightmeter_host.hardware import ports
    deadline = time.monotonic() + seconds
    while True:
        try:
            return ports.detect(profile)[0]
        except ports.PortError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def flash(profile, port, image=None, say=print, timeout=5.0, baud=115200, image_written=False):
    """Flash the board on port (steps in the module docstring); returns the manifest written.
    image_written: the image was already written (a UF2 copied before the board had a port)."""
    d = package_dir(profile)
    if image_written:
        pass
    elif image is not None:
        try:
            with devrepl.Repl(port, timeout=timeout, baud=baud) as repl:
                virtual = is_virtual(repl.info())
        except devrepl.DeviceUnreachable:
            virtual = False  # no MicroPython yet: that is what the image is for
        if virtual:
            say("virtual board: no MicroPython image to write (skipped %s)" % os.path.basename(image))
        else:
            write_image(profile, port, image, say)
    else:
        say("no --firmware image given: keeping the MicroPython already on the board")

    wait = timeout if image is None else max(timeout, 15.0)  # a fresh image boots and makes its FS
    with devrepl.Repl(port, timeout=wait, baud=baud) as repl:
        info = repl.info()
        say("board answers: MicroPython %s on %s (%s)"
            % (".".join(str(v) for v in info["version"]), info["platform"], info["machine"]))
        st, _ = state(repl, profile)
        if st == "incomplete":
            say("%s; flashing again" % INCOMPLETE.split(":")[0])
        with tempfile.TemporaryDirectory(prefix="lightmeter-flash-") as work:
            files, fmt = package_files(info.get("mpy"), work, say)
        total = sum(len(b) for _, b in files)
        say("writing %s/%s, removing the old files" % (d, MARKER))
        repl.run(_BEGIN % (d, d, MARKER, MARKER, subfolders(n for n, _ in files)))
        for i, (name, data) in enumerate(files, 1):
            say("[%d/%d] copying %s/%s (%s)" % (i, len(files), PACKAGE, name, kb(len(data))))
            repl.write_file(d + "/" + name, data)
        want = {name: sha256_hex(data) for name, data in files}
        got = repl.run_json(_HASHES % (d, sorted(want)))
        bad = sorted(n for n in want if got.get(n) != want[n])
        if bad:
            raise FlashError("read-back sha256 differs for %s: %s" % (", ".join(bad), INCOMPLETE))
        say("read back sha256 of %d files: all match" % len(want))
        manifest = {"version": MANIFEST_VERSION, "board": profile["name"], "format": fmt,
                    "files": want}
        repl.write_file(d + "/" + MANIFEST + ".tmp", json.dumps(manifest, sort_keys=True).encode())
        repl.run(_COMMIT % (d, MANIFEST, MANIFEST, MARKER))
        say("wrote %s/%s" % (d, MANIFEST))
        lib = profile["storage"]["lib"]
        got = repl.run(_SMOKE % (lib, lib)).strip()
        if got != KECCAK_ABC:
            raise FlashError("the flashed package does not compute keccak256('abc') on the board "
                             "(got %r)" % got[-100:])
        say("imported lightmeter on the board: keccak256(\"abc\") correct")
        # written last: a board whose package is not all there never starts it at power-on
        repl.write_file(MAIN_PY, (MAIN_CODE % profile["storage"]["root"]).encode())
        say("wrote %s: the board runs lightmeter at power-on (lightmeter.device.start)" % MAIN_PY)
        say("flashed %d files (%s, %s) to %s:%s" % (len(files), kb(total), fmt, port, d))
    return manifest


def dry_run(profile, port, image=None, say=print):
    """Print what flash() would do, touching nothing (the port is not opened)."""
    d = package_dir(profile)
    if image is not None:
        if os.path.exists(image):
            _check_image(profile, image, say)  # reading it touches no board
        write_image(profile, port, image, say, dry_run=True)
        say("  (skipped if the board's REPL says it is a virtual board)")
    else:
        say("no --firmware image given: would keep the MicroPython already on the board")
    say("would open the MicroPython REPL on %s with mpremote and ask whether it loads .mpy "
        "(sys.implementation._mpy)" % port)
    say("would check %s for a previous flash that did not finish" % d)
    say("would compile firmware/lightmeter/**/*.py with mpy-cross if it does (else copy the .py)")
    say("would write %s/%s and remove the old files in %s" % (d, MARKER, d))
    files = sources()
    for i, (name, path) in enumerate(files, 1):
        say("[%d/%d] would copy %s/%s (or .mpy; source %s)"
            % (i, len(files), PACKAGE, name, kb(os.path.getsize(path))))
    say("would read back the sha256 of each file on the board and compare")
    say("would write %s/%s, then remove the marker" % (d, MANIFEST))
    say("would import lightmeter on the board and check keccak256(\"abc\")")
    say("would write %s: the board runs lightmeter at power-on" % MAIN_PY)
    say("dry run: nothing was written")
