/*
 * cuda_kernels.cu - the runtime's arithmetic on a GPU's memory, for the
 * cuda accelerator (cuda.c loads this file's fatbin, built by nvcc and
 * embedded in ltrun, with the driver API; no CUDA runtime is linked):
 * the optimizers' elementwise steps with optim.c's scalars and formulas
 * (runtime/optim.h), the sum of squares of gradient clipping (each block's
 * partial sum added in double), clipping's scale or clamp, and mixed
 * precision's conversions: f32 master weights to their f16 or bf16 view
 * (round to nearest even, as src/precision/convert.c), and f16 or bf16
 * gradients to f32 times the loss scale's inverse, with the inf/NaN flag
 * the scaler needs.  extern "C" so that the names are plain.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

/* SGD without momentum: p -= lr (g + wd p). */
extern "C" __global__ void lt_k_sgd_plain(float *p, const float *g, unsigned long long n, float lr,
					  float wd)
{
	for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
	     i += (unsigned long long)gridDim.x * blockDim.x) {
		float pi = p[i];
		p[i] = pi - lr * (g[i] + wd * pi);
	}
}

/* SGD with momentum mu (and Nesterov): d = g + wd p; b = mu b + d;
 * p -= lr (nesterov ? d + mu b : b). */
extern "C" __global__ void lt_k_sgd_momentum(float *p, const float *g, float *b,
					     unsigned long long n, float lr, float wd, float mu,
					     int nesterov)
{
	for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
	     i += (unsigned long long)gridDim.x * blockDim.x) {
		float pi = p[i], d = g[i] + wd * pi, bi = mu * b[i] + d;
		b[i] = bi;
		p[i] = pi - lr * (nesterov ? d + mu * bi : bi);
	}
}

/* AdamW, optim.c's form: m += w1 (g - m); v = b2 v + w2 g^2;
 * p = p decay - step_size m / (sqrt(v) / bc2_sqrt + eps). */
extern "C" __global__ void lt_k_adamw(float *p, const float *g, float *m, float *v,
				      unsigned long long n, float decay, float w1, float b2,
				      float w2, float step_size, float bc2_sqrt, float eps)
{
	for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
	     i += (unsigned long long)gridDim.x * blockDim.x) {
		float gi = g[i], m0 = m[i];
		float mi = m0 + w1 * (gi - m0);
		float vi = v[i] * b2 + w2 * gi * gi;
		m[i] = mi;
		v[i] = vi;
		p[i] = p[i] * decay - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
	}
}

/* *out += the sum of x[i]^2, in double: each thread's, then the block's
 * (shared memory, blockDim.x a power of two up to 1024), then one atomic
 * add a block. */
extern "C" __global__ void lt_k_sumsq(const float *x, unsigned long long n, double *out)
{
	__shared__ double part[1024];
	double s = 0;

	for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
	     i += (unsigned long long)gridDim.x * blockDim.x)
		s += (double)x[i] * (double)x[i];
	part[threadIdx.x] = s;
	__syncthreads();
	for (unsigned k = blockDim.x / 2; k > 0; k /= 2) {
		if (threadIdx.x < k)
			part[threadIdx.x] += part[threadIdx.x + k];
		__syncthreads();
	}
	if (threadIdx.x == 0)
		atomicAdd(out, part[0]);
}

/* x *= factor, or x clamped to [-limit, limit] when limit > 0. */
extern "C" __global__ void lt_k_scale_clamp(float *x, unsigned long long n, float factor,
					    float limit)
{
	for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
	     i += (unsigned long long)gridDim.x * blockDim.x)
		x[i] = limit > 0 ? fminf(fmaxf(x[i], -limit), limit) : x[i] * factor;
}

/* dst (f16 or bf16 bits) = src rounded to nearest even. */
extern "C" __global__ void lt_k_f32_to_half(unsigned short *dst, const float *src,
					    unsigned long long n, int bf16)
{
	for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
	     i += (unsigned long long)gridDim.x * blockDim.x)
		dst[i] = bf16 ? __bfloat16_as_ushort(__float2bfloat16_rn(src[i]))
			      : __half_as_ushort(__float2half_rn(src[i]));
}

/* dst = src (f16 or bf16 bits) in f32 times scale; *found = 1 where a
 * result is inf or NaN. */
extern "C" __global__ void lt_k_unscale_half(float *dst, const unsigned short *src,
					     unsigned long long n, int bf16, float scale, int *found)
{
	int bad = 0;

	for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
	     i += (unsigned long long)gridDim.x * blockDim.x) {
		float v = (bf16 ? __bfloat162float(__ushort_as_bfloat16(src[i]))
				: __half2float(__ushort_as_half(src[i]))) * scale;
		dst[i] = v;
		bad |= !isfinite(v);
	}
	if (bad)
		*found = 1;
}
