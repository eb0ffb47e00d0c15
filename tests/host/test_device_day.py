"""`lightmeter bench --device-day`, scaled down: the same code path (busy chain, set changes,
firmware on MicroPython over the link, pivots) with 4 readings 40 blocks apart."""

from lightmeter_host import bench


def test_a_scaled_down_device_day_verifies_every_reading_at_one_header_a_quiet_reading():
    res = bench.device_day(readings=4, blocks_between=40, set_changes=1, timeout=600)
    assert res["device_day_verified_on_device"] == 4 and res["device_day_rejected_by_device"] == 0
    assert res["device_day_headers_per_reading_median"] <= 2
    assert res["device_day_headers_per_reading_max"] >= 2  # the reading across the change
    assert res["device_day_bytes_per_reading_max"] <= 16 * 1024
