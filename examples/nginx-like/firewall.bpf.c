/*===- examples/nginx-like/firewall.bpf.c - Denies /admin requests --------===*
 *
 * Part of eimc. See docs/capabilities.md.
 *
 *===----------------------------------------------------------------------===*
 *
 * A typed entry on the access phase that refuses every URI under /admin:
 * it reads the URI (state `uri`; the bytes through bpf_probe_read_user),
 * finalizes the request with 403 (host function http_finalize_request,
 * which the firewall policy allows with 403 only) and makes the access
 * phase return -1 without running it (bpf_override_return, allowed by the
 * policy's return_override), counting the denial in the host's global
 * `requests_denied` (state `denied`, granted write). Every other request
 * goes through untouched.
 *
 *===----------------------------------------------------------------------===*/

#include "http.h"

#include <linux/types.h>

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

extern void http_finalize_request(http_request_t *r, int status) __ksym;
extern unsigned long requests_denied __ksym;

SEC("fentry/http_access_phase")
int BPF_PROG(firewall, http_request_t *r) {
  char prefix[6] = {};
  if (r->uri.len < sizeof(prefix))
    return 0;
  bpf_probe_read_user(prefix, sizeof(prefix), r->uri.data);
  if (__builtin_memcmp(prefix, "/admin", sizeof(prefix)) != 0)
    return 0;
  http_finalize_request(r, 403);
  requests_denied++;
  bpf_override_return((struct pt_regs *)ctx, -1);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
