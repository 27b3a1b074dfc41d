//===- verifier/Scalar.h - What the verifier knows about a number -*- C++ -*-===//
//
// Part of eimc. Private to the verifier library. See docs/verifier.md.
//
//===----------------------------------------------------------------------===//
//
// The safety verifier's scalar domain: a 64-bit value (or a pointer's
// offset) is known as the intersection of five views, as the kernel keeps
// them: signed and unsigned 64-bit intervals, signed and unsigned intervals
// of the low 32 bits (the subregister that ALU32 and JMP32 use), and known
// bits (a tnum: `value` holds the bits known to be one, `mask` the bits not
// known). Each view alone loses what the others keep: `idx & 7` is a tnum
// fact, `if w1 < 8` a 32-bit one, `if r1 s< 0` a signed one, and a memory
// access needs the unsigned 64-bit bound of all of them. Range::sync()
// passes facts between the views until they agree (the kernel's
// reg_bounds_sync), so every operation may update one view and sync.
//
// The transfer functions here are pure: ALU operations (64-bit, and 32-bit
// with zero-extension of the result) and the narrowing a conditional jump
// gives each side. Safety.cpp applies them to registers; nothing here knows
// about pointers, the stack or the policy.
//
//===----------------------------------------------------------------------===//

#ifndef EIMC_VERIFIER_SCALAR_H
#define EIMC_VERIFIER_SCALAR_H

#include "eimc/Core/Insn.h"

#include <cstdint>
#include <limits>
#include <set>
#include <string>

namespace eimc::verifier::safety {

constexpr int64_t SMin = std::numeric_limits<int64_t>::min();
constexpr int64_t SMax = std::numeric_limits<int64_t>::max();
constexpr uint64_t UMax = std::numeric_limits<uint64_t>::max();

/// Known bits: a bit set in \c mask is unknown; otherwise it equals the bit
/// of \c value. Invariant: value & mask == 0.
struct Tnum {
  uint64_t value = 0, mask = UMax;

  static Tnum unknown() { return {}; }
  static Tnum constant(uint64_t v) { return {v, 0}; }
  /// The tightest tnum containing [lo, hi] (unsigned).
  static Tnum range(uint64_t lo, uint64_t hi);
  bool isConstant() const { return mask == 0; }
  /// The low 32 bits, the upper known zero (a zero-extended subregister).
  Tnum low32() const { return {value & 0xffffffff, mask & 0xffffffff}; }
  bool operator==(const Tnum &) const = default;
};

Tnum operator+(Tnum a, Tnum b);
Tnum operator-(Tnum a, Tnum b);
Tnum operator*(Tnum a, Tnum b);
Tnum operator&(Tnum a, Tnum b);
Tnum operator|(Tnum a, Tnum b);
Tnum operator^(Tnum a, Tnum b);
Tnum shl(Tnum a, unsigned k);
Tnum lshr(Tnum a, unsigned k);
Tnum ashr(Tnum a, unsigned k, unsigned width);
/// The values both contain; \p conflict is set if there are none.
Tnum intersect(Tnum a, Tnum b, bool &conflict);
/// The values either contains.
Tnum unite(Tnum a, Tnum b);

/// A set of 64-bit values, as the intersection of the five views. Empty
/// (any interval inverted) means unreachable.
struct Range {
  int64_t smin = SMin, smax = SMax;
  uint64_t umin = 0, umax = UMax;
  int32_t s32min = INT32_MIN, s32max = INT32_MAX;
  uint32_t u32min = 0, u32max = UINT32_MAX;
  Tnum bits;

  static Range top() { return {}; }
  static Range empty_() {
    Range r;
    r.smin = 1;
    r.smax = 0;
    return r;
  }
  static Range constant(uint64_t v) {
    Range r;
    r.bits = Tnum::constant(v);
    r.sync();
    return r;
  }
  static Range unsignedRange(uint64_t lo, uint64_t hi) {
    Range r;
    r.umin = lo;
    r.umax = hi;
    r.sync();
    return r;
  }
  static Range signedRange(int64_t lo, int64_t hi) {
    Range r;
    r.smin = lo;
    r.smax = hi;
    r.sync();
    return r;
  }
  /// Zero-extension of a 32-bit result: the subregister views, upper half
  /// known zero.
  static Range zext32(uint32_t lo, uint32_t hi, int32_t slo, int32_t shi,
                      Tnum low);
  bool empty() const {
    return smin > smax || umin > umax || s32min > s32max || u32min > u32max;
  }
  bool isConstant() const { return umin == umax; }
  /// Passes facts between the views until each is as tight as the others
  /// allow; makes the range empty if they contradict each other.
  void sync();
  bool operator==(const Range &) const = default;
  std::string str() const;
};

/// The values both contain (a jump's `==`).
Range meet(const Range &a, const Range &b);
Range join(const Range &a, const Range &b);
/// \p older joined with \p newer, bounds that grew moved to the next of
/// \p thresholds (sorted) or to infinity.
Range widen(const Range &older, const Range &newer,
            const std::set<int64_t> &thresholds);

/// The result of ALU operation \p a on \p dst and \p src (for 32-bit
/// operations, the zero-extended 32-bit result). Never empty for non-empty
/// operands; what cannot be bounded is unknown, which is always sound.
Range aluResult(const bpf::Alu &a, const Range &dst, const Range &src);

/// Narrows \p a (the jump's dst) and \p b (src or immediate) to the values
/// for which comparison \p op (with \p is32, on the subregisters) has
/// outcome \p taken. \returns false if no values do: the edge cannot run.
bool refineCompare(bpf::JumpOpKind op, bool is32, bool taken, Range &a,
                   Range &b);

} // namespace eimc::verifier::safety

#endif // EIMC_VERIFIER_SCALAR_H
