//===- verifier/AbstractState.h - The safety verifier's domain --*- C++ -*-===//
//
// Part of eimc. Private to the verifier library. See docs/verifier.md.
//
//===----------------------------------------------------------------------===//
//
// What the safety verifier knows about one program point: per register a
// type and a value range (for pointers, the range of the offset into their
// region), and per stack byte whether it has been written, with whole
// registers remembered for aligned 8-byte spills so that a pointer can be
// saved and restored. Ranges are kept twice, signed and unsigned 64-bit, as
// the kernel's smin/smax/umin/umax are, because clang's code compares both
// ways and either view alone loses the other's bounds.
//
// The lattice is finite in every component but the ranges, so joins
// converge except through ranges; widen() pushes a growing bound to the
// next constant the program compares with (widening with thresholds), then
// to infinity, so loop counters keep the bound their exit test gives them.
//
//===----------------------------------------------------------------------===//

#ifndef EIMC_VERIFIER_ABSTRACTSTATE_H
#define EIMC_VERIFIER_ABSTRACTSTATE_H

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace eimc::verifier::safety {

constexpr int64_t SMin = std::numeric_limits<int64_t>::min();
constexpr int64_t SMax = std::numeric_limits<int64_t>::max();
constexpr uint64_t UMax = std::numeric_limits<uint64_t>::max();

/// A set of 64-bit values, as the intersection of a signed and an unsigned
/// interval. Empty (smin > smax or umin > umax) means unreachable.
struct Range {
  int64_t smin = SMin, smax = SMax;
  uint64_t umin = 0, umax = UMax;

  static Range top() { return {}; }
  static Range constant(uint64_t v) {
    return {int64_t(v), int64_t(v), v, v};
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
  bool empty() const { return smin > smax || umin > umax; }
  bool isConstant() const { return umin == umax; }
  /// Tightens each view from the other where the sign bit is known.
  void sync() {
    if (smin >= 0) { // all values non-negative: views coincide
      umin = std::max(umin, uint64_t(smin));
      umax = std::min(umax, uint64_t(smax));
    } else if (smax < 0) { // all negative: they coincide as unsigned too
      umin = std::max(umin, uint64_t(smin));
      umax = std::min(umax, uint64_t(smax));
    }
    if (umax <= uint64_t(SMax) || umin > uint64_t(SMax)) {
      smin = std::max(smin, int64_t(umin));
      smax = std::min(smax, int64_t(umax));
    }
  }
  bool operator==(const Range &) const = default;
  std::string str() const;
};

Range join(const Range &a, const Range &b);
/// \p older joined with \p newer, bounds that grew moved to the next of
/// \p thresholds (sorted) or to infinity.
Range widen(const Range &older, const Range &newer,
            const std::set<int64_t> &thresholds);

/// Register and spill-slot types. Top is "differs between paths": using
/// such a register for anything but overwriting it is an error.
enum class TypeKind : uint8_t {
  Uninit,
  Scalar,
  Ctx,            ///< struct pt_regs of the probe, read-only
  Stack,          ///< a frame of the stack, offset relative to its r10
  MapPtr,         ///< a map (LDDW src 1), only for helper arguments
  MapValue,       ///< a map value or a global-data section (LDDW src 2)
  MapValueOrNull, ///< bpf_map_lookup_elem's result before the null check
  Top,
};

struct Value {
  TypeKind kind = TypeKind::Uninit;
  /// Scalar: the value; pointers: the byte offset into the region.
  Range range;
  uint32_t map = 0;    ///< MapPtr, MapValue(OrNull): index into spec.maps
  uint32_t frame = 0;  ///< Stack: call depth of the frame
  uint32_t nullId = 0; ///< MapValueOrNull: copies share it; 0: none

  static Value scalar(Range r = Range::top()) {
    return {TypeKind::Scalar, r, 0, 0, 0};
  }
  bool isPointer() const {
    return kind != TypeKind::Uninit && kind != TypeKind::Scalar &&
           kind != TypeKind::Top;
  }
  bool operator==(const Value &) const = default;
};

Value join(const Value &a, const Value &b);
Value widen(const Value &older, const Value &newer,
            const std::set<int64_t> &thresholds);

/// One 512-byte stack frame: which bytes were written, and the register
/// stored by an aligned 8-byte store at each slot, if any.
struct Frame {
  std::array<bool, 512> init{};
  std::array<std::optional<Value>, 64> spill{};
  bool operator==(const Frame &) const = default;
};

struct State {
  std::array<Value, 11> regs{};
  std::vector<Frame> frames{1};

  bool operator==(const State &) const = default;
};

/// Pointwise join; \p widening uses widen() on the ranges.
State join(const State &a, const State &b, bool widening,
           const std::set<int64_t> &thresholds);

} // namespace eimc::verifier::safety

#endif // EIMC_VERIFIER_ABSTRACTSTATE_H
