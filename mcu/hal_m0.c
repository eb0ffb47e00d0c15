// The QEMU mps2-an385 target: reset and vector table, ARM semihosting (console,
// host files, command line, exit) and an instruction counter built on SysTick.
//
// Under `qemu-system-arm -icount shift=0` every guest instruction advances
// virtual time by 1 ns; SysTick runs from the 25 MHz system clock, so one
// SysTick step is 40 instructions. The counter below is exact to 40
// instructions (tests/host/test_mcu.py checks the factor against a loop of
// known length). Without -icount, SysTick follows the host's clock instead.

#include <string.h>

#include "py/mphal.h"
#include "py/mpstate.h"

// ---- semihosting ----

#define SYS_OPEN (0x01)
#define SYS_CLOSE (0x02)
#define SYS_WRITE (0x05)
#define SYS_READ (0x06)
#define SYS_FLEN (0x0c)
#define SYS_REMOVE (0x0e)
#define SYS_RENAME (0x0f)
#define SYS_ERRNO (0x13)
#define SYS_GET_CMDLINE (0x15)
#define SYS_EXIT (0x18)
#define SYS_EXIT_EXTENDED (0x20)
#define ADP_STOPPED_APPLICATION_EXIT (0x20026)
#define MODE_RB (1)
#define MODE_W (4)
#define MODE_WB (5)
#define HOST_EISDIR (21)

static int semihost(uint32_t op, const void *arg) {
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile ("bkpt 0xab" : "+r" (r0) : "r" (r1) : "memory");
    return (int)r0;
}

static int host_open(const char *path, uint32_t mode) {
    uint32_t args[3] = { (uint32_t)path, mode, strlen(path) };
    return semihost(SYS_OPEN, args);
}

static void host_close(int fd) {
    uint32_t args[1] = { fd };
    semihost(SYS_CLOSE, args);
}

// ---- console: stdout buffered, written with SYS_WRITE ----

static int stdout_fd = -1;
static char out_buf[256];
static size_t out_len;

void mcu_stdout_flush(void) {
    if (out_len == 0) {
        return;
    }
    if (stdout_fd < 0) {
        stdout_fd = host_open(":tt", MODE_W);
    }
    uint32_t args[3] = { stdout_fd, (uint32_t)out_buf, out_len };
    semihost(SYS_WRITE, args);
    out_len = 0;
}

mp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {
    for (size_t i = 0; i < len; i++) {
        out_buf[out_len++] = str[i];
        if (out_len == sizeof(out_buf) || str[i] == '\n') {
            mcu_stdout_flush();
        }
    }
    return len;
}

void mp_hal_stdout_tx_strn_cooked(const char *str, size_t len) {
    mp_hal_stdout_tx_strn(str, len);
}

void mp_hal_stdout_tx_str(const char *str) {
    mp_hal_stdout_tx_strn(str, strlen(str));
}

int mp_hal_stdin_rx_chr(void) {
    return -1;
}

void mcu_exit(int status) {
    mcu_stdout_flush();
    uint32_t args[2] = { ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status };
    semihost(SYS_EXIT_EXTENDED, args);
    // A host without SYS_EXIT_EXTENDED: plain exit (status 0 or 1 only).
    semihost(SYS_EXIT, (const void *)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT : 0x20024));
    for (;;) {
    }
}

// ---- host files ----

int mcu_file_open(const char *path) {
    if (path[0] == '\0') {
        path = ".";
    }
    return host_open(path, MODE_RB);
}

int mcu_file_read(int fd, void *buf, uint32_t len) {
    uint32_t args[3] = { fd, (uint32_t)buf, len };
    int not_read = semihost(SYS_READ, args);
    if (not_read < 0 || (uint32_t)not_read > len) {
        return -1;
    }
    return len - not_read;
}

int mcu_file_create(const char *path) {
    return host_open(path, MODE_WB);
}

int mcu_file_write(int fd, const void *buf, uint32_t len) {
    uint32_t args[3] = { fd, (uint32_t)buf, len };
    int not_written = semihost(SYS_WRITE, args);
    return not_written == 0 ? (int)len : -1;
}

void mcu_file_close(int fd) {
    host_close(fd);
}

int mcu_file_rename(const char *from, const char *to) {
    uint32_t args[4] = { (uint32_t)from, strlen(from), (uint32_t)to, strlen(to) };
    return semihost(SYS_RENAME, args);
}

int mcu_file_remove(const char *path) {
    uint32_t args[2] = { (uint32_t)path, strlen(path) };
    return semihost(SYS_REMOVE, args);
}

// Semihosting has no stat: a path is something when it opens; it is a folder
// when it opens but a read fails although its length is not zero (or the
// host says EISDIR).
int mcu_path_kind(const char *path) {
    int fd = mcu_file_open(path);
    if (fd < 0) {
        return 0;
    }
    uint32_t flen_args[1] = { fd };
    int flen = semihost(SYS_FLEN, flen_args);
    int kind = 1;
    if (flen != 0) {
        char c;
        if (mcu_file_read(fd, &c, 1) != 1) {
            kind = 2;
        }
    } else {
        char c;
        if (mcu_file_read(fd, &c, 1) != 1 && semihost(SYS_ERRNO, NULL) == HOST_EISDIR) {
            kind = 2;
        }
    }
    host_close(fd);
    return kind;
}

// ---- instruction counter on SysTick ----

#define SYST_CSR (*(volatile uint32_t *)0xe000e010)
#define SYST_RVR (*(volatile uint32_t *)0xe000e014)
#define SYST_CVR (*(volatile uint32_t *)0xe000e018)
#define SCB_ICSR (*(volatile uint32_t *)0xe000ed04)
#define ICSR_PENDSTSET (1u << 26)
#define SYSTICK_PERIOD (1u << 24)
#define INSTRUCTIONS_PER_TICK (40)

static volatile uint32_t systick_wraps;

static void systick_handler(void) {
    systick_wraps++;
}

static uint64_t systick_ticks(void) {
    __asm__ volatile ("cpsid i" ::: "memory");
    uint32_t wraps = systick_wraps;
    uint32_t cvr = SYST_CVR;
    if (SCB_ICSR & ICSR_PENDSTSET) {
        // Wrapped before the flag was read but not yet counted: read again,
        // this value belongs to the next period.
        cvr = SYST_CVR;
        wraps++;
    }
    __asm__ volatile ("cpsie i" ::: "memory");
    return (uint64_t)wraps * SYSTICK_PERIOD + (SYSTICK_PERIOD - 1 - cvr);
}

uint64_t mcu_instructions(void) {
    return systick_ticks() * INSTRUCTIONS_PER_TICK;
}

static uint64_t slept_ns;

uint64_t mcu_time_ns(void) {
    return systick_ticks() * 40 + slept_ns; // 25 MHz
}

void mcu_sleep_ns(uint64_t ns) {
    slept_ns += ns;
}

// ---- reset, vector table ----

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;

#define MCU_HEAP_MAX (256 * 1024)
uint8_t mcu_heap_area[MCU_HEAP_MAX] __attribute__((aligned(8)));
const uint32_t mcu_heap_max = MCU_HEAP_MAX;

#define MAX_ARGS (32)
static char cmdline[1024];
static char *argv[MAX_ARGS + 1];

static int split_cmdline(void) {
    uint32_t args[2] = { (uint32_t)cmdline, sizeof(cmdline) - 1 };
    if (semihost(SYS_GET_CMDLINE, args) != 0) {
        return 0;
    }
    int argc = 0;
    char *p = cmdline;
    while (*p && argc < MAX_ARGS) {
        while (*p == ' ') {
            *p++ = '\0';
        }
        if (*p) {
            argv[argc++] = p;
            while (*p && *p != ' ') {
                p++;
            }
        }
    }
    argv[argc] = NULL;
    return argc;
}

void reset_handler(void) __attribute__((noreturn));
void reset_handler(void) {
    memcpy(&_sdata, &_sidata, (char *)&_edata - (char *)&_sdata);
    memset(&_sbss, 0, (char *)&_ebss - (char *)&_sbss);
    SYST_RVR = SYSTICK_PERIOD - 1;
    SYST_CVR = 0;
    SYST_CSR = 7; // processor clock, interrupt on wrap, enabled
    int argc = split_cmdline();
    mcu_exit(mcu_main(argc, argv));
}

static void fault_handler(void) {
    mp_hal_stdout_tx_str("FATAL: hard fault\n");
    mcu_exit(5);
}

__attribute__((section(".isr_vector"), used))
const void *const vector_table[16] = {
    &_estack,
    reset_handler,
    fault_handler, // NMI
    fault_handler, // HardFault
    fault_handler, fault_handler, fault_handler, // MemManage, BusFault, UsageFault (M3 host core)
    0, 0, 0, 0,
    fault_handler, // SVCall
    0, 0,
    fault_handler, // PendSV
    systick_handler,
};
