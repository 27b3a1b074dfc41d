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
// saved and restored. Values and offsets are Ranges (Scalar.h: intervals,
// 32-bit views and known bits).
//
// The lattice is finite in every component but the ranges, so joins
// converge except through ranges; widen() pushes a growing bound to the
// next constant the program compares with (widening with thresholds), then
// to infinity, so loop counters keep the bound their exit test gives them.
//
//===----------------------------------------------------------------------===//

#ifndef EIMC_VERIFIER_ABSTRACTSTATE_H
#define EIMC_VERIFIER_ABSTRACTSTATE_H

#include "Scalar.h"

#include <array>
#include <bitset>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

namespace eimc::verifier::safety {

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
  RingbufMem,       ///< a reserved ring-buffer record (after the null check)
  RingbufMemOrNull, ///< bpf_ringbuf_reserve's result before the null check
  Released,         ///< a record pointer after its submit or discard
  Top,
};

struct Value {
  TypeKind kind = TypeKind::Uninit;
  /// Scalar: the value; pointers: the byte offset into the region.
  Range range;
  uint32_t map = 0;    ///< MapPtr, MapValue(OrNull): index into spec.maps
  uint32_t frame = 0;  ///< Stack: call depth of the frame
  uint32_t nullId = 0; ///< MapValueOrNull: copies share it; 0: none
  /// RingbufMem(OrNull), Released: the reservation, as the index of its
  /// bpf_ringbuf_reserve call + 1; copies share it.
  uint32_t ref = 0;
  uint32_t size = 0; ///< RingbufMem(OrNull): the record's size in bytes

  static Value scalar(Range r = Range::top()) {
    return {TypeKind::Scalar, r, 0, 0, 0};
  }
  bool isPointer() const {
    return kind != TypeKind::Uninit && kind != TypeKind::Scalar &&
           kind != TypeKind::Top && kind != TypeKind::Released;
  }
  bool operator==(const Value &) const = default;
};

Value join(const Value &a, const Value &b);
Value widen(const Value &older, const Value &newer,
            const std::set<int64_t> &thresholds);

/// One 512-byte stack frame: which bytes were written, and the register
/// stored by an aligned 8-byte store at each slot, if any.
///
/// Two more facts serve only the kernel's constant-key rule for array
/// lookups (Safety.cpp, constantKey): which bytes are known zero (the
/// kernel's STACK_ZERO: written by a zero store that is not a spill), and
/// at each slot a constant stored by a narrower store at the slot's start
/// (the kernel's partial spill of a scalar). They are kept exactly where
/// the kernel keeps them and nowhere else, so that eimc never knows a key
/// the kernel does not.
struct Frame {
  std::bitset<512> init;
  std::bitset<512> zero;
  std::array<std::optional<Value>, 64> spill{};
  /// Width in bytes (1, 2 or 4) of a constant narrow spill at the slot's
  /// start, 0 if none; its value (the whole register, as the kernel keeps
  /// it) in narrowValue.
  std::array<uint8_t, 64> narrowWidth{};
  std::array<uint64_t, 64> narrowValue{};
  bool operator==(const Frame &) const = default;
};

struct State {
  std::array<Value, 11> regs{};
  std::vector<Frame> frames{1};
  /// Ring-buffer reservations not yet submitted or discarded on some path
  /// here (Value::ref); the join is their union, so a leak on any path
  /// reaches the exit.
  std::set<uint32_t> refs;
  /// Live reservations that some joined path released: the union in
  /// `refs` keeps them, so a caller must not trust its own copies.
  std::set<uint32_t> partlyReleased;

  bool operator==(const State &) const = default;
};

/// Pointwise join; \p widening uses widen() on the ranges.
State join(const State &a, const State &b, bool widening,
           const std::set<int64_t> &thresholds);

} // namespace eimc::verifier::safety

#endif // EIMC_VERIFIER_ABSTRACTSTATE_H
