// Imports and open() over the host's files: the target supplies open/read/close
// and a path test (hal_*.c); this file turns them into MicroPython's reader,
// lexer, import stat and a read-only open(). Buffers come from the heap, as they
// would on a board reading its own filesystem.

#include <string.h>

#include "py/builtin.h"
#include "py/lexer.h"
#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/reader.h"
#include "py/runtime.h"

#define FILE_BUF_SIZE (128)

typedef struct _file_reader_t {
    int fd;
    uint16_t len;
    uint16_t pos;
    byte buf[FILE_BUF_SIZE];
} file_reader_t;

static mp_uint_t file_readbyte(void *data) {
    file_reader_t *r = data;
    if (r->pos >= r->len) {
        if (r->len == 0) {
            return MP_READER_EOF;
        }
        int n = mcu_file_read(r->fd, r->buf, FILE_BUF_SIZE);
        if (n <= 0) {
            r->len = 0;
            return MP_READER_EOF;
        }
        r->len = n;
        r->pos = 0;
    }
    return r->buf[r->pos++];
}

static void file_close(void *data) {
    file_reader_t *r = data;
    mcu_file_close(r->fd);
    m_del_obj(file_reader_t, r);
}

static int open_or_raise(const char *path) {
    int fd = mcu_file_open(path);
    if (fd < 0) {
        mp_raise_OSError(MP_ENOENT);
    }
    return fd;
}

void mp_reader_new_file(mp_reader_t *reader, qstr filename) {
    int fd = open_or_raise(qstr_str(filename));
    file_reader_t *r = m_new_obj_maybe(file_reader_t);
    if (r == NULL) {
        mcu_file_close(fd);
        m_malloc_fail(sizeof(file_reader_t));
    }
    r->fd = fd;
    r->len = FILE_BUF_SIZE; // not at EOF yet
    r->pos = FILE_BUF_SIZE;
    reader->data = r;
    reader->readbyte = file_readbyte;
    reader->close = file_close;
}

mp_lexer_t *mp_lexer_new_from_file(qstr filename) {
    mp_reader_t reader;
    mp_reader_new_file(&reader, filename);
    return mp_lexer_new(filename, reader);
}

mp_import_stat_t mp_import_stat(const char *path) {
    switch (mcu_path_kind(path)) {
        case 1:
            return MP_IMPORT_STAT_FILE;
        case 2:
            return MP_IMPORT_STAT_DIR;
        default:
            return MP_IMPORT_STAT_NO_EXIST;
    }
}

// open(path, mode="r"): read-only; the whole file becomes an io.StringIO
// (text) or io.BytesIO ("b" in mode), which serves read(), iteration and `with`.
static mp_obj_t builtin_open(size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    (void)kwargs;
    const char *path = mp_obj_str_get_str(args[0]);
    const char *mode = n_args > 1 ? mp_obj_str_get_str(args[1]) : "r";
    if (strpbrk(mode, "wax+") != NULL) {
        mp_raise_OSError(MP_EROFS);
    }
    bool binary = strchr(mode, 'b') != NULL;
    int fd = open_or_raise(path);
    vstr_t vstr;
    vstr_init(&vstr, 256);
    for (;;) {
        char *dest = vstr_add_len(&vstr, 256);
        int n = mcu_file_read(fd, dest, 256);
        if (n < 0) {
            n = 0;
        }
        vstr_cut_tail_bytes(&vstr, 256 - n);
        if (n < 256) {
            break;
        }
    }
    mcu_file_close(fd);
    mp_obj_t content = binary ? mp_obj_new_bytes_from_vstr(&vstr) : mp_obj_new_str_from_vstr(&vstr);
    const mp_obj_type_t *type = binary ? &mp_type_bytesio : &mp_type_stringio;
    return MP_OBJ_TYPE_GET_SLOT(type, make_new)(type, 1, 0, &content);
}
MP_DEFINE_CONST_FUN_OBJ_KW(mp_builtin_open_obj, 1, builtin_open);
