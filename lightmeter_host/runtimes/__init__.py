"""MicroPython runtimes on the host: the WebAssembly port, the Unix port, mpy-cross."""
