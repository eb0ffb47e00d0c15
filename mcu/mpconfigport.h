// lightmeter's measuring port of MicroPython: the feature set of a small
// Cortex-M0+ board (RP2040-like: 32-bit, single-precision float, big integers
// as mpz, no native emitters), with a heap whose size is chosen per run.
// One configuration for both targets: MCU_TARGET_M0 (QEMU mps2-an385, Thumb-1
// code) and MCU_TARGET_HOST32 (a -m32 host program, the fast check).

#include <stdint.h>
#include <alloca.h>

#define MICROPY_CONFIG_ROM_LEVEL            (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

// Core behaviour of a board build.
#define MICROPY_ENABLE_GC                   (1)
#define MICROPY_ENABLE_COMPILER             (1)
#define MICROPY_ENABLE_EMERGENCY_EXCEPTION_BUF (1)
#define MICROPY_EMERGENCY_EXCEPTION_BUF_SIZE (256)
#define MICROPY_STACK_CHECK                 (1)
#define MICROPY_LONGINT_IMPL                (MICROPY_LONGINT_IMPL_MPZ)
#define MICROPY_FLOAT_IMPL                  (MICROPY_FLOAT_IMPL_FLOAT)
#define MICROPY_ERROR_REPORTING             (MICROPY_ERROR_REPORTING_NORMAL)
#define MICROPY_OPT_COMPUTED_GOTO           (1)
#define MICROPY_GC_STACK_ENTRY_TYPE         uint16_t
#define MICROPY_ALLOC_PATH_MAX              (256)
#define MICROPY_PERSISTENT_CODE_LOAD        (1)
#define MICROPY_EMIT_THUMB                  (0)
#define MICROPY_EMIT_INLINE_THUMB           (0)
#define MICROPY_EMIT_X86                    (0)
#define MICROPY_EMIT_X64                    (0)
#define MICROPY_EMIT_ARM                    (0)
#define MICROPY_MODULE_FROZEN_MPY           (0)
#define MICROPY_MODULE_FROZEN_STR           (0)
#define MICROPY_KBD_EXCEPTION               (0)
#define MICROPY_HELPER_REPL                 (0)
#define MICROPY_REPL_EVENT_DRIVEN           (0)
#define MICROPY_PY_BUILTINS_INPUT           (0)
#define MICROPY_PY_BUILTINS_HELP            (0)
#define MICROPY_PY_THREAD                   (0)

// Files: no VFS; the port reads host files (semihosting or stdio), see hostfile.c.
#define MICROPY_VFS                         (0)
#define MICROPY_READER_POSIX                (0)
#define MICROPY_READER_VFS                  (0)
#define MICROPY_HAS_FILE_READER             (1)

// sys
#define MICROPY_PY_SYS_ARGV                 (1)
#define MICROPY_PY_SYS_PATH                 (1)
#define MICROPY_PY_SYS_EXIT                 (1)
#define MICROPY_PY_SYS_STDFILES             (0)
#define MICROPY_PY_SYS_STDIO_BUFFER         (0)
#define MICROPY_PY_SYS_PS1_PS2              (0)

// Modules that live in extmod/ (absent from the sdist). The ones the firmware
// needs are written for this port: binascii, hashlib, json, time (mod*.c).
#define MICROPY_PY_UCTYPES                  (0)
#define MICROPY_PY_OS                       (0)
#define MICROPY_PY_TIME                     (0)
#define MICROPY_PY_BINASCII                 (0)
#define MICROPY_PY_HASHLIB                  (0)
// MICROPY_PY_JSON switches on the core's JSON printing, which modjson.c uses.
#define MICROPY_PY_JSON                     (1)
#define MICROPY_PY_JSON_SEPARATORS          (1)
#define MICROPY_PY_RE                       (0)
#define MICROPY_PY_RANDOM                   (0)
#define MICROPY_PY_SELECT                   (0)
#define MICROPY_PY_ASYNCIO                  (0)
#define MICROPY_PY_HEAPQ                    (0)
#define MICROPY_PY_DEFLATE                  (0)
#define MICROPY_PY_FRAMEBUF                 (0)
#define MICROPY_PY_PLATFORM                 (0)
#define MICROPY_PY_MACHINE                  (0)
#define MICROPY_PY_VFS                      (0)
#define MICROPY_PY_SOCKET                   (0)
#define MICROPY_PY_CRYPTOLIB                (0)
#define MICROPY_PY_WEBSOCKET                (0)
#define MICROPY_PY_ONEWIRE                  (0)
#define MICROPY_PY_LWIP                     (0)

#if MCU_TARGET_M0
#define MICROPY_HW_BOARD_NAME               "lightmeter-mcu (QEMU mps2-an385)"
#define MICROPY_HW_MCU_NAME                 "Cortex-M0+ code"
#define MICROPY_PY_SYS_PLATFORM             "mcu-m0"
#else
#define MICROPY_HW_BOARD_NAME               "lightmeter-mcu (host, 32-bit)"
#define MICROPY_HW_MCU_NAME                 "host -m32"
#define MICROPY_PY_SYS_PLATFORM             "mcu-host32"
#endif

// newlib has no SSIZE_MAX.
#define MP_SSIZE_MAX                        (0x7fffffff)

typedef long mp_off_t;

#define MICROPY_MPHALPORT_H                 "mphalport.h"
