"""A command's input files: load_json reads one, or raises UsageError saying why it cannot."""

import json

from lightmeter_host.errors import UsageError


def load_json(path):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except OSError as e:
        raise UsageError("cannot read %s: %s" % (path, e.strerror or e))
    except ValueError as e:
        raise UsageError("%s is not JSON: %s" % (path, e))
