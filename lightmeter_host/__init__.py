"""lightmeter host tools: the `lightmeter` command and the CPython-only parts around the firmware core."""
