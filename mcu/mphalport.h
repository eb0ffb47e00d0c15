// Hardware abstraction of the measuring port: no pins, no interrupt character.
#include <stdint.h>

#define mp_hal_pin_obj_t int

static inline void mp_hal_set_interrupt_char(int c) {
    (void)c;
}

// Provided by hal_m0.c / hal_host32.c.
void mcu_stdout_flush(void);
void mcu_exit(int status) __attribute__((noreturn));
// Guest instructions since reset; 0 when the target cannot count them.
uint64_t mcu_instructions(void);
// Virtual nanoseconds since reset (m0: follows the instruction count under -icount).
uint64_t mcu_time_ns(void);
// Host files: open for reading (-1 when it cannot), read (bytes, <0 on error), close.
int mcu_file_open(const char *path);
int mcu_file_read(int fd, void *buf, uint32_t len);
void mcu_file_close(int fd);
// 0: absent, 1: a file, 2: a directory.
int mcu_path_kind(const char *path);
// Create (truncate) a host file for writing; -1 when it cannot. Write: bytes or <0.
int mcu_file_create(const char *path);
int mcu_file_write(int fd, const void *buf, uint32_t len);
// 0 when done (the store's atomic replace and its removals)
int mcu_file_rename(const char *from, const char *to);
int mcu_file_remove(const char *path);
// Entry point shared by both targets (main.c).
int mcu_main(int argc, char **argv);
// Largest heap a run may ask for, and the region it is carved from.
extern uint8_t mcu_heap_area[];
extern const uint32_t mcu_heap_max;
extern uint32_t mcu_heap_bytes; // the heap this run was given
// Let time pass: m0 moves its clock forward without running instructions
// (a sleeping board executes none); host32 sleeps.
void mcu_sleep_ns(uint64_t ns);
