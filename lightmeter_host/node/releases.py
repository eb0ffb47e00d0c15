"""What a FISCO BCOS 3.x release prints and accepts, for `lightmeter node --fisco-version X.Y`.

One row of docs/fisco-versions.md §1-§2 per release line, as the local node needs it: the header
version its chain writes (the chain's compatibility_version), how getTransaction spells the
nonce, whether proofs and `0x` on contractAddress are printed, which transaction versions the
pool takes. The hashes themselves never change with the release (lightmeter.chain).
"""

NEWEST = (3, 16)
DEFAULT_COMPATIBILITY = (3, 3, 0)  # the local node's chains, as the documentation's example chain


class Release:
    """A release line X.Y (3.0 to 3.16) and the chain's compatibility version."""

    def __init__(self, minor, compatibility=None):
        self.minor = minor
        self.name = "3.%d" % minor
        major, mi, patch = compatibility or (3, minor, 0)
        self.compatibility = "%d.%d.%d" % (major, mi, patch)
        # header version = min(compatibility, the node's MAX_VERSION) (Sealer.cpp)
        self.header_version = (major << 24) | (mi << 16) | (patch << 8)
        # the genesis header gets a version only from compatibility 3.1.0 (Ledger.cpp)
        self.genesis_version = self.header_version if (major, mi) >= (3, 1) else 0
        self.decimal_nonce = minor < 3       # nonce().str(): a u256 in decimal, v3.0-v3.2
        self.proofs = minor >= 2             # txProof / txReceiptProof from v3.2.0
        self.contract_0x = minor >= 1        # contractAddress with 0x from v3.1.0
        self.checksum_address = minor >= 1   # checksumContractAddress from v3.1.0
        self.tx_extra_data = minor >= 2      # tx extraData from v3.1.2 (X.Y means X.Y.0)
        self.max_tx_version = 0 if minor < 6 else (1 if minor == 6 else 2)

    def __repr__(self):
        return "Release(%s, compatibility %s)" % (self.name, self.compatibility)


def get(text=None):
    """The Release for "3.Y" (3.0 to 3.16); None gives the newest release on the default chain."""
    if text is None:
        return Release(NEWEST[1], DEFAULT_COMPATIBILITY)
    parts = str(text).split(".")
    if len(parts) != 2 or parts[0] != "3" or not parts[1].isdigit() or not 0 <= int(parts[1]) <= NEWEST[1]:
        raise ValueError("FISCO BCOS version must be 3.0 to 3.%d, got %r" % (NEWEST[1], text))
    return Release(int(parts[1]))


def names():
    return ["3.%d" % m for m in range(NEWEST[1] + 1)]


# -- JSON as the release prints it ---------------------------------------------------------------

def tx_json(release, out):
    """getTransaction JSON (newest spelling, from lightmeter.chain.txread.to_json) as release prints it."""
    if release.decimal_nonce:
        out["nonce"] = str(int(bytes.fromhex(out["nonce"]).decode()))
    if not release.tx_extra_data:
        out.pop("extraData", None)
    return out


def receipt_json(release, rc):
    """A stored receipt (newest spelling) as release prints it."""
    out = dict(rc)
    if not release.contract_0x and out.get("contractAddress", "").startswith("0x"):
        out["contractAddress"] = out["contractAddress"][2:]
    if not release.checksum_address:
        out.pop("checksumContractAddress", None)
    return out


def nonce_refusal(release, nonce):
    """Why release's pool refuses the nonce string (bytes), or None.

    Before v3.3.0 TransactionImpl::nonce() is boost::lexical_cast<u256>(nonce): a nonce that
    is no decimal u256 throws. One with leading zeros would be printed as other digits than
    were hashed; the local node refuses it too, so every transaction it prints can be checked."""
    if not release.decimal_nonce:
        return None
    text = nonce.decode("ascii", "replace")
    if not text.isdigit() or not text.isascii() or int(text) >= 1 << 256:
        return "nonce is not a decimal u256 (FISCO BCOS < 3.3.0)"
    if text != str(int(text)):
        return "nonce has leading zeros (FISCO BCOS < 3.3.0 would print other digits)"
    return None
