"""From the bench to the utility: a board flashed and provisioned through unmodified mpremote runs
the firmware from that same flash, its readings reach the chain through the relay, and the
collector accepts them because of the fleet entry provisioning wrote — and only because of it."""

import json

from lightmeter_host import cli, demo
from lightmeter_host.hardware import fleet
from lightmeter_host.vboard.board import VirtualBoard
from lightmeter_host.collector import ingest

from nodeutil import start_node, trust_of, wait_results

READINGS = 2


def test_a_provisioned_board_signs_readings_the_collector_accepts(tmp_path):
    srv, client = start_node()
    trust = dict(trust_of(client, "ecdsa"), number=0, hash=client("getBlockHashByNumber", 0))
    (tmp_path / "trust.json").write_text(json.dumps(trust))
    flash_dir, fleet_path = tmp_path / "flash", tmp_path / "fleet.json"
    board = VirtualBoard("micropython", root=str(flash_dir), repl=True, baud=None)
    device = relay = None
    try:
        port = board.start()
        assert cli.main(["flash", "--board", "virtual", "--port", port]) == 0
        extra = {"readings": READINGS, "exit_when_done": True, "interval_ms": 100, "timeout_ms": 1500}
        assert cli.main(["provision", "--port", port, "--trust", str(tmp_path / "trust.json"),
                         "--meter-id", "MTR-BENCH-1", "--fleet", str(fleet_path),
                         "--config-extra", json.dumps(extra)]) == 0
        board.stop()
        [entry] = fleet.load(fleet_path)
        assert (entry["meter_id"], entry["board"]) == ("MTR-BENCH-1", "virtual")

        # the same flash, now running the device program; its pseudo-terminal is the link
        data = flash_dir / "data"
        device = VirtualBoard("micropython", root=str(data), baud=None)
        relay = demo.Relay(device.start(), srv.url, 0.0)
        res = wait_results(data, lambda r: r.get("verified", 0) >= READINGS, 180)
        assert (res or {}).get("verified") == READINGS, device.log_lines()

        db = "sqlite://" + str(tmp_path / "collector.db")
        got = ingest.collect(srv.url, trust, fleet.load(fleet_path), db)
        assert (got["verified"], got["rejected"]) == (READINGS, 0), got
        # without the fleet entry the same readings are refused, none stored
        other = dict(entry, meter_id="MTR-OTHER")
        stranger = fleet.check(dict(other, **_other_key()))
        got = ingest.collect(srv.url, trust, [stranger], "sqlite://" + str(tmp_path / "c2.db"))
        assert got["verified"] == 0 and got["rejected"] == READINGS, got
    finally:
        if relay is not None:
            relay.stop()
        if device is not None:
            device.stop()
        board.stop()
        srv.stop()


def _other_key():
    from lightmeter.crypto import suite as suite_mod
    s = suite_mod.get("ecdsa")
    pub = s.public_key((12345).to_bytes(32, "big"))
    return {"public_key": "0x" + pub.hex(), "address": "0x" + s.address(pub).hex()}
