/*
 * mlp.h - the digits MLP shared by the Trainer-mode (examples/mlp/mlp.c)
 * and Fabric-mode (examples/fabric/fabric.c) examples: its options, its
 * parameters, and forward and backward side by side.
 *
 * Header-only (static inline); nothing to build on its own.
 *
 *	x (B, I) -> fc1 -> relu -> h (B, H) -> fc2 -> logits (B, O)
 *	         -> softmax -> p (B, O) -> cross-entropy with y (B)
 *
 * B = samples in the batch, I = 64 pixels, H = --hidden, O = 10 classes.
 * Weights are (out, in), as in torch.nn.Linear, so Kaiming's fan_in is
 * the last dimension, as lt_param() expects.
 *
 * Every compute dtype, on the cpu: the model computes in f64 under LT_F64
 * and in f32 otherwise (examples/common/mlp_real.h, included here once for
 * each), reading f16 and bf16 parameters through f32 copies made once per
 * forward and adding its f32 gradients to the half ones once per batch
 * (param_view, examples/common/params.h).
 */
#ifndef LTRUN_EXAMPLES_MLP_H
#define LTRUN_EXAMPLES_MLP_H

#include "digits.h"
#include "params.h"

#include <math.h>

#define MLP_DEFAULT_HIDDEN 128

struct mlp_options {
	const char *data;     /* --data: the CSV; default: digits_default_path() */
	int hidden;           /* --hidden: H */
	double val_fraction;  /* --val-fraction: share of samples in LT_VAL */
	const char *dump;     /* --dump: where fini writes the parameters, or NULL */
	int epochs;           /* --epochs (Fabric mode only) */
	int batch_size;       /* --batch-size, per rank (Fabric mode only) */
	char default_data[PATH_MAX];
};

/* Removes flag (an option without a value) from argv; whether it was
 * there.  For a model's own flags, before mlp_parse. */
static inline int mlp_take_flag(int *argc, char **argv, const char *flag)
{
	int found = 0, n = 1;

	for (int i = 1; i < *argc; i++) {
		if (!strcmp(argv[i], flag))
			found = 1;
		else
			argv[n++] = argv[i];
	}
	*argc = n;
	return found;
}

/* Fabric mode's checkpoints of the MLP: with ltrun's --resume, loads the
 * checkpoint into state (lt_resume: the parameters and optimizer state
 * too) and returns the epoch to go on from, the blob "next_epoch" that
 * mlp_save_epoch wrote (0 without --resume). */
static inline int mlp_resume_epoch(lt_ctx *ctx, lt_state *state)
{
	int first = 0;
	size_t size = 0;
	const void *next = lt_resume(ctx, state) ? lt_state_get(state, "next_epoch", &size) : NULL;

	if (next && size == sizeof(first))
		memcpy(&first, next, sizeof(first));
	return first;
}

/* Saves a checkpoint (lt_save) after `epoch`: the next run goes on from
 * epoch + 1. */
static inline void mlp_save_epoch(lt_ctx *ctx, lt_state *state, int epoch)
{
	int following = epoch + 1;

	lt_state_put(state, "next_epoch", &following, sizeof(following));
	lt_save(ctx, state);
}

/* Parses the model's arguments (argv[0] is the model's path).  loop_options
 * also accepts --epochs and --batch-size, for a model that owns its loop.
 * A bad option ends the rank, naming it. */
static inline void mlp_parse(lt_ctx *ctx, const char *who, int argc, char **argv,
			     int loop_options, struct mlp_options *o)
{
	o->data = digits_default_path(o->default_data, sizeof(o->default_data));
	o->hidden = MLP_DEFAULT_HIDDEN;
	o->val_fraction = 0.2;
	o->dump = NULL;
	o->epochs = 20;
	o->batch_size = 32;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--data"))
			o->data = opt_value(ctx, who, argc, argv, &i);
		else if (!strcmp(a, "--hidden"))
			o->hidden = (int)opt_count(ctx, who, a,
						   opt_value(ctx, who, argc, argv, &i),
						   1, 1 << 20);
		else if (!strcmp(a, "--val-fraction"))
			o->val_fraction = opt_real(ctx, who, a,
						   opt_value(ctx, who, argc, argv, &i),
						   0, 1);
		else if (!strcmp(a, "--dump"))
			o->dump = opt_value(ctx, who, argc, argv, &i);
		else if (loop_options && !strcmp(a, "--epochs"))
			o->epochs = (int)opt_count(ctx, who, a,
						   opt_value(ctx, who, argc, argv, &i),
						   0, INT_MAX);
		else if (loop_options && !strcmp(a, "--batch-size"))
			o->batch_size = (int)opt_count(ctx, who, a,
						       opt_value(ctx, who, argc, argv, &i),
						       1, 1 << 20);
		else
			lt_fatal(ctx, "%s: unknown option '%s'; known: --data PATH, "
				 "--hidden N, --val-fraction F, --dump PATH%s", who, a,
				 loop_options ? ", --epochs N, --batch-size N" : "");
	}
}

struct mlp {
	int I, H, O;
	enum lt_dtype dt;          /* lt_dtype(ctx): what the parameters hold */
	enum lt_dtype ct;          /* what the model computes in: LT_F32 or LT_F64 */
	lt_unit *fc1, *fc2;        /* units: each layer's weight and bias */
	struct param_view fc1_w;   /* (H, I) */
	struct param_view fc1_b;   /* (H) */
	struct param_view fc2_w;   /* (O, H) */
	struct param_view fc2_b;   /* (O) */
	void *scratch;             /* the views' copies, when dt != ct */
	/* Activations of the last forward, room for cap samples, elements of ct. */
	int cap;
	void *x;    /* (cap, I) inputs */
	int *y;     /* (cap) labels */
	void *h;    /* (cap, H) relu(fc1(x)) */
	void *p;    /* (cap, O) softmax(fc2(h)); backward turns it into dlogits */
	void *dh;   /* (cap, H) scratch of backward */
	struct digits data;
};

/* Loads and splits the data, registers the four parameters (Kaiming
 * weights, zero biases) and makes each layer a unit (forward and
 * backward bracket it).  Ends the rank on bad data. */
static inline void mlp_setup(lt_ctx *ctx, const char *who,
			     const struct mlp_options *o, struct mlp *m)
{
	*m = (struct mlp){ .I = DIGITS_PIXELS, .H = o->hidden, .O = DIGITS_CLASSES };
	require_cpu(ctx, who);
	m->dt = lt_dtype(ctx);
	m->ct = compute_dtype(m->dt);
	digits_load(ctx, who, o->data, &m->data);
	digits_split(&m->data, o->val_fraction);
	lt_tensor *t[4] = {
		lt_param(ctx, "fc1.weight", LT_SHAPE(m->H, m->I), LT_KAIMING_UNIFORM),
		lt_param(ctx, "fc1.bias", LT_SHAPE(m->H), LT_ZEROS),
		lt_param(ctx, "fc2.weight", LT_SHAPE(m->O, m->H), LT_KAIMING_UNIFORM),
		lt_param(ctx, "fc2.bias", LT_SHAPE(m->O), LT_ZEROS),
	};
	struct param_view *v[4] = { &m->fc1_w, &m->fc1_b, &m->fc2_w, &m->fc2_b };
	m->fc1 = lt_unit_new(ctx, "fc1", t[0], t[1]);
	m->fc2 = lt_unit_new(ctx, "fc2", t[2], t[3]);
	size_t total = 0, at = 0, es = lt_dtype_size(m->ct);
	for (int k = 0; k < 4; k++)
		total += (size_t)lt_numel(t[k]);
	if (m->dt != m->ct && !(m->scratch = malloc(2 * total * es)))
		lt_fatal(ctx, "%s: out of memory", who);
	for (int k = 0; k < 4; k++) {
		char *s = m->scratch ? (char *)m->scratch + at * es : NULL;
		*v[k] = param_view(t[k], m->dt, m->ct, s, s ? s + total * es : NULL);
		at += (size_t)lt_numel(t[k]);
	}
}

static inline void mlp_free(struct mlp *m)
{
	free(m->x);
	free(m->y);
	free(m->h);
	free(m->p);
	free(m->dh);
	free(m->scratch);
	digits_free(&m->data);
}

/* Writes the parameters to o->dump on rank 0, if asked to. */
static inline void mlp_dump(lt_ctx *ctx, const char *who,
			    const struct mlp_options *o, struct mlp *m)
{
	lt_tensor *const t[] = { m->fc1_w.t, m->fc1_b.t, m->fc2_w.t, m->fc2_b.t };
	if (!o->dump)
		return;
	lt_unit_begin(ctx, m->fc1, LT_FORWARD); /* every rank: gathering is collective */
	lt_unit_begin(ctx, m->fc2, LT_FORWARD);
	dump_params(ctx, who, o->dump, t, 4);
	lt_unit_end(ctx, m->fc2, LT_FORWARD);
	lt_unit_end(ctx, m->fc1, LT_FORWARD);
}

/* Copies samples index[0..B) of split into m->x (converted to m->ct) and
 * m->y, growing the activations to B samples.  Out of memory ends the rank. */
static inline void mlp_gather(lt_ctx *ctx, struct mlp *m, enum lt_split split,
			      const int64_t *index, int B)
{
	const size_t es = lt_dtype_size(m->ct);
	if (B > m->cap) {
		m->cap = B;
		m->x = realloc(m->x, (size_t)B * m->I * es);
		m->y = realloc(m->y, (size_t)B * sizeof(int));
		m->h = realloc(m->h, (size_t)B * m->H * es);
		m->p = realloc(m->p, (size_t)B * m->O * es);
		m->dh = realloc(m->dh, (size_t)B * m->H * es);
		if (!m->x || !m->y || !m->h || !m->p || !m->dh)
			lt_fatal(ctx, "mlp: out of memory for a batch of %d", B);
	}
	for (int b = 0; b < B; b++) {
		convert((char *)m->x + (size_t)b * m->I * es, m->ct,
			digits_x(&m->data, split, index[b]), LT_F32, (size_t)m->I);
		m->y[b] = digits_y(&m->data, split, index[b]);
	}
}

/* mlp_forward_f32, mlp_backward_f32... and their _f64 twins. */
#define MLP_R float
#define MLP_FN(name) name##_f32
#define MLP_EXP expf
#include "mlp_real.h"
#define MLP_R double
#define MLP_FN(name) name##_f64
#define MLP_EXP exp
#include "mlp_real.h"

/* Forward of the B gathered samples.  Returns the summed cross-entropy
 * loss and adds the number of correct predictions to *correct. */
static inline double mlp_forward(lt_ctx *ctx, struct mlp *m, int B, int64_t *correct)
{
	return m->ct == LT_F64 ? mlp_forward_f64(ctx, m, B, correct)
			       : mlp_forward_f32(ctx, m, B, correct);
}

/* Backward of mlp_forward for the loss (sum of loss_b) * dloss: adds
 * every parameter's gradient to lt_grad() and marks each ready as soon as
 * it is complete, fc2 first.  dloss is lt_loss_scale(ctx) / B for the
 * gradient of the mean loss. */
static inline void mlp_backward(lt_ctx *ctx, struct mlp *m, int B, float dloss)
{
	if (m->ct == LT_F64)
		mlp_backward_f64(ctx, m, B, dloss);
	else
		mlp_backward_f32(ctx, m, B, dloss);
}

#endif /* LTRUN_EXAMPLES_MLP_H */
