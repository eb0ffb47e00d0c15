"""The fleet manifest: which device keys belong to which meters.

Provisioning appends one entry per device (`lightmeter provision`), the collector reads it to
decide whose readings it accepts. A device is known by its address (derived from the public key it
generated itself); a meter that was given a new key has one entry per key, all valid for the
readings signed while each was in use.

Two file forms with the same fields, chosen by the file's extension: `.json`
(`{"version": 1, "devices": [...]}`) and `.csv` (a header row with the field names).

Fields of an entry (all text):
  meter_id        the meter's identity, as in its readings (reading field 0)
  address         0x + 40 hex digits, lower case: the account that signs its transactions
  public_key      0x + 128 hex digits: the 64-byte public key (x || y) the address derives from
  suite           "ecdsa" (secp256k1 + Keccak-256) or "sm" (SM2 + SM3)
  board           the board profile it was provisioned as (boards/)
  chain_id, group_id, registry
                  where its readings go: the chain, the group, the MeterRegistry address (0x...)
  provisioned_at  ISO 8601 UTC time of provisioning
"""

import csv
import io
import json
import os

from lightmeter.crypto import suite as suite_mod

FIELDS = ("meter_id", "address", "public_key", "suite", "board", "chain_id", "group_id", "registry",
          "provisioned_at")
VERSION = 1


class FleetError(ValueError):
    """A manifest that cannot be read or an entry that is not valid; names the file and entry."""


def _hex(value, nbytes, what, where):
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 2 + 2 * nbytes:
        raise FleetError("%s: %s must be 0x + %d hex digits" % (where, what, 2 * nbytes))
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise FleetError("%s: %s is not hex" % (where, what)) from None


def check(entry, where="fleet entry"):
    """The entry, normalised (lower-case hex), if it is valid; FleetError naming the field if not.

    The address must be the one the public key derives from under the entry's suite, so a
    manifest cannot bind a meter to a key it does not hold."""
    if not isinstance(entry, dict):
        raise FleetError("%s: expected an object" % where)
    for f in FIELDS:
        if not isinstance(entry.get(f), str):
            raise FleetError("%s: field %r missing or not text" % (where, f))
    if not entry["meter_id"] or len(entry["meter_id"].encode()) > 64:
        raise FleetError("%s: meter_id must be 1 to 64 bytes" % where)
    if entry["suite"] not in ("ecdsa", "sm"):
        raise FleetError("%s: suite must be 'ecdsa' or 'sm'" % where)
    out = dict(entry)
    addr = _hex(entry["address"].lower(), 20, "address", where)
    pub = _hex(entry["public_key"].lower(), 64, "public_key", where)
    _hex(entry["registry"].lower(), 20, "registry", where)
    if suite_mod.get(entry["suite"]).address(pub) != addr:
        raise FleetError("%s: address %s is not the address of public_key under suite %s"
                         % (where, entry["address"], entry["suite"]))
    for f in ("address", "public_key", "registry"):
        out[f] = entry[f].lower()
    return out


def _parse(text, path):
    if path.endswith(".csv"):
        rows = list(csv.DictReader(io.StringIO(text)))
        return [check(r, "%s row %d" % (path, i + 2)) for i, r in enumerate(rows)]
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise FleetError("%s: not JSON (%s)" % (path, e)) from None
    if not isinstance(doc, dict) or doc.get("version") != VERSION or not isinstance(doc.get("devices"), list):
        raise FleetError('%s: expected {"version": %d, "devices": [...]}' % (path, VERSION))
    return [check(d, "%s device %d" % (path, i)) for i, d in enumerate(doc["devices"])]


def load(path):
    """The manifest's entries in file order; [] if the file does not exist."""
    path = str(path)
    if not (path.endswith(".json") or path.endswith(".csv")):
        raise FleetError("%s: a fleet manifest is a .json or .csv file" % path)
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    except UnicodeDecodeError as e:
        raise FleetError("%s: not UTF-8 text (byte %d)" % (path, e.start))
    entries = _parse(text, path)
    seen = set()
    for e in entries:
        if e["address"] in seen:
            raise FleetError("%s: address %s listed twice" % (path, e["address"]))
        seen.add(e["address"])
    return entries


def by_address(entries):
    """{20-byte address: entry}."""
    return {bytes.fromhex(e["address"][2:]): e for e in entries}


def _dump(entries, path):
    if path.endswith(".csv"):
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(entries)
        return buf.getvalue()
    return json.dumps({"version": VERSION, "devices": entries}, indent=2) + "\n"


def add(path, entry):
    """Add a device (or update the entry with its address, e.g. re-provisioned with the same key),
    writing the manifest atomically: a crash leaves the old file or the new one, never half."""
    from lightmeter_host import outfile
    path = str(path)
    entry = check(entry, "new entry")
    entries = [e for e in load(path) if e["address"] != entry["address"]]
    entries.append(entry)
    text = _dump(entries, path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    writable(path)
    outfile.write_text(path, text)
    return entry


def writable(path):
    """FleetError unless path is a manifest add() can write: a regular file (or a link to one) or
    a new path. A manifest is read, merged and replaced, so a device or FIFO will not do."""
    from lightmeter_host import outfile
    try:
        _, how = outfile.target(str(path))
    except outfile.OutputError as e:
        raise FleetError("%s: %s" % (path, e))
    if how != "replace":
        raise FleetError("%s: a fleet manifest must be a regular file" % path)
