/*===- eim_runtime.h - The runtime's ABI for generated code ------*- C -*-===*\
|*                                                                            *|
|* Part of eimc. See docs/design.md, "Runtime".                               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * The contract between code eimc generates (compiled programs, trampolines,
 * the start stub) and runtime-lib, the freestanding library linked into
 * every rewritten host. Generated code calls only what is declared here;
 * the compiler and the rewriter hard-code these names and layouts, so a
 * change here is a change in both.
 *
 * runtime-lib is freestanding: no libc, raw system calls, no SSE (compiled
 * with -mgeneral-regs-only), position-independent, no writable initialized
 * data (all mutable state is zero-initialized .bss, placed in the state
 * pages), hidden visibility. Errors are negative errno values, as in libbpf
 * and the kernel's helpers.
 */
#ifndef EIM_RUNTIME_H
#define EIM_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of opaque per-map runtime state. The compiler emits one zeroed,
 * 64-byte-aligned object of this size per map, named
 * eim_map_<prefix>_<name>; eBPF code receives its address for LDDW src 1
 * (a map "fd"). */
#define EIM_MAP_STATE_SIZE 128
/* Offset in the map state of the pointer to the map's value storage (a
 * uint8_t * into the shared state, set by eim_map_init). Global data
 * (LDDW src 2) compiles to a load of this pointer plus the offset. */
#define EIM_MAP_STATE_DATA_OFFSET 16

/* A map as declared in the object (read-only, emitted by the compiler).
 * Field meanings follow struct bpf_map_def / BTF-defined maps in libbpf. */
struct eim_map_def {
  uint32_t type;          /* enum bpf_map_type value */
  uint32_t key_size;      /* bytes */
  uint32_t value_size;    /* bytes */
  uint32_t max_entries;   /* after libbpf's load-time defaults */
  uint32_t map_flags;
  uint32_t btf_key_type_id;   /* in the object's .BTF, 0 if none */
  uint32_t btf_value_type_id; /* in the object's .BTF, 0 if none */
  uint32_t reserved;
  char name[64];          /* NUL-terminated */
};

/* Called by each compiled object's maps initializer, once per map, from
 * the start stub after eim_rt_init() and before eim_rt_ready(). Allocates
 * the map's memory in the process's shared state. */
void eim_map_init(void *map_state, const struct eim_map_def *def);

/* Copies \p size bytes of initial contents into the first value of an
 * ARRAY map initialized by eim_map_init (a global-data section: .data,
 * .rodata). Called by the maps initializer right after eim_map_init.
 * Exits (status 70) if the map is not an ARRAY or \p size exceeds its
 * value size. */
void eim_map_init_data(void *map_state, const void *data, uint64_t size);

/* Records the object's .BTF (\p size bytes at \p btf, read-only) for the
 * map initialized last by eim_map_init, so `eimc maps` can print its keys
 * and values by field name. Maps passing the same \p btf share one copy
 * in the shared state. Exits (status 70) if it does not fit. */
void eim_map_init_btf(void *map_state, const void *btf, uint64_t size);

/* Start-up, from the start stub (before the host's entry point runs, with
 * the process's initial stack): eim_rt_init() creates the shared state;
 * eim_rt_ready() publishes it for `eimc events`/`eimc maps`. Neither
 * returns on failure: they print one line to stderr and _exit(70). */
void eim_rt_init(void);
void eim_rt_ready(void);

/*
 * Isolation (mpk.c). eim_rt_mpk_init(mode, warn): first in the start stub,
 * before eim_rt_init(): detects MPK and allocates the key; under
 * EIM_ISOLATION_REQUIRE without MPK it exits 69 with one line on stderr.
 * eim_rt_mpk_seal(tagged, tagged_end): last, after eim_rt_ready(): records
 * the status in the state header, tags the shared state and the linked
 * .bss range [tagged, tagged_end) and revokes the host's access.
 */
void eim_rt_mpk_init(uint32_t mode, uint32_t warn);
void eim_rt_mpk_seal(char *tagged, char *tagged_end);

/* Return probes (called only from trampolines).
 *
 * eim_rt_uret_enter(slot, tramp): \p slot is the address of the hooked
 * function's return address on the stack (the stack pointer at function
 * entry). Records *slot and slot on this thread's shadow stack and stores
 * \p tramp into *slot, so the function returns into the return trampoline.
 * Entries of frames that were abandoned by longjmp (recorded slots at or
 * below \p slot) are discarded first. If the shadow stack is full, nothing
 * is changed (the return probe is skipped for this call and counted).
 *
 * eim_rt_uret_exit(slot): \p slot is where the return address was (the
 * stack pointer after the return, minus 8). Pops abandoned entries below
 * \p slot and then the matching entry, and returns the original return
 * address. */
void eim_rt_uret_enter(uint64_t *slot, uint64_t tramp);
uint64_t eim_rt_uret_exit(uint64_t *slot);

/* eim_rt_unwind_init(): from the start stub of a host whose replacement
 * FDEs read the table (eim_unwind_table.h), before eim_rt_init(); maps it.
 * On failure return probes are skipped. Not called otherwise: return
 * probes then run without a table. */
void eim_rt_unwind_init(void);

/* Hook counters and re-entrancy (runtime-lib/src/reentrancy.c).
 *
 * eim_rt_sites_init(count): from the start stub, after eim_rt_init();
 * allocates \p count per-site counters (struct eim_site_counters) in the
 * shared state. Slots number the patch sites in address order.
 *
 * eim_rt_ext_enter(site, hit): called by a trampoline before it runs the
 * programs of patch site \p site; counts a hit if \p hit is nonzero (entry
 * trampolines). Returns a nonzero token if the programs may run, and 0 if
 * this thread is already running an extension (a signal handler reached
 * the hook): the run is skipped and counted, as the kernel counts
 * recursion_misses.
 *
 * eim_rt_ext_exit(token): ends the run that eim_rt_ext_enter allowed. */
void eim_rt_sites_init(uint32_t count);
uint64_t eim_rt_ext_enter(uint32_t site, uint32_t hit);
void eim_rt_ext_exit(uint64_t token);

/* Host-call checks (reentrancy.c; the stub in rewriter/Gates.cpp), with
 * the key granted. eim_rt_hcall_arm(sp): records *sp (the extension's
 * return address) and sp for this thread; exits if the thread runs no
 * extension. eim_rt_hcall_take(sp): clears the record and returns the
 * recorded return address if it is *sp and was recorded at sp, else 0. */
void eim_rt_hcall_arm(uint64_t *sp);
uint64_t eim_rt_hcall_take(uint64_t *sp);

/* Helpers: one function per row of eimc/Core/Helpers.def, all with the
 * eBPF calling convention mapped to System V: five uint64_t arguments
 * (r1-r5 -> rdi, rsi, rdx, rcx, r8) and a uint64_t result (r0). */
uint64_t eim_helper_map_lookup_elem(uint64_t map, uint64_t key, uint64_t,
                                    uint64_t, uint64_t);
uint64_t eim_helper_map_update_elem(uint64_t map, uint64_t key,
                                    uint64_t value, uint64_t flags, uint64_t);
uint64_t eim_helper_map_delete_elem(uint64_t map, uint64_t key, uint64_t,
                                    uint64_t, uint64_t);
uint64_t eim_helper_ktime_get_ns(uint64_t, uint64_t, uint64_t, uint64_t,
                                 uint64_t);
uint64_t eim_helper_get_current_pid_tgid(uint64_t, uint64_t, uint64_t,
                                         uint64_t, uint64_t);
uint64_t eim_helper_get_current_comm(uint64_t buf, uint64_t size, uint64_t,
                                     uint64_t, uint64_t);
uint64_t eim_helper_perf_event_output(uint64_t ctx, uint64_t map,
                                      uint64_t flags, uint64_t data,
                                      uint64_t size);
uint64_t eim_helper_probe_read_user_str(uint64_t dst, uint64_t size,
                                        uint64_t src, uint64_t, uint64_t);
uint64_t eim_helper_probe_read_user(uint64_t dst, uint64_t size, uint64_t src,
                                    uint64_t, uint64_t);
uint64_t eim_helper_probe_read_kernel(uint64_t dst, uint64_t size, uint64_t src,
                                      uint64_t, uint64_t);
uint64_t eim_helper_probe_read_kernel_str(uint64_t dst, uint64_t size,
                                          uint64_t src, uint64_t, uint64_t);
uint64_t eim_helper_get_prandom_u32(uint64_t, uint64_t, uint64_t, uint64_t,
                                    uint64_t);
uint64_t eim_helper_get_smp_processor_id(uint64_t, uint64_t, uint64_t, uint64_t,
                                         uint64_t);
uint64_t eim_helper_get_current_uid_gid(uint64_t, uint64_t, uint64_t, uint64_t,
                                        uint64_t);
uint64_t eim_helper_trace_printk(uint64_t fmt, uint64_t fmt_size, uint64_t arg1,
                                 uint64_t arg2, uint64_t arg3);
uint64_t eim_helper_ringbuf_output(uint64_t map, uint64_t data, uint64_t size,
                                   uint64_t flags, uint64_t);
uint64_t eim_helper_ringbuf_reserve(uint64_t map, uint64_t size, uint64_t flags,
                                    uint64_t, uint64_t);
uint64_t eim_helper_ringbuf_submit(uint64_t rec, uint64_t flags, uint64_t,
                                   uint64_t, uint64_t);
uint64_t eim_helper_ringbuf_discard(uint64_t rec, uint64_t flags, uint64_t,
                                    uint64_t, uint64_t);

#ifdef __cplusplus
}
#endif

#endif /* EIM_RUNTIME_H */
