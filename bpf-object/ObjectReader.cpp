//===- bpf-object/ObjectReader.cpp - eBPF ELF object to ExtensionSpec -----===//
//
// Part of eimc. See eimc/BpfObject/BpfObject.h.
//
//===----------------------------------------------------------------------===//
//
// readObject() is the pipeline's first stage. It follows libbpf's loader
// (tools/lib/bpf/libbpf.c) closely enough that an object libbpf accepts
// means the same thing here:
//
//  1. check the ELF header (64-bit little-endian, EM_BPF, ET_REL);
//  2. read BTF, `license`, the BTF-defined maps from `.maps` and one
//     ARRAY map per global-data section (`.data*`, `.rodata*`, `.bss*`);
//  3. decode every executable section and resolve its relocations: map
//     references become map indices, global-data references map-value
//     references (map index + offset), calls into `.text` are remembered,
//     extern functions and variables become host calls and host globals,
//     other externs and `.kconfig` are marked for refusal;
//  4. apply CO-RE relocations (eimc's target types, else the host's) and
//     attach line info per section;
//  5. cut programs out of their sections by function symbol and append the
//     `.text` subprograms each one reaches, fixing call targets.
//
// It does not verify anything: jump targets and reachability belong to
// the verifier, which also decides whether a poisoned CO-RE instruction
// matters.
//
//===----------------------------------------------------------------------===//

#include "BtfTypes.h"
#include "CodeSection.h"

#include "eimc/BpfObject/BpfObject.h"
#include "eimc/Core/Errors.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/BinaryFormat/ELF.h"
#include "llvm/BinaryFormat/Magic.h"
#include "llvm/DebugInfo/BTF/BTFParser.h"
#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Support/DataExtractor.h"
#include "llvm/Support/Path.h"

#include <set>

using namespace llvm;
using namespace llvm::object;

namespace eimc::bpfobject {

int CodeSection::indexOfSlot(uint32_t slot) const {
  auto it = partition_point(
      insns, [&](const bpf::SlotInsn &si) { return si.slot < slot; });
  if (it == insns.end() || it->slot != slot)
    return -1;
  return int(it - insns.begin());
}

namespace {

/// A function symbol: a program (outside `.text`) or a subprogram.
struct Function {
  std::string name;
  size_t section; ///< index into Reader::sections
  uint32_t start; ///< first slot in the section
  uint32_t end;   ///< one past the last slot
};

/// libbpf program types eimc reads but cannot run; the first component of
/// the section name (before '/').
bool isKnownUnsupportedSection(StringRef name) {
  static constexpr StringLiteral known[] = {"uprobe.s",
                                            "uretprobe.s",
                                            "uprobe.multi",
                                            "uretprobe.multi",
                                            "uprobe.multi.s",
                                            "uretprobe.multi.s",
                                            "kprobe.multi",
                                            "kretprobe.multi",
                                            "kprobe.session",
                                            "ksyscall",
                                            "kretsyscall",
                                            "usdt",
                                            "usdt.s",
                                            "tc",
                                            "tcx",
                                            "netkit",
                                            "classifier",
                                            "action",
                                            "tracepoint",
                                            "tp",
                                            "raw_tracepoint",
                                            "raw_tp",
                                            "raw_tracepoint.w",
                                            "raw_tp.w",
                                            "tp_btf",
                                            "fentry",
                                            "fmod_ret",
                                            "fexit",
                                            "fentry.s",
                                            "fmod_ret.s",
                                            "fexit.s",
                                            "freplace",
                                            "lsm",
                                            "lsm.s",
                                            "lsm_cgroup",
                                            "iter",
                                            "iter.s",
                                            "syscall",
                                            "xdp",
                                            "xdp.frags",
                                            "perf_event",
                                            "lwt_in",
                                            "lwt_out",
                                            "lwt_xmit",
                                            "lwt_seg6local",
                                            "sockops",
                                            "sk_skb",
                                            "sk_msg",
                                            "lirc_mode2",
                                            "flow_dissector",
                                            "cgroup_skb",
                                            "cgroup",
                                            "sk_lookup",
                                            "netfilter",
                                            "struct_ops",
                                            "struct_ops.s",
                                            "socket",
                                            "sk_reuseport"};
  StringRef head = name.split('/').first;
  return is_contained(known, head) || head.starts_with("cgroup");
}

/// Fills kind and attach target from the section name (libbpf's
/// SEC("uprobe/PATH:SYM") rules; the last ':' separates PATH and SYM
/// because paths may contain ':' but symbols do not).
Error classifySection(StringRef section, Program &prog) {
  static const std::pair<StringRef, ProgramKind> probes[] = {
      {"uprobe", ProgramKind::Uprobe},
      {"uretprobe", ProgramKind::Uretprobe},
      {"kprobe", ProgramKind::Kprobe},
      {"kretprobe", ProgramKind::Kretprobe},
      // libbpf's typed-argument attach: an entry probe whose context is the
      // hooked function's arguments (docs/capabilities.md).
      {"fentry", ProgramKind::Uprobe}};
  auto [head, target] = section.split('/');
  for (const auto &[prefix, kind] : probes) {
    if (head != prefix)
      continue;
    prog.kind = kind;
    bool isUser = kind == ProgramKind::Uprobe || kind == ProgramKind::Uretprobe;
    size_t colon = target.rfind(':');
    if (isUser && colon != StringRef::npos) {
      prog.attachPath = target.take_front(colon).str();
      prog.attachSymbol = target.drop_front(colon + 1).str();
    } else {
      prog.attachSymbol = target.str();
    }
    return Error::success();
  }
  if (isKnownUnsupportedSection(section)) {
    prog.kind = ProgramKind::Unsupported;
    return Error::success();
  }
  return makeMalformed("unknown program section '" + section + "'");
}

/// Prefixes a malformed-input error with the section it was found in.
Error inSection(StringRef section, Error e) {
  return makeMalformed("section '" + section + "': " + toString(std::move(e)));
}

/// Sections libbpf turns into global-data maps (libbpf.c, "sec_desc"
/// kinds DATA, RODATA and BSS). `.kconfig` is an extern section instead.
bool isGlobalDataSection(StringRef name) {
  auto is = [&](StringRef base) {
    return name == base || name.starts_with((base + ".").str());
  };
  return is(".data") || is(".rodata") || is(".bss");
}

class Reader {
public:
  Reader(StringRef objectName, const ELF64LEObjectFile &obj,
         const HostTypes *hostTypes)
      : objectName(objectName), obj(obj) {
    if (hostTypes)
      hostBtf = BtfTypes::fromHost(*hostTypes);
  }

  Expected<ExtensionSpec> run();

private:
  Error readBtf();
  Error checkCoreRelocationSections();
  Error readLicense();
  Error readMaps();
  Error readGlobalData();
  Expected<std::map<std::string, uint32_t>>
  symbolOffsetsIn(uint64_t sectionIndex) const;
  Error relocateGlobalData(bpf::Insn &insn, uint32_t slot,
                           StringRef section, uint64_t sectionIndex,
                           uint64_t symbolValue);
  Error decodeSections();
  Error readRelocations(const SectionRef &rel, CodeSection &code);
  Error relocateOne(const RelocationRef &reloc, CodeSection &code);
  bool isKconfigExtern(StringRef name) const;
  Error readFunctions();
  void attachLines(CodeSection &code);
  Error buildPrograms();
  Expected<Program> buildProgram(const Function &fn);
  Error appendFunction(const Function &fn, Program &prog,
                       std::vector<std::pair<size_t, uint32_t>> &pending);
  const Function *textFunctionAt(uint32_t slot) const;

  StringRef objectName;
  const ELF64LEObjectFile &obj;
  ExtensionSpec spec;
  std::optional<BtfTypes> btf;
  std::optional<BtfTypes> hostBtf; ///< the host's types, the second target
  std::optional<BTFParser> ext; ///< .BTF.ext, when the object has one
  std::vector<CodeSection> sections;
  std::map<uint64_t, size_t> sectionByElfIndex;
  /// ELF section index of a global-data section → its map index.
  std::map<uint64_t, uint32_t> globalDataMaps;
  std::optional<size_t> textSection;
  std::vector<Function> programs;      ///< functions outside .text
  std::vector<Function> textFunctions; ///< sorted by start
};

Expected<ExtensionSpec> Reader::run() {
  spec.objectName = objectName.str();
  // Phase 1: object-wide data everything else refers to.
  if (Error e = readBtf())
    return e;
  if (Error e = readLicense())
    return e;
  if (Error e = readMaps())
    return e;
  if (Error e = readGlobalData())
    return e;
  // Phase 2: code, per section, with relocations, CO-RE and lines applied.
  if (Error e = decodeSections())
    return e;
  // Phase 3: programs, each self-contained with its subprograms.
  if (Error e = readFunctions())
    return e;
  if (Error e = buildPrograms())
    return e;
  return std::move(spec);
}

Error Reader::readBtf() {
  for (const SectionRef &sec : obj.sections()) {
    Expected<StringRef> name = sec.getName();
    if (!name)
      return name.takeError();
    if (*name != ".BTF")
      continue;
    Expected<StringRef> contents = sec.getContents();
    if (!contents)
      return contents.takeError();
    spec.btf.assign(contents->bytes_begin(), contents->bytes_end());
    Expected<BtfTypes> types = BtfTypes::parse(spec.btf);
    if (!types)
      return types.takeError();
    btf = std::move(*types);
  }
  if (!btf || !BTFParser::hasBTFSections(obj))
    return Error::success();
  if (Error e = checkCoreRelocationSections())
    return e;
  ext.emplace();
  BTFParser::ParseOptions opts;
  opts.LoadLines = true;
  opts.LoadRelocs = true;
  return ext->parse(obj, opts);
}

/// LLVM 19's BTFParser::parseRelocInfo dereferences the section it looks
/// up by each CO-RE relocation group's name without checking that it
/// exists (parseLineInfo does check), so a group naming no section makes
/// it call through garbage (found by fuzz/ObjectReaderFuzzer.cpp). Walk
/// the groups first (.BTF.ext layout: the kernel's struct btf_ext_header
/// and btf_ext_info_sec) and refuse a name that is not a section.
Error Reader::checkCoreRelocationSections() {
  StringRef extBytes;
  std::set<StringRef> sectionNames;
  for (const SectionRef &sec : obj.sections()) {
    Expected<StringRef> name = sec.getName();
    if (!name)
      return name.takeError();
    sectionNames.insert(*name);
    if (*name != ".BTF.ext")
      continue;
    Expected<StringRef> contents = sec.getContents();
    if (!contents)
      return contents.takeError();
    extBytes = *contents;
  }

  DataExtractor ext(extBytes, /*IsLittleEndian=*/true, 8);
  DataExtractor::Cursor cur(4);
  uint32_t hdrLen = ext.getU32(cur);
  cur.seek(24);
  uint32_t reloOff = ext.getU32(cur);
  uint32_t reloLen = ext.getU32(cur);
  if (Error e = cur.takeError()) {
    // LLVM's own header checks report a short header precisely.
    consumeError(std::move(e));
    return Error::success();
  }
  // Headers shorter than 32 bytes have no CO-RE relocations.
  if (hdrLen < 32 || reloLen == 0)
    return Error::success();
  uint64_t begin = uint64_t(hdrLen) + reloOff;
  uint64_t end = begin + reloLen;
  if (end > extBytes.size())
    return makeMalformed(".BTF.ext: CO-RE relocations past the section end");
  cur.seek(begin);
  uint32_t recordSize = ext.getU32(cur);
  if (recordSize == 0)
    return joinErrors(
        makeMalformed(".BTF.ext: CO-RE relocation record size 0"),
        cur.takeError());
  while (cur && cur.tell() < end) {
    uint32_t nameOff = ext.getU32(cur);
    uint32_t count = ext.getU32(cur);
    if (!cur)
      break;
    Expected<std::string> name = btf->string(nameOff);
    if (!name) {
      consumeError(name.takeError());
      return makeMalformed(".BTF.ext: CO-RE relocation group names string "
                           "offset " +
                           Twine(nameOff) + ", outside .BTF's strings");
    }
    if (!sectionNames.count(*name))
      return makeMalformed(".BTF.ext: CO-RE relocations for section '" +
                           *name + "', which the object does not have");
    cur.seek(cur.tell() + uint64_t(count) * recordSize);
  }
  // A truncated group is LLVM's to report.
  consumeError(cur.takeError());
  return Error::success();
}

Error Reader::readLicense() {
  for (const SectionRef &sec : obj.sections()) {
    Expected<StringRef> name = sec.getName();
    if (!name || *name != "license") {
      consumeError(name.takeError());
      continue;
    }
    Expected<StringRef> contents = sec.getContents();
    if (!contents)
      return contents.takeError();
    spec.license = contents->split('\0').first.str();
  }
  return Error::success();
}

Error Reader::readMaps() {
  bool hasMapsSection = any_of(obj.sections(), [](const SectionRef &sec) {
    Expected<StringRef> name = sec.getName();
    return name ? *name == ".maps" : (consumeError(name.takeError()), false);
  });
  if (!hasMapsSection)
    return Error::success();
  if (!btf)
    return makeMalformed("'.maps' section without .BTF (compile with -g)");
  Expected<std::vector<MapDef>> maps = readBtfMaps(*btf);
  if (!maps)
    return maps.takeError();
  spec.maps = std::move(*maps);
  return Error::success();
}

/// \p sym's name; for a section symbol (named by its section), an error if
/// its section index is reserved or out of range, where LLVM 19's
/// getName() would read past the section headers (found by
/// fuzz/ObjectReaderFuzzer.cpp).
static Expected<StringRef> symbolName(const SymbolRef &sym) {
  Expected<SymbolRef::Type> type = sym.getType();
  if (!type)
    return type.takeError();
  if (*type != SymbolRef::ST_Debug)
    return sym.getName();
  Expected<section_iterator> sec = sym.getSection();
  if (!sec)
    return sec.takeError();
  if (*sec == sym.getObject()->section_end())
    return makeMalformed("section symbol without a section");
  return sym.getName();
}

/// Values of the named object symbols defined in section \p sectionIndex.
Expected<std::map<std::string, uint32_t>>
Reader::symbolOffsetsIn(uint64_t sectionIndex) const {
  std::map<std::string, uint32_t> out;
  for (const ELFSymbolRef &sym : obj.symbols()) {
    Expected<section_iterator> sec = sym.getSection();
    Expected<StringRef> name = symbolName(sym);
    Expected<uint64_t> value = sym.getValue();
    if (!sec || !name || !value)
      return joinErrors(joinErrors(sec.takeError(), name.takeError()),
                        value.takeError());
    if (*sec == obj.section_end() || (*sec)->getIndex() != sectionIndex ||
        name->empty() || *value > UINT32_MAX)
      continue;
    out[name->str()] = uint32_t(*value);
  }
  return out;
}

/// libbpf creates global-data maps after the `.maps` ones, in section
/// order, and skips empty sections (no variable can live there).
Error Reader::readGlobalData() {
  for (const SectionRef &sec : obj.sections()) {
    Expected<StringRef> name = sec.getName();
    if (!name)
      return name.takeError();
    if (!isGlobalDataSection(*name) || sec.getSize() == 0)
      continue;
    if (sec.getSize() > UINT32_MAX)
      return makeMalformed("global data section '" + *name + "' is larger "
                           "than 4 GiB");
    MapDef def;
    def.name = globalDataMapName(objectName, *name);
    def.type = uint32_t(MapTypeKind::Array);
    def.keySize = 4;
    def.valueSize = uint32_t(sec.getSize());
    def.maxEntries = 1;
    def.flags = MapFlagMmapable;
    if (name->starts_with(".rodata"))
      def.flags |= MapFlagRdonlyProg;
    if (ELFSectionRef(sec).getType() != ELF::SHT_NOBITS) {
      Expected<StringRef> contents = sec.getContents();
      if (!contents)
        return contents.takeError();
      // An all-zero initial value is stored as "none" (as .bss).
      if (any_of(*contents, [](char c) { return c != 0; }))
        def.initialValue.assign(contents->bytes_begin(),
                                contents->bytes_end());
    }
    Expected<std::map<std::string, uint32_t>> offsets =
        symbolOffsetsIn(sec.getIndex());
    if (!offsets)
      return offsets.takeError();
    Expected<std::optional<uint32_t>> datasec = fixupDatasec(
        spec.btf, *name, def.valueSize, *offsets, def.variables);
    if (!datasec)
      return datasec.takeError();
    def.btfValueTypeId = datasec->value_or(0);
    globalDataMaps[sec.getIndex()] = uint32_t(spec.maps.size());
    spec.maps.push_back(std::move(def));
  }
  return Error::success();
}

Error Reader::decodeSections() {
  std::optional<BtfTypes> target;
  for (const SectionRef &sec : obj.sections()) {
    if (!(ELFSectionRef(sec).getFlags() & ELF::SHF_EXECINSTR) ||
        sec.getSize() == 0)
      continue;
    Expected<StringRef> name = sec.getName();
    if (!name)
      return name.takeError();
    Expected<StringRef> contents = sec.getContents();
    if (!contents)
      return contents.takeError();
    Expected<std::vector<bpf::SlotInsn>> insns =
        bpf::decodeProgram(arrayRefFromStringRef(*contents));
    if (!insns)
      return inSection(*name, insns.takeError());
    CodeSection code;
    code.name = name->str();
    code.elfIndex = sec.getIndex();
    code.insns = std::move(*insns);
    if (*name == ".text")
      textSection = sections.size();
    sectionByElfIndex[code.elfIndex] = sections.size();
    sections.push_back(std::move(code));
  }
  // Relocation sections name the section they patch.
  for (const SectionRef &rel : obj.sections()) {
    Expected<section_iterator> patched = rel.getRelocatedSection();
    if (!patched)
      return patched.takeError();
    if (*patched == obj.section_end())
      continue;
    auto it = sectionByElfIndex.find((*patched)->getIndex());
    if (it == sectionByElfIndex.end())
      continue;
    if (Error e = readRelocations(rel, sections[it->second]))
      return e;
  }
  for (CodeSection &code : sections) {
    if (ext && btf) {
      if (!target) {
        Expected<BtfTypes> loaded = loadTargetBtf();
        if (!loaded)
          return loaded.takeError();
        target = std::move(*loaded);
      }
      if (Error e = applyCoreRelocations(code, *btf, *target,
                                         hostBtf ? &*hostBtf : nullptr, *ext))
        return e;
    }
    attachLines(code);
  }
  return Error::success();
}

/// RelocationRef iteration aborts (report_fatal_error) on a bad section
/// header, so check entries and symbol indices first through the Expected
/// ELFFile API.
Error validateRelocations(const ELF64LEObjectFile &obj, const SectionRef &rel) {
  const ELF64LEFile &elf = obj.getELFFile();
  const ELF64LE::Shdr *shdr = obj.getSection(rel.getRawDataRefImpl());
  if (shdr->sh_type != ELF::SHT_REL)
    return makeMalformed("relocation section of type " + Twine(shdr->sh_type) +
                         " (expected SHT_REL)");
  Expected<ELF64LE::RelRange> rels = elf.rels(*shdr);
  if (!rels)
    return rels.takeError();
  Expected<const ELF64LE::Shdr *> symtab = elf.getSection(shdr->sh_link);
  if (!symtab)
    return symtab.takeError();
  Expected<ELF64LE::SymRange> syms = elf.symbols(*symtab);
  if (!syms)
    return syms.takeError();
  for (const ELF64LE::Rel &r : *rels)
    if (r.getSymbol(false) >= syms->size())
      return makeMalformed("relocation symbol index " +
                           Twine(r.getSymbol(false)) + " out of range");
  return Error::success();
}

/// True if BTF places extern \p name in the `.kconfig` DATASEC (libbpf's
/// `__kconfig`), not `.ksyms`.
bool Reader::isKconfigExtern(StringRef name) const {
  if (!btf)
    return false;
  std::optional<uint32_t> sec =
      btf->findByName(".kconfig", {BTF::BTF_KIND_DATASEC});
  if (!sec)
    return false;
  return any_of(btf->get(*sec)->members, [&](const BtfMember &m) {
    const BtfType *var = btf->get(m.type);
    return var && var->name == name;
  });
}

Error Reader::readRelocations(const SectionRef &rel, CodeSection &code) {
  if (Error e = validateRelocations(obj, rel))
    return inSection(code.name, std::move(e));
  for (const RelocationRef &reloc : rel.relocations())
    if (Error e = relocateOne(reloc, code))
      return inSection(code.name, std::move(e));
  return Error::success();
}

Error Reader::relocateOne(const RelocationRef &reloc, CodeSection &code) {
  uint64_t offset = reloc.getOffset();
  int index = offset % 8 ? -1 : code.indexOfSlot(uint32_t(offset / 8));
  if (index < 0)
    return makeMalformed("relocation at offset 0x" + utohexstr(offset) +
                         " is not at an instruction");
  uint32_t slot = uint32_t(offset / 8);
  bpf::Insn &insn = code.insns[index].insn;
  symbol_iterator sym = reloc.getSymbol();
  if (sym == obj.symbol_end())
    return makeMalformed("relocation at insn " + Twine(slot) +
                         " has no symbol");
  Expected<StringRef> symName = symbolName(*sym);
  Expected<section_iterator> symSec = sym->getSection();
  Expected<uint64_t> symValue = sym->getValue();
  if (!symName || !symSec || !symValue)
    return joinErrors(joinErrors(symName.takeError(), symSec.takeError()),
                      symValue.takeError());
  if (*symSec == obj.section_end()) {
    // `extern T f(...);` called: a host function (docs/capabilities.md).
    // Not a bpf-to-bpf call any more; the verifier resolves the name.
    auto *call = std::get_if<bpf::Call>(&insn);
    if (call && call->kind == bpf::CallKind::Local) {
      *call = bpf::Call{bpf::CallKind::HelperBtfId, 0, 0};
      code.externCalls[slot] = symName->str();
      return Error::success();
    }
    // `extern T name __ksym;` referenced: a host global. The LDDW stays a
    // constant 0 here; the compiler makes it the global's address. A
    // `__kconfig` extern (kernel configuration) is none.
    if (isKconfigExtern(*symName)) {
      code.refusals[slot] = "kconfig externs are not supported";
      return Error::success();
    }
    if (auto *ld = std::get_if<bpf::LoadImm64>(&insn);
        ld && ld->kind == bpf::Imm64Kind::Imm && ld->value == 0) {
      code.externVars[slot] = symName->str();
      return Error::success();
    }
    code.refusals[slot] = ("extern '" + *symName + "' is not supported").str();
    return Error::success();
  }
  Expected<StringRef> secName = (*symSec)->getName();
  if (!secName)
    return secName.takeError();

  if (*secName == ".maps") {
    auto *ld = std::get_if<bpf::LoadImm64>(&insn);
    if (!ld)
      return makeMalformed("insn " + Twine(slot) + ": map reference '" +
                           *symName + "' on a non-lddw instruction");
    auto map =
        find_if(spec.maps, [&](const MapDef &m) { return m.name == *symName; });
    if (map == spec.maps.end())
      return makeMalformed("insn " + Twine(slot) +
                           ": relocation against unknown map '" + *symName +
                           "'");
    ld->kind = bpf::Imm64Kind::MapByFd;
    ld->mapIndex = uint32_t(map - spec.maps.begin());
    ld->offset = 0;
    ld->value = 0;
    return Error::success();
  }
  if (isGlobalDataSection(*secName))
    return relocateGlobalData(insn, slot, *secName, (*symSec)->getIndex(),
                              *symValue);
  if (*secName == ".kconfig") {
    code.refusals[slot] = "kconfig externs are not supported";
    return Error::success();
  }
  if (*secName == "maps")
    return makeMalformed("insn " + Twine(slot) +
                         ": legacy 'maps' section is not supported; use "
                         "BTF-defined maps in '.maps'");
  if (*secName != ".text")
    return makeMalformed("insn " + Twine(slot) +
                         ": unsupported relocation against section '" +
                         *secName + "'");
  auto *call = std::get_if<bpf::Call>(&insn);
  if (call && call->kind == bpf::CallKind::Local) {
    // libbpf: callee = symbol value / 8 + imm + 1, which covers both a
    // function symbol (imm = -1) and the section symbol (imm = offset).
    code.textCalls[slot] = uint32_t(*symValue / 8 + call->imm + 1);
    return Error::success();
  }
  if (std::holds_alternative<bpf::LoadImm64>(insn)) {
    code.refusals[slot] = "function pointers (callbacks) are not supported yet";
    return Error::success();
  }
  return makeMalformed("insn " + Twine(slot) +
                       ": unexpected relocation against '.text'");
}

/// libbpf's rule: the LDDW's imm (an addend) plus the symbol's value is
/// the byte offset into the section; the instruction becomes a map-value
/// reference (src 2) to the section's map.
Error Reader::relocateGlobalData(bpf::Insn &insn, uint32_t slot,
                                 StringRef section, uint64_t sectionIndex,
                                 uint64_t symbolValue) {
  auto *ld = std::get_if<bpf::LoadImm64>(&insn);
  if (!ld || ld->kind != bpf::Imm64Kind::Imm)
    return makeMalformed("insn " + Twine(slot) + ": reference to global data "
                         "in '" + section + "' on a non-lddw instruction");
  auto map = globalDataMaps.find(sectionIndex);
  if (map == globalDataMaps.end())
    return makeMalformed("insn " + Twine(slot) +
                         ": reference into empty section '" + section + "'");
  uint64_t offset = uint64_t(int64_t(int32_t(uint32_t(ld->value)))) +
                    symbolValue;
  uint32_t valueSize = spec.maps[map->second].valueSize;
  if (offset >= valueSize)
    return makeMalformed("insn " + Twine(slot) + ": offset " + Twine(offset) +
                         " is outside '" + section + "' (" + Twine(valueSize) +
                         " bytes)");
  ld->kind = bpf::Imm64Kind::MapValueByFd;
  ld->mapIndex = map->second;
  ld->offset = uint32_t(offset);
  ld->value = 0;
  return Error::success();
}

void Reader::attachLines(CodeSection &code) {
  if (!ext)
    return;
  for (const bpf::SlotInsn &si : code.insns) {
    const BTF::BPFLineInfo *info =
        ext->findLineInfo({uint64_t(si.slot) * 8, code.elfIndex});
    if (!info)
      continue;
    SourceLine line;
    line.file = sys::path::filename(ext->findString(info->FileNameOff)).str();
    line.line = info->getLine();
    line.column = info->getCol();
    line.text = ext->findString(info->LineOff).trim().str();
    code.lines[si.slot] = std::move(line);
  }
}

Error Reader::readFunctions() {
  // Group function symbols by section, then size each one: clang always
  // sets st_size, but hand-written assembly without .size gets "up to the
  // next function or the section end".
  std::map<size_t, std::vector<std::pair<uint32_t, std::string>>> starts;
  for (const ELFSymbolRef &sym : obj.symbols()) {
    Expected<SymbolRef::Type> type = sym.getType();
    if (!type)
      return type.takeError();
    if (*type != SymbolRef::ST_Function)
      continue;
    Expected<section_iterator> sec = sym.getSection();
    Expected<StringRef> name = sym.getName();
    if (!sec || !name)
      return joinErrors(sec.takeError(), name.takeError());
    if (*sec == obj.section_end())
      continue;
    auto it = sectionByElfIndex.find((*sec)->getIndex());
    if (it == sectionByElfIndex.end())
      continue;
    Expected<uint64_t> value = sym.getValue();
    if (!value)
      return value.takeError();
    if (*value % 8)
      return makeMalformed("function '" + *name + "' is not 8-byte aligned");
    starts[it->second].push_back({uint32_t(*value / 8), name->str()});
  }
  for (size_t s = 0; s < sections.size(); ++s) {
    std::vector<std::pair<uint32_t, std::string>> &syms = starts[s];
    uint32_t sectionEnd =
        sections[s].insns.empty()
            ? 0
            : sections[s].insns.back().slot +
                  bpf::slotCount(sections[s].insns.back().insn);
    if (syms.empty() && s != textSection)
      return makeMalformed("section '" + sections[s].name +
                           "' has code but no function symbol");
    llvm::sort(syms);
    for (size_t i = 0; i < syms.size(); ++i) {
      uint32_t end = i + 1 < syms.size() ? syms[i + 1].first : sectionEnd;
      Function fn{syms[i].second, s, syms[i].first, end};
      if (s == textSection)
        textFunctions.push_back(std::move(fn));
      else
        programs.push_back(std::move(fn));
    }
  }
  return Error::success();
}

const Function *Reader::textFunctionAt(uint32_t slot) const {
  for (const Function &fn : textFunctions)
    if (fn.start == slot)
      return &fn;
  return nullptr;
}

Error Reader::buildPrograms() {
  for (const Function &fn : programs) {
    Expected<Program> prog = buildProgram(fn);
    if (!prog)
      return prog.takeError();
    spec.programs.push_back(std::move(*prog));
  }
  return Error::success();
}

Expected<Program> Reader::buildProgram(const Function &fn) {
  Program prog;
  prog.name = fn.name;
  prog.section = sections[fn.section].name;
  if (Error e = classifySection(prog.section, prog))
    return e;
  // (index of a call in prog.insns, callee slot in .text), resolved once
  // every reachable subprogram has a place: libbpf appends each callee
  // once per program, in order of first reference.
  std::vector<std::pair<size_t, uint32_t>> pending;
  if (Error e = appendFunction(fn, prog, pending))
    return e;
  std::map<uint32_t, uint32_t> placed; // .text slot → program slot
  for (size_t i = 0; i < pending.size(); ++i) {
    uint32_t callee = pending[i].second;
    if (placed.count(callee))
      continue;
    const Function *sub = textFunctionAt(callee);
    if (!sub)
      return makeMalformed("prog '" + prog.name + "': call to .text slot " +
                           Twine(callee) + ", which is not a function start");
    const bpf::SlotInsn &last = prog.insns.back();
    placed[callee] = last.slot + bpf::slotCount(last.insn);
    if (Error e = appendFunction(*sub, prog, pending))
      return e;
  }
  for (const auto &[index, callee] : pending) {
    auto &call = std::get<bpf::Call>(prog.insns[index].insn);
    call.target = placed[callee];
    call.imm = int32_t(call.target - prog.insns[index].slot - 1);
  }
  return prog;
}

/// Copies \p fn to the end of \p prog, rebasing jumps and recording calls
/// into `.text` in \p pending.
Error Reader::appendFunction(
    const Function &fn, Program &prog,
    std::vector<std::pair<size_t, uint32_t>> &pending) {
  const CodeSection &code = sections[fn.section];
  bool inText = textSection && fn.section == *textSection;
  uint32_t base =
      prog.insns.empty()
          ? 0
          : prog.insns.back().slot + bpf::slotCount(prog.insns.back().insn);
  auto rebase = [&](uint32_t slot) { return slot - fn.start + base; };
  for (const bpf::SlotInsn &si : code.insns) {
    if (si.slot < fn.start || si.slot >= fn.end)
      continue;
    auto refusal = code.refusals.find(si.slot);
    if (refusal != code.refusals.end())
      return makeRefusal("prog '" + prog.name + "': insn " +
                         Twine(rebase(si.slot)) + ": " + refusal->second);
    bpf::SlotInsn copy{rebase(si.slot), si.insn};
    if (auto *jump = std::get_if<bpf::Jump>(&copy.insn))
      jump->target = rebase(jump->target);
    if (auto *call = std::get_if<bpf::Call>(&copy.insn);
        call && call->kind == bpf::CallKind::Local) {
      auto text = code.textCalls.find(si.slot);
      if (text != code.textCalls.end()) {
        pending.push_back({prog.insns.size(), text->second});
      } else if (inText) {
        pending.push_back({prog.insns.size(), call->target});
      } else if (call->target >= fn.start && call->target < fn.end) {
        call->target = rebase(call->target);
      } else {
        return makeRefusal("prog '" + prog.name + "': insn " +
                           Twine(copy.slot) +
                           ": calls a function outside .text in section '" +
                           code.name + "', which libbpf does not support");
      }
    }
    auto line = code.lines.find(si.slot);
    if (line != code.lines.end())
      prog.lines[copy.slot] = line->second;
    auto hostCall = code.externCalls.find(si.slot);
    if (hostCall != code.externCalls.end())
      prog.hostCalls[copy.slot] = hostCall->second;
    auto hostGlobal = code.externVars.find(si.slot);
    if (hostGlobal != code.externVars.end())
      prog.hostGlobals[copy.slot] = hostGlobal->second;
    prog.insns.push_back(std::move(copy));
  }
  return Error::success();
}

Expected<std::unique_ptr<ELF64LEObjectFile>> openElf(StringRef objectName,
                                                     ArrayRef<uint8_t> bytes) {
  StringRef data = toStringRef(bytes);
  if (identify_magic(data) != file_magic::elf_relocatable) {
    if (identify_magic(data).is_object() || data.starts_with("\x7f"
                                                             "ELF"))
      return makeMalformed("not a relocatable ELF object (ET_REL)");
    return makeMalformed("not an ELF file");
  }
  if (data.size() < 20 || data[4] != ELF::ELFCLASS64 ||
      data[5] != ELF::ELFDATA2LSB)
    return makeMalformed("not a 64-bit little-endian ELF object");
  Expected<ELF64LEObjectFile> obj =
      ELF64LEObjectFile::create(MemoryBufferRef(data, objectName));
  if (!obj)
    return obj.takeError();
  if (obj->getELFFile().getHeader().e_machine != ELF::EM_BPF)
    return makeMalformed("not an eBPF object (e_machine " +
                         Twine(obj->getELFFile().getHeader().e_machine) +
                         ", expected EM_BPF 247)");
  return std::make_unique<ELF64LEObjectFile>(std::move(*obj));
}

} // namespace

std::string globalDataMapName(StringRef objectName, StringRef section) {
  // BPF_OBJ_NAME_LEN is 16 bytes with the NUL.
  constexpr size_t NameBytes = 15;
  StringRef object = sys::path::filename(objectName).split('.').first;
  size_t suffixLen = std::max<size_t>(7, section.size());
  size_t prefixLen = 0;
  if (section.drop_front().find('.') == StringRef::npos && suffixLen < NameBytes)
    prefixLen = std::min(NameBytes - suffixLen, object.size());
  std::string name =
      (object.take_front(prefixLen) + section.take_front(NameBytes - prefixLen))
          .str();
  for (char &c : name)
    if (!isAlnum(c) && c != '_' && c != '.')
      c = '_';
  return name;
}

Expected<ExtensionSpec> readObject(StringRef objectName,
                                   ArrayRef<uint8_t> bytes,
                                   const HostTypes *hostTypes) {
  Expected<std::unique_ptr<ELF64LEObjectFile>> obj = openElf(objectName, bytes);
  if (!obj)
    return obj.takeError();
  return Reader(sys::path::filename(objectName), **obj, hostTypes).run();
}

} // namespace eimc::bpfobject
