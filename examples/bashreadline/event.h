/* The record Debian's bashreadline object sends through its `events` map,
 * as libbpf-tools' bashreadline.h declares it: the process id and the line
 * readline returned. `eimc events --btf event.o --type str_t` decodes
 * records with this type once compiled with debug info:
 *   clang-19 -target bpf -g -c -x c event.h -o event.o
 * (the object's own BTF does not carry it: the program only uses it for a
 * stack variable, and clang emits BTF only for types that globals, maps
 * and function signatures reach). */
#ifndef EIMC_EXAMPLE_BASHREADLINE_EVENT_H
#define EIMC_EXAMPLE_BASHREADLINE_EVENT_H

#define MAX_LINE_SIZE 80

struct str_t {
  unsigned int pid;
  char str[MAX_LINE_SIZE];
};

/* A global of the type makes the compiler emit it into the debug info. */
struct str_t eimc_event_str_t;

#endif
