"""`lightmeter bench` runs end to end and reports every figure it promises (no timing asserted)."""

import json
import subprocess
import sys

REQUIRED = ("secp256k1_verify_ms", "secp256k1_verify_ms_python_ecdsa", "secp256k1_verify_ms_coincurve",
            "sm2_verify_ms", "sm2_verify_ms_gmssl", "keccak256_200b_ms", "sm3_200b_ms",
            "header4_verify_ms_micropython", "header21_verify_ms_micropython",
            "header21_peak_heap_kb_micropython")


def test_bench_quick_json_reports_every_figure():
    p = subprocess.run([sys.executable, "-m", "host_tools.cli", "bench", "--quick", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    for k in REQUIRED:
        assert isinstance(out[k], float) and out[k] > 0, k
    # the heap needed to verify includes the heap needed to load
    assert out["header21_peak_heap_kb_micropython"] > out["header21_loaded_heap_kb_micropython"]
