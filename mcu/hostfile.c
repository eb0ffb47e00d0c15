// Imports and open() over the host's files: the target supplies open/read/close
// and a path test (hal_*.c); this file turns them into MicroPython's reader,
// lexer, import stat and open() (streamed reads and writes). Buffers come from
// the heap, as they would on a board reading its own filesystem.

#include <string.h>

#include "py/builtin.h"
#include "py/lexer.h"
#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/reader.h"
#include "py/runtime.h"
#include "py/stream.h"

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

// open(path, mode="r"): a file object over the host file, read ("r", "rb") or
// written ("w", "wb": created or truncated), streamed: read(n), readinto(),
// write(), close() and `with`, each read or write going to the host as asked
// (no copy of the whole file in the heap, as a board's own filesystem reads
// into the caller's buffer). Whatever a board's filesystem adds (littlefs's
// per-file cache and mount buffers) the bench models itself, in Python, where
// it can say what it charges (mcu/README.md).
typedef struct _host_file_t {
    mp_obj_base_t base;
    int fd; // -1 once closed
} host_file_t;

static mp_uint_t host_file_read(mp_obj_t self_in, void *buf, mp_uint_t size, int *errcode) {
    host_file_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->fd < 0) {
        *errcode = MP_EBADF;
        return MP_STREAM_ERROR;
    }
    int n = mcu_file_read(self->fd, buf, size);
    if (n < 0) {
        *errcode = MP_EIO;
        return MP_STREAM_ERROR;
    }
    return n;
}

static mp_uint_t host_file_write(mp_obj_t self_in, const void *buf, mp_uint_t size, int *errcode) {
    host_file_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->fd < 0) {
        *errcode = MP_EBADF;
        return MP_STREAM_ERROR;
    }
    int n = mcu_file_write(self->fd, buf, size);
    if (n < 0) {
        *errcode = MP_EIO;
        return MP_STREAM_ERROR;
    }
    return n;
}

static mp_uint_t host_file_ioctl(mp_obj_t self_in, mp_uint_t request, uintptr_t arg, int *errcode) {
    (void)arg;
    host_file_t *self = MP_OBJ_TO_PTR(self_in);
    switch (request) {
        case MP_STREAM_FLUSH:
            return 0; // every write reached the host already
        case MP_STREAM_CLOSE:
            if (self->fd >= 0) {
                mcu_file_close(self->fd);
                self->fd = -1;
            }
            return 0;
        default:
            *errcode = MP_EINVAL;
            return MP_STREAM_ERROR;
    }
}

static const mp_rom_map_elem_t host_file_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_read), MP_ROM_PTR(&mp_stream_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_readinto), MP_ROM_PTR(&mp_stream_readinto_obj) },
    { MP_ROM_QSTR(MP_QSTR_write), MP_ROM_PTR(&mp_stream_write_obj) },
    { MP_ROM_QSTR(MP_QSTR_flush), MP_ROM_PTR(&mp_stream_flush_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&mp_stream_close_obj) },
    { MP_ROM_QSTR(MP_QSTR___enter__), MP_ROM_PTR(&mp_identity_obj) },
    { MP_ROM_QSTR(MP_QSTR___exit__), MP_ROM_PTR(&mp_stream___exit___obj) },
};
static MP_DEFINE_CONST_DICT(host_file_locals, host_file_locals_table);

static const mp_stream_p_t host_file_binary_p = {
    .read = host_file_read, .write = host_file_write, .ioctl = host_file_ioctl, .is_text = false,
};
static const mp_stream_p_t host_file_text_p = {
    .read = host_file_read, .write = host_file_write, .ioctl = host_file_ioctl, .is_text = true,
};

static MP_DEFINE_CONST_OBJ_TYPE(host_file_binary_type, MP_QSTR_FileIO, MP_TYPE_FLAG_ITER_IS_STREAM,
    protocol, &host_file_binary_p, locals_dict, &host_file_locals);
static MP_DEFINE_CONST_OBJ_TYPE(host_file_text_type, MP_QSTR_TextIOWrapper, MP_TYPE_FLAG_ITER_IS_STREAM,
    protocol, &host_file_text_p, locals_dict, &host_file_locals);

static mp_obj_t builtin_open(size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    (void)kwargs;
    const char *path = mp_obj_str_get_str(args[0]);
    const char *mode = n_args > 1 ? mp_obj_str_get_str(args[1]) : "r";
    if (strpbrk(mode, "ax+") != NULL) {
        mp_raise_OSError(MP_EINVAL); // the store writes whole files (temporary, then renamed)
    }
    bool write = strchr(mode, 'w') != NULL;
    bool binary = strchr(mode, 'b') != NULL;
    int fd = write ? mcu_file_create(path) : open_or_raise(path);
    if (fd < 0) {
        mp_raise_OSError(MP_EIO);
    }
    host_file_t *o = m_new_obj_maybe(host_file_t);
    if (o == NULL) {
        mcu_file_close(fd);
        m_malloc_fail(sizeof(host_file_t));
    }
    o->base.type = binary ? &host_file_binary_type : &host_file_text_type;
    o->fd = fd;
    return MP_OBJ_FROM_PTR(o);
}
MP_DEFINE_CONST_FUN_OBJ_KW(mp_builtin_open_obj, 1, builtin_open);
