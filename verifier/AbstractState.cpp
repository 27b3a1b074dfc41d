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

namespace eimc::verifier::safety {

static Value joinValues(const Value &a, const Value &b, bool widening,
                        const std::set<int64_t> &thresholds) {
  if (a.kind == TypeKind::Uninit || b.kind == TypeKind::Uninit)
    return Value{};
  if (a.kind != b.kind || a.map != b.map || a.frame != b.frame ||
      a.ref != b.ref || a.size != b.size)
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
  out.refs.insert(b.refs.begin(), b.refs.end());
  out.partlyReleased.insert(b.partlyReleased.begin(), b.partlyReleased.end());
  for (uint32_t ref : out.refs)
    if (!a.refs.count(ref) || !b.refs.count(ref))
      out.partlyReleased.insert(ref);
  for (size_t r = 0; r < out.regs.size(); ++r)
    out.regs[r] = joinValues(a.regs[r], b.regs[r], widening, thresholds);
  size_t n = std::min(a.frames.size(), b.frames.size());
  out.frames.resize(n);
  for (size_t f = 0; f < n; ++f) {
    Frame &o = out.frames[f];
    const Frame &fa = a.frames[f], &fb = b.frames[f];
    o.init = fa.init & fb.init;
    o.zero = fa.zero & fb.zero;
    for (size_t s = 0; s < o.narrowWidth.size(); ++s)
      if (fa.narrowWidth[s] != fb.narrowWidth[s] ||
          fa.narrowValue[s] != fb.narrowValue[s]) {
        o.narrowWidth[s] = 0;
        o.narrowValue[s] = 0;
      }
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
