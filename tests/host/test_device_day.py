"""`lightmeter bench --device-day`, scaled down: the same code path (busy chain, set changes,
firmware on MicroPython over the link, pivots) with 4 readings 40 blocks apart."""

import pytest

from lightmeter_host import bench
from lightmeter_host.runtimes import mcu as mcu_runner


def test_a_scaled_down_device_day_verifies_every_reading_at_one_header_a_quiet_reading():
    res = bench.device_day(readings=4, blocks_between=40, set_changes=1, timeout=600)
    assert res["device_day_verified_on_device"] == 4 and res["device_day_rejected_by_device"] == 0
    assert res["device_day_blocks"] >= 4 * 40
    assert res["device_day_headers_per_reading_median"] <= 2
    assert res["device_day_headers_per_reading_max"] >= 2  # the reading across the change
    assert res["device_day_bytes_per_reading_max"] <= 16 * 1024
    assert res["device_day_bytes_per_reading_median"] <= 3 * 1024
    # the median reading's bytes, by message type and direction, add up to its total
    by_type = res["device_day_median_reading_bytes_by_type"]
    assert by_type["out 12"] > 0 and by_type["in 9"] > 0  # its receipt answer, its submission
    assert res["device_day_bytes_per_reading_median"] == sum(v for k, v in by_type.items() if k != "resent")
    assert len(res["device_day_resent_bytes_per_reading"]) == 4


def test_one_reading_of_the_day_on_the_32_bit_port():
    try:
        mcu_runner.executable("m0")
    except mcu_runner.McuError as e:
        pytest.skip(str(e))
    res = bench.device_day_mcu()
    steps = res["device_day_minstr_per_reading_steps"]
    assert set(steps) == {"decode", "header", "proofs", "store", "sign"}
    assert res["device_day_minstr_per_reading"] == pytest.approx(sum(steps.values()), abs=0.05)
    assert steps["header"] > steps["proofs"] > 0  # the quorum's signatures cost the most
