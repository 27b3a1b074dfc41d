/* ALU and JMP: 64- and 32-bit arithmetic, unsigned division and modulo
 * (including by a zero read from memory: x/0 = 0, x%0 = x), shifts by
 * variable counts, byte order, signed and unsigned comparisons. At
 * -mcpu=v3 and later the 32-bit operations become ALU32/JMP32. */
#include "harness.h"

PROGRAM(mem) {
  __u64 a = LOAD(__u64, mem, 0), b = LOAD(__u64, mem, 8);
  __u32 c = LOAD(__u32, mem, 16), d = LOAD(__u32, mem, 20);
  __u64 zero = LOAD(__u8, mem, 63); /* the inputs keep it 0 */
  __u64 acc = a + b * 3 - (a ^ b) + (a | c) - (b & d);
  acc ^= a / (b | 1) + a % (b | 1);
  acc += a / zero + b % zero; /* RFC 9669: 0 and b */
  __u32 w = c * d + (c >> (d & 31)) - (d << (c & 31));
  w ^= c / (d | 1) + c % (d | 1) + c / (__u32)zero + d % (__u32)zero;
  acc += (a >> (c & 63)) + (b << (d & 63)) + ((__s64)a >> (d & 63));
  acc += __builtin_bswap64(a) + __builtin_bswap32(c) + __builtin_bswap16(d);
  if ((__s64)a < (__s64)b)
    acc += 0x100;
  if (c > d)
    acc += 0x200;
  if ((__s32)c <= (__s32)d)
    acc += 0x400;
  if (w & 0x10)
    acc += 0x800;
  STORE(__u64, mem, 24, acc);
  STORE(__u32, mem, 32, w);
  STORE(__u16, mem, 36, (__u16)(acc >> 7));
  STORE(__u8, mem, 38, (__u8)(w >> 3));
  return acc ^ ((__u64)w << 32);
}
