"""Error messages out of a board's RAM: the firmware compiled with its messages as numbers.

A string constant longer than ten characters in a module loaded from `.mpy` becomes a str object
in RAM for as long as the module is loaded; the firmware's typed errors carry about 350 such
messages, 14 KiB of the device cycle's module baseline on the 32-bit port (bench/RESULTS.md).
When the firmware is compiled for a board (runtimes/build.py, runtimes/mcu.py), each
`Malformed("text")`, `Invalid("text %d" % n)` or `Unsupported(...)` whose one argument is a
literal message (or a literal `%` its values) is compiled as `Malformed(N)` / `Invalid(N, n)`, and
the texts go to MESSAGES_FILE beside the package, line N the message N. The error keeps its type
and its values; `lightmeter.errors` reads line N back and formats it only when the error is shown
(docs/architecture.md, "Error messages on a board"). The sources, what CPython and the tests run,
keep their messages inline.
"""

import ast

MESSAGES_FILE = "messages.txt"  # in the package's folder on the board, beside errors.mpy
CODED = ("Malformed", "Invalid", "Unsupported")  # lightmeter.errors' classes without an __init__


def _message(arg):
    """(text, the values' node or None) of a call's argument that is a literal message, else None."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        text, values = arg.value, None
    elif (isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mod) and isinstance(arg.left, ast.Constant)
          and isinstance(arg.left.value, str)):
        text, values = arg.left.value, arg.right
    else:
        return None
    if "\n" in text or "\r" in text:
        return None  # one line a message in the file
    return text, values


def _offsets(source):
    """Byte offset of each line's start (ast's columns count UTF-8 bytes)."""
    starts, at = [], 0
    for line in source.splitlines(keepends=True):
        starts.append(at)
        at += len(line)
    return starts


def code_messages(source, table):
    """source (bytes of a firmware module) with its literal error messages as numbers into table
    (a list of texts, extended here; a text already in it keeps its number)."""
    tree = ast.parse(source)
    starts = _offsets(source)
    edits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or len(node.args) != 1 or node.keywords:
            continue
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
        if name not in CODED:
            continue
        found = _message(node.args[0])
        if found is None:
            continue
        text, values = found
        if text not in table:
            table.append(text)
        code = str(table.index(text)).encode()
        a = node.args[0]
        begin = starts[a.lineno - 1] + a.col_offset
        end = starts[a.end_lineno - 1] + a.end_col_offset
        if values is None:
            new = code
        else:
            vb = starts[values.lineno - 1] + values.col_offset
            ve = starts[values.end_lineno - 1] + values.end_col_offset
            new = code + b", " + source[vb:ve]
        edits.append((begin, end, new))
    out, last = source, len(source) + 1
    for begin, end, new in sorted(edits, reverse=True):
        if end > last:  # a coded call inside another's message: leave this file's source alone
            raise ValueError("nested error messages at byte %d" % begin)
        out, last = out[:begin] + new + out[end:], begin
    return out


def table_bytes(table):
    """MESSAGES_FILE's bytes: one message a line, in the numbers' order."""
    return "".join(t + "\n" for t in table).encode()
