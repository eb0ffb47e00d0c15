"""Light-client commands on the host: `lightmeter trust init` and `lightmeter sync`."""
