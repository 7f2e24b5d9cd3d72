#include <sit/runtime/cpu_allocator.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sit::runtime {

void tune_cpu_allocator() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace sit::runtime
