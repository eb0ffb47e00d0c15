"""Chain access from the host: transactions (Tars, build, decode), contracts, native crypto backends."""
