"""`lightmeter node`: a local FISCO BCOS 3.x-compatible chain for development and tests."""
