"""`lightmeter fleet simulate` (lightmeter_host.fleetsim): a small district, every reading verified on
its own device, far fewer chain transactions than readings (proto/batch.md)."""

import json

from lightmeter_host import cli, fleetsim


def test_300_meters_two_readings_each_verified_on_device_with_one_tx_per_256_or_fewer():
    s = fleetsim.simulate(300, 2, concentrators=1, batch_max=1024, batch_ms=3000, block_ms=200, poll_ms=300)
    out = fleetsim.public(s)
    assert out["ok"], out
    assert out["fleet_meters"] == 300 and out["fleet_readings"] == 600
    assert out["fleet_verified_on_device"] == 600 and out["still_queued"] == 0
    assert out["rejected_by_devices"] == 0
    assert out["chain_tx_per_reading"] <= 1 / 256, out
    # the devices' word checked against the chain: each root on chain once, counts adding up
    chain, concs = s["_chain"], s["_concentrators"]
    assert out["chain_txs"] == sum(len(c.batches) for c in concs)
    assert sum(len(b.leaves) for c in concs for b in c.batches) == 600


def test_cli_fleet_simulate_prints_the_summary_as_json(capsys):
    assert cli.main(["fleet", "simulate", "--meters", "12", "--readings", "1", "--concentrators", "2",
                     "--batch-max", "4", "--batch-ms", "500", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fleet_meters"] == 12 and out["fleet_verified_on_device"] == 12
    assert out["concentrators"] == 2 and out["chain_tx_per_reading"] <= 0.5


def test_cli_fleet_simulate_refuses_nonsense(capsys):
    assert cli.main(["fleet", "simulate", "--meters", "0"]) == 2


def test_demo_batch_with_a_board_and_in_process_meters(capsys):
    # one virtual board (CPython firmware on a pty, through the relay's port code) and four meters
    # in process, all through one concentrator
    assert cli.main(["demo", "--batch", "--meters", "5", "--readings", "2", "--runtime", "python",
                     "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["verified_on_device"] == 10 and out["verified_on_board"] == 2
    assert out["chain_txs"] < 10 and out["ok"]


def test_demo_meters_needs_batch(capsys):
    assert cli.main(["demo", "--meters", "3"]) == 2
