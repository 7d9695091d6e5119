/*
 * kernels.cu - examples/wide_cuda's kernels (kernels.h): plain CUDA, one
 * tiled matrix product for the three products of a layer (forward, the
 * weight's gradient, the input's gradient), and elementwise kernels.
 * Sized for correctness and a fair DDP step, not for cuBLAS's speed.
 */
#include "kernels.h"

#include <cuda_runtime.h>

#define TILE 16
#define THREADS 256

/* every kernel and copy goes on this stream (wide_dev_stream), which the
 * model hands to ltrun with lt_set_stream */
static cudaStream_t stream;

static unsigned blocks(long long n) { return (unsigned)((n + THREADS - 1) / THREADS); }

static const char *status(void)
{
	cudaError_t e = cudaGetLastError();

	return e == cudaSuccess ? 0 : cudaGetErrorString(e);
}

/* C (M, N) row-major = (accumulate ? C : 0) + (bias ? bias[n] : 0) +
 * sum_k A(m, k) B(k, n), with A(m, k) = A[m am + k ak] and B(k, n) =
 * B[k bk + n bn]: the strides make one kernel of N T, T N and N N. */
__global__ void gemm(float *C, const float *A, const float *B, const float *bias, int M, int N,
		     int K, long long am, long long ak, long long bk, long long bn, int accumulate)
{
	__shared__ float a[TILE][TILE], b[TILE][TILE + 1];
	int m = blockIdx.y * TILE + threadIdx.y, n = blockIdx.x * TILE + threadIdx.x;
	float s = 0;

	for (int k0 = 0; k0 < K; k0 += TILE) {
		int ka = k0 + threadIdx.x, kb = k0 + threadIdx.y;

		a[threadIdx.y][threadIdx.x] = m < M && ka < K ? A[m * am + ka * ak] : 0.0f;
		b[threadIdx.y][threadIdx.x] = kb < K && n < N ? B[kb * bk + n * bn] : 0.0f;
		__syncthreads();
		for (int k = 0; k < TILE; k++)
			s += a[threadIdx.y][k] * b[k][threadIdx.x];
		__syncthreads();
	}
	if (m < M && n < N) {
		float *c = C + (long long)m * N + n;

		*c = (accumulate ? *c : 0.0f) + (bias ? bias[n] : 0.0f) + s;
	}
}

static void product(float *C, const float *A, const float *B, const float *bias, int M, int N,
		    int K, long long am, long long ak, long long bk, long long bn, int accumulate)
{
	dim3 grid((N + TILE - 1) / TILE, (M + TILE - 1) / TILE), block(TILE, TILE);

	gemm<<<grid, block, 0, stream>>>(C, A, B, bias, M, N, K, am, ak, bk, bn, accumulate);
}

__global__ void relu_residual(float *next, float *a, const float *h, long long n, float alpha)
{
	long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;

	if (i < n) {
		float r = a[i] > 0 ? a[i] : 0;

		a[i] = r;
		next[i] = h[i] + alpha * r;
	}
}

__global__ void mse(double *loss, float *g, const float *out, const float *y, long long n,
		    float scale)
{
	__shared__ double part[THREADS];
	long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
	float d = i < n ? out[i] - y[i] : 0;

	if (i < n)
		g[i] = 2 * d * scale;
	part[threadIdx.x] = (double)d * d;
	__syncthreads();
	for (int s = THREADS / 2; s > 0; s >>= 1) {
		if ((int)threadIdx.x < s)
			part[threadIdx.x] += part[threadIdx.x + s];
		__syncthreads();
	}
	if (threadIdx.x == 0)
		atomicAdd(loss, part[0]);
}

__global__ void relu_grad(float *dz, const float *g, const float *a, long long n, float alpha)
{
	long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;

	if (i < n)
		dz[i] = a[i] > 0 ? alpha * g[i] : 0;
}

/* dbias[o] += sum over the B rows of dz[., o]. */
__global__ void column_sum(float *dbias, const float *dz, int B, int W)
{
	int o = blockIdx.x * blockDim.x + threadIdx.x;

	if (o < W) {
		float s = 0;

		for (int b = 0; b < B; b++)
			s += dz[(long long)b * W + o];
		dbias[o] += s;
	}
}

extern "C" const char *wide_dev_use(int ordinal, void **out)
{
	cudaError_t e = cudaSetDevice(ordinal);

	if (e == cudaSuccess && !stream)
		e = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
	*out = stream;
	return e == cudaSuccess ? 0 : cudaGetErrorString(e);
}

extern "C" float *wide_dev_alloc(long long n)
{
	void *p = 0;

	if (cudaMalloc(&p, (size_t)(n ? n : 1) * sizeof(float)) != cudaSuccess)
		return 0;
	cudaMemsetAsync(p, 0, (size_t)(n ? n : 1) * sizeof(float), stream);
	return (float *)p;
}

extern "C" void wide_dev_free(void *p)
{
	if (p)
		cudaFree(p);
}

extern "C" const char *wide_dev_upload(float *p, const float *host, long long n)
{
	/* from pageable memory: staged before this returns, so the host
	 * buffer may be reused */
	cudaError_t e = cudaMemcpyAsync(p, host, (size_t)n * sizeof(float), cudaMemcpyHostToDevice,
					stream);

	return e == cudaSuccess ? 0 : cudaGetErrorString(e);
}

extern "C" const char *wide_dev_layer_forward(float *next, float *a, const float *h,
					      const float *Wt, const float *bias, int B, int W,
					      float alpha)
{
	long long n = (long long)B * W;

	/* a = h Wt^T + bias: A = h (am W, ak 1), B(k, o) = Wt[o][k] (bk 1, bn W) */
	product(a, h, Wt, bias, B, W, W, W, 1, 1, W, 0);
	relu_residual<<<blocks(n), THREADS, 0, stream>>>(next, a, h, n, alpha);
	return status();
}

extern "C" const char *wide_dev_loss(double *loss, float *g, const float *out, const float *y,
				     long long n, float scale)
{
	cudaMemsetAsync(loss, 0, sizeof(double), stream);
	mse<<<blocks(n), THREADS, 0, stream>>>(loss, g, out, y, n, scale);
	return status();
}

extern "C" const char *wide_dev_layer_backward(float *g, float *dz, float *dWt, float *dbias,
					       const float *a, const float *h, const float *Wt,
					       int B, int W, float alpha)
{
	long long n = (long long)B * W;

	relu_grad<<<blocks(n), THREADS, 0, stream>>>(dz, g, a, n, alpha);
	/* dWt (o, k) += sum_b dz[b][o] h[b][k]: A(o, b) = dz (am 1, ak W),
	 * B(b, k) = h (bk W, bn 1) */
	product(dWt, dz, h, 0, W, W, B, 1, W, W, 1, 1);
	column_sum<<<blocks(W), THREADS, 0, stream>>>(dbias, dz, B, W);
	/* g (b, k) += sum_o dz[b][o] Wt[o][k]: A = dz (am W, ak 1), B = Wt
	 * (bk W, bn 1); g passes on to h_l through the residual unchanged */
	product(g, dz, Wt, 0, B, W, W, W, 1, W, 1, 1);
	return status();
}

extern "C" const char *wide_dev_read(double *out, const double *p)
{
	cudaError_t e = cudaMemcpyAsync(out, p, sizeof(double), cudaMemcpyDeviceToHost, stream);

	if (e == cudaSuccess)
		e = cudaStreamSynchronize(stream);
	return e == cudaSuccess ? 0 : cudaGetErrorString(e);
}
