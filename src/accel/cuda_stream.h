/*
 * cuda_stream.h - the stream the cuda accelerator (cuda.c) puts the
 * runtime's device work on: the model's, when it named one
 * (lt_set_stream), else CUDA's legacy default stream.  The nccl
 * communicator (nccl.c) orders its collectives after it.
 */
#ifndef LT_ACCEL_CUDA_STREAM_H
#define LT_ACCEL_CUDA_STREAM_H

#include <cuda.h>

CUstream lt_cuda_stream(void);

#endif
