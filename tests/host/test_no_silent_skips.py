"""A full run skips nothing `make test` promises (tests/conftest.py): a test skipped because
Chromium, PostgreSQL or the mcu port is missing fails the run, with its reason, unless
ALLOW_SKIP=1 asks for a partial run; other skips are reported and pass (issue #12)."""

import os
import subprocess
import sys

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(tmp_path, reason, allow):
    (tmp_path / "test_one.py").write_text(
        "import pytest\n\ndef test_it():\n    pytest.skip(%r)\n" % reason)
    env = dict(os.environ, PYTHONPATH=TESTS)
    env.pop("ALLOW_SKIP", None)
    if allow:
        env["ALLOW_SKIP"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-rs",
                           "-c", os.devnull, "--rootdir", str(tmp_path), str(tmp_path / "test_one.py")],
                          capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=120)


@pytest.mark.parametrize("reason", ["PostgreSQL binaries not found under /usr/lib/postgresql/*/bin",
                                    "needs Debian's chromium and chromium-driver (/usr/bin/chromium, x)",
                                    "/work/x/mcu/build-m0/firmware.elf is not built: run `make -C /work/x/mcu`"])
def test_a_missing_promised_component_fails_the_run(tmp_path, reason):
    r = run(tmp_path, reason, allow=False)
    assert r.returncode == 1, r.stdout
    assert "promised components missing" in r.stdout and reason in r.stdout and "ALLOW_SKIP=1" in r.stdout


def test_allow_skip_makes_it_a_partial_run_with_the_reasons(tmp_path):
    reason = "PostgreSQL binaries not found"
    r = run(tmp_path, reason, allow=True)
    assert r.returncode == 0, r.stdout
    assert "SKIPPED" in r.stdout and reason in r.stdout


def test_other_skips_pass(tmp_path):
    r = run(tmp_path, "an ESP32 USB serial device is attached to this machine", allow=False)
    assert r.returncode == 0 and "SKIPPED" in r.stdout, r.stdout
