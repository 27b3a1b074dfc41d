/* A branch across more than 32767 instructions: at -mcpu=v4 clang emits
 * gotol (JMP32 JA with a 32-bit offset); earlier CPUs cannot encode it,
 * so this program is built at v4 only. */
#include "harness.h"

#define STEP(i) acc = acc * 3 + LOAD(__u8, mem, (i) & 63);
#define STEP8(i) STEP(i) STEP(i + 1) STEP(i + 2) STEP(i + 3) STEP(i + 4) \
  STEP(i + 5) STEP(i + 6) STEP(i + 7)
#define STEP64(i) STEP8(i) STEP8(i + 8) STEP8(i + 16) STEP8(i + 24) \
  STEP8(i + 32) STEP8(i + 40) STEP8(i + 48) STEP8(i + 56)
#define STEP512(i) STEP64(i) STEP64(i + 64) STEP64(i + 128) STEP64(i + 192) \
  STEP64(i + 256) STEP64(i + 320) STEP64(i + 384) STEP64(i + 448)

PROGRAM(mem) {
  __u64 acc = LOAD(__u64, mem, 0);
  if (LOAD(__u8, mem, 8) & 1) {
    STEP512(0) STEP512(1) STEP512(2) STEP512(3) STEP512(4) STEP512(5)
    STEP512(6) STEP512(7) STEP512(8) STEP512(9) STEP512(10) STEP512(11)
    STEP512(12) STEP512(13) STEP512(14) STEP512(15)
  }
  return acc;
}
