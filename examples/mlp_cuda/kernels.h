/*
 * kernels.h - the CUDA MLP's device side (kernels.cu), called from its
 * host side (main.c) in C.  Every array is device memory of f32 (labels:
 * int), the layout of examples/common/mlp.h: W (N, K) row-major, a batch
 * (B, features).  Each call queues its kernels on the default stream and
 * returns 0, or the CUDA error's text.
 */
#ifndef MLP_CUDA_KERNELS_H
#define MLP_CUDA_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

struct mlp_dev {
	int I, H, O, cap;
	float *x, *h, *p, *dh; /* (cap, I), (cap, H), (cap, O), (cap, H) */
	int *y;                /* (cap) */
	float *loss;           /* (cap) per-sample loss */
	int *correct;          /* (cap) 1 where the prediction is right */
};

/* Makes the device its ordinal, and room for cap samples in d. */
const char *mlp_dev_open(int ordinal, struct mlp_dev *d);
void mlp_dev_close(struct mlp_dev *d);
/* Copies B samples (host x (B, I), y (B)) in. */
const char *mlp_dev_batch(struct mlp_dev *d, const float *x, const int *y, int B);
/* h = relu(x W1^T + b1); p = softmax(h W2^T + b2); per-sample loss and
 * correctness; copies their sums out. */
const char *mlp_dev_forward(struct mlp_dev *d, const float *w1, const float *b1,
			    const float *w2, const float *b2, int B, double *loss,
			    long long *correct);
/* Gradients of (sum of losses) * dloss, written (not added) to g*. */
const char *mlp_dev_backward(struct mlp_dev *d, const float *w2, float *gw1, float *gb1,
			     float *gw2, float *gb2, int B, float dloss);
/* n floats at p set to 0. */
const char *mlp_dev_zero(float *p, long long n);
/* Waits for the device. */
const char *mlp_dev_sync(void);

#ifdef __cplusplus
}
#endif

#endif
