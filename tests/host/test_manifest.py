"""firmware/manifest.py (MicroPython's manifest format) covers every firmware .py file."""

import os

from lightmeter_host.paths import PROJECT_ROOT

FIRMWARE = os.path.join(str(PROJECT_ROOT), "firmware")


def _covered():
    files = set()
    seen = {}

    def metadata(**kw):
        seen["metadata"] = kw

    def package(name, files_=None, base_path=".", opt=None, **kw):
        files_ = kw.get("files", files_)
        root = os.path.normpath(os.path.join(FIRMWARE, base_path))
        if files_ is not None:
            files.update(os.path.join(root, name, f) for f in files_)
            return
        for d, _, names in os.walk(os.path.join(root, name)):
            files.update(os.path.join(d, n) for n in names if n.endswith(".py"))

    def module(name, base_path=".", opt=None):
        files.add(os.path.normpath(os.path.join(FIRMWARE, base_path, name)))

    def include(path):
        pass

    def require(name, **kw):
        raise AssertionError("the firmware needs no micropython-lib package; got require(%r)" % name)

    with open(os.path.join(FIRMWARE, "manifest.py")) as f:
        code = f.read()
    exec(compile(code, "manifest.py", "exec"), {"metadata": metadata, "package": package, "module": module,
                                               "include": include, "require": require})
    return {os.path.normpath(p) for p in files}, seen


def test_manifest_freezes_every_firmware_file():
    covered, seen = _covered()
    want = set()
    for d, dirs, names in os.walk(os.path.join(FIRMWARE, "lightmeter")):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        want.update(os.path.normpath(os.path.join(d, n)) for n in names if n.endswith(".py"))
    assert want - covered == set(), "not frozen: %s" % sorted(want - covered)
    assert covered - want == set(), "listed but absent: %s" % sorted(covered - want)
    assert seen["metadata"]["version"]
