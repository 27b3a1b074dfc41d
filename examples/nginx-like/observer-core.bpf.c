/*===- examples/nginx-like/observer-core.bpf.c - The observer, by field name =*
 *
 * Part of eimc. See docs/capabilities.md, "Field access by name (CO-RE)".
 *
 *===----------------------------------------------------------------------===*
 *
 * The observer without the host's header: it declares its own layout of
 * the request (fields reordered, `main` left out, `data` before `len`)
 * with clang's preserve_access_index, so every access is a CO-RE
 * relocation by field name. eimc resolves them against the host's own
 * types (from its DWARF): `r->uri.len` reads the host's field at offset
 * 8, not the 16 this layout gives (which is the host's `uri.data`), and
 * the verifier then checks offset 8 against the policy's grant of `uri`.
 * The `___local` suffix is libbpf's flavour convention: the type still
 * matches the host's `struct http_request_s`.
 *
 * It logs (through the host's http_log_request) only requests whose URI
 * is longer than six bytes, so a run shows which length it read. Built
 * with -DEIMC_NO_CORE (no preserve_access_index) it reads offset 16.
 *
 *===----------------------------------------------------------------------===*/

#include <linux/types.h>

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#ifdef EIMC_NO_CORE
#define BY_FIELD_NAME
#else
#define BY_FIELD_NAME __attribute__((preserve_access_index))
#endif

struct http_str___local {
  const char *data;
  unsigned long len;
} BY_FIELD_NAME;

struct http_request_s___local {
  int status;
  struct http_str___local uri;
  unsigned method;
} BY_FIELD_NAME;

extern void http_log_request(struct http_request_s___local *r) __ksym;

SEC("fentry/http_access_phase")
int BPF_PROG(observe_core, struct http_request_s___local *r) {
  if (r->uri.len > 6)
    http_log_request(r);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
