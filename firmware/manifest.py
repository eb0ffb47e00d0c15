# What a board image freezes: the whole `lightmeter` firmware package, in MicroPython's manifest
# format (micropython-lib's convention). Build an image with it:
#   make -C ports/rp2 BOARD=RPI_PICO_W FROZEN_MANIFEST=/abs/path/to/firmware/manifest.py
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/abs/path/to/firmware/manifest.py
# Its folders have no __init__.py (docs/architecture.md); package() freezes every .py below it.
# A board's own modules stay frozen: add include("$(PORT_DIR)/boards/manifest.py") when the
# port's default manifest is not already included by the board.

metadata(
    description="lightmeter: a FISCO BCOS 3.x light client for MicroPython meters",
    version="0.1.0",
    license="Apache-2.0",
)

package("lightmeter", opt=3)
