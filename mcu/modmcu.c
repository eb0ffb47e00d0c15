// mcu: what this measuring port knows about the run, for benchmarks.
//   mcu.instructions()  guest instructions since reset (m0 under -icount; 0 on host32)
//   mcu.heap_size()     the heap given with --heap, in bytes
//   mcu.spin(n)         executes a loop of exactly 2*n instructions (calibration)
//   mcu.target          "m0" or "host32"
//   mcu.rename(a, b), mcu.remove(path)  host files (the bench's board file system;
//                       OSError when the host refuses)

#include "py/gc.h"
#include "py/mphal.h"
#include "py/mperrno.h"
#include "py/runtime.h"

static mp_obj_t mcu_instructions_fn(void) {
    return mp_obj_new_int_from_ull(mcu_instructions());
}
static MP_DEFINE_CONST_FUN_OBJ_0(mcu_instructions_obj, mcu_instructions_fn);

static mp_obj_t mcu_heap_size(void) {
    return mp_obj_new_int_from_uint(mcu_heap_bytes);
}
static MP_DEFINE_CONST_FUN_OBJ_0(mcu_heap_size_obj, mcu_heap_size);

static mp_obj_t mcu_spin(mp_obj_t n_in) {
    mp_uint_t n = mp_obj_get_int(n_in);
    if (n > 0) {
        #if MCU_TARGET_M0
        __asm__ volatile (
            "1: sub %0, #1\n" // divided syntax: sets the flags
            "bne 1b\n"
            : "+l" (n) : : "cc");
        #else
        volatile mp_uint_t k = n;
        while (k) {
            k--;
        }
        #endif
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mcu_spin_obj, mcu_spin);

static mp_obj_t mcu_rename(mp_obj_t a, mp_obj_t b) {
    if (mcu_file_rename(mp_obj_str_get_str(a), mp_obj_str_get_str(b)) != 0) {
        mp_raise_OSError(MP_ENOENT);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(mcu_rename_obj, mcu_rename);

static mp_obj_t mcu_remove(mp_obj_t path) {
    if (mcu_file_remove(mp_obj_str_get_str(path)) != 0) {
        mp_raise_OSError(MP_ENOENT);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mcu_remove_obj, mcu_remove);

static const mp_rom_map_elem_t mcu_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_mcu) },
    { MP_ROM_QSTR(MP_QSTR_instructions), MP_ROM_PTR(&mcu_instructions_obj) },
    { MP_ROM_QSTR(MP_QSTR_heap_size), MP_ROM_PTR(&mcu_heap_size_obj) },
    { MP_ROM_QSTR(MP_QSTR_spin), MP_ROM_PTR(&mcu_spin_obj) },
    { MP_ROM_QSTR(MP_QSTR_rename), MP_ROM_PTR(&mcu_rename_obj) },
    { MP_ROM_QSTR(MP_QSTR_remove), MP_ROM_PTR(&mcu_remove_obj) },
    #if MCU_TARGET_M0
    { MP_ROM_QSTR(MP_QSTR_target), MP_ROM_QSTR(MP_QSTR_m0) },
    #else
    { MP_ROM_QSTR(MP_QSTR_target), MP_ROM_QSTR(MP_QSTR_host32) },
    #endif
};
static MP_DEFINE_CONST_DICT(mcu_globals, mcu_globals_table);

const mp_obj_module_t mcu_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&mcu_globals,
};

MP_REGISTER_MODULE(MP_QSTR_mcu, mcu_module);
