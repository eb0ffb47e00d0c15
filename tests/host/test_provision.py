"""`lightmeter provision` (lightmeter_host/hardware/provision.py with firmware lightmeter.device.provision on the board).

Host-side rules first (no board): the trust file is parsed strictly before anything else, the
config is built from the profile and refuses to let extras replace the identity, and a board's
answer is accepted only if its address derives from its public key. Then, on a virtual board
running real MicroPython behind a stock REPL and driven by mpremote: provisioning, the fleet
entry, keeping and replacing the key, and the key never crossing the serial line.
"""

import base64
import binascii
import json
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from lightmeter_host.vboard import board as board_mod
from lightmeter_host.hardware import boards, devrepl, fleet, provision
from lightmeter_host import cli
from lightmeter.device import store as store_mod
from lightmeter.crypto import suite as suite_mod

ECDSA = suite_mod.get("ecdsa")
REGISTRY = "0x" + "22" * 20


def sealer_ids(n=4):
    return [ECDSA.public_key((k + 1).to_bytes(32, "big")).hex() for k in range(n)]


def trust_doc(crypto="ecdsa"):
    return {"chain_id": "chain0", "group_id": "group0", "crypto": crypto,
            "sealers": [{"node_id": n, "weight": 1} for n in sealer_ids()]}


def write_json(path, obj):
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return str(path)


# -- host side: no board ------------------------------------------------------------------------

@pytest.mark.parametrize("text,why", [
    ("{", "not JSON"),
    ("[]", "expected a JSON object"),
    (json.dumps(dict(trust_doc(), crypto="rsa")), "trust.crypto"),
    (json.dumps(dict(trust_doc(), sealers=[])), "trust.sealers: empty"),
    (json.dumps(dict(trust_doc(), sealers=[{"node_id": "ab", "weight": 1}])), "node_id"),
    (json.dumps(dict(trust_doc(), hash="0x" + "00" * 32)), "trust.hash needs trust.number"),
])
def test_a_wrong_trust_file_is_refused_naming_it(tmp_path, text, why):
    path = write_json(tmp_path / "t.json", text)
    with pytest.raises(provision.ProvisionError) as e:
        provision.read_trust(path)
    assert str(e.value).startswith(path + " is not a trust checkpoint: ") and why in str(e.value)


def test_a_missing_trust_file_is_refused(tmp_path):
    with pytest.raises(provision.ProvisionError, match="cannot read"):
        provision.read_trust(str(tmp_path / "none.json"))


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                     max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["chain_id", "group_id", "crypto", "sealers", "number", "hash"]), _json)
def test_hostile_trust_files_are_refused_cleanly_or_parsed(tmp_path_factory, key, value):
    doc = trust_doc()
    doc[key] = value
    path = write_json(tmp_path_factory.mktemp("t") / "t.json", json.dumps(doc))
    try:
        raw, t = provision.read_trust(path)
    except provision.ProvisionError as e:
        assert str(e).startswith(path + " is not a trust checkpoint: ")
    else:
        assert t.crypto in ("ecdsa", "sm") and t.sealers


def test_config_takes_the_meter_driver_from_the_profile():
    p = boards.load("esp32")
    cfg = provision.build_config(p, "MTR-7", REGISTRY.upper().replace("0X", "0x"), '{"readings": 5}')
    assert cfg == {"meter_id": "MTR-7", "registry": REGISTRY, "board": "esp32", "meter": p["meter"],
                   "link": p["link"], "readings": 5}


@pytest.mark.parametrize("meter_id,registry,extra,why", [
    ("", REGISTRY, None, "--meter-id"),
    ("x" * 65, REGISTRY, None, "--meter-id"),
    ("M", "22" * 20, None, "--registry"),
    ("M", "0x" + "22" * 19, None, "--registry"),
    ("M", "0x" + "zz" * 20, None, "--registry"),
    ("M", REGISTRY, "[1]", "--config-extra must be a JSON object"),
    ("M", REGISTRY, "{", "--config-extra is not JSON"),
    ("M", REGISTRY, '{"meter_id": "other"}', "may not set meter_id"),
    ("M", REGISTRY, '{"meter": {"driver": "s0"}}', "may not set meter"),
    ("M", REGISTRY, '{"link": {"uart": 0}}', "may not set link"),
])
def test_bad_provisioning_input_is_refused(meter_id, registry, extra, why):
    with pytest.raises(provision.ProvisionError) as e:
        provision.build_config(boards.load("esp32"), meter_id, registry, extra)
    assert why in str(e.value)


def test_a_board_answer_is_accepted_only_if_the_address_derives_from_the_key():
    pub = ECDSA.public_key((77).to_bytes(32, "big"))
    addr = ECDSA.address(pub)
    good = {"public_key": "0x" + pub.hex(), "address": "0x" + addr.hex(), "suite": "ecdsa"}
    assert provision.device_answer(good, "ecdsa") == (pub, addr)
    other = ECDSA.address(ECDSA.public_key((78).to_bytes(32, "big")))
    for bad, why in ((dict(good, address="0x" + other.hex()), "not the address of its public key"),
                     (dict(good, suite="sm"), "suite"),
                     (dict(good, public_key="0x" + pub.hex()[:-2]), "malformed"),
                     ({"address": good["address"]}, "malformed")):
        with pytest.raises(devrepl.DeviceError, match=why):
            provision.device_answer(bad, "ecdsa")
    with pytest.raises(devrepl.DeviceError):  # an sm board may not answer with an ecdsa address
        provision.device_answer(dict(good, suite="sm"), "sm")


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=64, max_size=64), st.binary(min_size=20, max_size=20))
def test_hostile_board_answers_never_pass_with_an_address_not_derived(pub, addr):
    ans = {"public_key": "0x" + pub.hex(), "address": "0x" + addr.hex(), "suite": "ecdsa"}
    if ECDSA.address(pub) == addr:
        assert provision.device_answer(ans, "ecdsa") == (pub, addr)
    else:
        with pytest.raises(devrepl.DeviceError):
            provision.device_answer(ans, "ecdsa")


def test_provision_needs_a_port_or_a_board(tmp_path, capsys):
    t = write_json(tmp_path / "t.json", trust_doc())
    assert cli.main(["provision", "--trust", t, "--meter-id", "M"]) == 2
    assert "give --port, or --board" in capsys.readouterr().err


# -- on the virtual board ---------------------------------------------------------------------


def run_cli(*argv):
    return subprocess.run([sys.executable, "-m", "lightmeter_host.cli"] + list(argv),
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """A flashed virtual esp32 board: (VirtualBoard, its port, host dir); stopped at the end."""
    d = tmp_path_factory.mktemp("prov")
    b = board_mod.VirtualBoard(runtime="micropython", root=str(d / "root"), repl=True,
                               transcript=str(d / "uart.txt"), baud=None)
    b.start()
    port = getattr(b, "port", None) or b.pty_path
    r = run_cli("flash", "--board", "esp32", "--port", port)
    assert r.returncode == 0, r.stdout + r.stderr
    state = {"board": b, "port": port, "dir": d, "keys": []}
    yield state
    b.stop()


def power_cycle(state, check=None):
    """Stop the board (its flash is then all on the host), run check(), start it again."""
    state["board"].stop()
    try:
        if check is not None:
            check()
    finally:
        state["board"].start()
        state["port"] = getattr(state["board"], "port", None) or state["board"].pty_path


def device_key(d):
    """The device's private key as stored in its flash (the host mirror of the board's '/')."""
    with open(d / "root" / "data" / "key", "rb") as f:
        payload = store_mod.decode_record(f.read())
    assert payload is not None and payload[:1] == b"\x00" and len(payload) == 33
    return payload[1:]


def test_a_wrong_trust_file_sends_nothing_to_the_board(board, tmp_path):
    before = len(board_mod.read_transcript(board["dir"] / "uart.txt"))
    bad = write_json(tmp_path / "bad.json", dict(trust_doc(), crypto="rsa"))
    r = run_cli("provision", "--port", board["port"], "--trust", bad, "--meter-id", "M1")
    assert r.returncode == 2 and r.stderr.startswith("lightmeter: %s is not a trust checkpoint" % bad)
    assert len(r.stderr.strip().splitlines()) == 1
    # the flash's last bytes may still be arriving; provisioning would start with Ctrl-C, Ctrl-A
    sent = b"".join(data for way, data in board_mod.read_transcript(board["dir"] / "uart.txt")[before:]
                    if way == board_mod.TRANSCRIPT_IN)
    assert b"\x01" not in sent and b"\x03" not in sent
    assert not (board["dir"] / "root" / "data" / "config.json").exists()


def test_provision_installs_config_and_trust_and_adds_a_valid_fleet_entry(board, tmp_path):
    trust = write_json(board["dir"] / "trust.json", trust_doc())
    fleet_path = str(board["dir"] / "fleet.json")
    r = run_cli("provision", "--port", board["port"], "--trust", trust, "--meter-id", "MTR-0001",
                "--registry", REGISTRY, "--fleet", fleet_path, "--config-extra", '{"readings": 2}')
    assert r.returncode == 0, r.stdout + r.stderr
    entries = fleet.load(fleet_path)  # fleet.load checks every entry (address from key...)
    assert len(entries) == 1
    e = entries[0]
    assert (e["meter_id"], e["board"], e["suite"], e["chain_id"], e["registry"]) == \
        ("MTR-0001", "esp32", "ecdsa", "chain0", REGISTRY)
    assert e["address"] in r.stdout and e["public_key"] in r.stdout
    assert "board profile esp32 (from the flash manifest)" in r.stdout
    board["fleet"], board["trust"] = fleet_path, trust

    def on_flash():
        cfg = json.loads((board["dir"] / "root" / "data" / "config.json").read_text())
        assert cfg == {"meter_id": "MTR-0001", "registry": REGISTRY, "board": "esp32",
                       "meter": boards.load("esp32")["meter"], "link": boards.load("esp32")["link"],
                       "readings": 2}
        stored = json.loads((board["dir"] / "root" / "data" / "trust.json").read_text())
        assert stored["chain_id"] == "chain0"
        key = device_key(board["dir"])
        assert "0x" + ECDSA.address(ECDSA.public_key(key)).hex() == e["address"]
        board["keys"].append(key)
    power_cycle(board, on_flash)


def test_reprovisioning_keeps_the_key_and_new_key_adds_a_second_fleet_entry(board):
    first = fleet.load(board["fleet"])[0]
    r = run_cli("provision", "--port", board["port"], "--trust", board["trust"], "--meter-id",
                "MTR-0001", "--registry", REGISTRY, "--fleet", board["fleet"], "--board", "esp32")
    assert r.returncode == 0, r.stderr
    assert "device key: kept" in r.stdout
    assert [e["address"] for e in fleet.load(board["fleet"])] == [first["address"]]
    r = run_cli("provision", "--port", board["port"], "--trust", board["trust"], "--meter-id",
                "MTR-0001", "--registry", REGISTRY, "--fleet", board["fleet"], "--new-key")
    assert r.returncode == 0, r.stderr
    assert "device key: new" in r.stdout
    entries = fleet.load(board["fleet"])
    assert len(entries) == 2 and entries[0]["address"] == first["address"]
    assert entries[1]["address"] != first["address"]

    def on_flash():
        key = device_key(board["dir"])
        assert "0x" + ECDSA.address(ECDSA.public_key(key)).hex() == entries[1]["address"]
        board["keys"].append(key)
    power_cycle(board, on_flash)


def test_the_device_key_never_crosses_the_serial_line(board):
    def on_flash():
        records = board_mod.read_transcript(board["dir"] / "uart.txt")
        streams = [b"".join(data for way, data in records if way == d)
                   for d in (board_mod.TRANSCRIPT_IN, board_mod.TRANSCRIPT_OUT)]
        assert len(board["keys"]) == 2
        # the transcript does hold the provisioning exchange: the code sent, the public keys back
        assert b"provision.run(" in streams[0] and b'"public_key"' in streams[1]
        for key in board["keys"]:
            for form in (key, key.hex().encode(), key.hex().upper().encode(),
                         binascii.b2a_base64(key).strip(), base64.urlsafe_b64encode(key).strip(b"="),
                         repr(key).encode()):
                for stream in streams:
                    assert form not in stream
    power_cycle(board, on_flash)
