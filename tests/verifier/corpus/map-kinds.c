/* Category map-kinds (accept side): every map kind eimc implements, used
 * the way libbpf programs use them: ARRAY, HASH, PERCPU_ARRAY,
 * PERCPU_HASH, PERF_EVENT_ARRAY, RINGBUF, and global data (.data, .bss,
 * .rodata). */
#include "corpus.h"

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, __u64);
} pcpu_arr SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 16);
  __type(key, __u32);
  __type(value, __u64);
} pcpu_hash SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
  __uint(key_size, sizeof(__u32));
  __uint(value_size, sizeof(__u32));
} events SEC(".maps");

__u64 counter = 1;
__u64 scratch[4];
const volatile __u64 limit = 10;

PROG(mk_array_increment) {
  __u32 k = ARG0(ctx) & 15;
  struct value64 *v = bpf_map_lookup_elem(&arr, &k);
  if (!v)
    return 0;
  __sync_fetch_and_add(&v->w[k & 7], 1);
  return 0;
}

PROG(mk_hash_update_delete) {
  __u64 k = ARG0(ctx), one = 1;
  __u64 *v = bpf_map_lookup_elem(&hash, &k);
  if (v)
    *v += 1;
  else
    bpf_map_update_elem(&hash, &k, &one, BPF_NOEXIST);
  if (k == 0)
    bpf_map_delete_elem(&hash, &k);
  return 0;
}

PROG(mk_percpu_array) {
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&pcpu_arr, &k);
  if (v)
    *v += 1;
  return 0;
}

PROG(mk_percpu_hash) {
  __u32 k = ARG0(ctx) & 3;
  __u64 zero = 0, *v = bpf_map_lookup_elem(&pcpu_hash, &k);
  if (!v) {
    bpf_map_update_elem(&pcpu_hash, &k, &zero, BPF_ANY);
    return 0;
  }
  *v += ARG0(ctx);
  return 0;
}

PROG(mk_perf_event_output) {
  __u64 rec[2] = {ARG0(ctx), bpf_ktime_get_ns()};
  bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, rec, sizeof rec);
  return 0;
}

PROG(mk_ringbuf_reserve_submit) {
  __u64 *e = bpf_ringbuf_reserve(&rb, 16, 0);
  if (!e)
    return 0;
  e[0] = ARG0(ctx);
  e[1] = bpf_get_current_pid_tgid();
  bpf_ringbuf_submit(e, 0);
  return 0;
}

PROG(mk_ringbuf_discard) {
  __u64 *e = bpf_ringbuf_reserve(&rb, 8, 0);
  if (!e)
    return 0;
  *e = ARG0(ctx);
  if (*e & 1)
    bpf_ringbuf_discard(e, 0);
  else
    bpf_ringbuf_submit(e, 0);
  return 0;
}

PROG(mk_ringbuf_output) {
  __u64 rec = ARG0(ctx);
  return bpf_ringbuf_output(&rb, &rec, sizeof rec, 0);
}

PROG(mk_global_data) {
  __sync_fetch_and_add(&counter, 1);
  scratch[ARG0(ctx) & 3] = counter;
  return counter < limit;
}

PROG(mk_rodata_bound) {
  __u64 s = 0;
#pragma nounroll
  for (__u32 i = 0; i < 4 && i < limit; i++)
    s += scratch[i];
  return s;
}
