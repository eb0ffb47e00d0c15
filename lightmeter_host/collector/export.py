"""`lightmeter collector export`: stored readings as CSV, JSON or SenML, with their verification status.

SenML is the JSON representation of RFC 8428 (media type application/senml+json):
- one Pack, a JSON array of Records (§4, §5); per meter, its first Record carries the base
  name "bn" (§4.1, §4.5.1): a device URN (RFC 9039 §3.4, "urn:dev:os:<PEN>-<meter id>:") to
  which each Record's name "n", the OBIS code, is appended;
- "u" is a unit of the SenML Units registry (§12.1, with the primary units RFC 8798 §2 added:
  VA, var): W, V, A, m3 ... pass through; energy in Wh, kWh or MWh is given in joules (J,
  1 Wh = 3600 J), since Wh and kWh are only "secondary units" (RFC 8798 §3), which a SenML
  Pack cannot carry in "u"; kW, kVA, kvar are scaled to W, VA, var; a unit outside the registry
  is left out of "u" and kept in "lm_unit";
- "v" the value (§4.2); time (§4.5.3) is in seconds since the Unix epoch: the first Record of
  each meter carries the base time "bt" (absolute, far above 2**28) and every Record "t"
  relative to it, so resolved times bt + t are absolute, never "relative to now";
- the verification status goes in "lm_verified": a field name NOT ending in "_" (§4.4: a label
  ending in "_" is must-understand, and a receiver that does not know it must reject the whole
  Pack; the status is information a receiver may safely ignore).
Readings whose clock counted from boot (clock 2) have no absolute time: SenML leaves them out
(CSV and JSON keep them).
"""

import csv
import datetime
import io
import json
import re

from lightmeter_host.collector.ingest import value_of

FORMATS = ("csv", "json", "senml")
COLUMNS = ("meter_id", "address", "seq", "time", "ts", "clock", "obis", "value", "mantissa", "scale", "unit",
           "status", "block_number", "tx_hash", "verified")
DEFAULT_PEN = "32473"  # the IANA Private Enterprise Number set aside for documentation (RFC 5612)
# SenML Units registry (RFC 8428 §12.1) entries a meter reports, and the scaled forms converted to them
SENML_UNITS = ("W", "V", "A", "m3", "VA", "var", "Hz", "J", "Cel")
# unit: (SenML unit, decimal shift, factor)
CONVERT = {"Wh": ("J", 0, 3600), "kWh": ("J", 3, 3600), "MWh": ("J", 6, 3600), "kW": ("W", 3, 1),
           "MW": ("W", 6, 1), "kVA": ("VA", 3, 1), "kvar": ("var", 3, 1)}
_NAME = re.compile(r"^[A-Za-z0-9][-:./_A-Za-z0-9]*$")  # RFC 8428 §4.5.1
SINCE_BOOT = 2
BATCH = 1000


class ExportError(Exception):
    """A bad time, meter id or format: a usage error."""


def parse_time(text):
    """Milliseconds since the epoch from ms digits or ISO 8601 (no zone: UTC)."""
    t = text.strip()
    if re.fullmatch(r"-?\d+", t):
        return int(t)
    try:
        d = datetime.datetime.fromisoformat(t[:-1] + "+00:00" if t.endswith("Z") else t)
    except ValueError:
        raise ExportError("%r is neither milliseconds since the epoch nor an ISO 8601 time" % text)
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return int(round(d.timestamp() * 1000))


def iso(ms):
    try:
        return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return ""


def rows(database, meter=None, t_from=None, t_to=None):
    """The stored readings (columns of COLUMNS but time) ordered by meter, ts, seq, in batches."""
    cols = [c for c in COLUMNS if c != "time"] + ["id"]
    where, params = [], []
    if meter is not None:
        where.append("meter_id = ?")
        params.append(meter)
    if t_from is not None:
        where.append("ts >= ?")
        params.append(t_from)
    if t_to is not None:
        where.append("ts <= ?")
        params.append(t_to)
    sql = "SELECT %s FROM readings%s ORDER BY meter_id, ts, seq, id" % (
        ", ".join(cols), " WHERE " + " AND ".join(where) if where else "")
    offset = 0
    while True:
        batch = database.query(sql + " LIMIT %d OFFSET %d" % (BATCH, offset), params)
        for r in batch:
            r["verified"] = bool(r["verified"])
            r.pop("id")
            yield r
        if len(batch) < BATCH:
            return
        offset += BATCH


def _with_time(r):
    out = dict(r)
    out["time"] = iso(r["ts"]) if r["clock"] != SINCE_BOOT else ""
    return {k: out[k] for k in COLUMNS}


def to_csv(readings, out):
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    n = 0
    for r in readings:
        w.writerow(_with_time(r))
        n += 1
    return n


def to_json(readings, out):
    out.write("[")
    n = 0
    for r in readings:
        out.write(("," if n else "") + "\n" + json.dumps(_with_time(r), sort_keys=False))
        n += 1
    out.write("\n]\n")
    return n


def senml_unit(unit, mantissa, scale):
    """(SenML unit or None, value) for a reading's unit and decimal value."""
    if unit in SENML_UNITS:
        return unit, value_of(mantissa, scale)
    if unit in CONVERT:
        u, shift, factor = CONVERT[unit]
        return u, value_of(mantissa * factor, scale + shift)
    return None, value_of(mantissa, scale)


def base_name(meter_id, pen=DEFAULT_PEN):
    bn = "urn:dev:os:%s-%s:" % (pen, meter_id)
    if not _NAME.match(bn):
        raise ExportError("meter id %r cannot be part of a SenML name (RFC 8428 §4.5.1 allows A-Z a-z 0-9 - : . / _)"
                          % meter_id)
    return bn


def to_senml(readings, out, pen=DEFAULT_PEN):
    """Write one SenML Pack; returns (records written, readings left out for a since-boot clock)."""
    records, skipped = [], 0
    meter = bt = None
    for r in readings:
        if r["clock"] == SINCE_BOOT:
            skipped += 1
            continue
        rec = {}
        t = r["ts"] / 1000
        if r["meter_id"] != meter:
            meter, bt = r["meter_id"], t
            rec["bn"] = base_name(meter, pen)
            rec["bt"] = bt
        name = rec.get("bn", base_name(meter, pen)) + r["obis"]
        if not _NAME.match(name):
            raise ExportError("OBIS code %r of meter %r cannot be part of a SenML name" % (r["obis"], meter))
        u, v = senml_unit(r["unit"], r["mantissa"], r["scale"])
        rec["n"] = r["obis"]
        if u is not None:
            rec["u"] = u
        else:
            rec["lm_unit"] = r["unit"]
        rec["v"] = v
        rec["t"] = round(t - bt, 3)
        rec["lm_verified"] = r["verified"]
        records.append(rec)
    out.write("[" + ",\n ".join(json.dumps(x) for x in records) + "]\n")
    return len(records), skipped


def export(database, fmt, out, meter=None, t_from=None, t_to=None, pen=DEFAULT_PEN):
    """Write the readings in fmt to the text stream out; returns (written, left out)."""
    if fmt not in FORMATS:
        raise ExportError("format must be one of %s" % ", ".join(FORMATS))
    it = rows(database, meter, t_from, t_to)
    if fmt == "csv":
        return to_csv(it, out), 0
    if fmt == "json":
        return to_json(it, out), 0
    return to_senml(it, out, pen)


def export_text(database, fmt, **kw):
    buf = io.StringIO()
    export(database, fmt, buf, **kw)
    return buf.getvalue()
