"""`lightmeter boards`: list the board profiles (boards/*.json)."""

import json


def add_parser(sub):
    bl = sub.add_parser("boards", help="list the board profiles (boards/*.json)",
                        description="List the board profiles in boards/: name, runtime, how the "
                                    "MicroPython image is written, meter driver. Every profile is "
                                    "checked against the schema (lightmeter_host/hardware/boards.py); a bad one "
                                    "is reported with its field. --json prints them whole.")
    bl.add_argument("--json", action="store_true", help="print the profiles as one JSON object")


def run(args):
    from lightmeter_host.hardware import boards
    profiles = [boards.load(n) for n in boards.known()]
    if getattr(args, "json", False):
        print(json.dumps({p["name"]: p for p in profiles}, indent=2))
    else:
        for p in profiles:
            print(boards.summary(p))
    return 0
