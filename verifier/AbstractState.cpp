//===- verifier/AbstractState.cpp - Joins and widening --------------------===//
//
// Part of eimc. See verifier/AbstractState.h.
//
//===----------------------------------------------------------------------===//
//
// The lattice operations of the safety verifier's domain. Joins are the
// least upper bounds of each component; widening differs only in the
// ranges, where it guarantees that a loop's fixpoint is reached in a
// number of rounds bounded by the number of thresholds.
//
//===----------------------------------------------------------------------===//

#include "AbstractState.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

namespace eimc::verifier::safety {

std::string Range::str() const {
  if (isConstant())
    return llvm::formatv("{0}", smin).str();
  std::string s;
  if (smin != SMin || smax != SMax)
    s += llvm::formatv("s[{0}, {1}]", smin, smax).str();
  if (umin != 0 || umax != UMax) {
    if (!s.empty())
      s += " ";
    s += llvm::formatv("u[{0}, {1}]", umin, umax).str();
  }
  return s.empty() ? "unknown" : s;
}

Range join(const Range &a, const Range &b) {
  if (a.empty())
    return b;
  if (b.empty())
    return a;
  Range r{std::min(a.smin, b.smin), std::max(a.smax, b.smax),
          std::min(a.umin, b.umin), std::max(a.umax, b.umax)};
  r.sync();
  return r;
}

Range widen(const Range &older, const Range &newer,
            const std::set<int64_t> &thresholds) {
  Range j = join(older, newer);
  if (older.empty())
    return j;
  Range r = j;
  if (j.smax > older.smax) {
    auto it = thresholds.lower_bound(j.smax);
    r.smax = it == thresholds.end() ? SMax : *it;
  }
  if (j.smin < older.smin) {
    auto it = thresholds.upper_bound(j.smin);
    r.smin = it == thresholds.begin() ? SMin : *std::prev(it);
  }
  if (j.umax > older.umax) {
    auto it = thresholds.lower_bound(j.umax > uint64_t(SMax) ? SMax
                                                              : int64_t(j.umax));
    r.umax = (it == thresholds.end() || *it < 0 || j.umax > uint64_t(SMax))
                 ? UMax
                 : uint64_t(*it);
  }
  if (j.umin < older.umin)
    r.umin = 0;
  r.sync();
  return r;
}

static Value joinValues(const Value &a, const Value &b, bool widening,
                        const std::set<int64_t> &thresholds) {
  if (a.kind == TypeKind::Uninit || b.kind == TypeKind::Uninit)
    return Value{};
  if (a.kind != b.kind || a.map != b.map || a.frame != b.frame)
    return Value{TypeKind::Top, Range::top(), 0, 0, 0};
  Value v = a;
  v.range = widening ? widen(a.range, b.range, thresholds)
                     : join(a.range, b.range);
  if (a.nullId != b.nullId)
    v.nullId = 0;
  return v;
}

Value join(const Value &a, const Value &b) {
  static const std::set<int64_t> none;
  return joinValues(a, b, false, none);
}

Value widen(const Value &older, const Value &newer,
            const std::set<int64_t> &thresholds) {
  return joinValues(older, newer, true, thresholds);
}

State join(const State &a, const State &b, bool widening,
           const std::set<int64_t> &thresholds) {
  State out = a;
  for (size_t r = 0; r < out.regs.size(); ++r)
    out.regs[r] = joinValues(a.regs[r], b.regs[r], widening, thresholds);
  size_t n = std::min(a.frames.size(), b.frames.size());
  out.frames.resize(n);
  for (size_t f = 0; f < n; ++f) {
    Frame &o = out.frames[f];
    const Frame &fa = a.frames[f], &fb = b.frames[f];
    for (size_t i = 0; i < o.init.size(); ++i)
      o.init[i] = fa.init[i] && fb.init[i];
    for (size_t s = 0; s < o.spill.size(); ++s) {
      if (fa.spill[s] && fb.spill[s])
        o.spill[s] = joinValues(*fa.spill[s], *fb.spill[s], widening,
                                thresholds);
      else if (fa.spill[s] || fb.spill[s]) {
        // Written as bytes on one path: a scalar there, unless a pointer
        // was spilled on the other, which makes the slot unusable.
        const Value &v = fa.spill[s] ? *fa.spill[s] : *fb.spill[s];
        o.spill[s] = v.kind == TypeKind::Scalar
                         ? std::optional<Value>(Value::scalar())
                         : std::optional<Value>(
                               Value{TypeKind::Top, Range::top(), 0, 0, 0});
      } else
        o.spill[s].reset();
    }
  }
  return out;
}

} // namespace eimc::verifier::safety
