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
