// Machine probes for the benches (bench/lib/machine.ts): the best this CPU's memory system and
// arithmetic units do, measured, so speeds can be quoted as a share of this machine's limits.
//   probe_read_cpu      streams `bytes` bytes of buf (vector loads, nothing written); returns a fold of
//                       the data so the loads cannot be dropped. buf: 64-byte aligned, bytes % 256 == 0.
//   probe_fma_f32_cpu   `iterations` rounds of kProbeFmaChains independent f32 FMAs per vector lane
//                       group; returns a sum of the results. FLOPs = iterations * probe_fma_f32_flops_per_iter.
//   probe_dot_i8_cpu    the same for int8 dot products as the quantized matmuls issue them (AVX-512 VNNI
//                       vpdpbusd; AVX2 vpmaddubsw + vpmaddwd + vpaddd); ops (2 per multiply-add) =
//                       iterations * probe_dot_i8_ops_per_iter.
#pragma once
#include <cstdint>

#include "core/isa.h"

KV_DECLARE_CPU_KERNEL(uint64_t probe_read_cpu(const uint8_t* buf, int64_t bytes))
KV_DECLARE_CPU_KERNEL(double probe_fma_f32_cpu(int64_t iterations))
KV_DECLARE_CPU_KERNEL(int64_t probe_fma_f32_flops_per_iter())
KV_DECLARE_CPU_KERNEL(int64_t probe_dot_i8_cpu(int64_t iterations))
KV_DECLARE_CPU_KERNEL(int64_t probe_dot_i8_ops_per_iter())
