# Makefile fragment for the top-level Makefile: `include mcu/mcu.mk`, then
# `make mcu` installs the Debian packages the port needs (when absent, as root)
# and builds mcu/build-m0/firmware.elf and mcu/build-host32/micropython.
# Uses the top-level's $(PY) (the venv's python, for pip download) and .stamp-venv.

MCU_APT_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm gcc-multilib
MCU_SOURCES := $(wildcard mcu/*.c mcu/*.h mcu/*.ld mcu/port.mk mcu/Makefile)

.PHONY: mcu
mcu: .stamp-mcu

.stamp-mcu-apt:
	@if command -v arm-none-eabi-gcc >/dev/null && command -v qemu-system-arm >/dev/null \
	    && [ -f /usr/lib/arm-none-eabi/lib/libc.a ] && [ -d /usr/lib/gcc/x86_64-linux-gnu/*/32 ]; then \
	  touch $@; \
	elif [ "$$(id -u)" != 0 ]; then \
	  echo 'mcu: cannot install $(MCU_APT_PACKAGES) (not root)'; exit 1; \
	elif ! command -v apt-get >/dev/null; then \
	  echo 'mcu: cannot install $(MCU_APT_PACKAGES) (no apt-get)'; exit 1; \
	elif apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(MCU_APT_PACKAGES) >/dev/null; then \
	  touch $@; \
	else \
	  echo 'mcu: installing $(MCU_APT_PACKAGES) with apt-get FAILED'; exit 1; \
	fi

.stamp-mcu: .stamp-mcu-apt .stamp-venv $(MCU_SOURCES)
	$(MAKE) -C mcu PYTHON=$(abspath $(PY))
	touch $@
