/*
 * kernels.cu - the CUDA MLP's kernels (kernels.h): plain CUDA, one thread
 * an output element, for the digits network's small sizes (64-128-10,
 * batches of 32).  The arithmetic is examples/common/mlp_real.h's.
 */
#include "kernels.h"

#include <cuda_runtime.h>
#include <math.h>

#define THREADS 128

static unsigned blocks(long long n) { return (unsigned)((n + THREADS - 1) / THREADS); }

static const char *status(void)
{
	cudaError_t e = cudaGetLastError();

	return e == cudaSuccess ? 0 : cudaGetErrorString(e);
}

/* out (B, N) = in (B, K) W^T + bias; relu when asked. */
__global__ void linear_forward(float *out, const float *in, const float *W, const float *bias,
			       int B, int K, int N, int relu)
{
	long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
	if (i >= (long long)B * N)
		return;
	int b = (int)(i / N), n = (int)(i % N);
	const float *w = W + (long long)n * K, *x = in + (long long)b * K;
	float s = bias[n];
	for (int k = 0; k < K; k++)
		s += w[k] * x[k];
	out[i] = relu && s < 0 ? 0 : s;
}

/* One sample a thread: softmax of the logits in place, its loss and
 * whether the largest logit is the label. */
__global__ void softmax_loss(float *p, const int *y, float *loss, int *correct, int B, int O)
{
	int b = blockIdx.x * blockDim.x + threadIdx.x;
	if (b >= B)
		return;
	float *q = p + (long long)b * O;
	int best = 0;
	for (int k = 1; k < O; k++)
		best = q[k] > q[best] ? k : best;
	float max = q[best], sum = 0;
	for (int k = 0; k < O; k++)
		sum += q[k] = expf(q[k] - max);
	for (int k = 0; k < O; k++)
		q[k] /= sum;
	loss[b] = -logf(fmaxf(q[y[b]], 1e-30f));
	correct[b] = best == y[b];
}

/* dlogits = (p - onehot(y)) * dloss, in place. */
__global__ void dlogits(float *p, const int *y, int B, int O, float dloss)
{
	long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
	if (i >= (long long)B * O)
		return;
	int b = (int)(i / O), k = (int)(i % O);
	p[i] = (p[i] - (k == y[b] ? 1.f : 0.f)) * dloss;
}

/* dW (N, K) = dout^T in; dbias (N) = sum_b dout (thread k == 0). */
__global__ void weight_grad(float *dW, float *dbias, const float *dout, const float *in, int B,
			    int K, int N)
{
	long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
	if (i >= (long long)N * K)
		return;
	int n = (int)(i / K), k = (int)(i % K);
	float s = 0, sb = 0;
	for (int b = 0; b < B; b++) {
		float g = dout[(long long)b * N + n];
		s += g * in[(long long)b * K + k];
		sb += g;
	}
	dW[i] = s;
	if (k == 0)
		dbias[n] = sb;
}

/* din (B, K) = dout (B, N) W (N, K), zero where the forward's relu
 * output act was not positive. */
__global__ void input_grad_relu(float *din, const float *dout, const float *W, const float *act,
				int B, int K, int N)
{
	long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
	if (i >= (long long)B * K)
		return;
	int b = (int)(i / K), k = (int)(i % K);
	float s = 0;
	for (int n = 0; n < N; n++)
		s += dout[(long long)b * N + n] * W[(long long)n * K + k];
	din[i] = act[i] > 0 ? s : 0;
}

__global__ void zero(float *p, long long n)
{
	long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
	if (i < n)
		p[i] = 0;
}

extern "C" const char *mlp_dev_open(int ordinal, struct mlp_dev *d)
{
	size_t c = (size_t)d->cap;

	if (cudaSetDevice(ordinal) != cudaSuccess)
		return status();
	if (cudaMalloc(&d->x, c * d->I * sizeof(float)) != cudaSuccess ||
	    cudaMalloc(&d->h, c * d->H * sizeof(float)) != cudaSuccess ||
	    cudaMalloc(&d->p, c * d->O * sizeof(float)) != cudaSuccess ||
	    cudaMalloc(&d->dh, c * d->H * sizeof(float)) != cudaSuccess ||
	    cudaMalloc(&d->y, c * sizeof(int)) != cudaSuccess ||
	    cudaMalloc(&d->loss, c * sizeof(float)) != cudaSuccess ||
	    cudaMalloc(&d->correct, c * sizeof(int)) != cudaSuccess)
		return status();
	return 0;
}

extern "C" void mlp_dev_close(struct mlp_dev *d)
{
	cudaFree(d->x);
	cudaFree(d->h);
	cudaFree(d->p);
	cudaFree(d->dh);
	cudaFree(d->y);
	cudaFree(d->loss);
	cudaFree(d->correct);
}

extern "C" const char *mlp_dev_batch(struct mlp_dev *d, const float *x, const int *y, int B)
{
	if (cudaMemcpy(d->x, x, (size_t)B * d->I * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess ||
	    cudaMemcpy(d->y, y, (size_t)B * sizeof(int), cudaMemcpyHostToDevice) != cudaSuccess)
		return status();
	return 0;
}

extern "C" const char *mlp_dev_forward(struct mlp_dev *d, const float *w1, const float *b1,
				       const float *w2, const float *b2, int B, double *loss,
				       long long *correct)
{
	float l[1024];
	int c[1024];

	if (B > 1024)
		return "a batch of more than 1024 samples";
	linear_forward<<<blocks((long long)B * d->H), THREADS>>>(d->h, d->x, w1, b1, B, d->I, d->H, 1);
	linear_forward<<<blocks((long long)B * d->O), THREADS>>>(d->p, d->h, w2, b2, B, d->H, d->O, 0);
	softmax_loss<<<blocks(B), THREADS>>>(d->p, d->y, d->loss, d->correct, B, d->O);
	if (cudaMemcpy(l, d->loss, (size_t)B * sizeof(float), cudaMemcpyDeviceToHost) != cudaSuccess ||
	    cudaMemcpy(c, d->correct, (size_t)B * sizeof(int), cudaMemcpyDeviceToHost) != cudaSuccess)
		return status();
	for (int b = 0; b < B; b++) {
		*loss += l[b];
		*correct += c[b];
	}
	return status();
}

extern "C" const char *mlp_dev_backward(struct mlp_dev *d, const float *w2, float *gw1,
					float *gb1, float *gw2, float *gb2, int B, float dloss)
{
	dlogits<<<blocks((long long)B * d->O), THREADS>>>(d->p, d->y, B, d->O, dloss);
	weight_grad<<<blocks((long long)d->O * d->H), THREADS>>>(gw2, gb2, d->p, d->h, B, d->H, d->O);
	input_grad_relu<<<blocks((long long)B * d->H), THREADS>>>(d->dh, d->p, w2, d->h, B, d->H, d->O);
	weight_grad<<<blocks((long long)d->H * d->I), THREADS>>>(gw1, gb1, d->dh, d->x, B, d->I, d->H);
	return status();
}

extern "C" const char *mlp_dev_zero(float *p, long long n)
{
	zero<<<blocks(n), THREADS>>>(p, n);
	return status();
}

extern "C" const char *mlp_dev_sync(void)
{
	return cudaDeviceSynchronize() == cudaSuccess ? 0 : status();
}
