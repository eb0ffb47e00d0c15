// binascii as MicroPython boards have it, the part the firmware uses:
//   hexlify(data[, sep]) -> bytes, unhexlify(str|bytes) -> bytes,
//   crc32(data[, crc]) -> int (the zlib/IEEE CRC-32).
// No base64 here.

#include <string.h>

#include "py/runtime.h"

static mp_obj_t binascii_hexlify(size_t n_args, const mp_obj_t *args) {
    mp_buffer_info_t data;
    mp_get_buffer_raise(args[0], &data, MP_BUFFER_READ);
    const char *sep = NULL;
    size_t sep_len = 0;
    if (n_args > 1 && args[1] != mp_const_none) {
        sep = mp_obj_str_get_data(args[1], &sep_len);
    }
    if (data.len == 0) {
        return mp_const_empty_bytes;
    }
    static const char digits[] = "0123456789abcdef";
    vstr_t out;
    vstr_init_len(&out, data.len * 2 + (data.len - 1) * sep_len);
    char *o = out.buf;
    const byte *in = data.buf;
    for (size_t i = 0; i < data.len; i++) {
        if (i > 0 && sep_len) {
            memcpy(o, sep, sep_len);
            o += sep_len;
        }
        *o++ = digits[in[i] >> 4];
        *o++ = digits[in[i] & 15];
    }
    return mp_obj_new_bytes_from_vstr(&out);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(binascii_hexlify_obj, 1, 2, binascii_hexlify);

static int hex_value(byte c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

static mp_obj_t binascii_unhexlify(mp_obj_t data_in) {
    mp_buffer_info_t data;
    mp_get_buffer_raise(data_in, &data, MP_BUFFER_READ);
    if (data.len & 1) {
        mp_raise_ValueError(MP_ERROR_TEXT("odd-length string"));
    }
    vstr_t out;
    vstr_init_len(&out, data.len / 2);
    const byte *in = data.buf;
    for (size_t i = 0; i < data.len / 2; i++) {
        int hi = hex_value(in[2 * i]);
        int lo = hex_value(in[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            vstr_clear(&out);
            mp_raise_ValueError(MP_ERROR_TEXT("non-hex digit found"));
        }
        out.buf[i] = (hi << 4) | lo;
    }
    return mp_obj_new_bytes_from_vstr(&out);
}
static MP_DEFINE_CONST_FUN_OBJ_1(binascii_unhexlify_obj, binascii_unhexlify);

// Reflected CRC-32, polynomial 0xEDB88320, four bits a step (16-word table).
static const uint32_t crc32_nibble[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

static mp_obj_t binascii_crc32(size_t n_args, const mp_obj_t *args) {
    mp_buffer_info_t data;
    mp_get_buffer_raise(args[0], &data, MP_BUFFER_READ);
    uint32_t crc = n_args > 1 ? mp_obj_get_int_truncated(args[1]) : 0;
    crc = ~crc;
    const byte *p = data.buf;
    for (size_t i = 0; i < data.len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ crc32_nibble[crc & 15];
        crc = (crc >> 4) ^ crc32_nibble[crc & 15];
    }
    return mp_obj_new_int_from_uint(~crc);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(binascii_crc32_obj, 1, 2, binascii_crc32);

static const mp_rom_map_elem_t binascii_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_binascii) },
    { MP_ROM_QSTR(MP_QSTR_hexlify), MP_ROM_PTR(&binascii_hexlify_obj) },
    { MP_ROM_QSTR(MP_QSTR_unhexlify), MP_ROM_PTR(&binascii_unhexlify_obj) },
    { MP_ROM_QSTR(MP_QSTR_crc32), MP_ROM_PTR(&binascii_crc32_obj) },
};
static MP_DEFINE_CONST_DICT(binascii_globals, binascii_globals_table);

const mp_obj_module_t mcu_binascii_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&binascii_globals,
};

MP_REGISTER_MODULE(MP_QSTR_binascii, mcu_binascii_module);
