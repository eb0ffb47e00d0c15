"""`lightmeter trust init`: a TRUST.json (proto/trust.md) taken from a node, for an operator to confirm.

What the node says is cross-checked before it is shown: the header's hash is recomputed from its
fields and must be the hash the node gives, its sealerList/consensusWeights must be the set
getSealerList answers (when the header is the latest), and it must pass the light client's own
header check against the checkpoint made from it (a quorum of that set's signatures, or for
block 0 the genesis rule). A node whose answers disagree is refused. The operator still has to
confirm the set: a node can lie consistently, and only a person who knows the chain can tell.
"""

import json
import re

from lightmeter.client import check, trust as trust_mod
from lightmeter.chain import fields, header as header_mod
from lightmeter.chain import headerwrite
from lightmeter.crypto import suite as suite_mod
from lightmeter.errors import LightmeterError


class TrustInitError(Exception):
    """The node cannot be reached, or its answers are malformed or disagree: exit status 2."""


_HEX128 = re.compile(r"[0-9a-fA-F]{128}\Z")
_DIGITS = re.compile(r"[0-9]+\Z")
MAX_WEIGHT = 1 << 32


def parse_genesis_config(text, strict=False):
    """{"crypto", "chain_id", "group_id", "genesis_sealers"} found in a genesis config text.

    The one parser of the config text a node puts in its genesis extraData (and an operator's
    genesis file). Lenient (strict=False, for what a node serves): keys missing or malformed are
    left out. Strict: a malformed sm_crypto or node.N line, a duplicate node, or a missing chain
    id, group id, sm_crypto or sealer raises TrustInitError naming the line.
    """
    out = {}
    seen = set()

    def bad(lineno, msg):
        if strict:
            raise TrustInitError("genesis config line %d: %s" % (lineno, msg))

    for lineno, line in enumerate(text.splitlines(), 1):
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "sm_crypto":
            if value in ("0", "1", "true", "false"):
                out["crypto"] = "sm" if value in ("1", "true") else "ecdsa"
            else:
                bad(lineno, "sm_crypto must be 0, 1, true or false, not %r" % value)
        elif key == "chainID" and value:
            out["chain_id"] = value
        elif key == "groupID" and value:
            out["group_id"] = value
        elif key.startswith("node."):  # node.0:<node id>,<weight>
            node, comma, weight = value.partition(",")
            node, weight = node.strip(), weight.strip()
            if not comma:
                bad(lineno, "%s: expected <128 hex node id>,<weight>" % key)
                continue
            if not _HEX128.match(node):
                bad(lineno, "%s: the node id must be 128 hex digits (64 bytes), got %d characters"
                    % (key, len(node)))
                continue
            if not _DIGITS.match(weight) or not 1 <= int(weight) < MAX_WEIGHT:
                bad(lineno, "%s: the weight must be a positive integer below 2**32, not %r" % (key, weight))
                continue
            nid = bytes.fromhex(node)
            if nid in seen:
                bad(lineno, "%s: node 0x%s…%s is listed twice" % (key, node[:8], node[-8:]))
                continue
            seen.add(nid)
            out.setdefault("genesis_sealers", []).append((nid, int(weight)))
    if strict:
        for k, what in (("chain_id", "chainID"), ("group_id", "groupID"), ("crypto", "sm_crypto"),
                        ("genesis_sealers", "node.N sealer line")):
            if k not in out:
                raise TrustInitError("genesis config: no %s" % what)
    return out


GENESIS_VERSION = 0x03030000  # compatibility_version 3.3.0


def genesis_version(text):
    """The genesis header's version for a genesis config text: its compatibility_version
    (X.Y.Z as 0xXXYYZZ00) from 3.1.0 on, 0 below (Ledger.cpp buildGenesisBlock); 3.3.0 when
    the text names none."""
    import re

    m = re.search(r"^\s*compatibility_version\s*[:=]\s*(\d+)\.(\d+)\.(\d+)\s*$", text, re.M)
    if not m:
        return GENESIS_VERSION
    major, minor, patch = (int(x) for x in m.groups())
    return 0 if (major, minor) < (3, 1) else (major << 24) | (minor << 16) | (patch << 8)


def from_genesis(data, version=None):
    """The checkpoint at block 0 of a chain whose genesis config text is data (bytes, exact).

    The genesis header is headerwrite.new(0, extra_data=data, version=version), version by default
    from the text's compatibility_version: its hash is computed from the file's exact bytes,
    so one changed byte gives another checkpoint.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TrustInitError("genesis config: not UTF-8 text (byte %d)" % e.start)
    if version is None:
        version = genesis_version(text)
    got = parse_genesis_config(text, strict=True)
    suite = suite_mod.get(got["crypto"])
    digest = headerwrite.new(0, extra_data=bytes(data), version=version).hash(suite)
    out = {"chain_id": got["chain_id"], "group_id": got["group_id"], "crypto": got["crypto"],
           "sealers": sorted(got["genesis_sealers"]), "number": 0, "hash": digest}
    to_json(out)  # the firmware's own TRUST.json rules
    return out


def check_genesis_on_node(rpc, info):
    """Refuse unless the node's block 0 is the genesis header the file gives."""
    block = rpc("getBlockByNumber", 0, True, True)
    suite = suite_mod.get(info["crypto"])
    try:
        hdr = header_mod.from_json(block, suite.node_sig_len)
    except (LightmeterError, AttributeError, TypeError) as e:
        raise TrustInitError("the node's block 0 is malformed: %s" % e)
    digest = hdr.hash(suite)
    if hdr.claimed_hash is None or hdr.claimed_hash != digest:
        raise TrustInitError("the node's answers disagree: its block 0 hashes to %s, it says %s"
                             % (fields.hex0x(digest), block.get("hash")))
    if digest != info["hash"]:
        raise TrustInitError("mismatch: the genesis file gives block 0 hash %s, the node's block 0 is %s"
                             % (fields.hex0x(info["hash"]), fields.hex0x(digest)))


def _chain_settings(rpc):
    """Chain id, group id and crypto: from the genesis extraData, else from getGroupInfo."""
    from lightmeter_host.chain.rpc import NodeError

    got = {}
    try:
        extra = rpc("getBlockByNumber", 0, True, True).get("extraData")
        extra = extra[2:] if extra.startswith("0x") else extra
        got = parse_genesis_config(bytes.fromhex(extra).decode("utf-8", "replace"))
    except (NodeError, ValueError, AttributeError, TypeError):
        got = {}  # no genesis block served (pruned), or no config text in it: ask getGroupInfo
    if not all(k in got for k in ("chain_id", "group_id", "crypto")):
        info = rpc("getGroupInfo")
        if not isinstance(info, dict):
            raise TrustInitError("getGroupInfo: expected an object")
        cfg = info.get("genesisConfig") or {}
        got.setdefault("chain_id", info.get("chainID"))
        got.setdefault("group_id", info.get("groupID"))
        sm = cfg.get("smCryptoType") if isinstance(cfg, dict) else None
        if isinstance(sm, bool):
            got.setdefault("crypto", "sm" if sm else "ecdsa")
    for k, what in (("chain_id", "chain id"), ("group_id", "group id"), ("crypto", "crypto suite")):
        if not isinstance(got.get(k), str) or not got[k]:
            raise TrustInitError("the node names no %s (neither genesis extraData nor getGroupInfo)" % what)
    return got


def _sealer_list(rpc):
    raw = rpc("getSealerList")
    if not isinstance(raw, list) or not raw:
        raise TrustInitError("getSealerList: expected a non-empty list")
    out = []
    try:
        for i, s in enumerate(raw):
            node = fields.hexbytes(s.get("nodeID"), "getSealerList[%d].nodeID" % i, 64)
            out.append((node, fields.integer(s.get("weight"), "getSealerList[%d].weight" % i, 1, 1 << 32)))
    except (LightmeterError, AttributeError) as e:
        raise TrustInitError("getSealerList: %s" % e)
    return sorted(out)


def fetch(rpc, number=None, attempts=3):
    """The checkpoint a node offers, checked; a dict as in TRUST.json (sealers as (bytes, weight))."""
    settings = _chain_settings(rpc)
    suite = suite_mod.get(settings["crypto"])
    for _ in range(attempts):
        latest = rpc("getBlockNumber")
        if not isinstance(latest, int) or latest < 0:
            raise TrustInitError("getBlockNumber: expected a block number, got %r" % (latest,))
        n = latest if number is None else number
        if n > latest:
            raise TrustInitError("block %d is beyond the node's latest block %d" % (n, latest))
        sealers = _sealer_list(rpc)
        block = rpc("getBlockByNumber", n, True, True)
        if rpc("getBlockNumber") == latest:
            break  # no block came in between: the set and the header are of one moment
    try:
        hdr = header_mod.from_json(block, suite.node_sig_len)
    except (LightmeterError, AttributeError, TypeError) as e:
        raise TrustInitError("block %d from the node is malformed: %s" % (n, e))
    if hdr.number != n:
        raise TrustInitError("asked the node for block %d, it answered block %d" % (n, hdr.number))
    digest = hdr.hash(suite)
    if hdr.claimed_hash is None or hdr.claimed_hash != digest:
        raise TrustInitError("the node's answers disagree: block %d hashes to %s, the node says %s"
                             % (n, fields.hex0x(digest), block.get("hash")))
    header_set = list(zip(hdr.sealer_list, hdr.weights))
    if n == 0 and not header_set:  # the genesis header carries no sealer list: its config does
        header_set = sorted(settings.get("genesis_sealers") or sealers)
    if n == latest and header_set != sealers:
        raise TrustInitError("the node's answers disagree: getSealerList (%d sealers, weight %d) is not the "
                             "sealer set of its latest block %d (%d sealers, weight %d)"
                             % (len(sealers), sum(w for _, w in sealers), n, len(header_set),
                                sum(w for _, w in header_set)))
    out = dict(settings, sealers=header_set, number=n, hash=digest,
               current_differs=header_set != sealers)
    report = check.check_header(block, to_json(out))
    if not report["valid"]:
        raise TrustInitError("block %d does not verify against its own sealer set: %s" % (n, report["reason"]))
    return out


def from_hash(rpc, digest):
    """The checkpoint at the header whose hash (32 bytes) an operator supplies, fetched from a node.

    The node's header must recompute to exactly that hash (a node cannot substitute another
    header), and it must be signed by a quorum of its own sealerList/consensusWeights.
    """
    from lightmeter_host.chain.rpc import NodeError

    settings = _chain_settings(rpc)
    suite = suite_mod.get(settings["crypto"])
    try:
        block = rpc("getBlockByHash", fields.hex0x(digest), True, True)
    except NodeError as e:
        raise TrustInitError("the node has no block with hash %s: %s" % (fields.hex0x(digest), e))
    if block is None:
        raise TrustInitError("the node has no block with hash %s" % fields.hex0x(digest))
    try:
        hdr = header_mod.from_json(block, suite.node_sig_len)
    except (LightmeterError, AttributeError, TypeError) as e:
        raise TrustInitError("the node's block %s is malformed: %s" % (fields.hex0x(digest), e))
    got = hdr.hash(suite)
    if got != digest:
        raise TrustInitError("the node's header for hash %s hashes to %s (block %d): refused"
                             % (fields.hex0x(digest), fields.hex0x(got), hdr.number))
    n = hdr.number
    header_set = list(zip(hdr.sealer_list, hdr.weights))
    if n == 0 and not header_set:  # the genesis header carries no sealer list: its config does
        header_set = sorted(settings.get("genesis_sealers") or _sealer_list(rpc))
    try:
        current = _sealer_list(rpc)
    except (TrustInitError, NodeError):
        current = header_set  # the note is informative only
    out = dict(settings, sealers=header_set, number=n, hash=digest, current_differs=header_set != current)
    out.pop("genesis_sealers", None)
    report = check.check_header(block, to_json(out))
    if not report["valid"]:
        raise TrustInitError("block %d does not verify against its own sealer set: %s" % (n, report["reason"]))
    return out


def to_json(info):
    """The TRUST.json object of fetch()'s result, validated by the firmware's own parser."""
    obj = {"chain_id": info["chain_id"], "group_id": info["group_id"], "crypto": info["crypto"],
           "sealers": [{"node_id": fields.hex0x(n), "weight": w} for n, w in info["sealers"]],
           "number": info["number"], "hash": fields.hex0x(info["hash"])}
    try:
        trust_mod.from_json(obj)
    except LightmeterError as e:
        raise TrustInitError("the node's chain settings make no valid TRUST.json: %s" % e)
    return obj


def _short(node):
    h = node.hex()
    return "0x%s…%s" % (h[:8], h[-8:])


def describe(info, url, label="Node"):
    """The lines an operator reads before confirming."""
    total = sum(w for _, w in info["sealers"])
    lines = ["%-10s %s" % (label, url),
             "Chain      %s" % info["chain_id"],
             "Group      %s" % info["group_id"],
             "Crypto     %s (%s)" % (info["crypto"], "SM3 + SM2" if info["crypto"] == "sm" else "keccak256 + secp256k1"),
             "Block      %d  %s" % (info["number"], fields.hex0x(info["hash"])),
             "Sealers    %d" % len(info["sealers"])]
    for i, (n, w) in enumerate(info["sealers"]):
        lines.append("  [%d] %s  weight %d" % (i, _short(n), w))
    lines.append("Total weight %d, quorum %d (a header needs signatures of at least this weight)"
                 % (total, trust_mod.quorum(total)))
    if info.get("current_differs"):
        lines.append("Note: the node's current sealer set differs; it changed after block %d." % info["number"])
    return "\n".join(lines)


def write_atomic(path, text):
    """Write text to path so that a reader sees the old file or the whole new one (a device or
    FIFO is written in place, a directory refused: lightmeter_host.outfile)."""
    from lightmeter_host import outfile
    outfile.write_text(path, text)


def dumps(obj):
    return json.dumps(obj, indent=2) + "\n"
