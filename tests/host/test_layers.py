"""The layers of docs/architecture.md, read from the import statements of both packages.

Every `import` and `from ... import` of the firmware (`lightmeter`) and the host package
(`lightmeter_host`), at any depth (imports inside functions count too), is resolved to the folder
it names; an import that goes up a layer, out of the firmware into the host, or around a cycle of
folders fails here with the file and line that does it.
"""

import ast
import os

import pytest

from lightmeter_host.paths import PROJECT_ROOT

PACKAGES = {"lightmeter": PROJECT_ROOT / "firmware" / "lightmeter",
            "lightmeter_host": PROJECT_ROOT / "lightmeter_host"}

# What each firmware folder may import (besides itself): docs/architecture.md, "The firmware, in layers".
FIRMWARE_MAY_IMPORT = {
    "errors": set(),
    "crypto": {"errors"},
    "chain": {"errors"},
    "meters": {"errors"},
    "link": {"errors", "chain"},
    "client": {"errors", "crypto", "chain", "link"},
    "device": {"errors", "crypto", "chain", "link", "client", "meters"},
    "__init__": set(),
}

# What each host folder may import of the host package (every host folder may import the firmware):
# docs/architecture.md, "The host package, by role". Folders not listed are the top: they may
# import anything.
BOTTOM = {"paths", "errors", "outfile", "inputs", "metricserve"}  # every host folder may import these
HOST_MAY_IMPORT = {
    "paths": set(),
    "errors": set(),
    "outfile": {"errors"},
    "inputs": {"errors"},
    "chain": BOTTOM,
    "runtimes": BOTTOM | {"chain"},
    "node": BOTTOM | {"chain"},
    "vboard": BOTTOM | {"runtimes"},
    "hardware": BOTTOM | {"runtimes"},
}


def modules():
    """{dotted module name: file path} of both packages."""
    found = {}
    for pkg, root in PACKAGES.items():
        for top, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(top, f), root)[:-3].split(os.sep)
                    if rel[-1] == "__init__":
                        rel = rel[:-1]
                    found[".".join([pkg] + rel)] = os.path.join(top, f)
    return found


MODULES = modules()


def imports(path):
    """[(line, dotted name imported)] of one file, resolving `from pkg import module`."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                full = node.module + "." + a.name
                out.append((node.lineno, full if full in MODULES else node.module))
    return [(n, m) for n, m in out if m.split(".")[0] in PACKAGES]


def folder(module):
    """("lightmeter", "crypto") for lightmeter.crypto.keccak; ("lightmeter_host", "relay") for a top module."""
    parts = module.split(".")
    return parts[0], parts[1] if len(parts) > 1 else "__init__"


def edges():
    """[(from folder, to folder, file, line)] between different folders."""
    found = []
    for mod, path in sorted(MODULES.items()):
        src = folder(mod)
        for line, target in imports(path):
            dst = folder(target)
            if dst != src:
                found.append((src, dst, os.path.relpath(path, PROJECT_ROOT), line))
    return found


EDGES = edges()


def test_every_module_is_seen():
    # A walk that found nothing would pass every rule below.
    assert len([m for m in MODULES if m.startswith("lightmeter.")]) > 30
    assert len([m for m in MODULES if m.startswith("lightmeter_host.")]) > 30
    assert len(EDGES) > 50


def test_the_firmware_never_imports_the_host():
    bad = [(f, n) for s, d, f, n in EDGES if s[0] == "lightmeter" and d[0] == "lightmeter_host"]
    assert not bad, "firmware imports the host package at %s" % bad


def test_firmware_folders_import_only_the_layers_below():
    bad = []
    for s, d, f, n in EDGES:
        if s[0] == "lightmeter" and d[0] == "lightmeter" and d[1] not in FIRMWARE_MAY_IMPORT[s[1]]:
            bad.append("%s:%d: %s imports %s" % (f, n, s[1], d[1]))
    assert not bad, "\n".join(bad)


def test_firmware_folders_are_all_placed_in_a_layer():
    names = {folder(m)[1] for m in MODULES if m.startswith("lightmeter.") or m == "lightmeter"}
    assert names <= set(FIRMWARE_MAY_IMPORT), names - set(FIRMWARE_MAY_IMPORT)


def test_lower_host_folders_import_only_below_them():
    bad = []
    for s, d, f, n in EDGES:
        if s[0] == "lightmeter_host" and d[0] == "lightmeter_host" and s[1] in HOST_MAY_IMPORT \
                and d[1] not in HOST_MAY_IMPORT[s[1]]:
            bad.append("%s:%d: %s imports %s" % (f, n, s[1], d[1]))
    assert not bad, "\n".join(bad)


def cycles(graph):
    """Each cycle of folders found by a depth-first walk, as a list of folders."""
    found, state, stack = [], {}, []

    def visit(v):
        state[v] = "open"
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if state.get(w) == "open":
                found.append(stack[stack.index(w):] + [w])
            elif w not in state:
                visit(w)
        stack.pop()
        state[v] = "done"

    for v in sorted(graph):
        if v not in state:
            visit(v)
    return found


@pytest.mark.parametrize("pkg", sorted(PACKAGES))
def test_no_cycle_between_folders(pkg):
    graph = {}
    for s, d, f, n in EDGES:
        if s[0] == pkg and d[0] == pkg:
            graph.setdefault(s[1], set()).add(d[1])
    assert not cycles(graph), "import cycles between folders: %s" % cycles(graph)


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
