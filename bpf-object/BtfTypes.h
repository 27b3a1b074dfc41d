//===- bpf-object/BtfTypes.h - A decoded .BTF type table --------*- C++ -*-===//
//
// Part of eimc. See eimc/BpfObject/BpfObject.h.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The .BTF type table as plain value types, private to the object reader.
/// `.maps` parsing, CO-RE resolution and event formatting all walk types by
/// id; they need every kind's tail (INT encoding, VAR linkage, DATASEC
/// entries), which llvm::BTFParser does not expose, and the formatter must
/// read ELF files that have a .BTF but no .BTF.ext section, which
/// BTFParser::parse() refuses. So the type section is decoded here, while
/// .BTF.ext (line info, CO-RE records) still goes through llvm::BTFParser.
///
//===----------------------------------------------------------------------===//

#ifndef EIMC_BPFOBJECT_BTFTYPES_H
#define EIMC_BPFOBJECT_BTFTYPES_H

#include "eimc/BpfObject/BpfObject.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/DebugInfo/BTF/BTF.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace eimc::bpfobject {

/// One entry of a type's tail: a struct/union member, an enumerator, a
/// function parameter or a DATASEC variable, depending on the kind.
struct BtfMember {
  std::string name;
  uint32_t type = 0;      ///< member/param/var type id (0 for enumerators)
  uint32_t bitOffset = 0; ///< STRUCT/UNION; byte offset for DATASEC
  uint32_t bitSize = 0;   ///< bitfield width, 0 if not a bitfield; DATASEC size
  int64_t value = 0;      ///< ENUM/ENUM64 enumerator value
};

/// One BTF type. Which fields are meaningful depends on \c kind.
struct BtfType {
  uint32_t kind = 0; ///< llvm::BTF::BTF_KIND_*
  std::string name;
  bool kindFlag = false;
  uint32_t sizeOrType = 0;  ///< size for INT/ENUM/STRUCT/UNION/DATASEC/FLOAT
  uint32_t intEncoding = 0; ///< INT: BTF::INT_SIGNED/CHAR/BOOL
  uint32_t intBits = 0;     ///< INT: value bits
  uint32_t elemType = 0;    ///< ARRAY element type
  uint32_t nelems = 0;      ///< ARRAY element count
  uint32_t linkage = 0;     ///< FUNC/VAR linkage
  std::vector<BtfMember> members;
};

/// A parsed .BTF section. Type id 0 is void.
class BtfTypes {
public:
  /// Parses a raw .BTF section (little-endian).
  /// \returns an error naming the malformed part.
  static llvm::Expected<BtfTypes> parse(llvm::ArrayRef<uint8_t> section);
  /// The host's types (from DWARF) in the same model, so CO-RE resolves
  /// against them with the code that resolves against BTF.
  static BtfTypes fromHost(const HostTypes &host);

  /// The string at offset \p off of the string section; an error for an
  /// offset past its end.
  llvm::Expected<std::string> string(uint32_t off) const;

  /// \returns the type with \p id, or nullptr for void and bad ids.
  const BtfType *get(uint32_t id) const;
  uint32_t count() const { return uint32_t(types.size()); }

  /// Follows TYPEDEF, CONST, VOLATILE, RESTRICT and TYPE_TAG links.
  uint32_t skipModifiers(uint32_t id) const;
  /// Like skipModifiers but keeps typedefs (for naming a type).
  uint32_t skipQualifiers(uint32_t id) const;

  /// Byte size of a type (arrays multiplied out, pointers 8).
  /// \returns an error for void, functions and unresolvable chains.
  llvm::Expected<uint64_t> sizeOf(uint32_t id) const;

  /// First type named \p name whose kind is in \p kinds.
  std::optional<uint32_t> findByName(llvm::StringRef name,
                                     llvm::ArrayRef<uint32_t> kinds) const;

private:
  std::vector<BtfType> types; ///< index = type id; [0] is void
  std::string strings;        ///< the string section
};

/// `task_struct___flavor` → `task_struct` (libbpf's "essential name").
llvm::StringRef essentialName(llvm::StringRef name);

} // namespace eimc::bpfobject

#endif // EIMC_BPFOBJECT_BTFTYPES_H
