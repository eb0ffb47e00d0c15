"""The contracts the local node deploys: their committed artifacts and how they are built.

proto/contracts/NAME.sol is compiled by solcjs (npm `solc`, pinned in package.json) through
lightmeter_host/chain/solc_build.mjs; `build` turns that output into the artifact proto/contracts/NAME.json,
which adds the SM-crypto variant of the bytecode:

FISCO's SM build of solc takes function selectors, event topics and its own Error(string) and
Panic(uint256) selectors from SM3 instead of keccak256 (FISCO-BCOS-DOC sendTransaction example:
HelloWorld's get() is PUSH4 0x299f7f9d = SM3, not 0x6d4ce63c; Panic is 0xb95aa355). npm's solc is
keccak-only, so the SM variant is the keccak build with each such constant replaced by its SM3
value where it is a PUSH4 or PUSH32 immediate, found by walking the code opcode by opcode. Nothing
else changes: same length, same jump targets. The KECCAK256 opcode itself (storage slots of
mappings) is the node's business: its EVM computes SM3 there on an SM chain.

    load(name) -> dict                 the committed artifact
    bytecode(name, crypto) -> bytes    creation code for "ecdsa" (keccak) or "sm"
    deployed_bytecode(name, crypto)    runtime code, likewise
    build(name) -> dict                a fresh artifact from the source (needs node and solc)
    write(name) -> Path                build and commit-ready write of proto/contracts/NAME.json

`python -m lightmeter_host.chain.contracts [NAME ...]` rewrites the artifacts; `--check` only compares.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from lightmeter.chain import abi
from lightmeter.crypto import suite
from lightmeter.errors import Malformed
from lightmeter.crypto.keccak import keccak256
from lightmeter.crypto.sm3 import sm3

from lightmeter_host.paths import PROJECT_ROOT
CONTRACTS_DIR = PROJECT_ROOT / "proto" / "contracts"
from lightmeter_host.paths import NODE_MODULES
BUILD_SCRIPT = Path(__file__).resolve().with_name("solc_build.mjs")
DEFAULT = "MeterRegistry"
BUILD_TIMEOUT = 300  # seconds; loading solcjs and compiling takes about one

# Selectors solc itself compiles into code: revert reasons and panics. FISCO's SM solc hashes
# these with SM3 too (java-sdk RevertMessageParser: SM Error(string) is c703cb12).
BUILTIN_ERRORS = ("Error(string)", "Panic(uint256)")

PUSH1, PUSH4, PUSH32, SHL = 0x60, 0x63, 0x7F, 0x1B

NOTES = [
    "bytecode, deployedBytecode: solc output, for an ecdsa (keccak256) FISCO BCOS chain. evmVersion "
    "is paris: FISCO BCOS 3.x executes EVM code at revision London or Paris (Cancun only with the "
    "feature_evm_cancun switch), none of which has PUSH0.",
    "bytecode_sm, deployedBytecode_sm: the same code for an SM-crypto chain. FISCO's SM build of solc "
    "takes function selectors, event topics and the Error(string)/Panic(uint256) selectors from SM3 "
    "instead of keccak256; this variant imitates it by replacing each of those constants with its SM3 "
    "value where it is a PUSH4 or PUSH32 immediate (sm_patches lists every one) and changes nothing "
    "else, so lengths and jump targets are the same. It behaves as FISCO's SM compiler output would "
    "but is not byte-identical to it (that compiler lays some constants out differently).",
    "The KECCAK256 opcode (mapping storage slots) is computed by the node's EVM, as SM3 on an SM chain; "
    "the code is the same for it.",
    "selectors/selectors_sm, topics/topics_sm, error_selectors/error_selectors_sm: hex of the constants "
    "for each hash, from lightmeter.chain.abi.",
    "constantOptimizer is off so that every selector stays a whole PUSH4/PUSH32 immediate; bytecodeHash "
    "is none so that a rebuild reproduces the code byte for byte.",
    "Regenerate with `.venv/bin/python -m lightmeter_host.chain.contracts` (runs lightmeter_host/chain/solc_build.mjs with "
    "node_modules/solc); tests/host/test_contracts.py checks that this file is what a rebuild gives.",
]


class ContractsError(RuntimeError):
    """A contract artifact cannot be loaded or built."""


class UnknownContract(ContractsError):
    """There is no proto/contracts/NAME.json (or NAME.sol) for the name asked."""


class SolcUnavailable(ContractsError):
    """node or the project's pinned solc (node_modules/solc) is missing: run `make setup`."""


class BuildFailed(ContractsError):
    """The compiler failed, or its output cannot be turned into an SM variant safely."""


# --- the committed artifacts -----------------------------------------------------------

def _check_name(name):
    if not isinstance(name, str) or not name or not all(c.isalnum() or c == "_" for c in name):
        raise UnknownContract("bad contract name %r" % (name,))
    return name


def artifact_path(name=DEFAULT):
    return CONTRACTS_DIR / ("%s.json" % _check_name(name))


def load(name=DEFAULT):
    """The committed artifact of contract NAME (proto/contracts/NAME.json) as a dict."""
    path = artifact_path(name)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UnknownContract("no artifact %s (known: %s)" % (path, ", ".join(known()) or "none")) from None
    return json.loads(text)


def known():
    """Names of the contracts with a committed artifact."""
    return sorted(p.stem for p in CONTRACTS_DIR.glob("*.json"))


def _variant_key(key, crypto):
    if crypto not in suite.NAMES:
        raise Malformed("unknown crypto suite %r (expected ecdsa or sm)" % (crypto,))
    return key + "_sm" if crypto == suite.SM else key


def bytecode(name=DEFAULT, crypto=suite.ECDSA):
    """Creation code of NAME for a chain of the given crypto suite ("ecdsa" or "sm")."""
    return bytes.fromhex(load(name)[_variant_key("bytecode", crypto)])


def deployed_bytecode(name=DEFAULT, crypto=suite.ECDSA):
    """Runtime code of NAME, as a deployment leaves it at the contract's address."""
    return bytes.fromhex(load(name)[_variant_key("deployedBytecode", crypto)])


def dumps(artifact):
    """The exact text of an artifact file."""
    return json.dumps(artifact, indent=2, ensure_ascii=False) + "\n"


# --- EVM code ------------------------------------------------------------------------

def instructions(code):
    """(offset, opcode, immediate) for each instruction of code; immediate is b"" unless PUSHn."""
    i, n = 0, len(code)
    while i < n:
        op = code[i]
        width = op - 0x5F if 0x60 <= op <= 0x7F else 0
        yield i, op, bytes(code[i + 1:i + 1 + width])
        i += 1 + width


def metadata_length(code):
    """Bytes of solc's CBOR metadata trailer at the end of runtime code (0 if there is none).

    The last two bytes are the CBOR length; the CBOR item is a map (0xa1..0xa5).
    """
    if len(code) < 2:
        return 0
    n = int.from_bytes(code[-2:], "big") + 2
    if n > len(code) or not 0xA1 <= code[-n] <= 0xA5:
        return 0
    return n


def _sm_replacements(artifact_abi):
    """{keccak constant: (SM3 constant, signature, kind)} and the constants that must be found.

    kind is "function", "event" or "error"; selectors may be pushed as 4 bytes or as the word
    selector << 224 (PUSH32), topics only as 32 bytes.
    """
    table, required = {}, []
    sigs = [(e["type"], signature(e)) for e in artifact_abi if e["type"] in ("function", "event", "error")
            and not e.get("anonymous")]
    sigs += [("error", s) for s in BUILTIN_ERRORS if ("error", s) not in sigs]
    for kind, sig in sigs:
        if kind == "event":
            old, new = abi.event_topic(sig, keccak256), abi.event_topic(sig, sm3)
            entries = [(old, new)]
        else:
            old, new = abi.selector(sig, keccak256), abi.selector(sig, sm3)
            entries = [(old, new), (old + bytes(28), new + bytes(28))]
        if kind != "error":  # declared in the ABI; the compiler's own errors may be absent
            required.append(old)
        for o, n in entries:
            if o in table or n == o:
                raise BuildFailed("constant %s of %s is not unique" % (o.hex(), sig))
            table[o] = (n, sig, kind)
    return table, required


def sm_patch(code, table):
    """(patched code, patches) for one piece of code; see the module docstring.

    patches: one {"offset", "push", "signature"} per replaced immediate (offset of its first byte).
    BuildFailed if a keccak constant also appears outside an immediate, or shifted other than as
    PUSH4 selector PUSH1 0xe0 SHL (say PUSH3 0x461bcd PUSH1 0xe5 SHL), where it could not be
    replaced in place.
    """
    out = bytearray(code)
    patches = []
    body = len(code) - metadata_length(code)
    shifted = {int.from_bytes(o, "big"): sig for o, (_, sig, _) in table.items() if len(o) == 32}
    prev = []  # the last two instructions, to spot PUSHn x PUSH1 k SHL
    for off, op, imm in instructions(code[:body]):
        if op in (PUSH4, PUSH32) and imm in table:
            new, sig, _ = table[imm]
            out[off + 1:off + 1 + len(imm)] = new
            patches.append({"offset": off + 1, "push": "PUSH%d" % len(imm), "signature": sig})
        if op == SHL and len(prev) == 2 and prev[1][0] == PUSH1 and 0x60 <= prev[0][0] <= 0x7F:
            word = (int.from_bytes(prev[0][1], "big") << prev[1][1][0]) % (1 << 256)
            if word in shifted and not (prev[0][0] == PUSH4 and prev[0][1] in table):
                raise BuildFailed("%s is pushed shifted (PUSH%d … SHL) at %d: cannot patch in place"
                                  % (shifted[word], prev[0][0] - 0x5F, off))
        prev = (prev + [(op, imm)])[-2:]
    patched_at = set()
    for p in patches:
        patched_at.update(range(p["offset"], p["offset"] + int(p["push"][4:])))
    for old in table:
        if len(old) != 4:
            continue
        i = bytes(code).find(old)
        while i >= 0:
            if i < body and i not in patched_at:
                raise BuildFailed("%s found at %d outside a PUSH4/PUSH32 immediate" % (table[old][1], i))
            i = bytes(code).find(old, i + 1)
    return bytes(out), patches


def sm_variant(creation, runtime, artifact_abi):
    """(creation_sm, runtime_sm, patches) with every keccak constant replaced by its SM3 value.

    The creation code is init code followed by the runtime code; each part is walked on its own.
    """
    if not creation.endswith(runtime):
        raise BuildFailed("creation code does not end with the runtime code")
    table, required = _sm_replacements(artifact_abi)
    init = creation[:len(creation) - len(runtime)]
    init_sm, init_patches = sm_patch(init, table)
    runtime_sm, runtime_patches = sm_patch(runtime, table)
    found = {p["signature"] for p in runtime_patches}
    for old in required:
        if table[old][1] not in found:
            raise BuildFailed("%s (%s) not found as a PUSH immediate in the runtime code"
                              % (table[old][1], old.hex()))
    shift = len(init)
    creation_patches = init_patches + [dict(p, offset=p["offset"] + shift) for p in runtime_patches]
    return init_sm + runtime_sm, runtime_sm, {"bytecode": creation_patches, "deployedBytecode": runtime_patches}


def signature(entry):
    """Canonical signature "name(t1,t2)" of an ABI JSON function, event or error entry."""
    types = []
    for i in entry.get("inputs", []):
        if i["type"].startswith("tuple"):
            raise BuildFailed("%s: tuple parameters are not supported" % entry.get("name"))
        types.append(i["type"])
    return "%s(%s)" % (entry["name"], ",".join(types))


# --- building --------------------------------------------------------------------------

def pinned_solc_version():
    """The solc version package.json pins."""
    try:
        pkg = json.loads((PROJECT_ROOT / "package.json").read_text())
    except FileNotFoundError:
        raise SolcUnavailable("no package.json at %s: build from a checkout of the project"
                              % PROJECT_ROOT) from None
    for section in ("dependencies", "devDependencies"):
        version = pkg.get(section, {}).get("solc")
        if version:
            return version
    raise SolcUnavailable("package.json does not pin solc")


def _require_toolchain(node_modules=None):
    node = shutil.which("node")
    solc_dir = Path(node_modules or NODE_MODULES) / "solc"
    if node is None or not (solc_dir / "package.json").is_file():
        missing = "node" if node is None else str(solc_dir)
        raise SolcUnavailable("node or the solc compiler is missing (%s not found): run `make setup` (npm ci)"
                              % missing)
    return node, solc_dir


def compile_sources(files, node_modules=None):
    """solc_build.mjs's output (a dict) for the given .sol files."""
    node, solc_dir = _require_toolchain(node_modules)
    cmd = [node, str(BUILD_SCRIPT), "--solc", str(solc_dir), "--expect", pinned_solc_version()]
    cmd += [str(f) for f in files]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if r.returncode == 2:
        raise SolcUnavailable(r.stderr.strip())
    if r.returncode != 0:
        raise BuildFailed("solc_build.mjs failed (exit %d):\n%s" % (r.returncode, r.stderr))
    return json.loads(r.stdout)


def _hex_map(sigs, hash_fn, width):
    return {s: hash_fn(s.encode())[:width].hex() for s in sigs}


def build(name=DEFAULT, node_modules=None):
    """A fresh artifact of NAME from proto/contracts/NAME.sol: same structure as load(NAME)."""
    source = CONTRACTS_DIR / ("%s.sol" % _check_name(name))
    if not source.is_file():
        raise UnknownContract("no source %s" % source)
    out = compile_sources([source], node_modules)
    c = out["contracts"].get(name)
    if c is None:
        raise UnknownContract("%s defines no contract %s (it has: %s)"
                              % (source.name, name, ", ".join(out["contracts"])))
    creation, runtime = bytes.fromhex(c["bytecode"]), bytes.fromhex(c["deployedBytecode"])
    creation_sm, runtime_sm, patches = sm_variant(creation, runtime, c["abi"])
    functions = sorted(signature(e) for e in c["abi"] if e["type"] == "function")
    events = sorted(signature(e) for e in c["abi"] if e["type"] == "event" and not e.get("anonymous"))
    errors = sorted({p["signature"] for p in patches["bytecode"] if p["signature"] in BUILTIN_ERRORS}
                    | {signature(e) for e in c["abi"] if e["type"] == "error"})
    selectors = _hex_map(functions, keccak256, 4)
    if selectors != dict(sorted(c["methodIdentifiers"].items())):
        raise BuildFailed("lightmeter.chain.abi selectors disagree with solc: %s vs %s"
                          % (selectors, c["methodIdentifiers"]))
    return {
        "contractName": name,
        "source": "proto/contracts/" + c["source"],
        "compiler": {"name": "solc (solcjs, npm solc %s)" % pinned_solc_version(), "version": out["compiler"]},
        "language": out["language"],
        "settings": out["settings"],
        "abi": c["abi"],
        "bytecode": c["bytecode"],
        "deployedBytecode": c["deployedBytecode"],
        "bytecode_sm": creation_sm.hex(),
        "deployedBytecode_sm": runtime_sm.hex(),
        "selectors": selectors,
        "selectors_sm": _hex_map(functions, sm3, 4),
        "topics": _hex_map(events, keccak256, 32),
        "topics_sm": _hex_map(events, sm3, 32),
        "error_selectors": _hex_map(errors, keccak256, 4),
        "error_selectors_sm": _hex_map(errors, sm3, 4),
        "sm_patches": patches,
        "notes": NOTES,
    }


def write(name=DEFAULT, node_modules=None):
    """Build NAME and write proto/contracts/NAME.json; returns its path."""
    path = artifact_path(name)
    path.write_text(dumps(build(name, node_modules)))
    return path


def main(argv=None):
    """python -m lightmeter_host.chain.contracts [--check] [NAME ...]: rebuild (or check) the artifacts."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    names = [a for a in args if a != "--check"] or sorted(p.stem for p in CONTRACTS_DIR.glob("*.sol"))
    status = 0
    try:
        for name in names:
            if check:
                same = artifact_path(name).is_file() and artifact_path(name).read_text() == dumps(build(name))
                print("%s: %s" % (name, "up to date" if same else "STALE, run python -m lightmeter_host.chain.contracts"))
                status |= 0 if same else 1
            else:
                print(write(name))
    except ContractsError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
