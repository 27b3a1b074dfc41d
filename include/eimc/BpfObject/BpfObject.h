//===- eimc/BpfObject/BpfObject.h - Reading eBPF ELF objects ----*- C++ -*-===//
//
// Part of eimc. See docs/design.md.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The eBPF object reader: the first stage of the pipeline. readObject()
/// turns the bytes of an object built by `clang-19 -target bpf` (libbpf
/// conventions) into an ExtensionSpec: programs by section, BTF-defined maps
/// from `.maps`, map relocations rewritten to map indices, bpf-to-bpf
/// subprograms from `.text` appended to each program that calls them (as
/// libbpf does), and CO-RE relocations from `.BTF.ext` resolved against
/// eimc's own target BTF (the contexts eimc builds), never against the build
/// machine's /sys/kernel/btf/vmlinux.
///
/// What it does not do: decide whether a program is safe or allowed (the
/// verifier and the policy do), or what a section's target means for a host
/// (the driver matches attach targets to the host).
///
/// Rules followed, each from libbpf (tools/lib/bpf/libbpf.c):
///  - program sections: `uprobe/SYM`, `uretprobe/SYM`, `uprobe/PATH:SYM`,
///    `uretprobe/PATH:SYM`, `kprobe/SYM`, `kretprobe/SYM` (retargeted by
///    --attach); other known libbpf types are read and marked Unsupported;
///    an unknown section holding code is a malformed-input error.
///  - global data: each non-empty `.data*`, `.rodata*` and `.bss*` section
///    becomes an ARRAY map with one entry (value = the section, initial
///    contents = its bytes), after the `.maps` maps, named as libbpf names
///    it (globalDataMapName); an LDDW relocated against it becomes
///    Imm64Kind::MapValueByFd with the byte offset.
///    Its btfValueTypeId is the section's DATASEC, whose offsets and size
///    are fixed up in ExtensionSpec::btf (libbpf's btf_fixup_datasec).
///  - `.maps`: a struct per map whose members `type`, `max_entries`,
///    `key_size`, `value_size`, `map_flags` are `int (*)[N]` and `key`,
///    `value` are pointers to the key/value types.
///  - PERF_EVENT_ARRAY with max_entries 0 gets one entry per CPU slot
///    (libbpf sets it to the number of possible CPUs at load time).
///  - a CO-RE relocation that cannot be resolved poisons its instruction
///    (bpf::Poison); it is an error only if reachable (the verifier checks).
///    Relocations whose root type eimc's target BTF lacks resolve against
///    the host's types (HostTypes) instead: `r->uri` by field name.
///  - an extern variable (`extern T name __ksym;`) is a host global,
///    recorded in Program::hostGlobals; the verifier and the manifest say
///    what it may be.
///
//===----------------------------------------------------------------------===//

#ifndef EIMC_BPFOBJECT_BPFOBJECT_H
#define EIMC_BPFOBJECT_BPFOBJECT_H

#include "eimc/Core/Insn.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace eimc::bpfobject {

/// Map types (include/uapi/linux/bpf.h enum bpf_map_type values).
enum class MapTypeKind : uint32_t {
  Hash = 1,
  Array = 2,
  PerfEventArray = 4,
  PercpuHash = 5,
  PercpuArray = 6,
  CgroupArray = 8,
  RingBuf = 27,
};

/// CPU slots for per-CPU maps and PERF_EVENT_ARRAY: in user space a slot is
/// chosen per thread, not per CPU (see docs/design.md, "CPU slots").
constexpr uint32_t CpuSlots = 4;

/// A variable of a global-data section, placed as libbpf places it: the
/// offset from the ELF symbol (the object's DATASEC still says 0), the size
/// from the BTF DATASEC entry.
struct DataVariable {
  std::string name;
  uint32_t offset = 0; ///< bytes into the section (the map's value)
  uint32_t size = 0;   ///< bytes
  uint32_t btfTypeId = 0; ///< the VAR's type (e.g. `const volatile int`)
  bool operator==(const DataVariable &) const = default;
};

/// One map as libbpf would create it.
struct MapDef {
  std::string name;       ///< the .maps variable name (e.g. "events")
  uint32_t type = 0;      ///< bpf_map_type value (see MapTypeKind)
  uint32_t keySize = 0;   ///< bytes
  uint32_t valueSize = 0; ///< bytes
  uint32_t maxEntries = 0;
  uint32_t flags = 0;
  uint32_t btfKeyTypeId = 0;   ///< in ExtensionSpec::btf, 0 if none
  uint32_t btfValueTypeId = 0; ///< in ExtensionSpec::btf, 0 if none
  /// Global-data maps (`.data`, `.rodata`, `.bss`): the section's bytes,
  /// the single entry's initial value (empty: all zero, as for `.bss`).
  std::vector<uint8_t> initialValue;
  /// Global-data maps: the section's variables, by offset.
  std::vector<DataVariable> variables;
  bool operator==(const MapDef &) const = default;
};

enum class ProgramKind : uint8_t {
  Uprobe,
  Uretprobe,
  Kprobe,    ///< runs as an entry probe once --attach names a host symbol
  Kretprobe, ///< runs as a return probe once --attach names a host symbol
  Unsupported,
};

/// Source position from .BTF.ext line info.
struct SourceLine {
  std::string file; ///< base name as recorded by clang (e.g. "ext.bpf.c")
  uint32_t line = 0;
  uint32_t column = 0;
  std::string text; ///< the source line, if recorded
  bool operator==(const SourceLine &) const = default;
};

struct Program {
  std::string name;    ///< function symbol (e.g. "printret")
  std::string section; ///< ELF section (e.g. "uretprobe/readline")
  ProgramKind kind = ProgramKind::Unsupported;
  std::string attachPath;   ///< PATH of `uprobe/PATH:SYM`, else empty
  std::string attachSymbol; ///< SYM, empty for kprobes without a target
  /// Instructions with map relocations resolved (LoadImm64::mapIndex),
  /// CO-RE relocations applied and used .text subprograms appended.
  std::vector<bpf::SlotInsn> insns;
  /// Line info by slot, where .BTF.ext has it.
  std::map<uint32_t, SourceLine> lines;
  /// Calls to extern functions (host functions, docs/capabilities.md) by
  /// slot: the instruction is a Call of kind HelperBtfId, imm 0.
  std::map<uint32_t, std::string> hostCalls;
  /// References to extern variables (host globals, libbpf's typed
  /// `extern T name __ksym;`) by slot: the instruction is an LDDW of kind
  /// Imm with value 0 until the compiler makes it the global's address.
  std::map<uint32_t, std::string> hostGlobals;
  /// Set by the safety verifier: the 8-byte stack slots (offsets from r10,
  /// ascending) that some path may read before writing them (root's
  /// kernel allows that); the compiler zeroes them in every frame on
  /// entry, so the read yields 0 (docs/verifier.md).
  std::vector<int32_t> zeroStackSlots;
  bool operator==(const Program &) const = default;
};

/// A decoded extension object: pure, copyable, machine-independent.
struct ExtensionSpec {
  std::string objectName;        ///< base name of the input, for diagnostics
  std::string license;           ///< contents of the `license` section
  std::vector<Program> programs; ///< in section order
  std::vector<MapDef> maps;      ///< in `.maps` DATASEC order (libbpf's)
  /// The .BTF section, with global-data DATASECs fixed up as libbpf does
  /// before load (section size, each variable's offset from its symbol), so
  /// a global-data map's btfValueTypeId describes its value exactly.
  std::vector<uint8_t> btf;
  bool operator==(const ExtensionSpec &) const = default;
};

enum class HostTypeKind : uint8_t {
  Int,      ///< integers, `_Bool`, `char` (size, isSigned)
  Float,    ///< size
  Pointer,  ///< type: the pointee (0: void or a function)
  Array,    ///< type: the element; count
  Struct,   ///< size, members
  Union,    ///< size, members
  Enum,     ///< size, isSigned, members (enumerators)
  Fwd,      ///< a struct or union declared but not defined here
  Typedef,  ///< name, type
  Const,    ///< type
  Volatile, ///< type
  Function, ///< a function type (only ever pointed to)
};

/// A member of a HostType: a struct/union field or an enumerator.
struct HostMember {
  std::string name;       ///< empty for an anonymous struct/union member
  uint32_t type = 0;      ///< field: index in HostTypes::types
  uint64_t bitOffset = 0; ///< field: from the start of the aggregate
  uint32_t bitSize = 0;   ///< field: bitfield width, 0 if not a bitfield
  int64_t value = 0;      ///< enumerator value
  bool operator==(const HostMember &) const = default;
};

/// One C type of the host, in BTF's model (what CO-RE matches on: kinds,
/// names, sizes, members by name and bit offset).
struct HostType {
  HostTypeKind kind = HostTypeKind::Int;
  std::string name;  ///< "http_request_s", "http_request_t"; may be empty
  uint64_t size = 0; ///< bytes: Int, Float, Struct, Union, Enum
  bool isSigned = false;
  uint32_t type = 0;  ///< referenced type (Pointer, Array, Typedef, ...)
  uint32_t count = 0; ///< Array: number of elements
  std::vector<HostMember> members;
  bool operator==(const HostType &) const = default;
};

/// The host's C types that CO-RE relocations resolve against (besides
/// eimc's own target types, which keep `struct pt_regs`). Built from the
/// host's DWARF by extract::extractHostTypes(); types[0] is void and
/// references are indices into \c types. Pure and copyable.
struct HostTypes {
  std::vector<HostType> types;
  bool operator==(const HostTypes &) const = default;
};

/// BPF_F_RDONLY_PROG and BPF_F_MMAPABLE (include/uapi/linux/bpf.h), the
/// flags libbpf gives global-data maps (`.rodata` gets both).
constexpr uint32_t MapFlagRdonlyProg = 0x80;
constexpr uint32_t MapFlagMmapable = 0x400;

/// libbpf's name for the map of global-data section \p section in object
/// \p objectName: the object name up to its first '.', cut so prefix and
/// section fit 15 bytes with the suffix taking at least 7 ("funclate.bss"
/// for funclatency.bpf.o); a section name with a second '.' is used alone
/// (".rodata.str1.1"); characters other than [A-Za-z0-9_.] become '_'.
std::string globalDataMapName(llvm::StringRef objectName,
                              llvm::StringRef section);

/// Sets the `const volatile` variable \p name of the object's `.rodata`
/// to \p value before verification, as a libbpf skeleton does between
/// open and load. \p value is a decimal or 0x-hex integer (optionally
/// negative), or `true`/`false`; it must fit the variable's size (as
/// signed or unsigned). Writes little-endian into the `.rodata` map's
/// initial value.
/// \returns a refusal naming the variable for an unknown name (listing
/// the known ones), a value that does not fit, or a variable that is not
/// 1, 2, 4 or 8 bytes; a malformed-input error for a bad number.
llvm::Error setRodataVariable(ExtensionSpec &spec, llvm::StringRef name,
                              llvm::StringRef value);

/// Reads an eBPF ELF object.
/// \param objectName the name diagnostics use for this object.
/// \param hostTypes the host's C types, the second CO-RE target: a
/// relocation whose root type (by essential name) is not one of eimc's
/// target types resolves against these; null: none (such a relocation
/// poisons its instruction).
/// \returns the spec, or an error for malformed input (not ELF, not EM_BPF,
/// bad BTF, unknown program section, relocation against an unknown map).
llvm::Expected<ExtensionSpec> readObject(llvm::StringRef objectName,
                                         llvm::ArrayRef<uint8_t> bytes,
                                         const HostTypes *hostTypes = nullptr);

/// Prints the spec as text for --emit=spec and tests.
std::string toString(const ExtensionSpec &spec);

/// Decodes records of one named BTF type from any ELF with a .BTF section
/// (for `eimc events --btf FILE --type NAME`). Structs and unions print by
/// field name, integers by size and signedness, char arrays as strings (up
/// to the first NUL), other arrays as lists, enums by enumerator name,
/// pointers as hex. Records shorter than the type print what they hold;
/// nothing is read out of bounds. Copyable and immutable.
class BtfRecordFormatter {
public:
  /// \p typeName may be a struct, union, typedef or other named type, with
  /// or without a `struct `/`union ` prefix.
  /// \returns an error if \p elfBytes is not ELF, has no .BTF section or
  /// no type of that name.
  static llvm::Expected<BtfRecordFormatter>
  create(llvm::ArrayRef<uint8_t> elfBytes, llvm::StringRef typeName);
  /// Formats type \p typeId of a raw .BTF section (as a rewritten process
  /// records for its maps). A DATASEC prints its variables by name.
  /// \returns an error for malformed BTF or an unknown or unsized type.
  static llvm::Expected<BtfRecordFormatter>
  createFromBtf(llvm::ArrayRef<uint8_t> btfSection, uint32_t typeId);
  /// Byte size of the type (one record).
  uint64_t size() const;
  /// `pid=123 str="echo hi"`.
  void printText(llvm::ArrayRef<uint8_t> record, llvm::raw_ostream &os) const;
  /// `{"pid":123,"str":"echo hi"}`.
  void printJson(llvm::ArrayRef<uint8_t> record, llvm::raw_ostream &os) const;

  struct Impl;

private:
  explicit BtfRecordFormatter(std::shared_ptr<const Impl> impl)
      : impl(std::move(impl)) {}
  std::shared_ptr<const Impl> impl;
};

} // namespace eimc::bpfobject

#endif // EIMC_BPFOBJECT_BPFOBJECT_H
