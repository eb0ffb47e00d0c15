"""The fleet manifest (lightmeter_host/hardware/fleet.py): what provisioning writes and the collector trusts."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from lightmeter_host.hardware import fleet
from lightmeter.crypto import suite as suite_mod


def entry(key=7, crypto="ecdsa", meter_id="meter-1"):
    s = suite_mod.get(crypto)
    pub = s.public_key(key.to_bytes(32, "big"))
    return {"meter_id": meter_id, "address": "0x" + s.address(pub).hex(), "public_key": "0x" + pub.hex(),
            "suite": crypto, "board": "esp32", "chain_id": "chain0", "group_id": "group0",
            "registry": "0x" + "6c" * 20, "provisioned_at": "2026-11-25T00:00:00Z"}


@pytest.mark.parametrize("ext", ["json", "csv"])
def test_add_then_load_round_trips_both_forms(tmp_path, ext):
    path = tmp_path / ("fleet." + ext)
    a, b = entry(7), entry(8, "sm", "meter-2")
    fleet.add(path, a)
    fleet.add(path, b)
    assert fleet.load(path) == [a, b]
    assert set(fleet.by_address(fleet.load(path))) == {bytes.fromhex(a["address"][2:]), bytes.fromhex(b["address"][2:])}


@pytest.mark.parametrize("ext", ["json", "csv"])
def test_same_address_updates_in_place_new_key_adds_an_entry(tmp_path, ext):
    path = tmp_path / ("fleet." + ext)
    fleet.add(path, entry(7))
    fleet.add(path, dict(entry(7), board="esp32s3"))
    assert [e["board"] for e in fleet.load(path)] == ["esp32s3"]
    fleet.add(path, entry(9))  # the same meter with a new key: both keys stay known
    assert [e["meter_id"] for e in fleet.load(path)] == ["meter-1", "meter-1"]


def test_missing_file_is_an_empty_fleet(tmp_path):
    assert fleet.load(tmp_path / "none.json") == []


def test_address_must_derive_from_the_public_key(tmp_path):
    bad = dict(entry(7), address=entry(8)["address"])
    with pytest.raises(fleet.FleetError, match="not the address of public_key"):
        fleet.add(tmp_path / "f.json", bad)
    assert not (tmp_path / "f.json").exists()


def test_the_suite_decides_the_address(tmp_path):
    # the same key under SM2/SM3 has another address: an ecdsa address labelled "sm" is refused
    with pytest.raises(fleet.FleetError, match="suite sm"):
        fleet.check(dict(entry(7), suite="sm"))


@pytest.mark.parametrize("field,value,message", [
    ("meter_id", "", "meter_id"), ("suite", "rsa", "suite"), ("address", "0x12", "address"),
    ("public_key", "0x" + "zz" * 64, "public_key"), ("registry", "6c" * 20, "registry"), ("board", None, "board"),
])
def test_bad_entries_name_the_field(field, value, message):
    with pytest.raises(fleet.FleetError, match=message):
        fleet.check(dict(entry(), **{field: value}))


def test_bad_files_are_refused_with_their_name(tmp_path):
    p = tmp_path / "f.json"
    p.write_text("{not json")
    with pytest.raises(fleet.FleetError, match="f.json: not JSON"):
        fleet.load(p)
    p.write_text(json.dumps({"version": 2, "devices": []}))
    with pytest.raises(fleet.FleetError, match="version"):
        fleet.load(p)
    e = entry()
    p.write_text(json.dumps({"version": 1, "devices": [e, e]}))
    with pytest.raises(fleet.FleetError, match="listed twice"):
        fleet.load(p)
    with pytest.raises(fleet.FleetError, match=".json or .csv"):
        fleet.load(tmp_path / "f.txt")


def test_a_failed_write_leaves_the_old_manifest(tmp_path):
    path = tmp_path / "f.json"
    fleet.add(path, entry(7))
    before = path.read_bytes()
    with pytest.raises(fleet.FleetError):
        fleet.add(path, dict(entry(8), suite="nope"))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temporary file left behind


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(fleet.FIELDS + ("x",)), st.one_of(st.text(max_size=140), st.integers(), st.none())))
def test_arbitrary_entries_are_valid_or_fleet_errors(d):
    try:
        out = fleet.check(d)
    except fleet.FleetError:
        return
    assert fleet.check(out) == out
