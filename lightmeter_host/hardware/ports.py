"""Finding a board's serial port: the USB serial ports whose VID:PID its profile lists.

pyserial's serial.tools.list_ports knows each port's USB vendor and product id (on Linux from
sysfs). Exactly one match is the board; none or several is an error that lists what was seen,
so the operator can pass --port.
"""

from serial.tools import list_ports


class PortError(Exception):
    """No port, or more than one, matches the board; the message lists the ports seen."""


def _describe(p):
    usb = "%04x:%04x" % (p.vid, p.pid) if p.vid is not None and p.pid is not None else "no USB id"
    return "%s (%s, %s)" % (p.device, usb, p.description or "?")


def matching(profile, ports):
    """The ports (ListPortInfo) whose USB id is in the profile's usb list."""
    wanted = set(profile["usb"])
    return [p for p in ports if p.vid is not None and p.pid is not None
            and "%04x:%04x" % (p.vid, p.pid) in wanted]


def detect(profile, ports=None):
    """(device path, its description) of the one port the board can be on; PortError otherwise.
    ports defaults to what the system lists now."""
    ports = list(list_ports.comports()) if ports is None else list(ports)
    found = matching(profile, ports)
    if len(found) == 1:
        return found[0].device, _describe(found[0])
    ids = ", ".join(profile["usb"]) or "none listed"
    if not found:
        seen = "; ".join(_describe(p) for p in ports) or "no serial ports at all"
        raise PortError("no serial port has a USB id of board %s (%s); seen: %s; pass --port"
                        % (profile["name"], ids, seen))
    raise PortError("several ports have a USB id of board %s: %s; pass --port"
                    % (profile["name"], "; ".join(_describe(p) for p in found)))
