/*===- examples/nginx-like/host.c - An annotated example host --------------===*
 *
 * Part of eimc. See docs/formats/manifest.md.
 *
 *===----------------------------------------------------------------------===*
 *
 * A miniature of nginx's request path, annotated with eim.h the way an
 * nginx developer would: the access phase is an extension entry, the
 * request's URI and status are state, finalizing a request is a host
 * function extensions may call (only with an HTTP status), and a global
 * counter is readable. Built by tests with gcc and clang at -O2 -g; `eimc
 * extract` must read the same manifest from both.
 *
 * Usage: host URI...   prints one line per request: "URI STATUS".
 *
 *===----------------------------------------------------------------------===*/

#include <eim/eim.h>

#include <stdio.h>
#include <string.h>

typedef struct {
  size_t len;
  const char *data;
} http_str_t;

typedef struct http_request_s http_request_t;
struct http_request_s {
  unsigned method;
  http_str_t uri;
  int status;
  http_request_t *main; /* the parent of a subrequest, or itself */
};

/* Requests served so far; extensions may read it. */
unsigned long requests_served;

__attribute__((noinline)) void http_finalize_request(http_request_t *r,
                                                     int status) {
  r->status = status;
}

/* The access phase: 0 lets the request through. An extension hooking it
 * may refuse a request by finalizing it with 403. */
__attribute__((noinline)) int http_access_phase(http_request_t *r) {
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
EIM_HFUNC_DEFINE_WITH_CONSTRAINTS(http_finalize_request,
                                  HF_ARG_RANGE(2, 100, 599));

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    http_request_t r = {1, {strlen(argv[i]), argv[i]}, 0, NULL};
    r.main = &r;
    http_handle_request(&r);
    printf("%s %d\n", argv[i], r.status);
  }
  return 0;
}
