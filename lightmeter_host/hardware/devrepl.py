"""A MicroPython board's raw REPL, driven by mpremote's SerialTransport.

`lightmeter flash` and `lightmeter provision` talk to a board only through this: open the port,
enter the raw REPL (Ctrl-C, Ctrl-A, soft reset), run code, read what it prints. Errors become one
line: DeviceUnreachable (nothing answers like a MicroPython REPL), DeviceFull (the device's
filesystem raised OSError 28, ENOSPC), DeviceError (anything else the device raised).
"""

import contextlib
import io
import json

from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

ENOSPC = 28


class DeviceError(RuntimeError):
    """The device raised, or answered something unexpected."""


class DeviceUnreachable(DeviceError):
    """The port cannot be opened, or no MicroPython REPL answers on it."""


class DeviceFull(DeviceError):
    """The device's filesystem is full."""


def is_full(text):
    """Whether a device traceback (or OSError text) says the filesystem is full."""
    return "ENOSPC" in text or "OSError: 28" in text or "Errno 28" in text


def _last_line(text):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else "(no output)"


class Repl:
    """An open raw REPL on port. Use as a context manager; `close` leaves the friendly REPL."""

    def __init__(self, port, timeout=5.0, baud=115200):
        self.port = port
        quiet = io.StringIO()  # mpremote prints what it got when the REPL does not answer
        try:
            with contextlib.redirect_stdout(quiet):
                self.transport = SerialTransport(port, baudrate=baud, timeout=0.05)
        except (TransportError, OSError) as e:
            raise DeviceUnreachable("cannot open %s: %s" % (port, e)) from None
        try:
            with contextlib.redirect_stdout(quiet):
                self.transport.enter_raw_repl(soft_reset=True, timeout_overall=timeout)
        except (TransportError, OSError) as e:
            self.transport.close()
            raise DeviceUnreachable(
                "no MicroPython REPL answered on %s within %g s (is MicroPython on the board, "
                "and no other program using the port?)" % (port, timeout)) from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.transport.exit_raw_repl()
        except Exception:  # the port may already be gone (board unplugged)
            pass
        try:
            self.transport.close()
        except Exception:
            pass

    def run(self, code, timeout=30):
        """What code prints (text); DeviceFull / DeviceError if it raises on the device."""
        try:
            out, err = self.transport.exec_raw(code, timeout=timeout)
        except TransportError as e:
            raise DeviceError("the device stopped answering on %s: %s" % (self.port, e)) from None
        if err:
            text = err.decode("utf-8", "replace")
            if is_full(text):
                raise DeviceFull("device filesystem full")
            raise DeviceError("device: %s" % _last_line(text))
        return out.decode("utf-8", "replace")

    def run_json(self, code, timeout=30):
        """The JSON value code prints on its last line."""
        out = self.run(code, timeout)
        try:
            return json.loads(_last_line(out))
        except ValueError:
            raise DeviceError("device: unexpected answer %r" % out[-200:]) from None

    def write_file(self, path, data, chunk=1024):
        """Write bytes to path on the device (mpremote fs_writefile)."""
        try:
            self.transport.fs_writefile(path, data, chunk_size=chunk)
        except OSError as e:
            if e.errno == ENOSPC:
                raise DeviceFull("device filesystem full") from None
            raise DeviceError("device: cannot write %s: %s" % (path, e)) from None
        except TransportExecError as e:
            if is_full(e.error_output):
                raise DeviceFull("device filesystem full") from None
            raise DeviceError("device: cannot write %s: %s" % (path, _last_line(e.error_output))) from None
        except TransportError as e:
            raise DeviceError("the device stopped answering on %s: %s" % (self.port, e)) from None

    def info(self):
        """{"name", "machine", "platform", "version", "mpy"} of the running interpreter."""
        return self.run_json(
            "import sys, json\n"
            "i = sys.implementation\n"
            "print(json.dumps({'name': i.name, 'machine': getattr(i, '_machine', ''),"
            " 'platform': sys.platform, 'version': list(i.version)[:3],"
            " 'mpy': getattr(i, '_mpy', None), 'path': list(sys.path)}))\n")
