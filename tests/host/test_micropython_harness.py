"""The MicroPython harness itself (lightmeter_host/runtimes/micropython.py and mp_runner.mjs).

These run real MicroPython; a missing runtime fails them (the runtime is part of `make setup`).
"""

import json
import subprocess

import pytest

import lightmeter
from lightmeter_host.runtimes import micropython
from lightmeter_host.runtimes.micropython import MicroPythonError, MicroPythonUnavailable, min_heap, run


def _heap_report(result):
    tag = "mp_runner:heap "
    line = result.stderr.splitlines()[-1]
    assert line.startswith(tag), result.stderr
    return json.loads(line[len(tag):])


def test_runtime_is_installed():
    assert micropython.runtime_available(), "run `make setup` (npm ci)"


def test_code_runs_on_micropython_not_cpython():
    r = run(code="import sys\nprint(sys.implementation.name, sys.implementation._machine)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("micropython JS with Emscripten"), r.stdout


def test_output_and_exit_status_zero():
    r = run(code="print('hello', 6 * 7)")
    assert (r.returncode, r.stdout, r.stderr) == (0, "hello 42\n", "")


def test_raising_code_exits_1_with_the_traceback_on_stderr():
    r = run(code="def f():\n    raise ValueError('boom')\nf()\n")
    assert r.returncode == 1
    assert "Traceback (most recent call last):" in r.stderr
    assert ", line 2, in f" in r.stderr
    assert r.stderr.rstrip().endswith("ValueError: boom")


def test_system_exit_code_is_the_exit_status():
    assert run(code="import sys\nsys.exit(3)").returncode == 3
    assert run(code="raise SystemExit").returncode == 0


def test_firmware_is_mounted_at_lib_like_on_a_device():
    r = run(code="import lightmeter\nprint(lightmeter.__file__, lightmeter.VERSION)")
    assert r.stdout.split() == ["/lib/lightmeter/__init__.py", lightmeter.VERSION], r.stderr


def test_firmware_can_be_left_out():
    r = run(code="import lightmeter", firmware=False)
    assert r.returncode == 1 and "ImportError" in r.stderr


def test_mounts_copy_py_and_json_only_and_scripts_see_their_directory(tmp_path):
    app = tmp_path / "app"
    (app / "pkg" / "__pycache__").mkdir(parents=True)
    (app / "pkg" / "__init__.py").write_text("NAME = 'pkg'\n")
    (app / "pkg" / "__pycache__" / "junk.py").write_text("raise RuntimeError\n")
    (app / "data.json").write_text('{"n": 5}')
    (app / "blob.bin").write_bytes(b"\x00\x01")
    (tmp_path / "extra.bin").write_bytes(b"\xffraw")
    (app / "main.py").write_text(
        "import sys, os, json, pkg\n"
        "print(pkg.NAME, json.load(open('/app/data.json'))['n'], sys.argv[1:], sys.path[0])\n"
        "print(sorted(os.listdir('/app')), sorted(os.listdir('/app/pkg')))\n"
        "print(open('/deep/er/extra.bin', 'rb').read())\n"
        "raise ValueError('in main')\n")
    r = run(script="/app/main.py", mounts={app: "/app"}, files={tmp_path / "extra.bin": "/deep/er/extra.bin"},
            args=["a", "b"])
    assert r.stdout.splitlines() == [
        "pkg 5 ['a', 'b'] /app",
        "['data.json', 'main.py', 'pkg'] ['__init__.py']",
        "b'\\xffraw'",
    ], r.stderr
    assert r.returncode == 1
    assert 'File "/app/main.py", line 5, in <module>' in r.stderr  # the script named, not <stdin>


def test_extra_sys_path_entries_come_first(tmp_path):
    (tmp_path / "mod_here.py").write_text("X = 1\n")
    r = run(code="import sys, mod_here\nprint(sys.path[:2], mod_here.X)", mounts={tmp_path: "/a/b"},
            paths=["/a/b", "/x"])
    assert r.stdout == "['/a/b', '/x'] 1\n", r.stderr


def test_stdin_is_served_as_sys_stdin_and_as_a_file():
    r = run(code="import sys\nprint(repr(sys.stdin.read()), repr(open('/stdin').read()))", stdin="line\n")
    assert r.stdout == "'line\\n' 'line\\n'\n", r.stderr


def test_without_stdin_reads_hit_eof_at_once():
    r = run(code="import sys\nprint(repr(sys.stdin.read()))", timeout=30)
    assert r.stdout == "''\n"


def test_output_is_binary_safe_and_keeps_long_and_unterminated_lines():
    code = ("import sys\nsys.stdout.buffer.write(bytes(range(256)))\n"
            "print('x' * 200000)\nprint('é', end='')")
    r = run(code=code, text=False)
    assert r.stdout == bytes(range(256)) + b"x" * 200000 + b"\n" + "é".encode()


def test_bad_mount_is_a_runner_error(tmp_path):
    r = run(code="pass", mounts={tmp_path / "absent": "/x"})
    assert r.returncode == 2 and "not a directory" in r.stderr


def test_missing_node_modules_raises_unavailable(tmp_path):
    assert not micropython.runtime_available(node_modules=tmp_path)
    with pytest.raises(MicroPythonUnavailable, match=r"make setup"):
        run(code="pass", node_modules=tmp_path)


def test_missing_node_raises_unavailable(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MicroPythonUnavailable, match=r"node .*npm ci"):
        run(code="pass")


def test_timeout_kills_the_runtime():
    with pytest.raises(subprocess.TimeoutExpired):
        run(code="print('started')\nwhile True:\n    pass", timeout=1)


def test_heap_report_sees_the_heap_grow():
    small = _heap_report(run(code="b = bytearray(50000)", heap=16384, heap_report=True))
    large = _heap_report(run(code="b = bytearray(50000)", heap=262144, heap_report=True))
    assert small["grew"] and small["ok"]
    assert not large["grew"] and large["ok"]


def test_min_heap_is_plausible_and_monotone():
    small = min_heap("b = bytearray(5000)", lo=4096, resolution=256)
    big = min_heap("b = bytearray(50000)", lo=4096, resolution=256)
    assert 5000 <= small < big
    assert 50000 <= big < 50000 + 16384  # the allocation, the interpreter's own few KB, GC tables


def test_min_heap_counts_garbage_because_this_port_never_collects_mid_run():
    # Pins the port behaviour min_heap's docstring relies on: the first buffer is garbage when
    # the second is made, yet both need room. A port upgrade that changes this fails here.
    need = min_heap("b = bytearray(50000)\nb = None\nb = bytearray(50000)", lo=4096, resolution=1024)
    assert need >= 100000


def test_min_heap_refuses_code_that_fails():
    with pytest.raises(MicroPythonError, match="ZeroDivisionError"):
        min_heap("1 / 0")
