// emu_dim.h: uint3, the type of blockIdx, threadIdx, blockDim and gridDim, shared by the kernels' shim
// (cuda_shim.h) and the launcher (emu_driver.cpp), which returns it from the calls the shim makes.
#pragma once
struct uint3 { unsigned int x, y, z; };
typedef uint3 dim3;
