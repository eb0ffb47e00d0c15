// json, the part a board's firmware uses: dumps(obj, separators=None),
// dump(obj, stream), loads(str|bytes), load(stream), for dict, list, tuple
// (written as a list), str, int, float, bool and None. Writing goes through the
// core's JSON printing (PRINT_JSON); reading is a small recursive parser here.
// Errors are ValueError("syntax error in JSON"), as on a board.

#include <string.h>

#include "py/objstr.h"
#include "py/parsenum.h"
#include "py/runtime.h"
#include "py/stackctrl.h"

// ---- writing ----

static mp_obj_t json_dumps(size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    mp_print_ext_t print;
    vstr_t vstr;
    vstr_init_print(&vstr, 16, &print.base);
    print.item_separator = ", ";
    print.key_separator = ": ";
    mp_map_elem_t *sep = mp_map_lookup(kwargs, MP_OBJ_NEW_QSTR(MP_QSTR_separators), MP_MAP_LOOKUP);
    if (sep != NULL && sep->value != mp_const_none) {
        mp_obj_t *items;
        mp_obj_get_array_fixed_n(sep->value, 2, &items);
        print.item_separator = mp_obj_str_get_str(items[0]);
        print.key_separator = mp_obj_str_get_str(items[1]);
    }
    mp_obj_print_helper(&print.base, args[0], PRINT_JSON);
    (void)n_args;
    return mp_obj_new_str_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(json_dumps_obj, 1, json_dumps);

static mp_obj_t json_dump(size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    mp_obj_t text = json_dumps(1, args, kwargs);
    mp_obj_t write[3];
    mp_load_method(args[1], MP_QSTR_write, write);
    write[2] = text;
    mp_call_method_n_kw(1, 0, write);
    (void)n_args;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(json_dump_obj, 2, json_dump);

// ---- reading ----

typedef struct _json_in_t {
    const byte *p;
    const byte *end;
} json_in_t;

static NORETURN void json_fail(void) {
    mp_raise_ValueError(MP_ERROR_TEXT("syntax error in JSON"));
}

static void skip_space(json_in_t *in) {
    while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r')) {
        in->p++;
    }
}

static int next_char(json_in_t *in) {
    skip_space(in);
    return in->p < in->end ? *in->p : -1;
}

static void expect_word(json_in_t *in, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(in->end - in->p) < n || memcmp(in->p, word, n) != 0) {
        json_fail();
    }
    in->p += n;
}

static unichar hex4(json_in_t *in) {
    if (in->end - in->p < 4) {
        json_fail();
    }
    unichar v = 0;
    for (int i = 0; i < 4; i++) {
        byte c = *in->p++;
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= c - '0';
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            v |= (c | 0x20) - 'a' + 10;
        } else {
            json_fail();
        }
    }
    return v;
}

static mp_obj_t parse_string(json_in_t *in) {
    in->p++; // opening quote
    vstr_t vstr;
    vstr_init(&vstr, 8);
    for (;;) {
        if (in->p >= in->end) {
            json_fail();
        }
        byte c = *in->p++;
        if (c == '"') {
            break;
        }
        if (c != '\\') {
            vstr_add_byte(&vstr, c);
            continue;
        }
        if (in->p >= in->end) {
            json_fail();
        }
        c = *in->p++;
        switch (c) {
            case '"':
            case '\\':
            case '/':
                vstr_add_byte(&vstr, c);
                break;
            case 'b':
                vstr_add_byte(&vstr, '\b');
                break;
            case 'f':
                vstr_add_byte(&vstr, '\f');
                break;
            case 'n':
                vstr_add_byte(&vstr, '\n');
                break;
            case 'r':
                vstr_add_byte(&vstr, '\r');
                break;
            case 't':
                vstr_add_byte(&vstr, '\t');
                break;
            case 'u': {
                unichar u = hex4(in);
                if (u >= 0xd800 && u < 0xdc00 && in->end - in->p >= 6 && in->p[0] == '\\' && in->p[1] == 'u') {
                    in->p += 2;
                    unichar low = hex4(in);
                    if (low < 0xdc00 || low >= 0xe000) {
                        json_fail();
                    }
                    u = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00);
                }
                vstr_add_char(&vstr, u);
                break;
            }
            default:
                json_fail();
        }
    }
    return mp_obj_new_str_from_vstr(&vstr);
}

static mp_obj_t parse_number(json_in_t *in) {
    const byte *start = in->p;
    bool is_float = false;
    if (in->p < in->end && *in->p == '-') {
        in->p++;
    }
    while (in->p < in->end) {
        byte c = *in->p;
        if (c >= '0' && c <= '9') {
            in->p++;
        } else if (c == '.' || c == 'e' || c == 'E' || ((c == '+' || c == '-') && (in->p[-1] | 0x20) == 'e')) {
            is_float = true;
            in->p++;
        } else {
            break;
        }
    }
    size_t len = in->p - start;
    if (len == 0 || (len == 1 && *start == '-')) {
        json_fail();
    }
    if (is_float) {
        return mp_parse_num_float((const char *)start, len, false, NULL);
    }
    return mp_parse_num_integer((const char *)start, len, 10, NULL);
}

static mp_obj_t parse_value(json_in_t *in) {
    MP_STACK_CHECK();
    int c = next_char(in);
    switch (c) {
        case '{': {
            in->p++;
            mp_obj_t dict = mp_obj_new_dict(0);
            if (next_char(in) == '}') {
                in->p++;
                return dict;
            }
            for (;;) {
                if (next_char(in) != '"') {
                    json_fail();
                }
                mp_obj_t key = parse_string(in);
                if (next_char(in) != ':') {
                    json_fail();
                }
                in->p++;
                mp_obj_dict_store(dict, key, parse_value(in));
                c = next_char(in);
                in->p++;
                if (c == '}') {
                    return dict;
                }
                if (c != ',') {
                    json_fail();
                }
            }
        }
        case '[': {
            in->p++;
            mp_obj_t list = mp_obj_new_list(0, NULL);
            if (next_char(in) == ']') {
                in->p++;
                return list;
            }
            for (;;) {
                mp_obj_list_append(list, parse_value(in));
                c = next_char(in);
                in->p++;
                if (c == ']') {
                    return list;
                }
                if (c != ',') {
                    json_fail();
                }
            }
        }
        case '"':
            return parse_string(in);
        case 't':
            expect_word(in, "true");
            return mp_const_true;
        case 'f':
            expect_word(in, "false");
            return mp_const_false;
        case 'n':
            expect_word(in, "null");
            return mp_const_none;
        default:
            if (c == '-' || (c >= '0' && c <= '9')) {
                return parse_number(in);
            }
            json_fail();
    }
}

static mp_obj_t json_loads(mp_obj_t text) {
    mp_buffer_info_t buf;
    mp_get_buffer_raise(text, &buf, MP_BUFFER_READ);
    json_in_t in = { buf.buf, (const byte *)buf.buf + buf.len };
    mp_obj_t value = parse_value(&in);
    if (next_char(&in) != -1) {
        json_fail();
    }
    return value;
}
static MP_DEFINE_CONST_FUN_OBJ_1(json_loads_obj, json_loads);

static mp_obj_t json_load(mp_obj_t stream) {
    mp_obj_t read[2];
    mp_load_method(stream, MP_QSTR_read, read);
    return json_loads(mp_call_method_n_kw(0, 0, read));
}
static MP_DEFINE_CONST_FUN_OBJ_1(json_load_obj, json_load);

static const mp_rom_map_elem_t json_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_json) },
    { MP_ROM_QSTR(MP_QSTR_dumps), MP_ROM_PTR(&json_dumps_obj) },
    { MP_ROM_QSTR(MP_QSTR_dump), MP_ROM_PTR(&json_dump_obj) },
    { MP_ROM_QSTR(MP_QSTR_loads), MP_ROM_PTR(&json_loads_obj) },
    { MP_ROM_QSTR(MP_QSTR_load), MP_ROM_PTR(&json_load_obj) },
};
static MP_DEFINE_CONST_DICT(json_globals, json_globals_table);

const mp_obj_module_t mcu_json_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&json_globals,
};

MP_REGISTER_MODULE(MP_QSTR_json, mcu_json_module);
