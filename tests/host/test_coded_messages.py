"""Error messages compiled as numbers for a board (lightmeter_host/runtimes/messages.py): every
coded message is its source's text, the compiled firmware raises the same types with the same
text on the 32-bit port, and without the table an error still says its type, number and values."""

import ast
import json
import os
import shutil

import pytest

from lightmeter_host.runtimes import build, mcu, messages
from lightmeter_host.mcubench import FIRMWARE

# real firmware errors: constant messages, and formatted ones (their values kept, formatted late)
CASES = r'''
import json
from lightmeter.link import cbor
from lightmeter.chain import header
from lightmeter.errors import LightmeterError
out = []
for name, f in (("truncated", lambda: cbor.loads(b"\x18")),
                ("trailing", lambda: cbor.loads(b"\x01\x02")),
                ("long form", lambda: cbor.loads(b"\x5a\x00\x00\x10\x00")),
                ("not bytes", lambda: cbor.loads(123)),
                ("header", lambda: header.from_json({"number": "x"}, 65))):
    try:
        f()
        out.append([name, None, None, None])
    except LightmeterError as e:
        out.append([name, type(e).__name__, str(e), type(e.args[0]) is int])
print(json.dumps(out))
'''


def _source_messages(tree):
    """[(text, values' dump)] of the literal messages of coded calls, in ast.walk order."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in messages.CODED:
                found = messages._message(node.args[0])
                if found is not None:
                    out.append((found[0], ast.dump(found[1]) if found[1] is not None else None))
    return out


def _coded_calls(tree):
    """[(number, values' dump)] of the coded calls (first argument an int literal), in walk order."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and type(node.args[0].value) is int:
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in messages.CODED:
                vals = ast.dump(node.args[1]) if len(node.args) > 1 else None
                out.append((node.args[0].value, vals))
    return out


def test_every_coded_message_is_its_sources_text_with_the_same_values():
    table = []
    coded = 0
    for name, path in build.sources():
        with open(path, "rb") as f:
            source = f.read()
        new = messages.code_messages(source, table)
        want = _source_messages(ast.parse(source))
        got = _coded_calls(ast.parse(new))
        assert len(got) == len(want), name
        assert [(table[n], v) for n, v in got] == want, name
        assert _source_messages(ast.parse(new)) == [], name  # no literal message left in a coded call
        coded += len(got)
    assert len(table) == len(set(table)) and coded >= len(table) > 250
    assert all("\n" not in t for t in table)
    # the table file: line N is message N
    assert messages.table_bytes(table).decode().split("\n")[:-1] == table


def test_a_message_inside_another_is_refused_not_mangled():
    src = b'raise Malformed("outer %s" % Invalid("inner message here"))\n'
    with pytest.raises(ValueError, match="nested"):
        messages.code_messages(src, [])


def test_compile_firmware_writes_the_table_beside_the_modules(tmp_path):
    written = build.compile_firmware(str(tmp_path))
    assert written[0].endswith(".mpy") and written[-1].endswith(messages.MESSAGES_FILE)
    with open(written[-1]) as f:
        lines = f.read().split("\n")
    assert len(lines) > 250 and "CBOR at offset %d: truncated" in lines


def _cpython_cases():
    ns = {}
    import io
    import contextlib
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(CASES, ns)
    return json.loads(buf.getvalue())


def _port_cases(tmp_path, drop_table=False):
    try:
        mcu.executable("host32")
    except mcu.McuError as e:
        pytest.fail("the 32-bit port is not built: %s" % e)
    fw = tmp_path / "fw"
    shutil.copytree(FIRMWARE, fw, ignore=shutil.ignore_patterns("__pycache__"))
    ws_paths = [str(fw)]
    res = None
    if not drop_table:
        res = mcu.run(CASES, heap=256 * 1024, paths=ws_paths, target="host32", mpy=True,
                      mpy_flags=build.MPY_FLAGS)
    else:
        # a board without the table: compile by hand, then remove it before the run
        out = tmp_path / "mpy"
        mcu.compile_tree(fw, out, build.MPY_FLAGS)
        os.remove(out / "lightmeter" / messages.MESSAGES_FILE)
        res = mcu.run(CASES, heap=256 * 1024, paths=[str(out)], target="host32", mpy=False)
    line = [x for x in res.stdout.splitlines() if x.startswith("[")]
    assert res.ok and line, res.stdout
    return json.loads(line[-1])


def test_the_compiled_firmware_raises_the_same_errors_with_the_same_text_on_the_32_bit_port(tmp_path):
    want = _cpython_cases()
    got = _port_cases(tmp_path)
    assert [c[:3] for c in got] == [c[:3] for c in want]
    assert all(c[1] is not None for c in got)
    assert all(c[3] is False for c in want)  # the sources keep their messages inline
    assert all(c[3] is True for c in got)  # the board's carry numbers


def test_without_the_table_an_error_says_its_type_number_and_values(tmp_path):
    got = _port_cases(tmp_path, drop_table=True)
    want = _cpython_cases()
    for g, w in zip(got, want):
        assert g[1] == w[1] and g[2].startswith("message ")
    assert got[0][2].endswith(" (0,)")  # the values kept: the offset of the truncated item
    assert got[1][2].endswith(" ((1, 1),)")  # 1 byte after the item at offset 1
