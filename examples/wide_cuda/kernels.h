/*
 * kernels.h - the device side of examples/wide_cuda (kernels.cu), called
 * from its host side (wide_cuda.c) in C.  Every array is device memory
 * of f32, row-major: a batch (B, W), a weight (W, W).  Each call queues
 * its kernels on the model's own non-blocking stream (wide_dev_use gives
 * it; the model hands it to ltrun with lt_set_stream, so that ltrun's
 * collectives and optimizer order after it) and returns 0, or the CUDA
 * error's text.
 */
#ifndef WIDE_CUDA_KERNELS_H
#define WIDE_CUDA_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Makes the device its ordinal, and *stream the stream every call uses
 * (a cudaStream_t). */
const char *wide_dev_use(int ordinal, void **stream);
/* n floats of device memory (zeroed), or NULL. */
float *wide_dev_alloc(long long n);
void wide_dev_free(void *p);
/* Queues a copy of n floats from the host to p (the host buffer may be
 * reused when it returns). */
const char *wide_dev_upload(float *p, const float *host, long long n);

/* next = h + alpha relu(z), z = h Wt^T + bias; a = relu(z) (B, W). */
const char *wide_dev_layer_forward(float *next, float *a, const float *h, const float *Wt,
				   const float *bias, int B, int W, float alpha);
/* *loss (device, one double) = sum of (out - y)^2; g = 2 (out - y) scale. */
const char *wide_dev_loss(double *loss, float *g, const float *out, const float *y, long long n,
			  float scale);
/* Backward of a layer given g = dloss/dh_{l+1} (B, W): dWt += dz^T h,
 * dbias += sum_b dz, g += dz Wt, with dz = alpha g [a > 0] in dz. */
const char *wide_dev_layer_backward(float *g, float *dz, float *dWt, float *dbias,
				    const float *a, const float *h, const float *Wt, int B, int W,
				    float alpha);
/* Copies the double at p out (waits for the device). */
const char *wide_dev_read(double *out, const double *p);

#ifdef __cplusplus
}
#endif

#endif
