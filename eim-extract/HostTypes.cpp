//===- eim-extract/HostTypes.cpp - The host's C types for CO-RE -----------===//
//
// Part of eimc. See docs/capabilities.md, "Field access by name".
//
//===----------------------------------------------------------------------===//
//
// Entry point: extractHostTypes(). It reads the C types an extension can
// reach through the host's capabilities (the parameter and return types of
// the manifest's entries and host functions, the types of its global
// states, the structures whose fields it offers) from the host's DWARF, and
// converts them, with every type they refer to, into bpfobject::HostTypes:
// BTF's model, which the object reader's CO-RE resolver walks exactly as it
// walks BTF. So an extension that reads `r->uri.len` through its own,
// partial `struct http_request_s___local` with preserve_access_index gets
// the host's offset, not the one its header claimed.
//
// Why DWARF and not BTF: a host built with `-g` has DWARF only (gcc does
// not emit BTF for user programs; pahole would be one more tool to run),
// and eim-extract already reads the same DWARF for the manifest. Why only
// the reachable types: CO-RE's candidate search is by name, and a large
// host (nginx) defines thousands of types an extension can never be given
// a pointer to.
//
// What it does not do: C++ classes are read as structs (no base classes,
// no static members); a declaration-only struct is replaced by a
// definition of the same name from any unit, else kept as a forward
// declaration (which no field relocation matches).
//
//===----------------------------------------------------------------------===//

#include "ExtractInternal.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/DebugInfo/DWARF/DWARFContext.h"
#include "llvm/DebugInfo/DWARF/DWARFDie.h"
#include "llvm/DebugInfo/DWARF/DWARFFormValue.h"

using namespace llvm;

namespace eimc::extract {

namespace {

using bpfobject::HostMember;
using bpfobject::HostType;
using bpfobject::HostTypeKind;
using bpfobject::HostTypes;

/// Converts DWARF type DIEs to HostTypes entries, each DIE once.
class TypeConverter {
public:
  explicit TypeConverter(const StringMap<DWARFDie> &definitions)
      : Definitions(definitions) {
    Out.types.emplace_back(); // index 0: void
  }

  /// \returns the index of \p die's type (0: void or unrepresentable).
  uint32_t convert(DWARFDie die, unsigned depth = 0);
  HostTypes take() { return std::move(Out); }

private:
  uint32_t add(HostType type) {
    Out.types.push_back(std::move(type));
    return uint32_t(Out.types.size() - 1);
  }
  uint32_t referenced(const DWARFDie &die, unsigned depth) {
    DWARFDie type = die.getAttributeValueAsReferencedDie(dwarf::DW_AT_type);
    return type ? convert(type, depth + 1) : 0;
  }
  void fillAggregate(const DWARFDie &die, uint32_t index, unsigned depth);
  uint32_t convertArray(const DWARFDie &die, unsigned depth);

  const StringMap<DWARFDie> &Definitions;
  DenseMap<uint64_t, uint32_t> Seen; ///< DIE offset → index
  HostTypes Out;
};

std::string nameOf(const DWARFDie &die) {
  return dwarf::toString(die.find(dwarf::DW_AT_name), "");
}

uint64_t byteSize(const DWARFDie &die) {
  return dwarf::toUnsigned(die.find(dwarf::DW_AT_byte_size), 0);
}

/// A member's bit offset: DWARF 4+ `DW_AT_data_bit_offset`, else the byte
/// offset plus DWARF 2/3's big-endian-numbered `DW_AT_bit_offset`.
uint64_t memberBitOffset(const DWARFDie &member) {
  if (std::optional<uint64_t> bits =
          dwarf::toUnsigned(member.find(dwarf::DW_AT_data_bit_offset)))
    return *bits;
  uint64_t bytes =
      dwarf::toUnsigned(member.find(dwarf::DW_AT_data_member_location), 0);
  std::optional<uint64_t> oldBit =
      dwarf::toUnsigned(member.find(dwarf::DW_AT_bit_offset));
  uint64_t bitSize = dwarf::toUnsigned(member.find(dwarf::DW_AT_bit_size), 0);
  if (!oldBit)
    return bytes * 8;
  uint64_t storage = dwarf::toUnsigned(member.find(dwarf::DW_AT_byte_size), 0);
  return bytes * 8 + storage * 8 - *oldBit - bitSize;
}

void TypeConverter::fillAggregate(const DWARFDie &die, uint32_t index,
                                  unsigned depth) {
  std::vector<HostMember> members;
  for (const DWARFDie &child : die.children()) {
    if (child.getTag() != dwarf::DW_TAG_member ||
        child.find(dwarf::DW_AT_external)) // C++ static members
      continue;
    HostMember m;
    m.name = nameOf(child);
    m.bitOffset = memberBitOffset(child);
    m.bitSize =
        uint32_t(dwarf::toUnsigned(child.find(dwarf::DW_AT_bit_size), 0));
    m.type = referenced(child, depth);
    members.push_back(std::move(m));
  }
  Out.types[index].members = std::move(members);
}

uint32_t TypeConverter::convertArray(const DWARFDie &die, unsigned depth) {
  std::vector<uint32_t> counts;
  for (const DWARFDie &child : die.children()) {
    if (child.getTag() != dwarf::DW_TAG_subrange_type)
      continue;
    uint64_t count = 0;
    if (std::optional<uint64_t> c =
            dwarf::toUnsigned(child.find(dwarf::DW_AT_count)))
      count = *c;
    else if (std::optional<uint64_t> ub =
                 dwarf::toUnsigned(child.find(dwarf::DW_AT_upper_bound)))
      count = *ub + 1;
    counts.push_back(uint32_t(count));
  }
  if (counts.empty())
    counts.push_back(0); // `T x[]`
  // T x[a][b] is an array of a arrays of b: build from the innermost.
  uint32_t elem = referenced(die, depth);
  for (size_t k = counts.size(); k-- > 1;) {
    HostType inner;
    inner.kind = HostTypeKind::Array;
    inner.type = elem;
    inner.count = counts[k];
    elem = add(std::move(inner));
  }
  HostType outer;
  outer.kind = HostTypeKind::Array;
  outer.type = elem;
  outer.count = counts[0];
  return add(std::move(outer));
}

uint32_t TypeConverter::convert(DWARFDie die, unsigned depth) {
  if (!die || depth > 64)
    return 0;
  dwarf::Tag tag = die.getTag();
  bool aggregate = tag == dwarf::DW_TAG_structure_type ||
                   tag == dwarf::DW_TAG_class_type ||
                   tag == dwarf::DW_TAG_union_type;
  // A declaration in this unit, a definition in another: use the latter.
  if (aggregate && die.find(dwarf::DW_AT_declaration)) {
    auto def = Definitions.find(nameOf(die));
    if (def != Definitions.end())
      die = def->second;
  }
  auto seen = Seen.find(die.getOffset());
  if (seen != Seen.end())
    return seen->second;
  HostType t;
  t.name = nameOf(die);
  switch (tag) {
  case dwarf::DW_TAG_base_type: {
    uint64_t enc = dwarf::toUnsigned(die.find(dwarf::DW_AT_encoding), 0);
    t.kind =
        enc == dwarf::DW_ATE_float ? HostTypeKind::Float : HostTypeKind::Int;
    t.size = byteSize(die);
    t.isSigned =
        enc == dwarf::DW_ATE_signed || enc == dwarf::DW_ATE_signed_char;
    break;
  }
  case dwarf::DW_TAG_structure_type:
  case dwarf::DW_TAG_class_type:
  case dwarf::DW_TAG_union_type:
    if (die.find(dwarf::DW_AT_declaration)) {
      t.kind = HostTypeKind::Fwd;
      break;
    }
    t.kind = tag == dwarf::DW_TAG_union_type ? HostTypeKind::Union
                                             : HostTypeKind::Struct;
    t.size = byteSize(die);
    {
      // Members may refer back to this type: index it first.
      uint32_t index = add(std::move(t));
      Seen[die.getOffset()] = index;
      fillAggregate(die, index, depth);
      return index;
    }
  case dwarf::DW_TAG_enumeration_type:
    t.kind = HostTypeKind::Enum;
    t.size = byteSize(die);
    for (const DWARFDie &e : die.children()) {
      if (e.getTag() != dwarf::DW_TAG_enumerator)
        continue;
      HostMember m;
      m.name = nameOf(e);
      if (std::optional<DWARFFormValue> v = e.find(dwarf::DW_AT_const_value)) {
        if (std::optional<int64_t> sv = v->getAsSignedConstant())
          m.value = *sv;
        else if (std::optional<uint64_t> uv = v->getAsUnsignedConstant())
          m.value = int64_t(*uv);
      }
      t.isSigned |= m.value < 0;
      t.members.push_back(std::move(m));
    }
    break;
  case dwarf::DW_TAG_pointer_type:
  case dwarf::DW_TAG_reference_type:
  case dwarf::DW_TAG_rvalue_reference_type:
    t.kind = HostTypeKind::Pointer;
    break;
  case dwarf::DW_TAG_typedef:
    t.kind = HostTypeKind::Typedef;
    break;
  case dwarf::DW_TAG_const_type:
    t.kind = HostTypeKind::Const;
    break;
  case dwarf::DW_TAG_volatile_type:
    t.kind = HostTypeKind::Volatile;
    break;
  case dwarf::DW_TAG_restrict_type:
  case dwarf::DW_TAG_atomic_type:
    // No layout of their own: the type they qualify.
    return Seen[die.getOffset()] = referenced(die, depth);
  case dwarf::DW_TAG_array_type:
    return Seen[die.getOffset()] = convertArray(die, depth);
  case dwarf::DW_TAG_subroutine_type:
    t.kind = HostTypeKind::Function;
    return Seen[die.getOffset()] = add(std::move(t));
  default:
    return 0; // unspecified types, pointers to members: nothing to match
  }
  bool refers =
      t.kind == HostTypeKind::Pointer || t.kind == HostTypeKind::Typedef ||
      t.kind == HostTypeKind::Const || t.kind == HostTypeKind::Volatile;
  uint32_t index = add(std::move(t));
  Seen[die.getOffset()] = index;
  if (refers) {
    uint32_t target = referenced(die, depth);
    Out.types[index].type = target;
  }
  return index;
}

} // namespace

Expected<HostTypes> extractHostTypes(StringRef hostPath,
                                     const CapabilityManifest &manifest,
                                     StringRef debugRoot) {
  // A host that offers nothing gives an extension no type to reach: skip
  // reading its DWARF (bash, python: large, and unannotated).
  if (manifest == CapabilityManifest())
    return HostTypes();
  Expected<HostDwarf> host = openHostDwarf(hostPath, debugRoot);
  if (!host)
    return host.takeError();
  const object::ObjectFile *dwarfObject = host->dwarfObject();
  if (!dwarfObject)
    return HostTypes();
  // The roots: what the manifest lets an extension hold.
  StringSet<> functions, globals, baseTypes;
  for (const ExtensionEntry &e : manifest.entries)
    functions.insert(e.function);
  for (const HostFunction &f : manifest.functions)
    functions.insert(f.name);
  for (const StateCapability &s : manifest.states) {
    if (!s.symbol.empty())
      globals.insert(s.symbol);
    if (!s.baseType.empty())
      baseTypes.insert(s.baseType);
  }
  std::unique_ptr<DWARFContext> dwarf = DWARFContext::create(*dwarfObject);
  StringMap<DWARFDie> definitions;
  std::vector<DWARFDie> roots;
  for (const std::unique_ptr<DWARFUnit> &unit : dwarf->compile_units())
    for (const DWARFDebugInfoEntry &entry : unit->dies()) {
      DWARFDie die(unit.get(), &entry);
      dwarf::Tag tag = die.getTag();
      std::string name = nameOf(die);
      if (name.empty())
        continue;
      bool aggregate = tag == dwarf::DW_TAG_structure_type ||
                       tag == dwarf::DW_TAG_class_type ||
                       tag == dwarf::DW_TAG_union_type;
      if (aggregate && !die.find(dwarf::DW_AT_declaration))
        definitions.try_emplace(name, die);
      if (tag == dwarf::DW_TAG_subprogram && functions.contains(name)) {
        if (DWARFDie ret =
                die.getAttributeValueAsReferencedDie(dwarf::DW_AT_type))
          roots.push_back(ret);
        for (const DWARFDie &param : die.children())
          if (param.getTag() == dwarf::DW_TAG_formal_parameter)
            if (DWARFDie t =
                    param.getAttributeValueAsReferencedDie(dwarf::DW_AT_type))
              roots.push_back(t);
      } else if (tag == dwarf::DW_TAG_variable && globals.contains(name)) {
        if (DWARFDie t =
                die.getAttributeValueAsReferencedDie(dwarf::DW_AT_type))
          roots.push_back(t);
      } else if ((aggregate || tag == dwarf::DW_TAG_typedef) &&
                 baseTypes.contains(name)) {
        roots.push_back(die);
      }
    }
  TypeConverter converter(definitions);
  for (const DWARFDie &root : roots)
    converter.convert(root);
  return converter.take();
}

} // namespace eimc::extract
