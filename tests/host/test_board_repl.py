"""The virtual board's REPL mode: MicroPython's own REPL on the pty, driven by the unmodified mpremote.

mpremote runs two ways: as the command a person types (`.venv/bin/mpremote connect PTY ...`, a
subprocess) and through its Python API (SerialTransport), which is what a provisioning tool
uses. Every test talks to a real board process over its pseudo-terminal; the board runs the
official MicroPython WebAssembly port (a missing runtime fails these tests: it is part of
`make setup`). Boards run unpaced (baud=None) unless a test is about the line.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

from lightmeter_host.runtimes import build
from lightmeter_host.vboard.board import TRANSCRIPT_IN, TRANSCRIPT_OUT, VirtualBoard, read_transcript

MPREMOTE = str(Path(sys.executable).with_name("mpremote"))
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
ALL_BYTES = bytes(range(256)) * 4
KIB = 1024


@pytest.fixture
def make_board(tmp_path):
    boards = []

    def make(root=None, **kw):
        kw.setdefault("baud", None)
        b = VirtualBoard("micropython", root or tmp_path / "flash", repl=True, **kw)
        boards.append(b)
        b.start()
        return b

    yield make
    for b in boards:
        b.stop()


@pytest.fixture
def transports():
    opened = []

    def connect(port):
        t = SerialTransport(port, baudrate=115200)
        opened.append(t)
        return t

    yield connect
    for t in opened:
        try:
            t.close()
        except OSError:  # closed already
            pass


def mpremote(port, *args, timeout=60):
    return subprocess.run([MPREMOTE, "connect", port] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def _read_until(port, ending, timeout=5.0):
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(ending):
        if time.monotonic() > deadline:
            raise AssertionError("no %r within %.1f s; got %r" % (ending, timeout, data))
        data += port.read(1)
    return data


# --- mpremote, the command ---

def test_mpremote_exec_runs_code_on_the_board(make_board):
    b = make_board()
    r = mpremote(b.port, "exec", "import sys; print('hello', sys.implementation.name, 6 * 7)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["hello", "micropython", "42"]


def test_mpremote_copies_binary_and_20k_files_both_ways(make_board, tmp_path):
    b = make_board()
    src = tmp_path / "host"
    src.mkdir()
    (src / "all.bin").write_bytes(ALL_BYTES)  # every byte value, 0x00-0x1f and 0x7f-0xff included
    big = os.urandom(20 * KIB)
    (src / "big.bin").write_bytes(big)
    for name in ("all.bin", "big.bin"):
        r = mpremote(b.port, "fs", "cp", str(src / name), ":" + name)
        assert r.returncode == 0, r.stderr
        back = tmp_path / ("back-" + name)
        r = mpremote(b.port, "fs", "cp", ":" + name, str(back))
        assert r.returncode == 0, r.stderr
        assert back.read_bytes() == (src / name).read_bytes()
    # The host directory is the device's "/": the same files, byte for byte.
    assert (tmp_path / "flash" / "all.bin").read_bytes() == ALL_BYTES
    assert (tmp_path / "flash" / "big.bin").read_bytes() == big


def test_mpremote_ls_mkdir_rm(make_board, tmp_path):
    b = make_board()
    (tmp_path / "x.txt").write_text("twelve bytes")
    assert mpremote(b.port, "fs", "mkdir", ":lib").returncode == 0
    assert mpremote(b.port, "fs", "cp", str(tmp_path / "x.txt"), ":lib/x.txt").returncode == 0
    r = mpremote(b.port, "fs", "ls", ":lib")
    assert r.returncode == 0 and "12 x.txt" in r.stdout, r.stdout  # sizes, as littlefs lists them
    assert (tmp_path / "flash" / "lib" / "x.txt").read_text() == "twelve bytes"
    r = mpremote(b.port, "fs", "mkdir", ":lib")
    assert r.returncode == 1 and "File exists" in r.stderr  # EEXIST is 17 on the device, as on a board
    assert mpremote(b.port, "fs", "rm", ":lib/x.txt").returncode == 0
    assert not (tmp_path / "flash" / "lib" / "x.txt").exists()
    r = mpremote(b.port, "fs", "rm", ":lib/x.txt")
    assert r.returncode == 1 and "No such file or directory" in r.stderr
    assert "x.txt" not in mpremote(b.port, "fs", "ls", ":lib").stdout


def test_mpremote_sha256sum_is_the_files_hash(make_board, tmp_path):
    import hashlib
    b = make_board()
    data = os.urandom(5000)
    (tmp_path / "f").write_bytes(data)
    assert mpremote(b.port, "fs", "cp", str(tmp_path / "f"), ":f").returncode == 0
    r = mpremote(b.port, "fs", "sha256sum", ":f")
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(data).hexdigest() in r.stdout


def test_mpremote_soft_reset_forgets_variables_keeps_files(make_board, tmp_path):
    b = make_board()
    (tmp_path / "keep").write_text("kept")
    assert mpremote(b.port, "fs", "cp", str(tmp_path / "keep"), ":keep").returncode == 0
    # One mpremote run: exec, soft-reset, exec; the variable is gone, the file is not.
    r = mpremote(b.port, "exec", "marker = 1", "soft-reset", "exec",
                 "print('marker' in globals(), open('keep').read())")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "kept"]


def test_mpremote_full_filesystem_is_errno_28(make_board, tmp_path):
    b = make_board(flash_size=64 * KIB)
    r = mpremote(b.port, "df")
    assert r.returncode == 0 and "65536" in r.stdout, r.stdout
    (tmp_path / "huge").write_bytes(os.urandom(100 * KIB))
    r = mpremote(b.port, "fs", "cp", str(tmp_path / "huge"), ":huge")
    assert r.returncode == 1
    assert "No space left on device" in r.stderr, r.stderr


def test_mpremote_on_a_pty_nobody_answers_waits_forever(tmp_path):
    # mpremote reads a pty (/dev/pts/N) with no timeout: against a port with no MicroPython
    # behind it the command neither succeeds nor fails, it waits. A caller needs a deadline of
    # its own (or the API with a timeout, next tests); on a USB serial port it gives up in 10 s.
    master, slave = os.openpty()
    try:
        with pytest.raises(subprocess.TimeoutExpired) as e:
            mpremote(os.ttyname(slave), "exec", "print(1)", timeout=2)
        assert not e.value.stdout
        assert os.read(master, 100).startswith(b"\r\x03")  # it did try to interrupt a program
    finally:
        os.close(master)
        os.close(slave)


# --- mpremote's Python API (what a provisioning tool uses) ---

def test_api_file_operations(make_board, transports):
    b = make_board()
    t = transports(b.port)
    t.enter_raw_repl()
    t.fs_mkdir("/data")
    t.fs_writefile("/data/all.bin", ALL_BYTES)
    assert t.fs_readfile("/data/all.bin") == ALL_BYTES
    assert t.fs_stat("/data/all.bin").st_size == len(ALL_BYTES)
    import hashlib
    assert t.fs_hashfile("/data/all.bin", "sha256") == hashlib.sha256(ALL_BYTES).digest()
    assert [(e.name, e.st_size) for e in t.fs_listdir("/data")] == [("all.bin", len(ALL_BYTES))]
    t.fs_rmfile("/data/all.bin")
    with pytest.raises(OSError) as e:
        t.fs_stat("/data/all.bin")
    assert e.value.errno == 2  # ENOENT, numbered as on a board
    t.fs_rmdir("/data")
    assert t.eval("__import__('os').listdir('/')") == []


def test_api_soft_reset_is_a_fresh_interpreter_on_the_same_files(make_board, transports):
    b = make_board()
    t = transports(b.port)
    t.enter_raw_repl()
    t.fs_writefile("/mod.py", b"VALUE = 1\n")
    t.exec("import mod\nmarker = 'set'")
    assert t.eval("mod.VALUE") == 1
    t.fs_writefile("/mod.py", b"VALUE = 2\n")
    assert t.eval("__import__('mod').VALUE") == 1  # imported once: the module is cached
    t.enter_raw_repl(soft_reset=True)
    assert t.eval("'marker' in globals()") is False
    assert t.eval("__import__('mod').VALUE") == 2  # a fresh interpreter reads the edited file
    assert t.eval("__import__('sys').path") == ["", ".frozen", "/lib"]


def test_api_exec_error_and_full_flash(make_board, transports):
    b = make_board(flash_size=64 * KIB)
    t = transports(b.port)
    t.enter_raw_repl()
    assert t.eval("__import__('os').statvfs('/')") == (4096, 4096, 16, 14, 14, 0, 0, 0, 0, 255)
    t.exec("f = open('fill', 'wb')")
    with pytest.raises(TransportExecError) as e:
        t.exec("for i in range(100):\n f.write(bytes(4096))")
    assert e.value.error_output.rstrip().endswith("OSError: 28"), e.value.error_output
    t.exec("f.close()")
    # What fitted stays (whole blocks: 14 free less none), and the flash reads as full.
    assert t.eval("__import__('os').stat('fill')[6]") == 14 * 4096
    assert t.eval("__import__('os').statvfs('/')[3]") == 0
    with pytest.raises(OSError) as e:
        t.fs_mkdir("/more")
    assert e.value.errno == 28


def test_api_raw_paste_carries_every_byte_value(make_board, transports):
    b = make_board()
    t = transports(b.port)
    t.enter_raw_repl()
    assert t.use_raw_paste
    # Control bytes inside a string literal reach the compiler as they are.
    assert t.eval("len('\x01\x02\x05\x7f')") == 4
    t.exec(b"s = '\x01\x02'\nprint(len(s))")
    assert t.exec("print(ord(s[0]), ord(s[1]))").split() == [b"1", b"2"]
    big = "x = " + repr(ALL_BYTES) + "\nprint(len(x))"  # several flow-control windows
    assert t.exec(big).strip() == str(len(ALL_BYTES)).encode()


def test_api_on_ports_that_are_not_micropython_fail_fast(tmp_path):
    # A pty nobody answers on, and a CPython virtual board (the firmware's link protocol, no
    # REPL): entering the raw REPL fails with TransportError within the timeout given. This is
    # the check a provisioning tool can make before it copies anything.
    master, slave = os.openpty()
    other = VirtualBoard("python", tmp_path / "cpython-board", baud=None)
    try:
        for port in (os.ttyname(slave), other.start()):
            t = SerialTransport(port, baudrate=115200, timeout=0.2)  # reads give up, so
            try:                                                    # timeout_overall applies
                t0 = time.monotonic()
                with pytest.raises(TransportError, match="could not enter raw repl"):
                    t.enter_raw_repl(soft_reset=True, timeout_overall=1)
                assert time.monotonic() - t0 < 3
            finally:
                t.close()
    finally:
        other.stop()
        os.close(master)
        os.close(slave)


def test_board_module_gives_entropy_to_the_firmware(make_board, transports, tmp_path):
    b = make_board()
    t = transports(b.port)
    t.enter_raw_repl()
    assert t.eval("len(bytes(__import__('board').random(32)))") == 32
    # The firmware as a board holds it: compiled by mpy-cross into /lib, loaded as .mpy.
    written = build.compile_firmware(str(tmp_path / "mpy"))
    base = str(tmp_path / "mpy")
    t.fs_mkdir("/lib")
    for d in sorted({os.path.dirname(p) for p in written}):
        for part in range(len(os.path.relpath(d, base).split(os.sep))):
            sub = "/lib/" + "/".join(os.path.relpath(d, base).split(os.sep)[:part + 1])
            if not t.fs_exists(sub):
                t.fs_mkdir(sub)
    for path in written:
        with open(path, "rb") as f:
            t.fs_writefile("/lib/" + os.path.relpath(path, base), f.read(), chunk_size=2048)
    app = "__import__('lightmeter.device.app').device.app"
    assert t.eval(app + ".__file__") == "/lib/lightmeter/device/app.mpy"
    keys = t.eval("[%s.entropy(32) for _ in range(2)]" % app)
    assert len(keys[0]) == 32 and keys[0] != keys[1]


# --- state across power cycles ---

def test_files_persist_across_stop_start_and_power_cut(make_board, transports, tmp_path):
    root = tmp_path / "flash"
    b = make_board(root)
    t = transports(b.port)
    t.enter_raw_repl()
    t.fs_writefile("/a.bin", ALL_BYTES)
    t.close()
    b.stop()
    assert (root / "a.bin").read_bytes() == ALL_BYTES
    b.start()
    t = transports(b.port)
    t.enter_raw_repl()
    assert t.fs_readfile("/a.bin") == ALL_BYTES
    t.exec("open('b.txt', 'w').write('written before the power cut')")
    b.kill()  # SIGKILL: the completed command's file is already on the host
    assert (root / "b.txt").read_text() == "written before the power cut"
    assert sorted(os.listdir(root)) == ["a.bin", "b.txt"]  # no temporary files left behind


# --- the REPL itself, byte for byte ---

def test_raw_soft_reset_prints_what_a_board_prints_and_runs_boot_only(make_board, tmp_path):
    root = tmp_path / "flash"
    root.mkdir()
    (root / "boot.py").write_text("print('boot ran')\n")
    (root / "main.py").write_text("print('main ran')\n")
    b = make_board(root)
    with serial.Serial(b.port, 115200, timeout=5) as port:
        port.write(b"\r\x03\x03\x01")
        _read_until(port, RAW_BANNER)
        port.write(b"\x04")
        reply = _read_until(port, RAW_BANNER)
    assert reply == b"OK\r\nMPY: soft reboot\r\nboot ran\n" + RAW_BANNER


def test_friendly_power_on_and_soft_reset_run_boot_and_main(make_board, tmp_path):
    root = tmp_path / "flash"
    root.mkdir()
    (root / "boot.py").write_text("print('boot ran')\n")
    (root / "main.py").write_text("print('main ran')\nfrom_main = 1\n")
    b = make_board(root)
    with serial.Serial(b.port, 115200, timeout=5) as port:  # opening drops what came before
        port.write(b"\x03from_main\r")  # main.py ran at power-on, in __main__
        _read_until(port, b"from_main\r\n1")
        _read_until(port, b">>> ")
        port.write(b"\x04")  # Ctrl-D on an empty line
        reply = _read_until(port, b">>> ")
        assert reply.startswith(b"\r\nMPY: soft reboot\r\nboot ran\nmain ran\nMicroPython v"), reply
        port.write(b"'from_main' in globals()\r")
        _read_until(port, b"globals()\r\nTrue")  # a fresh interpreter, and main.py ran again


def test_transcript_holds_every_byte_both_ways(make_board, tmp_path):
    log = tmp_path / "uart.log"
    b = make_board(transcript=log)
    r = mpremote(b.port, "exec", "print('over the wire')")
    assert r.returncode == 0
    b.stop()
    records = read_transcript(log)
    sent = b"".join(d for k, d in records if k == TRANSCRIPT_IN)
    got = b"".join(d for k, d in records if k == TRANSCRIPT_OUT)
    assert sent.startswith(b"\r\x03")                       # mpremote interrupts first
    assert b"\x05A\x01" in sent                             # then asks for raw-paste
    assert b"print('over the wire')\x04" in sent
    assert b"R\x01\x80\x00\x01" in got                      # window of 128, one window free
    assert b"over the wire\n\x04\x04>" in got
    assert b"MPY: soft reboot\r\n" in got


def test_transcript_rejects_a_malformed_file(tmp_path):
    bad = tmp_path / "bad.log"
    bad.write_text("H>D 0a\nnonsense\n")
    with pytest.raises(ValueError, match="bad.log:2"):
        read_transcript(bad)


def test_line_rate_is_kept_in_repl_mode(make_board, transports):
    b = make_board(baud=115200)
    t = transports(b.port)
    t.enter_raw_repl()
    t0 = time.monotonic()
    assert len(t.eval("'y' * 11520", parse=False)) == 11520
    assert time.monotonic() - t0 >= 0.9  # 11520 bytes at 11520 bytes/s


def test_repl_mode_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="micropython"):
        VirtualBoard("python", tmp_path, repl=True)
    with pytest.raises(ValueError, match="multiple of 4096"):
        VirtualBoard("micropython", tmp_path, repl=True, flash_size=5000)
    with pytest.raises(ValueError, match="REPL mode only"):
        VirtualBoard("micropython", tmp_path, flash_size=65536)


def test_flash_larger_than_its_size_is_refused_at_power_on(tmp_path):
    root = tmp_path / "flash"
    root.mkdir()
    (root / "big").write_bytes(bytes(100 * KIB))
    b = VirtualBoard("micropython", root, repl=True, flash_size=64 * KIB, baud=None)
    try:
        b.start()
        b.wait_log("board: device program ended (status 2)")
        assert any("more than the 16 of the flash" in line for line in b.log_lines())
    finally:
        b.stop()


# --- hostile input on the line ---

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.binary(max_size=64))
def test_junk_on_the_line_never_wedges_the_repl(make_board, transports, junk):
    # Any bytes at all (control characters, half a raw-paste, a soft reset...), then mpremote
    # must still get the raw REPL and a correct answer.
    b = getattr(make_board, "junk_board", None)  # one board for all the examples
    if b is None:
        b = make_board.junk_board = make_board()
    with serial.Serial(b.port, 115200, timeout=0.05) as port:
        port.write(junk)
        port.read(4096)
    t = transports(b.port)
    t.enter_raw_repl(soft_reset=True, timeout_overall=5)
    assert t.eval("6 * 7") == 42
    t.exit_raw_repl()
    t.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.one_of(
    st.tuples(st.just("write"), st.sampled_from(["a", "b", "d/c"]), st.integers(0, 30000)),
    st.tuples(st.just("append"), st.sampled_from(["a", "b", "d/c"]), st.integers(1, 9000)),
    st.tuples(st.just("remove"), st.sampled_from(["a", "b", "d/c"])),
    st.tuples(st.just("rename"), st.sampled_from(["a", "b", "d/c"]), st.sampled_from(["a", "b", "d/c"])),
    st.tuples(st.just("mkdir"), st.just("d")),
    st.tuples(st.just("rmdir"), st.just("d"))), max_size=8))
def test_flash_accounting_and_host_mirror_agree_with_the_device(make_board, tmp_path, ops):
    # Whatever the device does to a small flash (48 KiB: 12 blocks), (1) it never holds more
    # blocks than the chip has, (2) statvfs tells the truth about what it holds, and (3) after
    # each command the host directory is the device's "/" exactly.
    root = tmp_path / "flash"
    b = getattr(make_board, "small_board", None)
    if b is None:
        b = make_board.small_board = make_board(root, flash_size=48 * KIB)
    t = SerialTransport(b.port, baudrate=115200)
    try:
        t.enter_raw_repl(soft_reset=False)
        t.exec(REMOVE_ALL)
        for op in ops:
            _apply_and_compare(t, root, op)
    finally:
        t.close()


def _apply_and_compare(t, root, op):
    kind, name = op[0], op[1]
    if kind == "write":
        code = "open(%r, 'wb').write(bytes(%d))" % (name, op[2])
    elif kind == "append":
        code = "open(%r, 'ab').write(b'z' * %d)" % (name, op[2])
    elif kind == "rename":
        code = "os.rename(%r, %r)" % (name, op[2])
    else:  # remove, mkdir, rmdir
        code = "os.%s(%r)" % (kind, name)
    t.exec("import os\ntry:\n %s\nexcept OSError as e:\n print(e.errno)" % code)
    device = t.eval(LIST_ALL)
    host = {}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            host["/" + os.path.relpath(p, root)] = -1 if os.path.isdir(p) else os.path.getsize(p)
    assert dict(device) == host, op
    used = 2 + sum(2 if size < 0 else -(-size // 4096) for size in host.values())
    assert used <= 12
    assert t.eval("__import__('os').statvfs('/')[3]") == 12 - used


# Device code: empty the flash; list it as [(path, size or -1 for a directory)].
REMOVE_ALL = """\
import os
def _rm(p):
    for e in os.ilistdir(p):
        q = p.rstrip('/') + '/' + e[0]
        if e[1] == 0x4000:
            _rm(q)
            os.rmdir(q)
        else:
            os.remove(q)
_rm('/')
"""
LIST_ALL = ("(lambda f: f(f, '/'))(lambda f, p: sum(([(p.rstrip('/') + '/' + e[0], -1)] + "
            "f(f, p.rstrip('/') + '/' + e[0]) if e[1] == 0x4000 else [(p.rstrip('/') + '/' + e[0], e[3])] "
            "for e in __import__('os').ilistdir(p)), []))")


def test_cli_repl_board_serves_mpremote_and_saves_on_sigterm(tmp_path):
    import signal
    root = tmp_path / "flash"
    cmd = [sys.executable, "-m", "lightmeter_host.cli", "board", "virtual", "--runtime", "micropython", "--repl",
           "--flash-size", "64K", "--root", str(root), "--baud", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = proc.stdout.readline().decode().strip()
        assert port.startswith("/dev/")
        r = mpremote(port, "exec", "open('from_cli', 'w').write('ok')", "+", "df")
        assert r.returncode == 0, r.stderr
        assert "65536" in r.stdout
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (root / "from_cli").read_text() == "ok"
