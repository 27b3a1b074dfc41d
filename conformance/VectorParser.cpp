//===- conformance/VectorParser.cpp - The `.data` test vector format ------===//
//
// Part of eimc. See eimc/Conformance/Conformance.h.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// parseVector(): the line-based `.data` format of bpf_conformance and
/// uBPF. A line `-- KEYWORD` opens a section that runs to the next such
/// line; `#` starts a comment anywhere. Sections:
///
///   -- asm                   program text (assembled by Assembler.cpp)
///   -- raw                   one 64-bit instruction word per line
///   -- mem                   input bytes, hex, separated by blanks
///   -- result                expected r0 (hex with 0x, or decimal)
///   -- error                 expected failure text
///   -- c, -- no register offset   documentation, ignored
///
/// Lines before the first section are comments (licence headers). The
/// asm text is kept verbatim with its first line number so the assembler
/// can point at the file's own lines.
///
/// Not done here: assembling, running, or deciding what a vector means.
///
//===----------------------------------------------------------------------===//

#include "eimc/Conformance/Conformance.h"

#include "eimc/Core/Errors.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"

using namespace llvm;

namespace eimc::conformance {

namespace {

enum class SectionKind : uint8_t { None, Asm, Raw, Mem, Result, Error, Doc };

SectionKind sectionKind(StringRef keyword) {
  return StringSwitch<SectionKind>(keyword)
      .Case("asm", SectionKind::Asm)
      .Case("raw", SectionKind::Raw)
      .Case("mem", SectionKind::Mem)
      .Case("result", SectionKind::Result)
      .Case("error", SectionKind::Error)
      .Cases("c", "no register offset", SectionKind::Doc)
      .Default(SectionKind::None);
}

StringRef stripComment(StringRef line) { return line.split('#').first.trim(); }

/// Accepts `0x...` hex or decimal, and a leading '-' (two's complement),
/// as the format's writers do.
std::optional<uint64_t> parseNumber(StringRef text) {
  bool negative = text.consume_front("-");
  uint64_t value = 0;
  if (text.getAsInteger(0, value))
    return std::nullopt;
  return negative ? uint64_t(0) - value : value;
}

class Parser {
public:
  Parser(StringRef name, StringRef text) : Text(text) { Vector.name = name.str(); }
  Expected<TestVector> run();

private:
  Error malformed(unsigned line, const Twine &message) const {
    return makeMalformed(Vector.name + ":" + Twine(line) + ": " + message);
  }
  Error line(unsigned number, StringRef text);
  Error memLine(unsigned number, StringRef text);
  Error rawLine(unsigned number, StringRef text);
  Error resultLine(unsigned number, StringRef text);

  StringRef Text;
  TestVector Vector;
  SectionKind Current = SectionKind::None;
  bool SawAsm = false;
};

Error Parser::memLine(unsigned number, StringRef text) {
  SmallVector<StringRef, 16> bytes;
  stripComment(text).split(bytes, ' ', -1, /*KeepEmpty=*/false);
  for (StringRef b : bytes) {
    uint8_t value = 0;
    if (b.trim().getAsInteger(16, value))
      return malformed(number, "'" + b + "' is not a hex byte");
    Vector.memory.push_back(value);
  }
  return Error::success();
}

Error Parser::rawLine(unsigned number, StringRef text) {
  StringRef word = stripComment(text);
  if (word.empty())
    return Error::success();
  std::optional<uint64_t> value = parseNumber(word);
  if (!value)
    return malformed(number, "'" + word + "' is not an instruction word");
  std::vector<uint8_t> &raw = *Vector.raw;
  for (unsigned i = 0; i < 8; ++i)
    raw.push_back(uint8_t(*value >> (8 * i)));
  return Error::success();
}

Error Parser::resultLine(unsigned number, StringRef text) {
  StringRef word = stripComment(text);
  if (word.empty())
    return Error::success();
  if (Vector.result)
    return malformed(number, "second value in '-- result'");
  std::optional<uint64_t> value = parseNumber(word);
  if (!value)
    return malformed(number, "'" + word + "' is not a number");
  Vector.result = *value;
  return Error::success();
}

Error Parser::line(unsigned number, StringRef text) {
  if (text.starts_with("--")) {
    StringRef keyword = text.drop_front(2).trim();
    Current = sectionKind(keyword);
    if (Current == SectionKind::None)
      return malformed(number, "unknown section '-- " + keyword + "'");
    if (Current == SectionKind::Asm) {
      SawAsm = true;
      Vector.asmFirstLine = number + 1;
    }
    if (Current == SectionKind::Raw)
      Vector.raw.emplace();
    if (Current == SectionKind::Error)
      Vector.error.emplace();
    return Error::success();
  }
  switch (Current) {
  case SectionKind::None:
  case SectionKind::Doc:
    return Error::success();
  case SectionKind::Asm:
    Vector.asmText += text.str() + "\n";
    return Error::success();
  case SectionKind::Raw:
    return rawLine(number, text);
  case SectionKind::Mem:
    return memLine(number, text);
  case SectionKind::Result:
    return resultLine(number, text);
  case SectionKind::Error: {
    StringRef message = text.trim();
    if (!message.empty())
      *Vector.error += (Vector.error->empty() ? "" : " ") + message.str();
    return Error::success();
  }
  }
  llvm_unreachable("unknown section kind");
}

Expected<TestVector> Parser::run() {
  SmallVector<StringRef, 64> lines;
  Text.split(lines, '\n');
  for (size_t i = 0; i < lines.size(); ++i)
    if (Error e = line(unsigned(i + 1), lines[i].rtrim("\r")))
      return std::move(e);
  if (!SawAsm && !Vector.raw)
    return makeMalformed(Vector.name + ": no '-- asm' or '-- raw' section");
  return std::move(Vector);
}

} // namespace

Expected<TestVector> parseVector(StringRef name, StringRef text) {
  return Parser(name, text).run();
}

} // namespace eimc::conformance
