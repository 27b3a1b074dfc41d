//===- bpf-object/SpecPrinter.cpp - ExtensionSpec as text -----------------===//
//
// Part of eimc. See eimc/BpfObject/BpfObject.h.
//
//===----------------------------------------------------------------------===//
//
// The text form of an ExtensionSpec, printed by eimc-readobj and by
// `eimc --emit=spec`, and checked by the bpf-object lit tests. Stable and
// line-oriented so FileCheck patterns stay short: one line per map, a
// header line per program, one line per instruction with its slot, and
// the source line (from .BTF.ext) as a `;` comment where it changes.
//
//===----------------------------------------------------------------------===//

#include "eimc/BpfObject/BpfObject.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace eimc::bpfobject {
namespace {

const char *kindName(ProgramKind kind) {
  switch (kind) {
  case ProgramKind::Uprobe:
    return "uprobe";
  case ProgramKind::Uretprobe:
    return "uretprobe";
  case ProgramKind::Kprobe:
    return "kprobe";
  case ProgramKind::Kretprobe:
    return "kretprobe";
  case ProgramKind::Unsupported:
    return "unsupported";
  }
  llvm_unreachable("unknown program kind");
}

void printMap(raw_ostream &os, size_t index, const MapDef &m) {
  os << "map " << index << " '" << m.name << "': type " << m.type
     << ", key_size " << m.keySize << ", value_size " << m.valueSize
     << ", max_entries " << m.maxEntries << ", flags 0x"
     << utohexstr(m.flags, true) << ", btf_key " << m.btfKeyTypeId
     << ", btf_value " << m.btfValueTypeId;
  if (!m.initialValue.empty())
    os << ", initial value " << m.initialValue.size() << " bytes";
  os << "\n";
  for (const DataVariable &v : m.variables)
    os << "  var '" << v.name << "' offset " << v.offset << ", size " << v.size
       << "\n";
}

void printProgram(raw_ostream &os, const Program &p) {
  os << "program '" << p.name << "' section '" << p.section
     << "': " << kindName(p.kind);
  if (!p.attachPath.empty())
    os << " path '" << p.attachPath << "'";
  if (!p.attachSymbol.empty())
    os << " symbol '" << p.attachSymbol << "'";
  os << ", " << p.insns.size() << " insns\n";
  const SourceLine *last = nullptr;
  for (const bpf::SlotInsn &si : p.insns) {
    auto line = p.lines.find(si.slot);
    if (line != p.lines.end() && (!last || !(*last == line->second))) {
      last = &line->second;
      os << "    ; " << last->file << ":" << last->line << ":" << last->column;
      if (!last->text.empty())
        os << ": " << last->text;
      os << "\n";
    }
    os << format("  %4u: ", si.slot) << bpf::toString(si.insn);
    if (auto global = p.hostGlobals.find(si.slot);
        global != p.hostGlobals.end())
      os << " ; host global '" << global->second << "'";
    if (auto call = p.hostCalls.find(si.slot); call != p.hostCalls.end())
      os << " ; host function '" << call->second << "'";
    os << "\n";
  }
}

} // namespace

std::string toString(const ExtensionSpec &spec) {
  std::string text;
  raw_string_ostream os(text);
  os << "object '" << spec.objectName << "' license '" << spec.license << "', "
     << spec.programs.size() << " programs, " << spec.maps.size()
     << " maps, btf " << spec.btf.size() << " bytes\n";
  for (size_t i = 0; i < spec.maps.size(); ++i)
    printMap(os, i, spec.maps[i]);
  for (const Program &p : spec.programs)
    printProgram(os, p);
  return text;
}

} // namespace eimc::bpfobject
