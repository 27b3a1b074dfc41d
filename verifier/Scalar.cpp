//===- verifier/Scalar.cpp - Intervals, known bits, 32-bit views ----------===//
//
// Part of eimc. See verifier/Scalar.h.
//
//===----------------------------------------------------------------------===//
//
// The scalar domain's operations. Three rules carry most of the precision:
//
// - sync() is a reduction: each view is narrowed by what the others imply
//   (known bits bound both intervals; an unsigned interval that does not
//   cross the sign bit is also a signed one; a 64-bit interval whose upper
//   halves agree bounds the low 32 bits, and the low 32 bits bound it back;
//   intervals give known bits through their common prefix). It runs until
//   nothing changes (a few rounds), so a fact learnt in one view reaches
//   the unsigned 64-bit bound that memory accesses are checked against.
//
// - A 32-bit ALU operation is computed twice in 64 bits, on the operands'
//   low halves zero-extended and sign-extended, each only where the 64-bit
//   operation's low 32 bits equal the 32-bit operation's result (logical
//   shifts and unsigned division need the zero-extended form, arithmetic
//   shifts the sign-extended one). The 32-bit views of both results are
//   intersected and zero-extended, as the hardware writes a subregister.
//
// - A 32-bit comparison compares the low halves; it is evaluated as a
//   64-bit comparison of their zero-extension (unsigned and equality tests)
//   or sign-extension (signed tests), and what it learns is intersected
//   back into the register's 32-bit views.
//
// Known-bits arithmetic follows the published tnum algorithms (Vishwanathan
// et al., "Sound, Precise, and Fast Abstract Interpretation with Tristate
// Numbers", CGO 2022), written here from the paper's definitions.
//
//===----------------------------------------------------------------------===//

#include "Scalar.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

namespace eimc::verifier::safety {

//===----------------------------------------------------------------------===//
// Known bits
//===----------------------------------------------------------------------===//

Tnum Tnum::range(uint64_t lo, uint64_t hi) {
  if (lo > hi)
    return unknown();
  uint64_t chi = lo ^ hi;
  if (chi == 0)
    return constant(lo);
  unsigned bits = 64 - __builtin_clzll(chi);
  if (bits > 63)
    return unknown();
  uint64_t delta = (uint64_t(1) << bits) - 1;
  return {lo & ~delta, delta};
}

Tnum operator+(Tnum a, Tnum b) {
  uint64_t sm = a.mask + b.mask, sv = a.value + b.value;
  uint64_t chi = (sm + sv) ^ sv;
  uint64_t mu = chi | a.mask | b.mask;
  return {sv & ~mu, mu};
}

Tnum operator-(Tnum a, Tnum b) {
  uint64_t dv = a.value - b.value;
  uint64_t chi = (dv + a.mask) ^ (dv - b.mask);
  uint64_t mu = chi | a.mask | b.mask;
  return {dv & ~mu, mu};
}

Tnum operator&(Tnum a, Tnum b) {
  uint64_t v = a.value & b.value;
  return {v, (a.value | a.mask) & (b.value | b.mask) & ~v};
}

Tnum operator|(Tnum a, Tnum b) {
  uint64_t v = a.value | b.value;
  return {v, (a.mask | b.mask) & ~v};
}

Tnum operator^(Tnum a, Tnum b) {
  uint64_t mu = a.mask | b.mask;
  return {(a.value ^ b.value) & ~mu, mu};
}

/// Long multiplication: each bit of \p a that may be one adds a shifted
/// \p b; an unknown bit adds it as unknown.
Tnum operator*(Tnum a, Tnum b) {
  Tnum known = Tnum::constant(a.value * b.value);
  Tnum unknownPart = Tnum::constant(0);
  while (a.value || a.mask) {
    if (a.value & 1)
      unknownPart = unknownPart + Tnum{0, b.mask};
    else if (a.mask & 1)
      unknownPart = unknownPart + Tnum{0, b.value | b.mask};
    a = lshr(a, 1);
    b = shl(b, 1);
  }
  return known + unknownPart;
}

Tnum shl(Tnum a, unsigned k) { return {a.value << k, a.mask << k}; }
Tnum lshr(Tnum a, unsigned k) { return {a.value >> k, a.mask >> k}; }

Tnum ashr(Tnum a, unsigned k, unsigned width) {
  if (width == 32)
    return {uint32_t(int32_t(uint32_t(a.value)) >> k),
            uint32_t(int32_t(uint32_t(a.mask)) >> k)};
  return {uint64_t(int64_t(a.value) >> k), uint64_t(int64_t(a.mask) >> k)};
}

Tnum intersect(Tnum a, Tnum b, bool &conflict) {
  if ((a.value ^ b.value) & ~(a.mask | b.mask))
    conflict = true;
  uint64_t mu = a.mask & b.mask;
  return {(a.value | b.value) & ~mu, mu};
}

Tnum unite(Tnum a, Tnum b) {
  uint64_t mu = a.mask | b.mask | (a.value ^ b.value);
  return {a.value & ~mu, mu};
}

/// The low half sign-extended: upper bits copy bit 31, known or not.
static Tnum sext32(Tnum t) {
  return {uint64_t(int64_t(int32_t(uint32_t(t.value)))),
          uint64_t(int64_t(int32_t(uint32_t(t.mask))))};
}

//===----------------------------------------------------------------------===//
// Reduction between the views
//===----------------------------------------------------------------------===//

static bool tighten(Range &r) {
  Range before = r;
  // Known bits bound every interval.
  Tnum t = r.bits, l = t.low32();
  r.umin = std::max(r.umin, t.value);
  r.umax = std::min(r.umax, t.value | t.mask);
  r.smin = std::max(r.smin, int64_t(t.value | (t.mask & uint64_t(SMin))));
  r.smax = std::min(r.smax, int64_t(t.value | (t.mask & uint64_t(SMax))));
  r.u32min = std::max(r.u32min, uint32_t(l.value));
  r.u32max = std::min(r.u32max, uint32_t(l.value | l.mask));
  r.s32min = std::max(r.s32min, int32_t(uint32_t(l.value | (l.mask & 0x80000000))));
  r.s32max = std::min(r.s32max, int32_t(uint32_t(l.value | (l.mask & 0x7fffffff))));
  // 64-bit intervals within one 2^32-aligned block bound the low halves.
  if ((r.umin >> 32) == (r.umax >> 32)) {
    r.u32min = std::max(r.u32min, uint32_t(r.umin));
    r.u32max = std::min(r.u32max, uint32_t(r.umax));
    if (int32_t(r.umin) <= int32_t(r.umax)) {
      r.s32min = std::max(r.s32min, int32_t(r.umin));
      r.s32max = std::min(r.s32max, int32_t(r.umax));
    }
  }
  if ((r.smin >> 32) == (r.smax >> 32)) {
    r.u32min = std::max(r.u32min, uint32_t(r.smin));
    r.u32max = std::min(r.u32max, uint32_t(r.smax));
    if (int32_t(r.smin) <= int32_t(r.smax)) {
      r.s32min = std::max(r.s32min, int32_t(r.smin));
      r.s32max = std::min(r.s32max, int32_t(r.smax));
    }
  }
  // A signed 64-bit interval within the int32 range is a sign-extended
  // subregister's (JMP32's signed view of it).
  // ... and then the value is its subregister's signed view, so that view
  // bounds it too (`r6 = (s32)r6; if w6 > 63`).
  if (r.smin >= INT32_MIN && r.smax <= INT32_MAX) {
    r.s32min = std::max(r.s32min, int32_t(r.smin));
    r.s32max = std::min(r.s32max, int32_t(r.smax));
    r.smin = std::max<int64_t>(r.smin, r.s32min);
    r.smax = std::min<int64_t>(r.smax, r.s32max);
  }
  // Signed and unsigned 32-bit views agree where they do not wrap.
  if (int32_t(r.u32min) <= int32_t(r.u32max)) {
    r.s32min = std::max(r.s32min, int32_t(r.u32min));
    r.s32max = std::min(r.s32max, int32_t(r.u32max));
  }
  if (uint32_t(r.s32min) <= uint32_t(r.s32max)) {
    r.u32min = std::max(r.u32min, uint32_t(r.s32min));
    r.u32max = std::min(r.u32max, uint32_t(r.s32max));
  }
  // The low halves bound a 64-bit interval whose upper halves agree.
  constexpr uint64_t High = 0xffffffff00000000;
  if ((r.umin >> 32) == (r.umax >> 32)) {
    r.umin = std::max(r.umin, (r.umin & High) | r.u32min);
    r.umax = std::min(r.umax, (r.umax & High) | r.u32max);
  }
  if ((r.smin >> 32) == (r.smax >> 32)) {
    r.smin = std::max(r.smin, int64_t((uint64_t(r.smin) & High) | r.u32min));
    r.smax = std::min(r.smax, int64_t((uint64_t(r.smax) & High) | r.u32max));
  }
  // Signed and unsigned 64-bit views agree where they do not wrap.
  if (r.smin >= 0 || r.smax < 0) {
    r.umin = std::max(r.umin, uint64_t(r.smin));
    r.umax = std::min(r.umax, uint64_t(r.smax));
  }
  if (r.umax <= uint64_t(SMax) || r.umin > uint64_t(SMax)) {
    r.smin = std::max(r.smin, int64_t(r.umin));
    r.smax = std::min(r.smax, int64_t(r.umax));
  }
  // Intervals give known bits through their common prefix.
  bool conflict = false;
  r.bits = intersect(r.bits, Tnum::range(r.umin, r.umax), conflict);
  Tnum low = Tnum::range(r.u32min, r.u32max);
  r.bits = intersect(r.bits, {low.value, low.mask | High}, conflict);
  if (conflict)
    r.smin = 1, r.smax = 0;
  return !(r == before);
}

void Range::sync() {
  for (int round = 0; round < 4 && !empty(); ++round)
    if (!tighten(*this))
      break;
  if (empty())
    *this = empty_();
}

Range Range::zext32(uint32_t lo, uint32_t hi, int32_t slo, int32_t shi,
                    Tnum low) {
  Range r;
  r.u32min = lo;
  r.u32max = hi;
  r.s32min = slo;
  r.s32max = shi;
  r.bits = low.low32();
  r.umax = UINT32_MAX;
  r.sync();
  return r;
}

/// The low half of \p r as a 64-bit value, zero- or sign-extended.
static Range extend32(const Range &r, bool isSigned) {
  Range x = Range::zext32(r.u32min, r.u32max, r.s32min, r.s32max, r.bits);
  if (!isSigned)
    return x;
  Range s;
  s.smin = r.s32min;
  s.smax = r.s32max;
  s.u32min = r.u32min;
  s.u32max = r.u32max;
  s.s32min = r.s32min;
  s.s32max = r.s32max;
  s.bits = sext32(r.bits);
  s.sync();
  return s;
}

std::string Range::str() const {
  if (empty())
    return "unreachable";
  if (isConstant())
    return llvm::formatv("{0}", smin).str();
  std::string s;
  auto add = [&](const std::string &part) {
    s += (s.empty() ? "" : " ") + part;
  };
  if (smin != SMin || smax != SMax)
    add(llvm::formatv("s[{0}, {1}]", smin, smax).str());
  if (umin != 0 || umax != UMax)
    add(llvm::formatv("u[{0}, {1}]", umin, umax).str());
  // The 32-bit views and known bits, where they say more than the above.
  Range implied = *this;
  implied.s32min = INT32_MIN, implied.s32max = INT32_MAX;
  implied.u32min = 0, implied.u32max = UINT32_MAX;
  implied.bits = Tnum::unknown();
  implied.sync();
  if (u32min != implied.u32min || u32max != implied.u32max)
    add(llvm::formatv("u32[{0}, {1}]", u32min, u32max).str());
  if (s32min != implied.s32min || s32max != implied.s32max)
    add(llvm::formatv("s32[{0}, {1}]", s32min, s32max).str());
  if (bits != implied.bits)
    add(llvm::formatv("bits={0:x}/{1:x}", bits.value, bits.mask).str());
  return s.empty() ? "unknown" : s;
}

//===----------------------------------------------------------------------===//
// Lattice operations
//===----------------------------------------------------------------------===//

Range meet(const Range &a, const Range &b) {
  Range m;
  m.smin = std::max(a.smin, b.smin);
  m.smax = std::min(a.smax, b.smax);
  m.umin = std::max(a.umin, b.umin);
  m.umax = std::min(a.umax, b.umax);
  m.s32min = std::max(a.s32min, b.s32min);
  m.s32max = std::min(a.s32max, b.s32max);
  m.u32min = std::max(a.u32min, b.u32min);
  m.u32max = std::min(a.u32max, b.u32max);
  bool conflict = false;
  m.bits = intersect(a.bits, b.bits, conflict);
  if (conflict)
    return Range::empty_();
  m.sync();
  return m;
}

Range join(const Range &a, const Range &b) {
  if (a.empty())
    return b;
  if (b.empty())
    return a;
  Range r;
  r.smin = std::min(a.smin, b.smin);
  r.smax = std::max(a.smax, b.smax);
  r.umin = std::min(a.umin, b.umin);
  r.umax = std::max(a.umax, b.umax);
  r.s32min = std::min(a.s32min, b.s32min);
  r.s32max = std::max(a.s32max, b.s32max);
  r.u32min = std::min(a.u32min, b.u32min);
  r.u32max = std::max(a.u32max, b.u32max);
  r.bits = unite(a.bits, b.bits);
  r.sync();
  return r;
}

/// The next threshold at or above \p v, or \p top.
static int64_t above(const std::set<int64_t> &t, int64_t v, int64_t top) {
  auto it = t.lower_bound(v);
  return it == t.end() || *it > top ? top : *it;
}

/// The next threshold at or below \p v, or \p bottom.
static int64_t below(const std::set<int64_t> &t, int64_t v, int64_t bottom) {
  auto it = t.upper_bound(v);
  return it == t.begin() || *std::prev(it) < bottom ? bottom : *std::prev(it);
}

Range widen(const Range &older, const Range &newer,
            const std::set<int64_t> &thresholds) {
  Range j = join(older, newer);
  if (older.empty())
    return j;
  Range r = j;
  if (j.smax > older.smax)
    r.smax = above(thresholds, j.smax, SMax);
  if (j.smin < older.smin)
    r.smin = below(thresholds, j.smin, SMin);
  if (j.umax > older.umax)
    r.umax = j.umax > uint64_t(SMax)
                 ? UMax
                 : uint64_t(above(thresholds, int64_t(j.umax), SMax));
  if (r.umax == uint64_t(SMax))
    r.umax = UMax;
  if (j.umin < older.umin)
    r.umin = 0;
  if (j.s32max > older.s32max)
    r.s32max = int32_t(above(thresholds, j.s32max, INT32_MAX));
  if (j.s32min < older.s32min)
    r.s32min = int32_t(below(thresholds, j.s32min, INT32_MIN));
  if (j.u32max > older.u32max)
    r.u32max = uint32_t(above(thresholds, j.u32max, UINT32_MAX));
  if (j.u32min < older.u32min)
    r.u32min = 0;
  r.sync();
  return r;
}

//===----------------------------------------------------------------------===//
// ALU operations
//===----------------------------------------------------------------------===//

/// Smallest all-ones number at or above \p m (a bound for `|` and `^`).
static uint64_t onesAbove(uint64_t m) {
  if (m == 0)
    return 0;
  if (m >> 63)
    return UMax;
  return (uint64_t(2) << (63 - __builtin_clzll(m))) - 1;
}

/// The 64-bit operation: an interval and a known-bits result, intersected.
static Range alu64(bpf::AluOpKind op, const Range &d, const Range &s,
                   unsigned sxBits) {
  using bpf::AluOpKind;
  Range out = Range::top();
  Tnum bits = Tnum::unknown();
  bool constS = s.isConstant();
  switch (op) {
  case AluOpKind::Mov:
    return s;
  case AluOpKind::Add: {
    int64_t lo, hi;
    if (!__builtin_add_overflow(d.smin, s.smin, &lo) &&
        !__builtin_add_overflow(d.smax, s.smax, &hi))
      out.smin = lo, out.smax = hi;
    uint64_t ulo, uhi;
    if (!__builtin_add_overflow(d.umin, s.umin, &ulo) &&
        !__builtin_add_overflow(d.umax, s.umax, &uhi))
      out.umin = ulo, out.umax = uhi;
    bits = d.bits + s.bits;
    break;
  }
  case AluOpKind::Sub: {
    int64_t lo, hi;
    if (!__builtin_sub_overflow(d.smin, s.smax, &lo) &&
        !__builtin_sub_overflow(d.smax, s.smin, &hi))
      out.smin = lo, out.smax = hi;
    if (d.umin >= s.umax)
      out.umin = d.umin - s.umax, out.umax = d.umax - s.umin;
    bits = d.bits - s.bits;
    break;
  }
  case AluOpKind::Mul: {
    uint64_t hi;
    if (!__builtin_mul_overflow(d.umax, s.umax, &hi))
      out.umin = d.umin * s.umin, out.umax = hi;
    bits = d.bits * s.bits;
    break;
  }
  case AluOpKind::Div:
  case AluOpKind::Mod:
    // Unknown, as the kernel (6.18) has it: it tracks no division, so a
    // bound derived here would accept programs the kernel refuses (the
    // trap-div32 *_ok programs of tests/verifier/corpus, issue B4).
    break;
  case AluOpKind::And:
    out.umax = std::min(d.umax, s.umax);
    bits = d.bits & s.bits;
    break;
  case AluOpKind::Or:
    out.umin = std::max(d.umin, s.umin);
    out.umax = onesAbove(d.umax | s.umax);
    bits = d.bits | s.bits;
    break;
  case AluOpKind::Xor:
    out.umax = onesAbove(d.umax | s.umax);
    bits = d.bits ^ s.bits;
    break;
  case AluOpKind::Lsh:
    if (constS && s.umin < 64) {
      if ((d.umax >> (63 - s.umin)) == 0)
        out.umin = d.umin << s.umin, out.umax = d.umax << s.umin;
      bits = shl(d.bits, unsigned(s.umin));
    }
    break;
  case AluOpKind::Rsh:
    if (constS && s.umin < 64) {
      out.umin = d.umin >> s.umin, out.umax = d.umax >> s.umin;
      bits = lshr(d.bits, unsigned(s.umin));
    } else
      out.umax = d.umax;
    break;
  case AluOpKind::Arsh:
    if (constS && s.umin < 64) {
      out.smin = d.smin >> s.umin, out.smax = d.smax >> s.umin;
      bits = ashr(d.bits, unsigned(s.umin), 64);
    }
    break;
  case AluOpKind::Neg:
    if (d.smin != SMin)
      out.smin = -d.smax, out.smax = -d.smin;
    bits = Tnum::constant(0) - d.bits;
    break;
  case AluOpKind::MovSx: {
    // The low sxBits of the source, sign-extended: exact when the source's
    // values share their upper bits (a constant, `r6 = 0xff; r6 = (s8)r6`
    // is -1), and the subregister is the source's for a 32-bit extension.
    int64_t half = int64_t(1) << (sxBits - 1);
    if (s.smin >= -half && s.smax < half)
      return s;
    uint64_t width = uint64_t(1) << sxBits, mask = width - 1;
    uint64_t lo = s.umin & mask, hi = s.umax & mask;
    out.smin = -half, out.smax = half - 1;
    if ((s.umin & ~mask) == (s.umax & ~mask)) {
      if (hi < uint64_t(half))
        out.smin = int64_t(lo), out.smax = int64_t(hi);
      else if (lo >= uint64_t(half))
        out.smin = int64_t(lo - width), out.smax = int64_t(hi - width);
    }
    if (sxBits == 32) {
      out.u32min = s.u32min, out.u32max = s.u32max;
      out.s32min = s.s32min, out.s32max = s.s32max;
    }
    bits = {s.bits.value & mask, s.bits.mask & mask};
    if (bits.mask & uint64_t(half))
      bits.mask |= ~mask;
    else if (bits.value & uint64_t(half))
      bits.value |= ~mask;
    break;
  }
  case AluOpKind::SDiv:
  case AluOpKind::SMod:
    break;
  }
  out.bits = bits;
  out.sync();
  return out.empty() ? Range::top() : out;
}

/// Whether the low 32 bits of the 64-bit operation on zero-extended
/// (\p isSigned false) or sign-extended operands are the 32-bit result.
static bool lowHalfExact(bpf::AluOpKind op, bool isSigned) {
  using bpf::AluOpKind;
  switch (op) {
  case AluOpKind::Div:
  case AluOpKind::Mod:
  case AluOpKind::Rsh:
    return !isSigned;
  case AluOpKind::Arsh:
    return isSigned;
  case AluOpKind::SDiv:
  case AluOpKind::SMod:
    return false;
  default:
    return true;
  }
}

Range aluResult(const bpf::Alu &a, const Range &dst, const Range &src) {
  if (dst.empty() || src.empty())
    return Range::top();
  if (a.is64)
    return alu64(a.op, dst, src, a.sxBits);
  Range unknown32 =
      Range::zext32(0, UINT32_MAX, INT32_MIN, INT32_MAX, Tnum::unknown());
  Range count = src;
  if (a.op == bpf::AluOpKind::Lsh || a.op == bpf::AluOpKind::Rsh ||
      a.op == bpf::AluOpKind::Arsh) {
    // RFC 9669 section 4.1: a 32-bit shift uses the count's low 5 bits
    // (the compiler masks it the same way), so a count of 32-63 is not
    // "everything shifted out" as the 64-bit rules on the extended
    // operands would conclude.
    Range z = extend32(src, false);
    if (z.umin == z.umax)
      count = Range::constant(z.umin & 31);
    else if (z.umax >= 32)
      return unknown32;
  }
  // The subregister: intersect what each exact extension says about the
  // low half, then zero-extend it.
  Range low = Range::top();
  for (bool isSigned : {false, true}) {
    if (!lowHalfExact(a.op, isSigned))
      continue;
    Range r = alu64(a.op, extend32(dst, isSigned), extend32(count, isSigned),
                    a.sxBits);
    low = meet(low, Range::zext32(r.u32min, r.u32max, r.s32min, r.s32max,
                                  r.bits));
  }
  return low.empty() ? unknown32 : low;
}

//===----------------------------------------------------------------------===//
// Comparisons
//===----------------------------------------------------------------------===//

static bpf::JumpOpKind negate(bpf::JumpOpKind op) {
  using K = bpf::JumpOpKind;
  switch (op) {
  case K::Jeq: return K::Jne;
  case K::Jne: return K::Jeq;
  case K::Jgt: return K::Jle;
  case K::Jle: return K::Jgt;
  case K::Jge: return K::Jlt;
  case K::Jlt: return K::Jge;
  case K::Jsgt: return K::Jsle;
  case K::Jsle: return K::Jsgt;
  case K::Jsge: return K::Jslt;
  case K::Jslt: return K::Jsge;
  default: return op;
  }
}

/// `a op b` in 64 bits; both narrowed. \returns false if impossible.
static bool refine64(bpf::JumpOpKind op, Range &a, Range &b) {
  using K = bpf::JumpOpKind;
  switch (op) {
  case K::Jeq:
    a = b = meet(a, b);
    break;
  case K::Jne:
    if (b.isConstant()) {
      uint64_t c = b.umin;
      if (a.umin == c && a.umin != UMax)
        a.umin++;
      else if (a.umax == c && a.umax != 0)
        a.umax--;
      else if (a.isConstant() && a.umin == c)
        return false;
      if (a.smin == int64_t(c) && a.smin != SMax)
        a.smin++;
      else if (a.smax == int64_t(c) && a.smax != SMin)
        a.smax--;
    }
    break;
  case K::Jlt:
    if (b.umax == 0 || a.umin == UMax)
      return false;
    a.umax = std::min(a.umax, b.umax - 1);
    b.umin = std::max(b.umin, a.umin + 1);
    break;
  case K::Jle:
    a.umax = std::min(a.umax, b.umax);
    b.umin = std::max(b.umin, a.umin);
    break;
  case K::Jgt:
    if (b.umin == UMax || a.umax == 0)
      return false;
    a.umin = std::max(a.umin, b.umin + 1);
    b.umax = std::min(b.umax, a.umax - 1);
    break;
  case K::Jge:
    a.umin = std::max(a.umin, b.umin);
    b.umax = std::min(b.umax, a.umax);
    break;
  case K::Jslt:
    if (b.smax == SMin || a.smin == SMax)
      return false;
    a.smax = std::min(a.smax, b.smax - 1);
    b.smin = std::max(b.smin, a.smin + 1);
    break;
  case K::Jsle:
    a.smax = std::min(a.smax, b.smax);
    b.smin = std::max(b.smin, a.smin);
    break;
  case K::Jsgt:
    if (b.smin == SMax || a.smax == SMin)
      return false;
    a.smin = std::max(a.smin, b.smin + 1);
    b.smax = std::min(b.smax, a.smax - 1);
    break;
  case K::Jsge:
    a.smin = std::max(a.smin, b.smin);
    b.smax = std::min(b.smax, a.smax);
    break;
  default:
    return true;
  }
  a.sync();
  b.sync();
  return !a.empty() && !b.empty();
}

/// `a & m` is nonzero (\p taken) or zero, for a constant mask \p m.
static bool refineJset(Range &a, uint64_t m, bool taken) {
  bool conflict = false;
  if (!taken)
    a.bits = intersect(a.bits, {0, ~m}, conflict);
  else if (((a.bits.value | a.bits.mask) & m) == 0)
    return false;
  else if ((m & (m - 1)) == 0) // one bit: it is set
    a.bits = intersect(a.bits, {m, ~m}, conflict);
  if (conflict)
    return false;
  a.sync();
  return !a.empty();
}

/// Intersects the subregister views of \p low (a zero- or sign-extended
/// low half) into \p r.
static void meetLow32(Range &r, const Range &low) {
  r.u32min = std::max(r.u32min, low.u32min);
  r.u32max = std::min(r.u32max, low.u32max);
  r.s32min = std::max(r.s32min, low.s32min);
  r.s32max = std::min(r.s32max, low.s32max);
  bool conflict = false;
  Tnum l = low.bits.low32();
  r.bits = intersect(r.bits, {l.value, l.mask | 0xffffffff00000000},
                     conflict);
  if (conflict)
    r = Range::empty_();
  r.sync();
}

bool refineCompare(bpf::JumpOpKind op, bool is32, bool taken, Range &a,
                   Range &b) {
  using K = bpf::JumpOpKind;
  if (op == K::Jset) {
    if (!b.isConstant())
      return true;
    return refineJset(a, is32 ? uint32_t(b.umin) : b.umin, taken);
  }
  if (!taken)
    op = negate(op);
  if (!is32)
    return refine64(op, a, b);
  bool isSigned = op == K::Jslt || op == K::Jsle || op == K::Jsgt ||
                  op == K::Jsge;
  Range la = extend32(a, isSigned), lb = extend32(b, isSigned);
  if (!refine64(op, la, lb))
    return false;
  meetLow32(a, la);
  meetLow32(b, lb);
  return !a.empty() && !b.empty();
}

} // namespace eimc::verifier::safety
