/*===- examples/nginx-like/observer.bpf.c - Logs every request ------------===*
 *
 * Part of eimc. See docs/capabilities.md.
 *
 *===----------------------------------------------------------------------===*
 *
 * A typed entry on the access phase: its context is
 * http_access_phase's argument, so `r` is the host's request. It reads
 * the request's URI length (state `uri`, granted read) and asks the host
 * to log requests that have a URI (host function http_log_request).
 *
 *===----------------------------------------------------------------------===*/

#include "http.h"

#include <linux/types.h>

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

extern void http_log_request(http_request_t *r) __ksym;

SEC("fentry/http_access_phase")
int BPF_PROG(observe, http_request_t *r) {
  if (r->uri.len > 0)
    http_log_request(r);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
