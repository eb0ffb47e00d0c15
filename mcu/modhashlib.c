// hashlib with sha256 only, in MicroPython's API: sha256([data]), .update(data),
// .digest() -> 32 bytes. (digest() here leaves the object usable; a board's
// hashlib may refuse updates after it.) SHA-256 as in FIPS 180-4.

#include <string.h>

#include "py/runtime.h"

typedef struct _sha256_ctx_t {
    uint32_t state[8];
    uint64_t length; // bytes hashed so far
    uint8_t block[64];
    uint32_t used; // bytes waiting in block
} sha256_ctx_t;

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t *state, const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    }
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
}

static void sha256_init(sha256_ctx_t *ctx) {
    static const uint32_t iv[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };
    memcpy(ctx->state, iv, sizeof(iv));
    ctx->length = 0;
    ctx->used = 0;
}

static void sha256_update(sha256_ctx_t *ctx, const uint8_t *p, size_t len) {
    ctx->length += len;
    while (len > 0) {
        size_t n = 64 - ctx->used;
        if (n > len) {
            n = len;
        }
        memcpy(ctx->block + ctx->used, p, n);
        ctx->used += n;
        p += n;
        len -= n;
        if (ctx->used == 64) {
            sha256_block(ctx->state, ctx->block);
            ctx->used = 0;
        }
    }
}

static void sha256_final(sha256_ctx_t *ctx, uint8_t *out) {
    uint64_t bits = ctx->length * 8;
    uint8_t pad = 0x80;
    sha256_update(ctx, &pad, 1);
    pad = 0;
    while (ctx->used != 56) {
        sha256_update(ctx, &pad, 1);
    }
    uint8_t len_be[8];
    for (int i = 0; i < 8; i++) {
        len_be[i] = bits >> (56 - 8 * i);
    }
    sha256_update(ctx, len_be, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = ctx->state[i] >> 24;
        out[4 * i + 1] = ctx->state[i] >> 16;
        out[4 * i + 2] = ctx->state[i] >> 8;
        out[4 * i + 3] = ctx->state[i];
    }
}

typedef struct _sha256_obj_t {
    mp_obj_base_t base;
    sha256_ctx_t ctx;
} sha256_obj_t;

static mp_obj_t sha256_update_method(mp_obj_t self_in, mp_obj_t data_in) {
    sha256_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_buffer_info_t data;
    mp_get_buffer_raise(data_in, &data, MP_BUFFER_READ);
    sha256_update(&self->ctx, data.buf, data.len);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(sha256_update_obj, sha256_update_method);

static mp_obj_t sha256_digest(mp_obj_t self_in) {
    sha256_obj_t *self = MP_OBJ_TO_PTR(self_in);
    sha256_ctx_t copy = self->ctx;
    vstr_t out;
    vstr_init_len(&out, 32);
    sha256_final(&copy, (uint8_t *)out.buf);
    return mp_obj_new_bytes_from_vstr(&out);
}
static MP_DEFINE_CONST_FUN_OBJ_1(sha256_digest_obj, sha256_digest);

static mp_obj_t sha256_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 0, 1, false);
    sha256_obj_t *self = mp_obj_malloc(sha256_obj_t, type);
    sha256_init(&self->ctx);
    if (n_args == 1) {
        sha256_update_method(MP_OBJ_FROM_PTR(self), args[0]);
    }
    return MP_OBJ_FROM_PTR(self);
}

static const mp_rom_map_elem_t sha256_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_update), MP_ROM_PTR(&sha256_update_obj) },
    { MP_ROM_QSTR(MP_QSTR_digest), MP_ROM_PTR(&sha256_digest_obj) },
};
static MP_DEFINE_CONST_DICT(sha256_locals, sha256_locals_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    sha256_type,
    MP_QSTR_sha256,
    MP_TYPE_FLAG_NONE,
    make_new, sha256_make_new,
    locals_dict, &sha256_locals
    );

static const mp_rom_map_elem_t hashlib_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_hashlib) },
    { MP_ROM_QSTR(MP_QSTR_sha256), MP_ROM_PTR(&sha256_type) },
};
static MP_DEFINE_CONST_DICT(hashlib_globals, hashlib_globals_table);

const mp_obj_module_t mcu_hashlib_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&hashlib_globals,
};

MP_REGISTER_MODULE(MP_QSTR_hashlib, mcu_hashlib_module);
