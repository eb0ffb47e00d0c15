"""A virtual board: the real firmware running on the host, its UART on a pseudo-terminal.

The relay (or pyserial, minicom, anything) opens the board's pty path exactly like the
/dev/ttyUSB0 of a device on a USB-serial adapter. Two runtimes run the device program
(`run(uart, root)` of lightmeter.device.app, or --module):

- python: CPython, `python -m lightmeter_host.vboard.board_python` (board_python.py). Its flash is the host
  directory `root` itself: every file the device writes is on the host at once, even across a
  power cut.
- micropython: the official MicroPython WebAssembly port under Node (board_runner.mjs). The
  firmware is copied to /lib/lightmeter, the files of `root` to /flash (in-memory); a change
  reaches `root` when the device's store calls its commit hook (board.flash_sync), and the whole
  of /flash is saved when the device stops in an orderly way. kill() (a power cut) loses whatever
  was never synced: what survives is exactly what the store committed.

The UART. This process owns the pty (master and slave: the pty path lives as long as the board
object, across resets, and the relay may close and reopen it at will). The device process gets two
pipes, one per direction; a thread here (_Line) moves bytes between them and the pty master at the
line rate: `baud` bits/s, 10 bits a byte (8N1), so 115200 baud carries 11520 bytes/s each way and a
3 KB frame takes 0.27 s, as on a real wire; baud=None moves bytes as fast as the pty goes. The
device's receive pipe is its RX buffer (64 KiB) and its transmit pipe its TX buffer; a side that
stops reading for STALL seconds with its buffer full loses the bytes (an overrun), never the board.
Bytes that arrive while the device is off (killed, not started again yet) are lost, as on a wire.
With `transcript`, every byte crossing the line in either direction is appended to that file
(read_transcript() reads it back): proof of what crossed the link.

The REPL mode (repl=True, micropython runtime only): no device program runs; the UART is
MicroPython's own REPL (board_repl.mjs), as on a USB-connected ESP32 running stock MicroPython,
so mpremote and other tools for real boards work on the pty unchanged: friendly and raw REPL,
raw-paste, soft reset (a fresh interpreter on the same files). The device's whole "/" is the host
directory `root`, file for file, written after every completed REPL command; with flash_size the
flash is that many bytes (a write past it fails with OSError 28, os.statvfs reports it).

The log. The device's stdout and stderr (its log, prints, tracebacks) are collected line by line:
log_lines(), wait_log(), and the on_log callback. Lines this module adds start with "board: ".
"""

import collections
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

from lightmeter_host.runtimes import micropython

from lightmeter_host.errors import BoardError  # the board cannot do what was asked
from lightmeter_host.paths import PROJECT_ROOT
RUNNER = Path(__file__).resolve().with_name("board_runner.mjs")
REPL_RUNNER = Path(__file__).resolve().with_name("board_repl.mjs")
FLASH_BLOCK = 4096   # bytes of a flash block in REPL mode (littlefs on an ESP32 uses 4096)
FIRMWARE_PACKAGE, FIRMWARE_MOUNT = micropython.FIRMWARE_MOUNT  # firmware/lightmeter, /lib/lightmeter

CAP = 65536          # bytes a direction holds before it stops taking more from its source
STALL = 1.0          # seconds a full destination may refuse bytes before they are dropped
STOP_TIMEOUT = 5.0   # seconds an orderly stop may take (micropython saves /flash) before SIGKILL


TRANSCRIPT_IN, TRANSCRIPT_OUT = "H>D", "D>H"  # host to device, device to host


def read_transcript(path):
    """The records of a transcript file: a list of (direction, bytes), direction "H>D" (host to
    device) or "D>H" (device to host), in the order the line carried them."""
    records = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            direction, _, data = line.rstrip("\n").partition(" ")
            if direction not in (TRANSCRIPT_IN, TRANSCRIPT_OUT):
                raise ValueError("%s:%d: not a transcript record" % (path, n))
            records.append((direction, bytes.fromhex(data)))
    return records


class _Wire:
    """One direction of the serial line: bytes wait here until the line rate lets them out."""

    def __init__(self, name, rate, dest, log):
        self.name = name
        self.rate = rate        # bytes per second, or None: no pacing
        self.dest = dest        # fd the bytes go to (non-blocking)
        self.log = log
        self.buf = bytearray()
        self.clock = 0.0        # when the line finishes the bytes already sent
        self.blocked = None     # since when dest has been refusing bytes
        self.dropped = 0

    def feed(self, data, now):
        if not self.buf and self.rate is not None:
            # The line was idle: the first byte is let through at once (it was on the wire while
            # it reached us), the rest follow at the line rate.
            self.clock = max(self.clock, now - 1.0 / self.rate)
        self.buf += data

    def flush(self, now):
        """Write the bytes that are due; return seconds until the next one is (None: nothing waits)."""
        if not self.buf:
            return None
        due = len(self.buf) if self.rate is None else min(len(self.buf), int((now - self.clock) * self.rate))
        if due > 0:
            try:
                sent = os.write(self.dest, memoryview(self.buf)[:due])
            except BlockingIOError:
                sent = 0
            except OSError:  # nobody on the other side (device off, pipe closed): the bytes are lost
                sent = due
            del self.buf[:sent]
            if self.rate is not None:
                self.clock += sent / self.rate
            if sent == due:
                self.blocked = None
            else:
                if self.blocked is None:
                    self.blocked = now
                elif now - self.blocked >= STALL:
                    self.dropped += len(self.buf)
                    self.log("board: %s not read for %.1f s: %d bytes dropped" % (self.name, STALL, len(self.buf)))
                    del self.buf[:]
                    self.blocked = None
                    return None
                if self.rate is not None:
                    self.clock = now  # no credit builds up while the destination is full
        if not self.buf:
            return None
        if self.blocked is not None:
            return max(self.blocked + STALL - now, 0.001)
        if self.rate is None:
            return 0.0
        return max(self.clock + 1.0 / self.rate - now, 0.001)


class _Line(threading.Thread):
    """Moves bytes pty master <-> device pipes, paced by _Wire, until stop()."""

    def __init__(self, master, to_device, from_device, rate, log, transcript=None):
        super().__init__(name="virtual-board-line", daemon=True)
        self.transcript = transcript  # open text file, or None
        self.master = master
        self.from_device = from_device
        self.down = _Wire("device RX", rate, to_device, log)  # host -> device
        self.up = _Wire("host side of the pty", rate, master, log)  # device -> host
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._stopping = False
        self.bytes_down = self.bytes_up = 0

    def stop(self):
        self._stopping = True
        os.write(self._wake_w, b"x")
        self.join()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def run(self):
        device_open = True
        while not self._stopping:
            now = time.monotonic()
            waits = [w for w in (self.down.flush(now), self.up.flush(now)) if w is not None]
            poll = select.poll()
            poll.register(self._wake_r, select.POLLIN)
            master_events = 0
            if len(self.down.buf) < CAP:
                master_events |= select.POLLIN
            if self.up.blocked is not None:
                master_events |= select.POLLOUT
            if master_events:
                poll.register(self.master, master_events)
            if self.down.blocked is not None:
                poll.register(self.down.dest, select.POLLOUT)
            if device_open and len(self.up.buf) < CAP:
                poll.register(self.from_device, select.POLLIN)
            timeout = None if not waits else min(waits) * 1000.0
            events = poll.poll(timeout)
            now = time.monotonic()
            for fd, ev in events:
                if fd == self.master and ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    data = _read_all(self.master)
                    if data is None:  # EIO: no slave end; cannot happen while we hold it, but never spin
                        time.sleep(0.01)
                    elif data:
                        self.bytes_down += len(data)
                        self._record(TRANSCRIPT_IN, data)
                        self.down.feed(data, now)
                elif fd == self.from_device and ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    data = _read_all(self.from_device)
                    if data:
                        self.bytes_up += len(data)
                        self._record(TRANSCRIPT_OUT, data)
                        self.up.feed(data, now)
                    else:  # end of file (or error): the device process is gone
                        device_open = False
                elif fd == self._wake_r:
                    _read_all(self._wake_r)


    def _record(self, direction, data):
        if self.transcript is not None:
            self.transcript.write("%s %s\n" % (direction, data.hex()))
            self.transcript.flush()


def _read_all(fd, limit=CAP):
    """What fd has now (b"" at end of file, None on EIO); fd must be non-blocking."""
    chunks, n = [], 0
    while n < limit:
        try:
            chunk = os.read(fd, limit - n)
        except BlockingIOError:
            break
        except OSError:
            return b"".join(chunks) if chunks else None
        if not chunk:
            break
        chunks.append(chunk)
        n += len(chunk)
    return b"".join(chunks)


class VirtualBoard:
    """A device running the firmware (or MODULE) with its UART on a pseudo-terminal.

    runtime: "python" (CPython) or "micropython" (WebAssembly port, needs node and node_modules/).
    root: host directory holding the device's files (created if missing): its flash.
    module: the module whose coroutine run(uart, root) is the device program.
    baud: line rate to simulate (bits/s, 8N1), None for no pacing.
    paths: host directories to import from before the firmware (copied to /paths/<i> and put on
        sys.path on micropython): stand-in device programs in tests.
    heap: MicroPython GC heap in bytes (default: the port's 1 MiB, which grows on demand).
    on_log: called with each log line (str, no newline) from the log reader thread.
    node_modules: where to find the WebAssembly port instead of the project's node_modules/.
    repl: the UART is MicroPython's REPL (micropython runtime only; module and paths do not
        apply): see the module docstring. flash_size: bytes of flash in REPL mode (a multiple of
        4096, at least 16384), None for no limit. transcript: file every byte crossing the line
        is appended to (see read_transcript), None for none.

    start() returns the pty path; stop() ends everything (the path disappears); kill() cuts the
    power (SIGKILL); restart() = kill() + start(), and keeps the SAME pty path: the pty belongs
    to this object, not to the device process, so an open relay stays connected (it sees
    silence, then the new boot) and may also reopen the path. Not thread-safe: drive a board from
    one thread. Also a context manager (stop() on exit).
    """

    def __init__(self, runtime="python", root=None, module="lightmeter.device.app", baud=115200, *,
                 paths=(), heap=None, on_log=None, node_modules=None, log_limit=10000,
                 repl=False, flash_size=None, transcript=None):
        if runtime not in ("python", "micropython"):
            raise ValueError("runtime must be 'python' or 'micropython', not %r" % (runtime,))
        if repl and runtime != "micropython":
            raise ValueError("repl=True needs runtime='micropython' (the REPL is MicroPython's)")
        if repl and paths:
            raise ValueError("repl=True runs no device program: paths do not apply")
        if flash_size is not None:
            if not repl:
                raise ValueError("flash_size applies to the REPL mode only (repl=True)")
            if isinstance(flash_size, bool) or not isinstance(flash_size, int) \
                    or flash_size < 4 * FLASH_BLOCK or flash_size % FLASH_BLOCK:
                raise ValueError("flash_size must be a multiple of %d bytes, at least %d, not %r"
                                 % (FLASH_BLOCK, 4 * FLASH_BLOCK, flash_size))
        if root is None:
            raise ValueError("root: give the host directory of the device's files")
        if baud is not None and baud <= 0:
            raise ValueError("baud must be positive (or None for no pacing)")
        self.runtime = runtime
        self.root = Path(root).resolve()
        self.module = module
        self.baud = baud
        self.paths = [Path(p).resolve() for p in paths]
        self.heap = heap
        self.node_modules = node_modules
        self.repl = bool(repl)
        self.flash_size = flash_size
        self.transcript = None if transcript is None else Path(transcript).resolve()
        self._transcript_file = None
        self._on_log = on_log
        self._log = collections.deque(maxlen=log_limit)  # (sequence number, line)
        self._log_seq = 0
        self._run_seq = 0   # sequence number of the first line of the current run
        self._log_cond = threading.Condition()
        self._master = self._slave = None
        self.pty_path = None
        self._proc = None
        self._line = None
        self._log_thread = None
        self._ending = None  # why we are ending the device process: "stop" / "kill"

    # --- state ---

    @property
    def alive(self):
        """True while the device process runs."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def port(self):
        """The pty path (what a relay or mpremote opens); None while stopped."""
        return self.pty_path

    @property
    def pid(self):
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self):
        """The last device process's exit status (negative: killed by that signal); None if running."""
        return None if self._proc is None else self._proc.poll()

    # --- log ---

    def _add_log(self, line):
        with self._log_cond:
            self._log.append((self._log_seq, line))
            self._log_seq += 1
            self._log_cond.notify_all()
        if self._on_log is not None:
            try:
                self._on_log(line)
            except Exception:  # a broken callback must not stop the log (the device would block)
                pass

    def log_lines(self, all_runs=False):
        """The device log as a list of lines (the current run only unless all_runs)."""
        with self._log_cond:
            return [line for seq, line in self._log if all_runs or seq >= self._run_seq]

    def wait_log(self, text, timeout=5.0):
        """The first line of the current run containing TEXT, waiting up to TIMEOUT seconds for it;
        TimeoutError (with the log so far) if it does not come."""
        deadline = time.monotonic() + timeout
        with self._log_cond:
            while True:
                for seq, line in self._log:
                    if seq >= self._run_seq and text in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no log line with %r within %.1f s; log:\n%s"
                                       % (text, timeout, "\n".join(l for s, l in self._log if s >= self._run_seq)))
                self._log_cond.wait(left)

    # --- life cycle ---

    def _command(self, rx, tx):
        if self.runtime == "python":
            cmd = [sys.executable, "-m", "lightmeter_host.vboard.board_python", "--root", str(self.root),
                   "--module", self.module, "--rx-fd", str(rx), "--tx-fd", str(tx)]
            for p in self.paths + [FIRMWARE_PACKAGE.parent]:
                cmd += ["--path", str(p)]
            return cmd
        node, port = micropython._require_runtime(self.node_modules)
        if self.repl:
            cmd = [node, str(REPL_RUNNER), "--port", str(port), "--root", str(self.root),
                   "--rx-fd", str(rx), "--tx-fd", str(tx)]
            if self.flash_size is not None:
                cmd += ["--flash-size", str(self.flash_size)]
            if self.heap is not None:
                cmd += ["--heap", str(int(self.heap))]
            return cmd
        cmd = [node, str(RUNNER), "--port", str(port), "--root", str(self.root), "--module", self.module,
               "--rx-fd", str(rx), "--tx-fd", str(tx), "--mount", "%s=%s" % (FIRMWARE_PACKAGE, FIRMWARE_MOUNT)]
        for i, p in enumerate(self.paths):
            cmd += ["--mount", "%s=/paths/%d" % (p, i), "--path", "/paths/%d" % i]
        if self.heap is not None:
            cmd += ["--heap", str(int(self.heap))]
        return cmd

    def start(self):
        """Power the board on; returns the pty path (the same one after a kill() or restart()).
        MicroPythonUnavailable (a RuntimeError) if the micropython runtime is missing."""
        if self.alive:
            raise BoardError("the board is already running (pid %d)" % self._proc.pid)
        self._reap()
        if self.runtime == "micropython":
            micropython._require_runtime(self.node_modules)
        for p in self.paths:
            if not p.is_dir():
                raise BoardError("paths: %s is not a directory" % p)
        self.root.mkdir(parents=True, exist_ok=True)
        if self._master is None:
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)
            os.set_blocking(self._master, False)
            self.pty_path = os.ttyname(self._slave)
        _read_all(self._master, limit=1 << 30)  # what the host sent while the board was off is lost

        rx_r, rx_w = os.pipe()   # host -> device
        tx_r, tx_w = os.pipe()   # device -> host
        log_r, log_w = os.pipe()
        os.set_blocking(rx_r, False)
        os.set_blocking(rx_w, False)
        os.set_blocking(tx_r, False)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        try:
            cmd = self._command(rx_r, tx_w)
            # Own session: a Ctrl-C at the terminal reaches the `lightmeter board` command, which
            # stops the board in order, not the device process directly.
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_w, stderr=log_w,
                                          pass_fds=(rx_r, tx_w), start_new_session=True, env=env,
                                          cwd=str(PROJECT_ROOT))  # -m finds lightmeter_host here
        except BaseException:
            for fd in (rx_r, rx_w, tx_r, tx_w, log_r, log_w):
                os.close(fd)
            raise
        for fd in (rx_r, tx_w, log_w):
            os.close(fd)
        self._ending = None
        with self._log_cond:
            self._run_seq = self._log_seq
        self._add_log("board: %s runtime%s, pid %d, flash %s, UART %s at %s" % (
            self.runtime, " (REPL)" if self.repl else "", self._proc.pid, self.root, self.pty_path,
            "%d baud" % self.baud if self.baud else "full speed"))
        if self.transcript is not None and self._transcript_file is None:
            self.transcript.parent.mkdir(parents=True, exist_ok=True)
            self._transcript_file = open(self.transcript, "a")
        self._line = _Line(self._master, rx_w, tx_r, self.baud / 10.0 if self.baud else None, self._add_log,
                           self._transcript_file)
        self._line.start()
        self._log_thread = threading.Thread(target=self._read_log, args=(log_r, self._proc),
                                            name="virtual-board-log", daemon=True)
        self._log_thread.start()
        return self.pty_path

    def _read_log(self, fd, proc):
        with os.fdopen(fd, "rb") as f:
            for raw in f:
                self._add_log(raw.decode("utf-8", "replace").rstrip("\r\n"))
        code = proc.wait()
        if self._ending == "kill":
            self._add_log("board: power cut (device process killed)")
        elif self._ending == "stop":
            self._add_log("board: stopped (status %d)" % code)
        else:
            self._add_log("board: device program ended (status %d)" % code)

    def _reap(self):
        """Join the threads and close the pipes of a device process that has ended."""
        if self._proc is None:
            return
        self._proc.wait()
        if self._log_thread is not None:
            self._log_thread.join()
            self._log_thread = None
        if self._line is not None:
            self._line.stop()
            os.close(self._line.down.dest)
            os.close(self._line.from_device)
            self._line = None

    def kill(self):
        """Cut the power: SIGKILL the device process. The pty stays; start() or restart() boots again."""
        if self.alive:
            self._ending = "kill"
            self._proc.kill()
        self._reap()

    def restart(self):
        """Reset: kill(), then start() again on the same pty path (returned)."""
        self.kill()
        return self.start()

    def stop(self, timeout=STOP_TIMEOUT):
        """Shut down in order: SIGTERM (micropython saves /flash to root), SIGKILL after TIMEOUT
        seconds; then the pty is closed and its path disappears. start() makes a new one."""
        if self.alive:
            self._ending = "stop"
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._add_log("board: no exit %.1f s after SIGTERM: killed" % timeout)
                self._proc.kill()
        self._reap()
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        self.pty_path = None
        if self._transcript_file is not None:
            self._transcript_file.close()
            self._transcript_file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def check_root(root):
    """ValueError (one line) if root's config.json, when there is one, is not a config the device
    program can start with: a device that cannot read its config stops at start, so say so here
    (with the firmware's own check) rather than print its traceback and serve a dead board."""
    import json
    from lightmeter.device import provision
    from lightmeter.errors import LightmeterError
    path = os.path.join(str(root), "config.json")
    if not os.path.lexists(path):
        return
    try:
        with open(path, "rb") as f:
            data = f.read()
        provision.check_config(json.loads(data.decode("utf-8")))
    except OSError as e:
        raise ValueError("cannot read %s: %s" % (path, e.strerror or e))
    except (ValueError, LightmeterError) as e:
        raise ValueError("%s is not a device config: %s" % (path, str(e).splitlines()[0] if str(e) else e))


def serve(runtime="python", root=None, module="lightmeter.device.app", baud=115200, paths=(), out=None, err=None,
          repl=False, flash_size=None, transcript=None):
    """`lightmeter board virtual`: run a board until SIGINT/SIGTERM; SIGHUP resets it.

    Prints the pty path as the first line of OUT (stdout), flushed, then the device log on ERR
    (stderr). Without ROOT the device gets a fresh temporary directory, deleted at the end.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    tmp = None
    if root is not None and not repl and module == "lightmeter.device.app":
        check_root(root)
    if root is None:
        tmp = tempfile.TemporaryDirectory(prefix="lightmeter-board-")
        root = tmp.name

    def echo(line):
        print(line, file=err, flush=True)

    done = threading.Event()
    reset = threading.Event()

    def on_stop(signum, frame):
        done.set()

    def on_hup(signum, frame):
        reset.set()

    board = VirtualBoard(runtime, root, module, baud, paths=paths, on_log=echo, repl=repl,
                         flash_size=flash_size, transcript=transcript)
    old = {s: signal.signal(s, h) for s, h in ((signal.SIGINT, on_stop), (signal.SIGTERM, on_stop),
                                              (signal.SIGHUP, on_hup))}
    try:
        path = board.start()
        print(path, file=out, flush=True)
        while not done.wait(0.2):
            if reset.is_set():
                reset.clear()
                echo("board: SIGHUP: reset")
                board.restart()
    finally:
        board.stop()
        for s, h in old.items():
            signal.signal(s, h)
        if tmp is not None:
            tmp.cleanup()
    return 0
