#pragma once
// The CPU allocator set up for SiT's step: glibc hands every freed block above its mmap threshold
// (a step's activations) back to the system and maps fresh pages at the next step, paying a page
// fault per 4 KiB. Keeping blocks up to 32 MiB in the heap, and the heap untrimmed below 1 GiB,
// took SiT-S/2's CPU forward (batch 8, 2 threads, sit-bench --task forward) from about 1,550 ms to
// 1,050 ms on a 2-core AMD EPYC. The programs call it first; an application that runs SiT on the
// CPU gets their speed by calling it once at start (it changes the process's malloc settings).

namespace sit::runtime {

/// mallopt(M_MMAP_THRESHOLD, 32 MiB) and mallopt(M_TRIM_THRESHOLD, 1 GiB) under glibc; nothing
/// elsewhere.
void tune_cpu_allocator();

}  // namespace sit::runtime
