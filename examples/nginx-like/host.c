/*===- examples/nginx-like/host.c - An annotated example host --------------===*
 *
 * Part of eimc. See docs/formats/manifest.md.
 *
 *===----------------------------------------------------------------------===*
 *
 * A miniature of nginx's request path, annotated with eim.h the way an
 * nginx developer would: the access phase is an extension entry, the
 * request's URI and status are state, finalizing a request is a host
 * function extensions may call (only with an HTTP status), a global
 * counter is readable and another, of denied requests, writable (the
 * firewall extension counts into it; it is printed at exit when not 0). Built by tests with gcc and clang at -O2 -g; `eimc
 * extract` must read the same manifest from both.
 *
 * A second host function logs a request (the observer extension calls
 * it); a third returns a request's parent, or NULL for a main request,
 * which the manifest records by *not* promising a non-null result, so an
 * extension must test it before use (docs/capabilities.md).
 *
 * Usage: host URI...   serves each URI in order, printing one line per
 * request, "URI STATUS", then how often the access phase's own body ran
 * (an extension overriding its return skips it).
 *
 *===----------------------------------------------------------------------===*/

#include "http.h"

#include <eim/eim.h>

#include <stdio.h>
#include <string.h>

/* Requests served so far; extensions may read it. */
unsigned long requests_served;
unsigned long requests_denied; /* counted by the firewall extension */
/* Runs of the access phase's own body. */
static unsigned long access_runs;

__attribute__((noinline)) void http_log_request(http_request_t *r) {
  printf("log: %.*s\n", (int)r->uri.len, r->uri.data);
}

__attribute__((noinline)) http_request_t *
http_parent_request(http_request_t *r) {
  return r->main == r ? NULL : r->main;
}

__attribute__((noinline)) void http_finalize_request(http_request_t *r,
                                                     int status) {
  r->status = status;
}

/* The access phase: 0 lets the request through. An extension hooking it
 * may refuse a request by finalizing it with 403. */
__attribute__((noinline)) int http_access_phase(http_request_t *r) {
  access_runs++;
  if (r->uri.len > 1 && r->uri.data[1] == '.')
    http_finalize_request(r, 403);
  return r->status ? -1 : 0;
}

__attribute__((noinline)) void http_handle_request(http_request_t *r) {
  requests_served++;
  if (http_access_phase(r) == 0)
    http_finalize_request(r, 200);
}

EIM_EXTENSION_ENTRY_DEFINE(access_phase, http_access_phase, int,
                           http_request_t *);
EIM_STATE_FIELD_DEFINE(uri, read, http_request_t, uri);
EIM_STATE_FIELD_DEFINE(status, write, http_request_t, status);
EIM_STATE_DEFINE(served, read, requests_served);
EIM_STATE_DEFINE(denied, write, requests_denied);
EIM_HFUNC_DEFINE_WITH_CONSTRAINTS(http_finalize_request,
                                  HF_ARG_RANGE(2, 100, 599));
EIM_HFUNC_DEFINE(http_log_request);
EIM_HFUNC_DEFINE(http_parent_request);

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    http_request_t r = {1, {strlen(argv[i]), argv[i]}, 0, NULL};
    r.main = &r;
    http_handle_request(&r);
    printf("%s %d\n", argv[i], r.status);
  }
  printf("access phase ran %lu times\n", access_runs);
  if (requests_denied)
    printf("requests denied by extensions: %lu\n", requests_denied);
  return 0;
}
