"""The virtual board (lightmeter_host/vboard/board.py): a device program with its UART on a pseudo-terminal.

Every test talks to the board the way the relay does: pyserial opens the pty path. The device
program is a stand-in echo app written to a temporary directory (not the firmware's device.py, so
these tests check the board, not the app). Both runtimes; the micropython one runs the real
WebAssembly port, and a missing runtime fails these tests (it is part of `make setup`).
"""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import serial

from lightmeter_host.vboard import board as board_mod
from lightmeter_host.vboard.board import BoardError, VirtualBoard
from lightmeter_host.runtimes.micropython import MicroPythonUnavailable

RUNTIMES = ("python", "micropython")

ECHO_APP = '''\
"""Stand-in device program: counts boots in ROOT/counter (committed), writes ROOT/scratch
(never committed), echoes the UART uppercased."""
import asyncio
import os
import sys

try:
    import board  # the micropython runtime's bridge (flash_sync, random)
except ImportError:
    board = None


def _nap():
    if hasattr(asyncio, "sleep_ms"):
        return asyncio.sleep_ms(2)
    return asyncio.sleep(0.002)


def _boot_count(root):
    path = root + "/counter"
    try:
        with open(path) as f:
            n = int(f.read())
    except OSError:
        n = 0
    n += 1
    with open(path + ".tmp", "w") as f:
        f.write(str(n))
    os.rename(path + ".tmp", path)
    if board is not None:
        board.flash_sync([path, path + ".tmp"])
    return n


async def run(uart, root):
    n = _boot_count(root)
    with open("scratch", "w") as f:  # relative: the working directory is the flash
        f.write(str(n))
    if board is not None:
        print("echo: random", len(bytes(board.random(32))), file=sys.stderr)
    print("echo: boot", n, file=sys.stderr)
    while True:
        data = uart.read()
        if data:
            uart.write(data.upper())
        else:
            await _nap()
'''

CRASH_APP = '''\
import sys
async def run(uart, root):
    print("crash: about to fail", file=sys.stderr)
    raise ValueError("boom")
'''

BURST = bytes(range(256)) * 12  # 3 KB holding every byte value, XON/XOFF and Ctrl-C included


@pytest.fixture
def app_dir(tmp_path):
    d = tmp_path / "app"
    d.mkdir()
    (d / "echo_device.py").write_text(ECHO_APP)
    (d / "crash_device.py").write_text(CRASH_APP)
    return d


@pytest.fixture
def make_board(tmp_path, app_dir):
    boards = []

    def make(runtime, module="echo_device", **kw):
        kw.setdefault("root", tmp_path / "flash")
        b = VirtualBoard(runtime, module=module, paths=[app_dir], **kw)
        boards.append(b)
        return b

    yield make
    for b in boards:
        b.stop()


def _open(path, timeout=3):
    return serial.Serial(path, 115200, timeout=timeout)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_relay_opens_the_pty_and_gets_the_echo(make_board, runtime):
    b = make_board(runtime)
    path = b.start()
    assert path.startswith("/dev/") and b.alive
    with _open(path) as port:
        b.wait_log("echo: boot 1")
        port.write(b"hello, board")
        assert port.read(12) == b"HELLO, BOARD"
    assert "echo: boot 1" in b.log_lines()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_3k_burst_both_ways_intact_at_the_line_rate(make_board, runtime):
    b = make_board(runtime)  # 115200 baud: 11520 bytes/s each way
    with _open(b.start()) as port:
        b.wait_log("echo: boot")
        t0 = time.monotonic()
        port.write(BURST)
        got = port.read(len(BURST))
        took = time.monotonic() - t0
    assert got == BURST.upper()
    assert took >= 0.9 * len(BURST) * 10 / 115200, took  # the wire is no faster than the baud rate
    assert took < 1.5, took


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_3k_burst_unpaced(make_board, runtime):
    b = make_board(runtime, baud=None)
    with _open(b.start()) as port:
        b.wait_log("echo: boot")
        port.write(BURST)
        assert port.read(len(BURST)) == BURST.upper()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_power_cut_keeps_committed_files_and_the_pty_path(make_board, runtime, tmp_path):
    b = make_board(runtime)
    root = tmp_path / "flash"
    path = b.start()
    with _open(path) as port:
        b.wait_log("echo: boot 1")
        b.kill()
        assert not b.alive and b.returncode == -signal.SIGKILL
        assert (root / "counter").read_text() == "1"
        assert b.restart() == path  # a reset keeps the port: the open relay stays connected
        b.wait_log("echo: boot 2")
        port.write(b"again")
        assert port.read(5) == b"AGAIN"
    b.stop()
    assert (root / "counter").read_text() == "2"
    assert not (root / "counter.tmp").exists()  # the rename reached the host as a rename


def test_micropython_power_cut_loses_what_was_never_committed(make_board, tmp_path):
    b = make_board("micropython")
    root = tmp_path / "flash"
    b.start()
    b.wait_log("echo: boot 1")
    b.kill()
    assert not (root / "scratch").exists()  # written, never synced: gone with the power
    b.start()
    b.wait_log("echo: boot 2")
    b.stop()  # an orderly stop saves the whole flash
    assert (root / "scratch").read_text() == "2"
    assert sorted(os.listdir(root)) == ["counter", "scratch"]


def test_python_flash_is_the_host_directory(make_board, tmp_path):
    b = make_board("python")
    b.start()
    b.wait_log("echo: boot 1")
    b.kill()
    assert (tmp_path / "flash" / "scratch").read_text() == "1"


def test_micropython_board_offers_random_bytes(make_board):
    b = make_board("micropython")
    b.start()
    assert b.wait_log("echo: random") == "echo: random 32"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bytes_sent_while_the_board_is_off_are_lost(make_board, runtime):
    b = make_board(runtime)
    path = b.start()
    with _open(path, timeout=1) as port:
        b.wait_log("echo: boot 1")
        b.kill()
        port.write(b"into the void")
        port.flush()
        time.sleep(0.05)
        b.start()
        b.wait_log("echo: boot 2")
        port.write(b"x")
        assert port.read(1) == b"X"  # an echo of the lost bytes would have come first


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_relay_may_close_and_reopen_the_port(make_board, runtime):
    b = make_board(runtime)
    path = b.start()
    b.wait_log("echo: boot")
    for word in (b"one", b"two"):
        with _open(path) as port:
            port.write(word)
            assert port.read(3) == word.upper()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_stop_leaves_no_processes_threads_or_pty(make_board, runtime):
    b = make_board(runtime)
    path = b.start()
    b.wait_log("echo: boot")
    pid = b.pid
    b.stop()
    assert not b.alive and b.pty_path is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not os.path.exists(path)
    assert not [t for t in threading.enumerate() if t.name.startswith("virtual-board")]
    b.stop()  # twice is harmless


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_crashing_device_program_is_logged(make_board, runtime):
    b = make_board(runtime, module="crash_device")
    b.start()
    b.wait_log("board: device program ended (status 1)")
    log = "\n".join(b.log_lines())
    assert "crash: about to fail" in log and "ValueError: boom" in log
    assert not b.alive and b.returncode == 1


def test_start_twice_is_refused(make_board):
    b = make_board("python")
    b.start()
    with pytest.raises(BoardError):
        b.start()


def test_missing_port_package_is_a_clear_error(make_board, tmp_path):
    b = make_board("micropython", node_modules=tmp_path / "no_node_modules")
    with pytest.raises(MicroPythonUnavailable, match="make setup"):
        b.start()
    assert b.pty_path is None and not b.alive


def test_missing_node_is_a_clear_error(make_board, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no node there
    b = make_board("micropython")
    with pytest.raises(MicroPythonUnavailable, match="node"):
        b.start()
    assert b.pty_path is None


def test_cli_prints_the_pty_path_first_and_resets_on_sighup(app_dir, tmp_path):
    cmd = [sys.executable, "-m", "lightmeter_host.cli", "board", "virtual", "--runtime", "python",
           "--root", str(tmp_path / "flash"), "--module", "echo_device", "--path", str(app_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    log = []
    reader = threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True)
    try:
        path = proc.stdout.readline().decode().strip()
        assert path.startswith("/dev/")
        reader.start()
        with _open(path) as port:
            port.write(b"cli")
            assert port.read(3) == b"CLI"
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 3
            while b"echo: boot 2\n" not in log and time.monotonic() < deadline:
                time.sleep(0.02)
            port.write(b"ok")
            assert port.read(2) == b"OK"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(2)
    assert b"echo: boot 2\n" in log
    assert any(line.startswith(b"board: stopped") for line in log)
    assert (tmp_path / "flash" / "counter").read_text() == "2"
