"""`lightmeter bench` runs end to end and reports every figure it promises (no timing asserted)."""

import json
import subprocess
import sys

REQUIRED = ("secp256k1_verify_ms", "secp256k1_verify_ms_python_ecdsa", "secp256k1_verify_ms_coincurve",
            "sm2_verify_ms", "sm2_verify_ms_gmssl", "keccak256_200b_ms", "sm3_200b_ms",
            "header4_verify_ms_micropython", "header21_verify_ms_micropython",
            "header21_peak_heap_kb_micropython", "collector_ingest_per_s")


def test_bench_quick_json_reports_every_figure():
    p = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "bench", "--quick", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    for k in REQUIRED:
        assert isinstance(out[k], float) and out[k] > 0, k
    # the heap needed to verify includes the heap needed to load
    assert out["header21_peak_heap_kb_micropython"] > out["header21_loaded_heap_kb_micropython"]


def test_node_bench_quick_reports_rate_and_latency():
    p = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "bench", "--node", "--quick", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["node_transactions"] == 200 and out["node_tx_per_s"] > 0
    assert 1 <= out["node_blocks"] <= 200  # transactions share blocks
    assert 0 < out["node_receipt_proof_ms_median"] <= out["node_receipt_proof_ms_p95"]


def test_sync_bench_quick_reports_heap_for_both_lengths():
    p = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "bench", "--sync", "--quick", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["sync_blocks"] == [10, 40]
    for mode in ("strict", "skipping"):
        for n in (10, 40):
            assert out["sync_%s_heap_kb_%d" % (mode, n)] > 0
            assert out["headers_%s_%d" % (mode, n)] >= 1
    assert out["headers_strict_10"] == 10 and out["headers_strict_40"] == 40


def test_collector_bench_quick_reports_every_path():
    p = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "bench", "--collector", "--quick", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["collector_readings"] == 1000
    assert out["collector_ingest_per_s"] > 0 and out["collector_ingest_pure_per_s"] > 0
    # PostgreSQL is measured wherever a server can be started (CI installs it); otherwise it says why
    assert out.get("collector_ingest_postgresql_per_s", 0) > 0 or out["collector_postgresql"].startswith("not measured")


def test_batch_bench_quick_reports_every_speedup():
    p = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "bench", "--batch", "--quick", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    for tag in ("cpython", "micropython"):
        # against today's single checks, and against single checks with the same kept tables
        # with R hints, and without (every R lifted by the batch itself)
        for k in ("batch_speedup_ecdsa_15_" + tag, "batch_speedup_ecdsa_15_same_tables_" + tag,
                  "batch_speedup_ecdsa_15_no_hints_" + tag, "batch_speedup_ecdsa_15_same_tables_no_hints_" + tag,
                  "sm2_kept_tables_speedup_w5_" + tag):
            assert isinstance(out[k], float) and out[k] > 0, k
        assert out["batch_ecdsa_15_ms_" + tag] > 0 and out["singles_kept_tables_ecdsa_15_ms_" + tag] > 0
        assert out["batch_hinted_ecdsa_15_ms_" + tag] > 0


def test_fleet_bench_reports_every_figure_on_a_small_fleet(tmp_path):
    """bench --fleet on 40 meters x 2 readings (the figures themselves are bench/RESULTS.md's):
    every reading verified on its device, then collected from the stored fleet on SQLite and
    PostgreSQL; --fleet-dir keeps the fleet, and a second run measures on the stored one."""
    cmd = [sys.executable, "-m", "lightmeter_host.cli", "bench", "--fleet", "--json", "--fleet-meters", "40",
           "--fleet-readings", "2", "--fleet-dir", str(tmp_path / "fleet"), "--fleet-runs", "2"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert (out["fleet_meters"], out["fleet_readings"], out["fleet_verified_on_device"]) == (40, 80, 80)
    assert out["ok"] and 0 < out["chain_tx_per_reading"] <= 1 / 40
    assert out["collector_ingest_per_s_sqlite"] > 0
    assert out.get("collector_ingest_per_s_pg", 0) > 0 or out["collector_postgresql"].startswith("not measured")
    if "collector_ingest_per_s_pg" in out:
        # the headline is the two workers' figure (one a core), the one walker's has its own key
        assert out["collector_ingest_per_s_pg"] == out["collector_ingest_per_s_pg_workers2"]
        assert out["batch_vs_single_tx_ingest_pg"] == round(out["collector_ingest_per_s_pg_one_walker"]
                                                            / out["collector_ingest_per_s_pg_single_tx"], 2)
        for v in ("_one_walker", "_workers2", "_overlap", "_threads2_overlap", "_workers2_overlap"):
            assert out["collector_ingest_per_s_pg" + v] > 0
            runs = out["collector_ingest_per_s_pg" + v + "_runs"]  # two runs, the upper median reported
            assert len(runs) == 2 and out["collector_ingest_per_s_pg" + v] == runs[1]
            assert out["pg_server_cpu_us_per_reading" + v] > 0  # COPY and commit cost the server CPU
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0 and "reusing the fleet stored" in p.stderr, p.stderr
    assert json.loads(p.stdout)["fleet_verified_on_device"] == 80
