// The host target: the same port as a 32-bit Linux program, for quick checks.
// Console and files through stdio; time from the host clock; no instruction count.

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "py/mphal.h"

#define MCU_HEAP_MAX (16 * 1024 * 1024)
uint8_t mcu_heap_area[MCU_HEAP_MAX] __attribute__((aligned(8)));
const uint32_t mcu_heap_max = MCU_HEAP_MAX;

void mcu_stdout_flush(void) {
    fflush(stdout);
}

mp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {
    return fwrite(str, 1, len, stdout);
}

void mp_hal_stdout_tx_strn_cooked(const char *str, size_t len) {
    mp_hal_stdout_tx_strn(str, len);
}

void mp_hal_stdout_tx_str(const char *str) {
    mp_hal_stdout_tx_strn(str, strlen(str));
}

int mp_hal_stdin_rx_chr(void) {
    return getchar();
}

void mcu_exit(int status) {
    fflush(stdout);
    exit(status);
}

int mcu_file_open(const char *path) {
    return open(path[0] ? path : ".", O_RDONLY);
}

int mcu_file_read(int fd, void *buf, uint32_t len) {
    return read(fd, buf, len);
}

int mcu_file_create(const char *path) {
    return open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
}

int mcu_file_write(int fd, const void *buf, uint32_t len) {
    return write(fd, buf, len);
}

void mcu_file_close(int fd) {
    close(fd);
}

int mcu_file_rename(const char *from, const char *to) {
    return rename(from, to);
}

int mcu_file_remove(const char *path) {
    return unlink(path);
}

int mcu_path_kind(const char *path) {
    struct stat st;
    if (stat(path[0] ? path : ".", &st) != 0) {
        return 0;
    }
    return S_ISDIR(st.st_mode) ? 2 : 1;
}

uint64_t mcu_instructions(void) {
    return 0;
}

uint64_t mcu_time_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

void mcu_sleep_ns(uint64_t ns) {
    struct timespec ts = { ns / 1000000000u, ns % 1000000000u };
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    return mcu_main(argc, argv);
}
