/*===- examples/nginx-like/http.h - The example host's request types ------===*
 *
 * Part of eimc. See docs/capabilities.md.
 *
 *===----------------------------------------------------------------------===*
 *
 * The request as the host defines it, shared by host.c and the extensions
 * in this directory: an extension's `r->uri.len` compiles to the offset
 * this layout gives, and eimc's verifier checks that offset against the
 * one the host's DWARF records (the manifest's `uri` state), so a stale
 * copy of this header is refused, not trusted.
 *
 *===----------------------------------------------------------------------===*/

#ifndef EXAMPLES_NGINX_LIKE_HTTP_H
#define EXAMPLES_NGINX_LIKE_HTTP_H

typedef struct {
  unsigned long len;
  const char *data;
} http_str_t;

typedef struct http_request_s http_request_t;
struct http_request_s {
  unsigned method;
  http_str_t uri;
  int status;
  http_request_t *main; /* the parent of a subrequest, or itself */
};

#endif /* EXAMPLES_NGINX_LIKE_HTTP_H */
