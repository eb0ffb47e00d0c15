"""`lightmeter flash` (lightmeter_host/hardware/flash.py, devrepl.py): steps, arguments, and a real flash.

Without a board: the esptool command line per profile (and that the installed esptool runs),
dry runs that touch nothing, argument errors, port auto-detection finding nothing, a pty where
no MicroPython answers. With the virtual board (real MicroPython behind a stock REPL, driven by
mpremote): a flash whose files hash the same on the device, then imports and computes there;
a board whose filesystem fills up during the flash, and the half-done flash found afterwards.
"""

import hashlib
import os
import subprocess
import sys
import time

import pytest
from mpremote.transport_serial import SerialTransport
from serial.tools import list_ports

from lightmeter_host.vboard import board as board_mod
from lightmeter_host.hardware import boards, flash, ports
from lightmeter_host import cli
from lightmeter_host.runtimes import micropython


def test_esptool_command_per_profile():
    cmd = flash.esptool_command(boards.load("esp32"), "/dev/ttyUSB0", "fw.bin")
    assert cmd[-9:] == ["--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "460800",
                        "write-flash", "0x1000", "fw.bin"]
    cmd = flash.esptool_command(boards.load("esp32s3"), "/dev/ttyACM0", "s3.bin")
    assert cmd[-3:] == ["write-flash", "0x0", "s3.bin"] and "esp32s3" in cmd


def test_the_esptool_it_runs_is_installed():
    base = flash.esptool_command(boards.load("esp32"), "P", "I")[:-9]
    r = subprocess.run(base + ["version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "esptool" in (r.stdout + r.stderr).lower()


def test_dry_run_prints_every_step_and_opens_nothing(capsys):
    port = "/dev/does-not-exist-lightmeter"
    assert cli.main(["flash", "--board", "esp32", "--port", port, "--firmware", "ESP32_GENERIC-x.bin",
                     "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would run: " in out and "--chip esp32 --port %s --baud 460800 write-flash 0x1000 " \
        "ESP32_GENERIC-x.bin" % port in out
    n = len(flash.sources())
    assert "[1/%d] would copy lightmeter/__init__.py" % n in out
    assert "[%d/%d] would copy" % (n, n) in out
    for step in ("mpy-cross", "/lib/lightmeter/.flashing", "sha256", ".manifest.json",
                 "nothing was written"):
        assert step in out
    assert not os.path.exists(port)
    assert cli.main(["flash", "--board", "pico_w", "--port", port, "--firmware", "RPI_PICO_W-x.uf2",
                     "--dry-run"]) == 0
    assert "would copy RPI_PICO_W-x.uf2 to the RPI-RP2 drive" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["flash", "--board", "esp8266", "--port", "/dev/null"],
     "unknown board 'esp8266' (known: esp32, esp32s3, pico_w, rpi_linux, virtual)"),
    (["flash", "--port", "/dev/null"], "--board is required (known: esp32, esp32s3, pico_w, rpi_linux, virtual)"),
    (["flash", "--board", "rpi_linux", "--port", "/dev/null"], "flash is for MicroPython boards"),
    (["flash", "--board", "esp32", "--port", "/dev/does-not-exist-lightmeter"], "cannot open"),
])
def test_argument_errors_are_one_clear_line(capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_without_port_auto_detection_that_finds_no_board_says_what_it_saw(capsys):
    profile = boards.load("esp32")
    if ports.matching(profile, list_ports.comports()):
        pytest.skip("an ESP32 USB serial device is attached to this machine")
    assert cli.main(["flash", "--board", "esp32"]) == 2
    err = capsys.readouterr().err
    assert "no serial port has a USB id of board esp32 (10c4:ea60" in err and "pass --port" in err


def test_a_port_where_no_micropython_answers_is_a_clear_error(capsys):
    master, slave = os.openpty()  # we hold the other end and never answer
    name = os.ttyname(slave)
    try:
        start = time.monotonic()
        assert cli.main(["flash", "--board", "esp32", "--port", name, "--timeout", "2"]) == 2
        took = time.monotonic() - start
    finally:
        os.close(master)
        os.close(slave)
    err = capsys.readouterr().err
    assert "no MicroPython REPL answered on %s within 2 s" % name in err
    assert took < 30


def test_mpy_cross_makes_the_bytecode_version_the_micropython_port_loads(tmp_path):
    written = flash.build.compile_firmware(str(tmp_path))
    r = micropython.run(code="import sys\nprint(sys.implementation._mpy)")
    assert flash.mpy_version(written[0]) == int(r.stdout.strip()) & 0xFF


# -- a real flash on the virtual board -----------------------------------------------------------

KECCAK_EMPTY = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"  # keccak256(b"")


def repl_board(root, transcript, flash_size=None):
    """A started virtual board with a stock MicroPython REPL on its pty."""
    kw = {"repl": True, "transcript": str(transcript), "baud": None}
    if flash_size is not None:
        kw["flash_size"] = flash_size
    b = board_mod.VirtualBoard(runtime="micropython", root=str(root), **kw)
    b.start()
    return b


def port_of(b):
    return getattr(b, "port", None) or b.pty_path


@pytest.fixture(scope="module")
def flashed(tmp_path_factory):
    """(board, output of the flash, host dir) after `lightmeter flash --board esp32` on a fresh board."""
    d = tmp_path_factory.mktemp("flash")
    b = repl_board(d / "root", d / "uart.txt")
    try:
        r = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "flash", "--board", "esp32",
                            "--port", port_of(b), "--firmware", str(d / "ESP32_GENERIC-test.bin")],
                           capture_output=True, text=True, timeout=300)
        yield b, r, d
    finally:
        b.stop()


def test_flash_succeeds_with_progress_lines(flashed):
    b, r, _ = flashed
    assert r.returncode == 0, r.stderr + r.stdout
    out = r.stdout
    assert "virtual board: no MicroPython image to write" in out
    assert "compiled %d modules with mpy-cross" % len(flash.sources()) in out
    n = len(flash.sources()) + 1  # and the error messages' table (runtimes/messages.py)
    assert "[1/%d] copying lightmeter/__init__.mpy (" % n in out
    assert "[%d/%d] copying lightmeter/" % (n, n) in out
    assert "all match" in out and "keccak256(\"abc\") correct" in out


def test_flashed_files_hash_the_same_on_the_device_and_the_package_runs_there(flashed, tmp_path):
    b, r, _ = flashed
    assert r.returncode == 0, r.stderr
    base = os.path.join(str(tmp_path), "lightmeter")
    local = {os.path.relpath(p, base): hashlib.sha256(open(p, "rb").read()).digest()
             for p in flash.build.compile_firmware(str(tmp_path))}
    t = SerialTransport(port_of(b), timeout=0.05)  # a second, independent reader: mpremote itself
    try:
        t.enter_raw_repl(soft_reset=True, timeout_overall=10)
        on_device = {e.name for e in t.fs_listdir("/lib/lightmeter")}
        assert on_device == {n.split("/")[0] for n in local} | {flash.MANIFEST}
        for sub in sorted({n.split("/")[0] for n in local if "/" in n}):
            listed = {sub + "/" + e.name for e in t.fs_listdir("/lib/lightmeter/" + sub)}
            assert listed == {n for n in local if n.startswith(sub + "/")}, sub
        for name, digest in local.items():
            assert t.fs_hashfile("/lib/lightmeter/" + name, "sha256") == digest, name
        out = t.exec("from lightmeter.crypto import keccak\nimport binascii\n"
                     "print(binascii.hexlify(keccak.keccak256(b'')).decode())")
        assert out.decode().strip() == KECCAK_EMPTY
        assert t.eval("__import__('lightmeter.crypto.keccak').crypto.keccak.__file__").endswith(".mpy")
    finally:
        t.exit_raw_repl()
        t.close()
    assert cli.main(["flash", "--board", "esp32", "--port", port_of(b), "--check"]) == 0


def test_dry_run_against_a_real_board_sends_it_nothing(flashed, capsys):
    b, r, d = flashed
    before = len(board_mod.read_transcript(d / "uart.txt"))
    assert cli.main(["flash", "--board", "esp32", "--port", port_of(b), "--dry-run"]) == 0
    assert "nothing was written" in capsys.readouterr().out
    # Bytes of the previous session's goodbye may still be on their way; what a dry run would
    # have to send first (Ctrl-C, Ctrl-A: interrupt, raw REPL) must not be among the new ones.
    sent = b"".join(data for way, data in board_mod.read_transcript(d / "uart.txt")[before:]
                    if way == board_mod.TRANSCRIPT_IN)
    assert b"\x01" not in sent and b"\x03" not in sent


def test_a_full_filesystem_is_reported_and_the_half_done_flash_found_next_time(tmp_path, capsys):
    b = repl_board(tmp_path / "root", tmp_path / "uart.txt", flash_size=48 * 1024)
    try:
        port = port_of(b)
        r = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "flash", "--board", "esp32",
                            "--port", port], capture_output=True, text=True, timeout=300)
        assert r.returncode == 2, r.stdout + r.stderr
        assert r.stderr.strip() == "lightmeter: device filesystem full", r.stderr
        assert cli.main(["flash", "--board", "esp32", "--port", port, "--check"]) == 1
        assert flash.INCOMPLETE in capsys.readouterr().err
        trust = tmp_path / "t.json"
        trust.write_text('{"chain_id": "c", "group_id": "g", "crypto": "ecdsa", "sealers": '
                         '[{"node_id": "%s", "weight": 1}]}' % ("ab" * 64))
        assert cli.main(["provision", "--board", "esp32", "--port", port, "--trust", str(trust),
                         "--meter-id", "M1"]) == 2
        assert capsys.readouterr().err.strip() == "lightmeter: " + flash.INCOMPLETE
        r = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "flash", "--board", "esp32",
                            "--port", port], capture_output=True, text=True, timeout=300)
        assert "a previous flash did not finish; flashing again" in r.stdout
        assert r.returncode == 2 and "device filesystem full" in r.stderr
    finally:
        b.stop()


def test_a_file_that_no_longer_matches_the_manifest_is_a_half_done_flash_until_flashed_again(flashed, capsys):
    b, r, _ = flashed
    assert r.returncode == 0, r.stderr
    port = port_of(b)
    t = SerialTransport(port, timeout=0.05)
    try:
        t.enter_raw_repl(soft_reset=True, timeout_overall=10)
        t.fs_writefile("/lib/lightmeter/crypto/keccak.mpy", b"M\x06\x00\x1f not the compiled module")
    finally:
        t.exit_raw_repl()
        t.close()
    assert cli.main(["flash", "--board", "esp32", "--port", port, "--check"]) == 1
    assert capsys.readouterr().err.strip() == "lightmeter: " + flash.INCOMPLETE
    r = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "flash", "--board", "esp32", "--port", port],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "a previous flash did not finish; flashing again" in r.stdout
    assert cli.main(["flash", "--board", "esp32", "--port", port, "--check"]) == 0


def test_a_pico_image_is_copied_to_the_one_rpi_rp2_drive(tmp_path):
    profile = boards.load("pico_w")
    image = tmp_path / "RPI_PICO_W-20250415-v1.25.0.uf2"
    image.write_bytes(b"UF2\n" + bytes(508))
    mounts = (str(tmp_path / "media" / "*" / "%s"),)
    said = []
    with pytest.raises(flash.FlashError, match="no RPI-RP2 drive mounted: hold BOOTSEL"):
        flash.write_image(profile, None, str(image), said.append, mounts=mounts)
    drive = tmp_path / "media" / "op" / "RPI-RP2"
    drive.mkdir(parents=True)
    flash.write_image(profile, None, str(image), said.append, mounts=mounts)
    assert (drive / image.name).read_bytes() == image.read_bytes()
    (tmp_path / "media" / "other" / "RPI-RP2").mkdir(parents=True)
    with pytest.raises(flash.FlashError, match="more than one RPI-RP2 drive"):
        flash.write_image(profile, None, str(image), said.append, mounts=mounts)
    with pytest.raises(flash.FlashError, match="no MicroPython image at"):
        flash.write_image(profile, None, str(tmp_path / "missing.uf2"), said.append, mounts=mounts)


def test_esptool_is_run_and_its_failure_reported(tmp_path):
    image = tmp_path / "ESP32_GENERIC-20250415-v1.25.0.bin"
    image.write_bytes(b"\xe9" + bytes(255))
    with pytest.raises(flash.FlashError, match=r"esptool failed \(exit status [1-9]"):
        flash.write_image(boards.load("esp32"), "/dev/does-not-exist-lightmeter", str(image), print)


def test_flash_leaves_a_main_py_that_starts_the_device_or_says_why_not(flashed):
    b, r, d = flashed
    assert r.returncode == 0, r.stderr
    assert "wrote /main.py" in r.stdout
    assert (d / "root" / "main.py").read_text() == flash.MAIN_CODE % "/data"
    t = SerialTransport(port_of(b), timeout=0.05)
    try:
        t.enter_raw_repl(soft_reset=True, timeout_overall=10)
        # what the board runs at power-on; before provisioning it explains and leaves the REPL free
        out = t.exec("exec(open('/main.py').read())").decode()
    finally:
        t.exit_raw_repl()
        t.close()
    assert "no /data/config.json: provision this board" in out
