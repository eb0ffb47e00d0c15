"""The virtual board: the real firmware on the host, its UART on a pseudo-terminal."""
