/* kernel-run.c - runs a harness.h program in the kernel.
 *
 * Usage: kernel-run OBJECT MEMHEX
 *
 * Loads only the object's `xdp_main` with libbpf, runs it once with
 * BPF_PROG_TEST_RUN on MEMHEX as the packet and prints what
 * `eimc-conformance --object` prints for the same program natively:
 *
 *   r0 0x<harness_result, the full 64-bit result, from the .bss map>
 *   mem <the packet after the run>
 *
 * Where the kernel's eBPF is not available (not root, bpf() refused), it
 * prints "skip: <reason>" and exits 77, so tests can skip that half.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap) {
  return 0;
}

static int parse_hex(const char *hex, unsigned char *out, size_t cap) {
  size_t n = strlen(hex);
  if (n % 2 || n / 2 > cap)
    return -1;
  for (size_t i = 0; i < n / 2; ++i) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1)
      return -1;
    out[i] = (unsigned char)v;
  }
  return (int)(n / 2);
}

static int skip(const char *why, int err) {
  printf("skip: %s (%s)\n", why, strerror(err));
  return 77;
}

int main(int argc, char **argv) {
  unsigned char in[4096], out[4096];
  if (argc != 3) {
    fprintf(stderr, "usage: kernel-run OBJECT MEMHEX\n");
    return 2;
  }
  int len = parse_hex(argv[2], in, sizeof(in));
  if (len < 0) {
    fprintf(stderr, "error: MEMHEX is not hex\n");
    return 2;
  }
  libbpf_set_print(quiet);
  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (!obj) {
    fprintf(stderr, "error: %s: cannot open (%s)\n", argv[1], strerror(errno));
    return 2;
  }
  struct bpf_program *prog;
  bpf_object__for_each_program(prog, obj)
    bpf_program__set_autoload(prog,
                              strcmp(bpf_program__name(prog), "xdp_main") == 0);
  int err = bpf_object__load(obj);
  if (err == -EPERM || err == -ENOSYS)
    return skip("the kernel refused to load eBPF", -err);
  if (err) {
    fprintf(stderr, "error: load failed (%s)\n", strerror(-err));
    return 1;
  }
  prog = bpf_object__find_program_by_name(obj, "xdp_main");
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len,
              .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
  err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
  if (err) {
    fprintf(stderr, "error: BPF_PROG_TEST_RUN failed (%s)\n", strerror(-err));
    return 1;
  }
  if (opts.retval != 2 /* XDP_PASS */) {
    fprintf(stderr, "error: xdp_main returned %u\n", opts.retval);
    return 1;
  }
  /* harness_result is the .bss map's only variable. */
  struct bpf_map *bss = NULL, *map;
  bpf_object__for_each_map(map, obj)
    if (strstr(bpf_map__name(map), ".bss"))
      bss = map;
  unsigned char value[4096];
  int key = 0;
  if (!bss || bpf_map__value_size(bss) > sizeof(value) ||
      bpf_map_lookup_elem(bpf_map__fd(bss), &key, value)) {
    fprintf(stderr, "error: cannot read the .bss map\n");
    return 1;
  }
  /* Its offset: the harness_result symbol in the .bss DATASEC. */
  const struct btf *btf = bpf_object__btf(obj);
  int sec = btf__find_by_name(btf, ".bss");
  const struct btf_type *t = btf__type_by_id(btf, sec);
  const struct btf_var_secinfo *vs = btf_var_secinfos(t);
  unsigned long long r0 = 0;
  int found = 0;
  for (int i = 0; i < btf_vlen(t); ++i, ++vs) {
    const struct btf_type *var = btf__type_by_id(btf, vs->type);
    if (strcmp(btf__name_by_offset(btf, var->name_off), "harness_result"))
      continue;
    memcpy(&r0, value + vs->offset, sizeof(r0));
    found = 1;
  }
  if (!found) {
    fprintf(stderr, "error: no harness_result in .bss\n");
    return 1;
  }
  printf("r0 0x%llx\nmem ", r0);
  for (unsigned i = 0; i < opts.data_size_out; ++i)
    printf("%02x", out[i]);
  printf("\n");
  bpf_object__close(obj);
  return 0;
}
