"""Chain access from the host: the node's JSON-RPC client, transactions (Tars, build, decode), contracts, native crypto backends."""
