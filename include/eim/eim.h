/*===- eim/eim.h - Extension Interface Model annotations for hosts -*- C -*-===*
 *
 * Part of eimc. See docs/formats/manifest.md.
 *
 *===----------------------------------------------------------------------===*
 *
 * A host developer includes this header (C or C++) and states, next to the
 * code, what the host offers extensions: state, host functions and
 * extension entries (EIM, OSDI'25, development time). `eimc extract HOST`
 * reads the statements back from the host's DWARF and writes the manifest.
 *
 * Encoding, and why it costs nothing. Each statement defines one static,
 * zero-length array `__eim_<kind>__<name>` whose element type is a packed
 * anonymous struct. The struct's members carry the statement: a member
 * named after the state variable or function, whose type is a pointer to
 * the variable's or the function's type (its C type and prototype), and
 * members whose names and enum values encode access modes and constraints.
 * `__attribute__((used))` keeps the array, and with it its DWARF, through
 * -O2 in both gcc and clang: a *typedef* alone would not survive, since
 * both compilers drop unused types from DWARF by default. The arrays have
 * size zero, alignment one and live in their own read-only section
 * `.eim_annotations`, so `.text`, `.data` and every other section keep
 * their bytes and addresses; no code references them. Nothing here adds a
 * patch site: an extension entry names an existing function.
 *
 * Functions named as entries or host functions need a symbol in the final
 * binary (extern, or static and not inlined); in C++ they need C linkage,
 * since the manifest binds capabilities to symbols by name.
 *
 *===----------------------------------------------------------------------===*/

#ifndef EIM_EIM_H
#define EIM_EIM_H

/* -DEIM_DISABLE compiles every statement to nothing; the cost test builds
 * a host both ways and compares `.text` and `.data`. */
#ifdef EIM_DISABLE
#define EIM_STATE_DEFINE(name, access, variable) extern int __eim_disabled
#define EIM_STATE_FIELD_DEFINE(name, access, type, member)                     \
  extern int __eim_disabled
#define EIM_HFUNC_DEFINE(function) extern int __eim_disabled
#define EIM_HFUNC_DEFINE_WITH_CONSTRAINTS(function, ...)                       \
  extern int __eim_disabled
#define EIM_EXTENSION_ENTRY_DEFINE(name, function, ret, ...)                   \
  extern int __eim_disabled
#else

#define EIM__CAT2(a, b) a##b
#define EIM__CAT(a, b) EIM__CAT2(a, b)
#define EIM__UNIQUE(prefix) EIM__CAT(prefix, __COUNTER__)

/* One annotation: a zero-length, alignment-1 array of a struct that DWARF
 * describes. The initializer is empty: the array has no bytes to fill. */
#define EIM__RECORD(kind, name, ...)                                           \
  static const struct __attribute__((packed)) {                                \
    __VA_ARGS__                                                                \
  } __eim_##kind##__##name[0] __attribute__((                                  \
      used, unused, aligned(1), section(".eim_annotations"))) = {}

/* Access modes for EIM_STATE_DEFINE: the member's name is the mode. */
#define EIM__ACCESS(mode) char eim_access_##mode;

/* EIM_STATE_DEFINE(name, read|write, variable): extensions may read (or
 * read and write) the global `variable` under capability `name`. */
#define EIM_STATE_DEFINE(name, access, variable)                               \
  typedef __typeof__(variable) __eim_state_type__##name;                       \
  EIM__RECORD(state, name, __eim_state_type__##name *variable;                 \
              EIM__ACCESS(access))

/* EIM_STATE_FIELD_DEFINE(name, read|write, type, member): extensions may
 * access `member` of a `type` they receive (e.g. an entry's argument). The
 * offset is recorded as the compiler computed it. */
#define EIM_STATE_FIELD_DEFINE(name, access, type, member)                     \
  typedef __typeof__(((type *)0)->member) __eim_field_type__##name;            \
  EIM__RECORD(field, name, type *eim_base;                                     \
              __eim_field_type__##name *member;                                \
              enum { EIM__UNIQUE(__eim_offset_) =                              \
                         __builtin_offsetof(type, member) } eim_offset;        \
              EIM__ACCESS(access))

/* Constraints on a host function, for EIM_HFUNC_DEFINE_WITH_CONSTRAINTS.
 * Argument indices count from 1, as in the paper. */
#define HF_RET_POSITIVE char eim_ret_positive;
#define HF_RET_NONNEGATIVE char eim_ret_nonnegative;
#define HF_RET_NONNULL char eim_ret_nonnull;
#define HF_ARG_EQ(index, value)                                                \
  enum { EIM__UNIQUE(__eim_eq_) = (value) } eim_arg_eq_##index;
#define HF_ARG_RANGE(index, low, high)                                         \
  enum {                                                                       \
    EIM__UNIQUE(__eim_low_) = (low),                                           \
    EIM__UNIQUE(__eim_high_) = (high)                                          \
  } eim_arg_range_##index;

/* EIM_HFUNC_DEFINE(function): extensions may call `function`; the
 * capability's name is the function's name. */
#define EIM_HFUNC_DEFINE(function)                                             \
  EIM_HFUNC_DEFINE_WITH_CONSTRAINTS(function, )

/* EIM_HFUNC_DEFINE_WITH_CONSTRAINTS(function, HF_...): the constraints
 * hold for every call (arguments) or every return (results). */
#define EIM_HFUNC_DEFINE_WITH_CONSTRAINTS(function, ...)                       \
  typedef __typeof__(function) __eim_hfunc_type__##function;                   \
  EIM__RECORD(hfunc, function, __eim_hfunc_type__##function *function;        \
              __VA_ARGS__)

/* EIM_EXTENSION_ENTRY_DEFINE(name, function, ret, args...): extensions of
 * class entry `name` may hook `function`, whose prototype is
 * `ret function(args...)`. */
#define EIM_EXTENSION_ENTRY_DEFINE(name, function, ret, ...)                   \
  typedef ret (*__eim_entry_type__##name)(__VA_ARGS__);                        \
  EIM__RECORD(entry, name, __eim_entry_type__##name function;)

#endif /* EIM_DISABLE */

#endif /* EIM_EIM_H */
