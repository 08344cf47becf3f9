"""The day kernel: one CSM-1 day for every agent, fused in one pass, for CPU and CUDA."""
