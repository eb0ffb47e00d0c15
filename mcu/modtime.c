// time: the ticks API of MicroPython's boards (ticks_ms/us/cpu, ticks_diff,
// ticks_add, sleep/sleep_ms/sleep_us) and time()/time_ns() since reset.
// On m0 the clock is virtual time (instructions under -icount) and sleeping
// moves it forward without executing anything, so sleeps cost no instructions.

#include "py/mphal.h"
#include "py/runtime.h"

#define TICKS_PERIOD (1u << 30) // MicroPython's ticks wrap inside a small int
#define TICKS_MASK (TICKS_PERIOD - 1)

static mp_obj_t ticks(uint64_t unit_ns) {
    return MP_OBJ_NEW_SMALL_INT((mp_int_t)((mcu_time_ns() / unit_ns) & TICKS_MASK));
}

static mp_obj_t time_ticks_ms(void) {
    return ticks(1000000);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_ticks_ms_obj, time_ticks_ms);

static mp_obj_t time_ticks_us(void) {
    return ticks(1000);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_ticks_us_obj, time_ticks_us);

static mp_obj_t time_ticks_cpu(void) {
    return ticks(40); // 25 MHz
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_ticks_cpu_obj, time_ticks_cpu);

static mp_obj_t time_ticks_diff(mp_obj_t end, mp_obj_t start) {
    mp_uint_t d = (mp_obj_get_int(end) - mp_obj_get_int(start)) & TICKS_MASK;
    // Map [0, period) to [-period/2, period/2).
    mp_int_t signed_d = (mp_int_t)((d + TICKS_PERIOD / 2) & TICKS_MASK) - (mp_int_t)(TICKS_PERIOD / 2);
    return MP_OBJ_NEW_SMALL_INT(signed_d);
}
static MP_DEFINE_CONST_FUN_OBJ_2(time_ticks_diff_obj, time_ticks_diff);

static mp_obj_t time_ticks_add(mp_obj_t t, mp_obj_t delta) {
    return MP_OBJ_NEW_SMALL_INT((mp_obj_get_int(t) + mp_obj_get_int(delta)) & TICKS_MASK);
}
static MP_DEFINE_CONST_FUN_OBJ_2(time_ticks_add_obj, time_ticks_add);

// Sleep a whole number of units of ns_per_unit nanoseconds (nothing for n <= 0).
static mp_obj_t sleep_units(mp_obj_t n_obj, uint64_t ns_per_unit) {
    mp_int_t n = mp_obj_get_int(n_obj);
    if (n > 0) {
        mcu_sleep_ns((uint64_t)n * ns_per_unit);
    }
    return mp_const_none;
}

static mp_obj_t time_sleep_ms(mp_obj_t ms) {
    return sleep_units(ms, 1000000u);
}
static MP_DEFINE_CONST_FUN_OBJ_1(time_sleep_ms_obj, time_sleep_ms);

static mp_obj_t time_sleep_us(mp_obj_t us) {
    return sleep_units(us, 1000u);
}
static MP_DEFINE_CONST_FUN_OBJ_1(time_sleep_us_obj, time_sleep_us);

static mp_obj_t time_sleep(mp_obj_t s) {
    mp_float_t f = mp_obj_get_float(s);
    if (f > 0) {
        mcu_sleep_ns((uint64_t)(f * 1e6f) * 1000u);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(time_sleep_obj, time_sleep);

static mp_obj_t time_time(void) {
    return mp_obj_new_int_from_ull(mcu_time_ns() / 1000000000u);
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_time_obj, time_time);

static mp_obj_t time_time_ns(void) {
    return mp_obj_new_int_from_ull(mcu_time_ns());
}
static MP_DEFINE_CONST_FUN_OBJ_0(time_time_ns_obj, time_time_ns);

static const mp_rom_map_elem_t time_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_time) },
    { MP_ROM_QSTR(MP_QSTR_ticks_ms), MP_ROM_PTR(&time_ticks_ms_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_us), MP_ROM_PTR(&time_ticks_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_cpu), MP_ROM_PTR(&time_ticks_cpu_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_diff), MP_ROM_PTR(&time_ticks_diff_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_add), MP_ROM_PTR(&time_ticks_add_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep), MP_ROM_PTR(&time_sleep_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep_ms), MP_ROM_PTR(&time_sleep_ms_obj) },
    { MP_ROM_QSTR(MP_QSTR_sleep_us), MP_ROM_PTR(&time_sleep_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_time), MP_ROM_PTR(&time_time_obj) },
    { MP_ROM_QSTR(MP_QSTR_time_ns), MP_ROM_PTR(&time_time_ns_obj) },
};
static MP_DEFINE_CONST_DICT(time_globals, time_globals_table);

const mp_obj_module_t mcu_time_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&time_globals,
};

MP_REGISTER_MODULE(MP_QSTR_time, mcu_time_module);
