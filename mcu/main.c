// Runs one script under a heap of the size asked for on the command line:
//   [--heap BYTES] [--path DIR]... [--stats FILE] SCRIPT [ARGS...]
// sys.path is the script's folder, then each --path. With --stats, the port
// writes to FILE at the end, one "name value" a line: status, instructions
// (0 where not counted), heap, heap_used (after a final collection), heap_free. Exit status: 0 when the
// script ends, 1 after an uncaught exception, 3 when that exception is a
// MemoryError, 2 for a bad command line, sys.exit(n) gives n.

#include <stdlib.h>
#include <string.h>

#include "py/builtin.h"
#include "py/compile.h"
#include "py/gc.h"
#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/runtime.h"
#include "py/stackctrl.h"

#define MCU_EXIT_EXCEPTION (1)
#define MCU_EXIT_USAGE (2)
#define MCU_EXIT_MEMORY (3)
#define MCU_EXIT_FATAL (4)

// Stack the port reserves for Python (checked by MICROPY_STACK_CHECK).
#define MCU_STACK_LIMIT (14 * 1024)

uint32_t mcu_heap_bytes;

static void usage(const char *msg) {
    mp_printf(&mp_plat_print, "mcu: %s\nusage: [--heap BYTES] [--path DIR]... [--stats FILE] SCRIPT [ARGS...]\n", msg);
    mcu_exit(MCU_EXIT_USAGE);
}

static int exit_status_of(mp_obj_t exc) {
    const mp_obj_type_t *type = mp_obj_get_type(exc);
    if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(type), MP_OBJ_FROM_PTR(&mp_type_SystemExit))) {
        mp_obj_t code = mp_obj_exception_get_value(exc);
        if (code == mp_const_none) {
            return 0;
        }
        mp_int_t n;
        if (mp_obj_get_int_maybe(code, &n)) {
            return (int)(n & 0xff);
        }
        mp_obj_print_helper(&mp_plat_print, code, PRINT_STR);
        mp_print_str(&mp_plat_print, "\n");
        return 1;
    }
    mp_obj_print_exception(&mp_plat_print, exc);
    if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(type), MP_OBJ_FROM_PTR(&mp_type_MemoryError))) {
        return MCU_EXIT_MEMORY;
    }
    return MCU_EXIT_EXCEPTION;
}

static int run_file(const char *path) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_lexer_t *lex = mp_lexer_new_from_file(qstr_from_str(path));
        qstr source_name = lex->source_name;
        mp_parse_tree_t tree = mp_parse(lex, MP_PARSE_FILE_INPUT);
        mp_obj_t fun = mp_compile(&tree, source_name, false);
        mp_call_function_0(fun);
        nlr_pop();
        return 0;
    }
    return exit_status_of(MP_OBJ_FROM_PTR(nlr.ret_val));
}

static void write_stats(const char *path, int status, uint64_t instructions, uint32_t heap, const gc_info_t *info) {
    int fd = mcu_file_create(path);
    if (fd < 0) {
        return;
    }
    char text[160];
    vstr_t vstr;
    vstr_init_fixed_buf(&vstr, sizeof(text), text);
    mp_print_t print = { &vstr, (mp_print_strn_t)vstr_add_strn };
    mp_printf(&print, "status %d\ninstructions %u%09u\nheap %u\nheap_used %u\nheap_free %u\n",
        status, (unsigned)(instructions / 1000000000u), (unsigned)(instructions % 1000000000u),
        (unsigned)heap, (unsigned)info->used, (unsigned)info->free);
    mcu_file_write(fd, vstr.buf, vstr.len);
    mcu_file_close(fd);
}

int mcu_main(int argc, char **argv) {
    mp_stack_ctrl_init();
    mp_stack_set_limit(MCU_STACK_LIMIT);

    uint32_t heap = 64 * 1024;
    const char *stats_path = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
        if (i + 1 >= argc) {
            usage("option without a value");
        }
        if (strcmp(argv[i], "--heap") == 0) {
            heap = strtoul(argv[i + 1], NULL, 0);
        } else if (strcmp(argv[i], "--stats") == 0) {
            stats_path = argv[i + 1];
        } else if (strcmp(argv[i], "--path") != 0) {
            usage("unknown option");
        }
    }
    if (i >= argc) {
        usage("no script");
    }
    if (heap < 1024 || heap > mcu_heap_max) {
        mp_printf(&mp_plat_print, "mcu: heap must be 1024..%u bytes\n", (unsigned)mcu_heap_max);
        mcu_exit(MCU_EXIT_USAGE);
    }
    mcu_heap_bytes = heap;
    gc_init(mcu_heap_area, mcu_heap_area + heap);
    mp_init();

    int status;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        // sys.path: the script's folder, then the --path folders.
        const char *script = argv[i];
        const char *slash = strrchr(script, '/');
        mp_sys_path = mp_obj_new_list(0, NULL);
        mp_obj_t path = mp_sys_path;
        mp_obj_list_append(path, slash ? mp_obj_new_str(script, slash - script) : MP_OBJ_NEW_QSTR(MP_QSTR_));
        for (int j = 1; j < i; j += 2) {
            if (strcmp(argv[j], "--path") == 0) {
                mp_obj_list_append(path, mp_obj_new_str(argv[j + 1], strlen(argv[j + 1])));
            }
        }
        for (int j = i; j < argc; j++) {
            mp_obj_list_append(mp_sys_argv, mp_obj_new_str(argv[j], strlen(argv[j])));
        }
        nlr_pop();
        status = run_file(script);
    } else {
        status = exit_status_of(MP_OBJ_FROM_PTR(nlr.ret_val));
    }
    uint64_t instructions = mcu_instructions();
    gc_collect();
    gc_info_t info;
    gc_info(&info);
    mp_deinit();
    mcu_stdout_flush();
    if (stats_path != NULL) {
        write_stats(stats_path, status, instructions, heap, &info);
    }
    return status;
}

// Spill the callee-saved registers onto the stack, then scan the stack.
void gc_collect(void) {
    uintptr_t regs[8];
    #if MCU_TARGET_M0
    __asm__ volatile (
        "str r4, [%0, #0]\n"
        "str r5, [%0, #4]\n"
        "str r6, [%0, #8]\n"
        "str r7, [%0, #12]\n"
        "mov r1, r8\n"
        "str r1, [%0, #16]\n"
        "mov r1, r9\n"
        "str r1, [%0, #20]\n"
        "mov r1, r10\n"
        "str r1, [%0, #24]\n"
        "mov r1, r11\n"
        "str r1, [%0, #28]\n"
        : : "l" (regs) : "r1", "memory");
    #else
    __asm__ volatile (
        "movl %%ebx, 0(%0)\n"
        "movl %%esi, 4(%0)\n"
        "movl %%edi, 8(%0)\n"
        "movl %%ebp, 12(%0)\n"
        : : "r" (regs) : "memory");
    #endif
    gc_collect_start();
    uintptr_t sp = (uintptr_t)regs;
    gc_collect_root((void **)sp, ((uintptr_t)MP_STATE_THREAD(stack_top) - sp) / sizeof(uintptr_t));
    gc_collect_end();
}

void nlr_jump_fail(void *val) {
    (void)val;
    mp_hal_stdout_tx_str("FATAL: uncaught exception outside a handler (heap too small to start?)\n");
    mcu_exit(MCU_EXIT_FATAL);
}

void NORETURN __fatal_error(const char *msg) {
    mp_hal_stdout_tx_str("FATAL: ");
    mp_hal_stdout_tx_str(msg);
    mp_hal_stdout_tx_str("\n");
    mcu_exit(MCU_EXIT_FATAL);
}

#ifndef NDEBUG
void MP_WEAK __assert_func(const char *file, int line, const char *func, const char *expr) {
    (void)func;
    mp_printf(&mp_plat_print, "assertion \"%s\" failed: file \"%s\", line %d\n", expr, file, line);
    __fatal_error("assertion failed");
}
#endif
