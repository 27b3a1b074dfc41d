//===- policy/Policy.cpp - Parsing the deployment policy ------------------===//
//
// Part of eimc. See eimc/Policy/Policy.h and docs/formats/policy.md.
//
//===----------------------------------------------------------------------===//
//
// Entry point: parsePolicy(). Walks the YAML node tree with LLVM's YAML
// parser (the layer under YAMLIO) rather than YAMLIO's mapping traits,
// because every policy element must remember its line and column: the
// verifier cites them ("(policy.yaml:7)") and errors name them.
//
// The grammar is closed: every key is either implemented, known to the
// EIM schema but "not supported yet", or unknown (with a suggestion when a
// known key is one or two edits away). Nothing is silently ignored, since an
// ignored grant or restriction would make a policy mean something other
// than what its operator wrote.
//
// What it does not do: check grants against an extension or a host (host
// functions and state are checked against the manifest by
// eimc::extract::bindPolicy(); helpers and `instructions` by the verifier).
//
//===----------------------------------------------------------------------===//

#include "eimc/Policy/Policy.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/YAMLParser.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

using namespace llvm;

namespace eimc::policy {

namespace {

struct HelperName {
  uint32_t id;
  StringRef name;
};

// The policy's helper vocabulary is the helper table itself.
constexpr HelperName KnownHelpers[] = {
#define EIM_HELPER(ID, NAME, SYM, RET, A1, A2, A3, A4, A5) {ID, #NAME},
#include "eimc/Core/Helpers.def"
};

// Keys of the EIM policy schema that eimc does not implement yet. They are
// named so that a policy written for the full model fails loudly here
// instead of being half-applied.
constexpr StringRef AllowedKeys[] = {"helpers", "host_functions", "state",
                                     "return_override", "instructions"};

/// Parses one document; errors carry "file:line:col: ".
class PolicyParser {
public:
  PolicyParser(StringRef fileName, StringRef text) : FileName(fileName.str()) {
    SM.AddNewSourceBuffer(MemoryBuffer::getMemBuffer(text, fileName, false),
                          SMLoc());
  }

  Expected<Policy> parse();

private:
  SourceLoc locOf(const yaml::Node *node) const;
  Error errorAt(const yaml::Node *node, const Twine &message) const;
  Expected<std::string> scalar(yaml::Node *node, StringRef what);
  Error unknownKey(const yaml::Node *key, StringRef name,
                   ArrayRef<StringRef> known) const;
  Error parseTop(yaml::MappingNode *top, Policy &policy);
  Error parseClasses(yaml::Node *node, Policy &policy);
  Error parseClass(yaml::Node *node, PolicyClass &cls);
  Error parseAllowed(yaml::Node *node, PolicyClass &cls);
  Error parseHelpers(yaml::Node *node, PolicyClass &cls);
  Expected<HelperGrant> parseHelper(yaml::Node *node);
  Expected<int64_t> integer(yaml::Node *node, StringRef what);
  Error parseHostFunctions(yaml::Node *node, PolicyClass &cls);
  /// A grant is a bare name (stored in \p name; returns null) or a
  /// mapping (returned); anything else is the error \p shape.
  Expected<yaml::MappingNode *> nameOrMapping(yaml::Node *node, StringRef what,
                                              const Twine &shape,
                                              std::string &name);
  Expected<HostFunctionGrant> parseHostFunction(yaml::Node *node);
  Expected<ArgConstraintGrant> parseArgConstraint(yaml::Node *node);
  Error parseState(yaml::Node *node, PolicyClass &cls);
  Expected<StateGrant> parseStateGrant(yaml::Node *node);
  Error parseReturnOverride(yaml::Node *node, PolicyClass &cls);
  /// Parses a YAML list with \p parseOne per item, appending to \p out;
  /// \p notAList is the error for anything but a list.
  template <typename T>
  Error parseList(yaml::Node *node, const Twine &notAList,
                  Expected<T> (PolicyParser::*parseOne)(yaml::Node *),
                  std::vector<T> &out);

  std::string FileName;
  SourceMgr SM;
};

SourceLoc PolicyParser::locOf(const yaml::Node *node) const {
  SourceLoc loc;
  loc.file = FileName;
  if (!node)
    return loc;
  auto [line, col] = SM.getLineAndColumn(node->getSourceRange().Start);
  loc.line = line;
  loc.column = col;
  return loc;
}

Error PolicyParser::errorAt(const yaml::Node *node,
                            const Twine &message) const {
  SourceLoc loc = locOf(node);
  return createStringError(std::errc::invalid_argument, "%s:%u:%u: %s",
                           loc.file.c_str(), loc.line, loc.column,
                           message.str().c_str());
}

Expected<std::string> PolicyParser::scalar(yaml::Node *node, StringRef what) {
  auto *s = dyn_cast_or_null<yaml::ScalarNode>(node);
  if (!s)
    return errorAt(node, what + " must be a scalar");
  SmallString<64> storage;
  return s->getValue(storage).str();
}

Error PolicyParser::unknownKey(const yaml::Node *key, StringRef name,
                               ArrayRef<StringRef> known) const {
  std::string hint;
  unsigned best = 3;
  for (StringRef candidate : known) {
    unsigned d = name.edit_distance(candidate, true, best);
    if (d < best) {
      best = d;
      hint = (Twine("; did you mean '") + candidate + "'?").str();
    }
  }
  return errorAt(key, "unknown key '" + name + "'" + hint);
}

Expected<Policy> PolicyParser::parse() {
  std::string yamlErrors;
  raw_string_ostream errs(yamlErrors);
  // The YAML parser reports syntax errors through the SourceMgr's handler;
  // collect them so the library never prints.
  SM.setDiagHandler(
      [](const SMDiagnostic &d, void *ctx) {
        auto *os = static_cast<raw_string_ostream *>(ctx);
        *os << d.getFilename() << ":" << d.getLineNo() << ":"
            << (d.getColumnNo() + 1) << ": " << d.getMessage();
      },
      &errs);
  yaml::Stream stream(SM.getMemoryBuffer(1)->getBuffer(), SM);
  yaml::document_iterator doc = stream.begin();
  if (doc == stream.end() || !doc->getRoot())
    return createStringError(std::errc::invalid_argument, "%s: empty policy",
                             FileName.c_str());
  yaml::Node *root = doc->getRoot();
  Policy policy;
  policy.file = FileName;
  Error err = Error::success();
  if (auto *top = dyn_cast<yaml::MappingNode>(root))
    err = parseTop(top, policy);
  if (!yamlErrors.empty()) {
    consumeError(std::move(err));
    return createStringError(std::errc::invalid_argument, "%s",
                             yamlErrors.c_str());
  }
  if (!isa<yaml::MappingNode>(root))
    return errorAt(root, "a policy is a mapping with 'isolation' and "
                         "'classes'");
  if (err)
    return std::move(err);
  if (policy.classes.empty())
    return errorAt(root, "policy has no 'classes'; eimc grants nothing by "
                         "default");
  return policy;
}

Error PolicyParser::parseTop(yaml::MappingNode *top, Policy &policy) {
  for (yaml::KeyValueNode &kv : *top) {
    Expected<std::string> key = scalar(kv.getKey(), "a key");
    if (!key)
      return key.takeError();
    if (*key == "isolation") {
      Expected<std::string> v = scalar(kv.getValue(), "'isolation'");
      if (!v)
        return v.takeError();
      std::optional<IsolationKind> kind =
          StringSwitch<std::optional<IsolationKind>>(*v)
              .Case("require", IsolationKind::Require)
              .Case("prefer", IsolationKind::Prefer)
              .Case("off", IsolationKind::Off)
              .Default(std::nullopt);
      if (!kind)
        return errorAt(kv.getValue(), "'isolation' is one of require, "
                                      "prefer, off; got '" +
                                          *v + "'");
      policy.isolation = *kind;
      continue;
    }
    if (*key == "trusted_sites") {
      auto *seq = dyn_cast_or_null<yaml::SequenceNode>(kv.getValue());
      if (!seq)
        return errorAt(kv.getValue(),
                       "'trusted_sites' must be a list of addresses");
      for (yaml::Node &item : *seq) {
        Expected<std::string> v = scalar(&item, "an address");
        if (!v)
          return v.takeError();
        uint64_t address = 0;
        if (StringRef(*v).getAsInteger(0, address))
          return errorAt(&item, "'trusted_sites' holds addresses such as "
                                "0x401a2c; got '" +
                                    *v + "'");
        policy.trustedSites.push_back(address);
      }
      continue;
    }
    if (*key == "warn") {
      Expected<std::string> v = scalar(kv.getValue(), "'warn'");
      if (!v)
        return v.takeError();
      if (*v != "true" && *v != "false")
        return errorAt(kv.getValue(),
                       "'warn' is true or false; got '" + *v + "'");
      policy.warn = *v == "true";
      continue;
    }
    if (*key == "classes") {
      if (Error e = parseClasses(kv.getValue(), policy))
        return e;
      continue;
    }
    return unknownKey(kv.getKey(), *key,
                      {"isolation", "warn", "trusted_sites", "classes"});
  }
  return Error::success();
}

Error PolicyParser::parseClasses(yaml::Node *node, Policy &policy) {
  auto *seq = dyn_cast_or_null<yaml::SequenceNode>(node);
  if (!seq)
    return errorAt(node, "'classes' must be a list of classes");
  for (yaml::Node &item : *seq) {
    PolicyClass cls;
    if (Error e = parseClass(&item, cls))
      return e;
    for (const PolicyClass &other : policy.classes)
      if (other.name == cls.name)
        return errorAt(&item, "duplicate class '" + cls.name + "' (first at " +
                                  other.loc.str() + ")");
    policy.classes.push_back(std::move(cls));
  }
  return Error::success();
}

Error PolicyParser::parseClass(yaml::Node *node, PolicyClass &cls) {
  auto *map = dyn_cast_or_null<yaml::MappingNode>(node);
  if (!map)
    return errorAt(node, "a class is a mapping with 'name', 'entry', "
                         "'match' and 'allowed'");
  cls.loc = locOf(node);
  // A class without the key is refused at its first line.
  cls.helpersLoc = cls.hostFunctionsLoc = cls.stateLoc = cls.loc;
  cls.returnOverrideLoc = cls.loc;
  for (yaml::KeyValueNode &kv : *map) {
    Expected<std::string> key = scalar(kv.getKey(), "a key");
    if (!key)
      return key.takeError();
    if (*key == "allowed") {
      if (Error e = parseAllowed(kv.getValue(), cls))
        return e;
      continue;
    }
    std::string *field = StringSwitch<std::string *>(*key)
                             .Case("name", &cls.name)
                             .Case("entry", &cls.entry)
                             .Case("match", &cls.match)
                             .Default(nullptr);
    if (!field)
      return unknownKey(kv.getKey(), *key,
                        {"name", "entry", "match", "allowed"});
    Expected<std::string> value = scalar(kv.getValue(), "'" + *key + "'");
    if (!value)
      return value.takeError();
    *field = *value;
    if (*key == "entry")
      cls.entryLoc = locOf(kv.getKey());
  }
  for (auto [name, value] :
       {std::pair<StringRef, const std::string *>{"name", &cls.name},
        {"entry", &cls.entry},
        {"match", &cls.match}})
    if (value->empty())
      return errorAt(node, "class needs '" + name + "'");
  return Error::success();
}

Error PolicyParser::parseAllowed(yaml::Node *node, PolicyClass &cls) {
  auto *map = dyn_cast_or_null<yaml::MappingNode>(node);
  if (!map)
    return errorAt(node, "'allowed' must be a mapping");
  for (yaml::KeyValueNode &kv : *map) {
    Expected<std::string> key = scalar(kv.getKey(), "a key");
    if (!key)
      return key.takeError();
    if (*key == "helpers") {
      cls.helpersLoc = locOf(kv.getKey());
      if (Error e = parseHelpers(kv.getValue(), cls))
        return e;
      continue;
    }
    Error err = Error::success();
    if (*key == "host_functions") {
      cls.hostFunctionsLoc = locOf(kv.getKey());
      err = parseHostFunctions(kv.getValue(), cls);
    } else if (*key == "state") {
      cls.stateLoc = locOf(kv.getKey());
      err = parseState(kv.getValue(), cls);
    }
    else if (*key == "return_override") {
      cls.returnOverrideLoc = locOf(kv.getKey());
      err = parseReturnOverride(kv.getValue(), cls);
    } else if (*key == "instructions") {
      cls.instructionsLoc = locOf(kv.getKey());
      Expected<int64_t> n = integer(kv.getValue(), "'instructions'");
      if (!n)
        return n.takeError();
      if (*n <= 0)
        return errorAt(kv.getValue(), "'instructions' must be positive");
      cls.instructions = static_cast<uint64_t>(*n);
    } else
      return unknownKey(kv.getKey(), *key, AllowedKeys);
    if (err)
      return err;
  }
  return Error::success();
}

Expected<int64_t> PolicyParser::integer(yaml::Node *node, StringRef what) {
  Expected<std::string> text = scalar(node, what);
  if (!text)
    return text.takeError();
  int64_t value = 0;
  if (StringRef(*text).getAsInteger(0, value))
    return errorAt(node, what + " must be an integer; got '" + *text + "'");
  return value;
}

template <typename T>
Error PolicyParser::parseList(
    yaml::Node *node, const Twine &notAList,
    Expected<T> (PolicyParser::*parseOne)(yaml::Node *), std::vector<T> &out) {
  auto *seq = dyn_cast_or_null<yaml::SequenceNode>(node);
  if (!seq)
    return errorAt(node, notAList);
  for (yaml::Node &item : *seq) {
    Expected<T> parsed = (this->*parseOne)(&item);
    if (!parsed)
      return parsed.takeError();
    out.push_back(std::move(*parsed));
  }
  return Error::success();
}

Expected<yaml::MappingNode *> PolicyParser::nameOrMapping(yaml::Node *node,
                                                          StringRef what,
                                                          const Twine &shape,
                                                          std::string &name) {
  if (isa<yaml::ScalarNode>(node)) {
    Expected<std::string> text = scalar(node, what);
    if (!text)
      return text.takeError();
    name = *text;
    return nullptr;
  }
  auto *map = dyn_cast<yaml::MappingNode>(node);
  if (!map)
    return errorAt(node, shape);
  return map;
}

Error PolicyParser::parseHostFunctions(yaml::Node *node, PolicyClass &cls) {
  return parseList(node,
                   "'host_functions' must be a list of capability "
                   "names",
                   &PolicyParser::parseHostFunction, cls.hostFunctions);
}

// `- name` grants the function as the manifest offers it;
// `- {name: f, constraints: [{arg: 2, eq: 403}]}` narrows its arguments.
Expected<HostFunctionGrant> PolicyParser::parseHostFunction(yaml::Node *node) {
  HostFunctionGrant grant;
  grant.loc = locOf(node);
  Expected<yaml::MappingNode *> map =
      nameOrMapping(node, "a host function",
                    "a host function is a name or a mapping with 'name' "
                    "and 'constraints'",
                    grant.name);
  if (!map)
    return map.takeError();
  if (!*map)
    return grant;
  for (yaml::KeyValueNode &kv : **map) {
    Expected<std::string> key = scalar(kv.getKey(), "a key");
    if (!key)
      return key.takeError();
    if (*key == "name") {
      Expected<std::string> name = scalar(kv.getValue(), "'name'");
      if (!name)
        return name.takeError();
      grant.name = *name;
      continue;
    }
    if (*key != "constraints")
      return unknownKey(kv.getKey(), *key, {"name", "constraints"});
    auto *seq = dyn_cast_or_null<yaml::SequenceNode>(kv.getValue());
    if (!seq)
      return errorAt(kv.getValue(), "'constraints' must be a list");
    for (yaml::Node &c : *seq) {
      Expected<ArgConstraintGrant> constraint = parseArgConstraint(&c);
      if (!constraint)
        return constraint.takeError();
      grant.constraints.push_back(*constraint);
    }
  }
  if (grant.name.empty())
    return errorAt(node, "host function needs 'name'");
  return grant;
}

Expected<ArgConstraintGrant>
PolicyParser::parseArgConstraint(yaml::Node *node) {
  auto *map = dyn_cast_or_null<yaml::MappingNode>(node);
  if (!map)
    return errorAt(node, "a constraint is a mapping: {arg: N, eq: V} or "
                         "{arg: N, range: [LOW, HIGH]}");
  ArgConstraintGrant c;
  c.loc = locOf(node);
  bool hasValue = false;
  for (yaml::KeyValueNode &kv : *map) {
    Expected<std::string> key = scalar(kv.getKey(), "a key");
    if (!key)
      return key.takeError();
    if (*key == "arg") {
      Expected<int64_t> arg = integer(kv.getValue(), "'arg'");
      if (!arg)
        return arg.takeError();
      if (*arg < 1 || *arg > 5)
        return errorAt(kv.getValue(), "'arg' counts from 1 to 5");
      c.arg = static_cast<unsigned>(*arg);
    } else if (*key == "eq") {
      Expected<int64_t> v = integer(kv.getValue(), "'eq'");
      if (!v)
        return v.takeError();
      c.low = c.high = *v;
      hasValue = true;
    } else if (*key == "range") {
      auto *seq = dyn_cast_or_null<yaml::SequenceNode>(kv.getValue());
      std::vector<int64_t> bounds;
      if (seq)
        for (yaml::Node &b : *seq) {
          Expected<int64_t> v = integer(&b, "a bound");
          if (!v)
            return v.takeError();
          bounds.push_back(*v);
        }
      if (bounds.size() != 2 || bounds[0] > bounds[1])
        return errorAt(kv.getValue(), "'range' is [LOW, HIGH] with LOW <= "
                                      "HIGH");
      c.low = bounds[0];
      c.high = bounds[1];
      hasValue = true;
    } else
      return unknownKey(kv.getKey(), *key, {"arg", "eq", "range"});
  }
  if (!c.arg || !hasValue)
    return errorAt(node, "a constraint needs 'arg' and one of 'eq', "
                         "'range'");
  return c;
}

Error PolicyParser::parseState(yaml::Node *node, PolicyClass &cls) {
  return parseList(node, "'state' must be a list of {name, access}",
                   &PolicyParser::parseStateGrant, cls.state);
}

// `- {name: uri, access: read}`; a bare name means read.
Expected<StateGrant> PolicyParser::parseStateGrant(yaml::Node *node) {
  StateGrant grant;
  grant.loc = locOf(node);
  Expected<yaml::MappingNode *> map =
      nameOrMapping(node, "a state name",
                    "a state grant is a name or {name, access}", grant.name);
  if (!map)
    return map.takeError();
  if (!*map)
    return grant;
  for (yaml::KeyValueNode &kv : **map) {
    Expected<std::string> key = scalar(kv.getKey(), "a key");
    if (!key)
      return key.takeError();
    Expected<std::string> value = scalar(kv.getValue(), "'" + *key + "'");
    if (!value)
      return value.takeError();
    if (*key == "name")
      grant.name = *value;
    else if (*key == "access") {
      if (*value != "read" && *value != "write")
        return errorAt(kv.getValue(),
                       "'access' is read or write; got '" + *value + "'");
      grant.write = *value == "write";
    } else
      return unknownKey(kv.getKey(), *key, {"name", "access"});
  }
  if (grant.name.empty())
    return errorAt(node, "state grant needs 'name'");
  return grant;
}

Error PolicyParser::parseReturnOverride(yaml::Node *node, PolicyClass &cls) {
  auto *seq = dyn_cast_or_null<yaml::SequenceNode>(node);
  if (!seq)
    return errorAt(node, "'return_override' must be a list of the values "
                         "a program may return instead of the entry");
  for (yaml::Node &item : *seq) {
    Expected<int64_t> v = integer(&item, "a return value");
    if (!v)
      return v.takeError();
    cls.returnOverride.push_back(*v);
  }
  if (cls.returnOverride.empty())
    return errorAt(node, "'return_override' lists no value; omit it to "
                         "grant none");
  return Error::success();
}

Error PolicyParser::parseHelpers(yaml::Node *node, PolicyClass &cls) {
  return parseList(node, "'helpers' must be a list of helper names",
                   &PolicyParser::parseHelper, cls.helpers);
}

Expected<HelperGrant> PolicyParser::parseHelper(yaml::Node *node) {
  Expected<std::string> text = scalar(node, "a helper");
  if (!text)
    return text.takeError();
  HelperGrant grant;
  grant.name = *text;
  grant.loc = locOf(node);
  StringRef name(*text);
  // "#25" names a helper by number, including ones eimc does not implement;
  // the verifier then reports those where they are called.
  if (name.consume_front("#")) {
    if (name.getAsInteger(10, grant.id))
      return errorAt(node, "'" + *text + "' is not a helper number");
    return grant;
  }
  for (const HelperName &h : KnownHelpers)
    if (h.name == name) {
      grant.id = h.id;
      return grant;
    }
  std::string hint;
  unsigned best = 4;
  for (const HelperName &h : KnownHelpers) {
    unsigned d = name.edit_distance(h.name, true, best);
    if (d < best) {
      best = d;
      hint = ("; did you mean '" + h.name + "'?").str();
    }
  }
  return errorAt(node, "unknown helper '" + *text + "'" + hint);
}

} // namespace

std::string SourceLoc::str() const { return file + ":" + std::to_string(line); }

const PolicyClass *Policy::findClass(StringRef programName,
                                     StringRef section) const {
  for (const PolicyClass &cls : classes)
    if (cls.match == programName || cls.match == section)
      return &cls;
  return nullptr;
}

Expected<Policy> parsePolicy(StringRef fileName, StringRef text) {
  return PolicyParser(fileName, text).parse();
}

static void printGrants(raw_ostream &os, const PolicyClass &cls) {
  if (!cls.hostFunctions.empty())
    os << "      host_functions:\n";
  for (const HostFunctionGrant &f : cls.hostFunctions) {
    os << "        - name: " << f.name << "\n";
    if (f.constraints.empty())
      continue;
    os << "          constraints:\n";
    for (const ArgConstraintGrant &c : f.constraints) {
      os << "            - { arg: " << c.arg;
      if (c.low == c.high)
        os << ", eq: " << c.low << " }\n";
      else
        os << ", range: [" << c.low << ", " << c.high << "] }\n";
    }
  }
  if (!cls.state.empty())
    os << "      state:\n";
  for (const StateGrant &g : cls.state)
    os << "        - { name: " << g.name
       << ", access: " << (g.write ? "write" : "read") << " }\n";
  if (!cls.returnOverride.empty()) {
    os << "      return_override: [";
    ListSeparator sep(", ");
    for (int64_t v : cls.returnOverride)
      os << sep << v;
    os << "]\n";
  }
  if (cls.instructions)
    os << "      instructions: " << *cls.instructions << "\n";
}

std::string toString(const Policy &policy) {
  std::string out;
  raw_string_ostream os(out);
  static constexpr const char *IsolationNames[] = {"require", "prefer", "off"};
  os << "isolation: " << IsolationNames[static_cast<int>(policy.isolation)]
     << "\n";
  if (policy.warn)
    os << "warn: true\n";
  if (!policy.trustedSites.empty()) {
    os << "trusted_sites: [";
    ListSeparator sep(", ");
    for (uint64_t address : policy.trustedSites)
      os << sep << format_hex(address, 2);
    os << "]\n";
  }
  os << "classes:\n";
  for (const PolicyClass &cls : policy.classes) {
    os << "  - name: " << cls.name << "\n    entry: " << cls.entry
       << "\n    match: " << cls.match << "\n    allowed:\n      helpers: [";
    ListSeparator sep(", ");
    for (const HelperGrant &h : cls.helpers)
      os << sep << "'" << h.name << "'";
    os << "]\n";
    printGrants(os, cls);
  }
  return out;
}

} // namespace eimc::policy
