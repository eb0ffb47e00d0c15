"""Real boards: profiles, serial ports, flashing, provisioning, the fleet manifest."""
