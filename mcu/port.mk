# Builds one target of the port; mcu/Makefile calls it with
#   TOP=<extracted sdist> TARGET=m0|host32 BUILD=build-<target>

include $(TOP)/py/mkenv.mk

QSTR_DEFS =
include $(TOP)/py/py.mk

INC += -I. -I$(TOP) -I$(BUILD)

SRC_C = main.c hostfile.c modtime.c modmcu.c modbinascii.c modhashlib.c modjson.c
SRC_QSTR += $(SRC_C)

CWARN = -Wall -Werror -Wdouble-promotion -Wfloat-conversion
COPT ?= -Os -DNDEBUG

ifeq ($(TARGET),m0)
CROSS_COMPILE = arm-none-eabi-
SRC_C_TARGET = hal_m0.c
CFLAGS_TARGET = -mcpu=cortex-m0plus -mthumb -mfloat-abi=soft -DMCU_TARGET_M0=1 -fdata-sections -ffunction-sections
LDFLAGS = -mcpu=cortex-m0plus -mthumb -nostartfiles -T m0.ld -Wl,--gc-sections -Wl,-Map=$(BUILD)/firmware.map --specs=nano.specs --specs=nosys.specs
LIBS = -lm -lc -lgcc
else ifeq ($(TARGET),host32)
SRC_C_TARGET = hal_host32.c
CFLAGS_TARGET = -m32 -DMCU_TARGET_HOST32=1
LDFLAGS = -m32
LIBS = -lm
PROG = micropython
STRIP =
else
$(error TARGET must be m0 or host32)
endif

SRC_QSTR += $(SRC_C_TARGET)
CFLAGS += $(INC) $(CWARN) -std=gnu99 $(CFLAGS_TARGET) $(COPT) -g

OBJ = $(PY_O) $(addprefix $(BUILD)/, $(SRC_C:.c=.o) $(SRC_C_TARGET:.c=.o))

ifeq ($(TARGET),m0)
all: $(BUILD)/firmware.elf

$(BUILD)/firmware.elf: $(OBJ) m0.ld
	$(ECHO) "LINK $@"
	$(Q)$(CC) -o $@ $(OBJ) $(LDFLAGS) $(LIBS)
	$(Q)$(SIZE) $@
endif

include $(TOP)/py/mkrules.mk
