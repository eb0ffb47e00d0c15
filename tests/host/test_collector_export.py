"""`collector export`: CSV, JSON and SenML (RFC 8428) of stored readings with their verification
status. The SenML output is parsed and checked against the RFC's rules: a Pack is an array of
Records (§5), base values apply to the Records after them (§4.1), resolved names use only the
characters §4.5.1 allows, units come from the §12.1 registry, resolved times are absolute
seconds (§4.5.3: values below 2**28 would mean "relative to now"), and no label ends in "_"
(§4.4: such labels are must-understand, a receiver must reject a Pack it cannot understand)."""

import csv
import io
import json
import re
import subprocess
import sys

import pytest

from pgserver import db_url, pg_server  # noqa: F401  (fixtures)
from lightmeter_host.collector import db as db_mod, export
from lightmeter_host.paths import PROJECT_ROOT

ROOT = str(PROJECT_ROOT)
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
REGISTERED = {"W", "V", "A", "m3", "VA", "var", "Hz", "J", "Cel"}  # RFC 8428 §12.1 + RFC 8798 §2
KNOWN_LABELS = {"bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"}
NAME = re.compile(r"^[A-Za-z0-9][-:./_A-Za-z0-9]*$")


def _row(meter, seq, ts, mantissa, scale, unit, clock=0, verified=True, obis="1-0:1.8.0"):
    return {"meter_id": meter, "address": "0x" + meter.encode().hex().ljust(40, "0")[:40], "seq": seq, "obis": obis,
            "value": export.value_of(mantissa, scale), "mantissa": mantissa, "scale": scale, "unit": unit, "ts": ts,
            "clock": clock, "status": 0, "block_number": seq, "tx_index": 0,
            "tx_hash": "0x%s%04d" % (meter.encode().hex(), seq), "reading": b"\xa0", "evidence": "{}",
            "verified": verified, "collected_at": 1}


ROWS = [_row("MTR-1", 1, T0, 1234567, -3, "kWh"), _row("MTR-1", 2, T0 + 900_000, 1236000, -3, "kWh", verified=False),
        _row("MTR-1", 3, 5_000, 1237, 0, "kWh", clock=2),
        _row("MTR-2", 1, T0 + 1000, 2301, -1, "V", obis="1-0:32.7.0"),
        _row("MTR-2", 2, T0 + 2000, 15, 2, "W", obis="1-0:1.7.0"),
        _row("MTR-2", 3, T0 + 3000, 7, 0, "furlong", obis="0-0:96.1.0")]


@pytest.fixture
def database(db_url):
    d = db_mod.open_db(db_url)
    d.add_readings(ROWS)
    yield d
    d.close()


def resolve(pack):
    """RFC 8428 §4.6: each Record with base values applied, names and times resolved."""
    out, base = [], {}
    for rec in pack:
        for k in ("bn", "bt", "bu"):
            if k in rec:
                base[k] = rec[k]
        r = {"n": base.get("bn", "") + rec.get("n", ""), "t": base.get("bt", 0) + rec.get("t", 0)}
        r["u"] = rec.get("u", base.get("bu"))
        for k in ("v", "lm_verified", "lm_unit"):
            if k in rec:
                r[k] = rec[k]
        out.append(r)
    return out


def test_senml_follows_rfc_8428(database):
    pack = json.loads(export.export_text(database, "senml"))
    assert isinstance(pack, list) and all(isinstance(r, dict) for r in pack)  # §5
    for rec in pack:
        for label in rec:
            assert not label.endswith("_")  # §4.4
            assert label in KNOWN_LABELS or label.startswith("lm_")
        assert "v" in rec and isinstance(rec["v"], (int, float))  # exactly one value
        assert isinstance(rec["lm_verified"], bool)
    resolved = resolve(pack)
    assert len(resolved) == 5  # the since-boot reading has no absolute time: left out
    for r in resolved:
        assert NAME.match(r["n"]), r["n"]  # §4.5.1
        assert r["t"] >= 2 ** 28  # §4.5.3: absolute, never relative to now
        assert r["u"] is None or r["u"] in REGISTERED  # §12.1
    by = {(r["n"], round(r["t"] * 1000)): r for r in resolved}
    a = by["urn:dev:os:32473-MTR-1:1-0:1.8.0", T0]
    assert (a["u"], a["v"], a["lm_verified"]) == ("J", 1234567.0 * 3600, True)  # kWh -> J (RFC 8798 §3)
    b = by["urn:dev:os:32473-MTR-1:1-0:1.8.0", T0 + 900_000]
    assert (b["v"], b["lm_verified"]) == (1236000.0 * 3600, False)
    assert by["urn:dev:os:32473-MTR-2:1-0:32.7.0", T0 + 1000]["u"] == "V"
    assert by["urn:dev:os:32473-MTR-2:1-0:32.7.0", T0 + 1000]["v"] == 230.1
    assert by["urn:dev:os:32473-MTR-2:1-0:1.7.0", T0 + 2000]["v"] == 1500.0
    odd = by["urn:dev:os:32473-MTR-2:0-0:96.1.0", T0 + 3000]
    assert odd["u"] is None and odd["lm_unit"] == "furlong"


def test_senml_base_name_names_each_meter_once(database):
    pack = json.loads(export.export_text(database, "senml"))
    assert [r["bn"] for r in pack if "bn" in r] == ["urn:dev:os:32473-MTR-1:", "urn:dev:os:32473-MTR-2:"]


def test_senml_refuses_a_meter_id_a_name_cannot_hold(tmp_path):
    d = db_mod.open_db("sqlite://" + str(tmp_path / "c.db"))
    try:
        d.add_readings([_row("bad meter", 1, T0, 1, 0, "Wh")])
        with pytest.raises(export.ExportError, match="4.5.1"):
            export.export_text(d, "senml")
    finally:
        d.close()


def test_csv_has_every_row_with_its_status_and_time(database):
    rows = list(csv.DictReader(io.StringIO(export.export_text(database, "csv"))))
    assert len(rows) == 6 and tuple(rows[0]) == export.COLUMNS
    first = [r for r in rows if (r["meter_id"], r["seq"]) == ("MTR-1", "1")][0]
    assert (first["meter_id"], first["time"], first["value"], first["verified"]) == \
        ("MTR-1", "2026-01-01T00:00:00.000Z", "1234.567", "True")
    assert [r["time"] for r in rows if r["clock"] == "2"] == [""]


def test_json_filters_by_meter_and_inclusive_times(database):
    got = json.loads(export.export_text(database, "json", meter="MTR-2", t_from=T0 + 1000, t_to=T0 + 2000))
    assert [(r["meter_id"], r["seq"]) for r in got] == [("MTR-2", 1), ("MTR-2", 2)]
    assert got[0]["verified"] is True and got[0]["tx_hash"].startswith("0x")


@pytest.mark.parametrize("text, ms", [("2026-01-01T00:00:00Z", T0), ("2026-01-01T00:00:00", T0),
                                      ("2026-01-01T01:00:00+01:00", T0), ("1767225600000", T0),
                                      ("2026-01-01", T0)])
def test_times_are_iso_8601_or_milliseconds(text, ms):
    assert export.parse_time(text) == ms


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "12:00", ""])
def test_a_bad_time_is_refused(text):
    with pytest.raises(export.ExportError):
        export.parse_time(text)


def test_cli_export_senml_to_a_file_and_bad_time(tmp_path):
    url = "sqlite://" + str(tmp_path / "c.db")
    d = db_mod.open_db(url)
    d.add_readings(ROWS)
    d.close()
    out = tmp_path / "out.json"
    r = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "collector", "export", "--db", url, "--format",
                        "senml", "--to", "2030-01-01T00:00:00Z", "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(out.read_text())) == 5 and "since-boot" in r.stderr
    r = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "collector", "export", "--db", url, "--format",
                        "csv", "--from", "soon"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2 and "ISO 8601" in r.stderr and "Traceback" not in r.stderr
