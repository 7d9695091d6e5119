/*
 * optim_grad.h - what the optim_* test models share with the test that
 * checks their parameters against the optimizers' formulas
 * (tests/integration/test_optim_groups.c): two parameters, "w" (a 3 x 4
 * matrix, first values 1) and "b" (a bias of 3, first values 0.5), and
 * the gradient each element gets at optimizer step s: k counts the
 * elements of w, then of b.  It changes sign and size from step to step,
 * so that Adam's betas and eps change the result.
 */
#ifndef OPTIM_GRAD_H
#define OPTIM_GRAD_H

#include <stdint.h>
#include <stdio.h>

enum { OPTIM_ROWS = 3, OPTIM_COLS = 4, OPTIM_W = OPTIM_ROWS * OPTIM_COLS, OPTIM_N = OPTIM_W + OPTIM_ROWS };
#define OPTIM_W0 1.0
#define OPTIM_B0 0.5

static inline double optim_grad(int64_t s, int64_t k)
{
	double sign = (s + k) % 2 ? -1.0 : 1.0;

	return sign * 0.1 * (double)(k % 7 + 1) * (1.0 + 0.5 * (double)((s + 2 * k) % 3));
}

/* What rank 0 prints at the end: every element, w then b. */
static inline void optim_print(const float *w, const float *b)
{
	for (int k = 0; k < OPTIM_W; k++)
		printf("optim_param w %d %.9g\n", k, (double)w[k]);
	for (int k = 0; k < OPTIM_ROWS; k++)
		printf("optim_param b %d %.9g\n", k, (double)b[k]);
	fflush(stdout);
}

#endif
