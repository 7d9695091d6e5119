/*
 * gpt.c - a Trainer-mode model: a small GPT-2-style decoder (token and
 * position embeddings, pre-layernorm blocks of causal self-attention and
 * a GELU MLP, a head tied to the token embedding) trained on the bytes
 * of a text, one character a token.  The network, forward and backward,
 * is examples/gpt/model.h (llm.c's kernels and layout); this file is the
 * glue to ltrun, the data and the sampling.
 *
 * The text: examples/data/devil.txt.gz, Ambrose Bierce's "The Devil's
 * Dictionary" (1911), in the public domain, as Debian's package
 * dict-devil (1.0-13.1) ships it (/usr/share/dictd/devil.dict.dz, a gzip
 * file) without its first 7 lines, dictfmt's headwords.  The vocabulary
 * is the text's distinct bytes (84); its last --val-fraction is the
 * validation split; a sample is ctx + 1 bytes at a multiple of ctx.
 *
 *   make          # builds build/examples/gpt/gpt.so, unpacks the text
 *   ltrun --devices 2 --strategy ddp --precision bf16-mixed --optimizer adamw \
 *       --lr 3e-3 --max-steps 2000 build/examples/gpt/gpt.so -- --sample 400
 *   ltrun ... gpt.so -- [--data PATH] [--layers N] [--dim N] [--heads N]
 *       [--ctx N] [--val-fraction F] [--eval N] [--sample N] [--prompt TEXT]
 *       [--temperature X] [--sample-seed N] [--embed-lr-scale X] [--dump PATH]
 *
 *   --data PATH          the text; default ../data/devil.txt beside this
 *                        .so's directory (build/examples/data/devil.txt)
 *   --layers N           blocks (default 2, at most 64)
 *   --dim N              width (64), a multiple of --heads
 *   --heads N            attention heads (4)
 *   --ctx N              tokens a sample holds, the context (64)
 *   --val-fraction F     share of the text held out (0.1, its end)
 *   --eval N             rank 0 prints "eval_loss start X" before the
 *                        first step and "eval_loss end X" at the end: the
 *                        mean loss on the first N validation samples
 *   --sample N           at the end rank 0 prints N generated characters
 *                        after --prompt (default "\n"), at --temperature
 *                        (0.8), from --sample-seed (1)
 *   --embed-lr-scale X   wte's and wpe's learning rate is --lr's times X
 *   --dump PATH          at the end rank 0 writes every parameter, as
 *                        examples/common/params.h does
 *
 * The parameters: wte, wpe, each block's 12 tensors ("blocks.0.ln1w" ..
 * "blocks.0.fcprojb", then block 1's ...), lnfw, lnfb, in that order
 * (model.h's gpt_tensor()), so that a block's weights are contiguous.
 *
 * What of ltrun it uses: lt_data_f32()/lt_grad_f32(), so that its f32
 * kernels run unchanged under every --precision; lt_grad_ready() for each
 * tensor as backward completes its gradient, the tied wte marked after
 * the embedding's backward, its last gradient; lt_param_weight_decay(...,
 * 0) for biases and layernorms (GPT-2's groups); lt_micro_batch_size() to
 * size the activations once, lt_samples_per_rank() and lt_total_steps()
 * for its first line; a buffer "vocab" (the byte of each token id), saved
 * in checkpoints, and an on_save/on_load blob naming the text, so that
 * --resume on another text is refused; `ltrun --init-weights` starts it
 * from given weights (README.md).  Validation logs val_bpc, bits per
 * character.
 *
 * Units: one per block, "block0" .. "block<layers-1>", begun and ended
 * around that block's forward and around its backward (model.h's hooks);
 * wte, wpe and lnf, used at both ends, are in no unit.  Under fsdp and
 * deepspeed_stage_3 a rank so gathers one block at a time; elsewhere the
 * brackets cost nothing.  Around what rank 0 alone computes (--eval,
 * --sample, --dump) every rank begins every block's unit, then ends them:
 * gathering is collective.
 */
#define _GNU_SOURCE /* dladdr() */
#include <ltrun.h>

#include "../common/params.h"
#include "model.h"

#include <dlfcn.h>
#include <math.h>

#define WHO "gpt"

struct text {
	unsigned char *bytes;
	int64_t n, n_train, n_val; /* the split: [0, n_train), [n_train, n) */
	int vocab;
	unsigned char itos[256]; /* token id -> byte */
	int stoi[256];           /* byte -> token id */
	int *tok;                /* (n) token ids */
};

/* What on_save records of the text: --resume checks it is the same. */
struct text_id {
	uint64_t bytes, hash;
};

struct options {
	const char *data, *dump, *prompt;
	struct gpt_config cfg;
	double val_fraction, temperature, embed_lr_scale;
	int64_t eval, sample, sample_seed;
};

struct gpt {
	struct options opt;
	struct text text;
	struct text_id id;
	lt_tensor *param[GPT_MAX_TENSORS], *vocab_buf; /* as gpt_tensor() indexes */
	int nparams;            /* gpt_num_tensors() */
	lt_unit *block[GPT_MAX_LAYERS]; /* "block<l>": blocks.<l>.ln1w..fcprojb */
	struct gpt_weights m;   /* lt_data_f32() and lt_grad_f32() of each */
	struct gpt_hooks hooks; /* the units' brackets, lt_grad_ready() */
	struct gpt_acts acts, grads;
	int batch;              /* lt_micro_batch_size() */
	int *inputs, *targets;  /* (batch, ctx) */
	int started;
	lt_ctx *ctx;
};

/* ------------------------------------------------------------ options and data */

static const char *default_data(char *buf, size_t size)
{
	Dl_info info;
	const char *slash = NULL;

	if (dladdr((void *)default_data, &info) && info.dli_fname)
		slash = strrchr(info.dli_fname, '/');
	if (!slash)
		snprintf(buf, size, "../data/devil.txt");
	else
		snprintf(buf, size, "%.*s/../data/devil.txt", (int)(slash - info.dli_fname),
			 info.dli_fname);
	return buf;
}

static void parse(lt_ctx *ctx, int argc, char **argv, struct options *o)
{
	*o = (struct options){ .prompt = "\n",
			       .cfg = { .ctx = 64, .layers = 2, .dim = 64, .heads = 4 },
			       .val_fraction = 0.1, .temperature = 0.8, .embed_lr_scale = 1,
			       .sample_seed = 1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--data"))
			o->data = opt_value(ctx, WHO, argc, argv, &i);
		else if (!strcmp(a, "--dump"))
			o->dump = opt_value(ctx, WHO, argc, argv, &i);
		else if (!strcmp(a, "--prompt"))
			o->prompt = opt_value(ctx, WHO, argc, argv, &i);
		else if (!strcmp(a, "--layers"))
			o->cfg.layers = (int)opt_count(ctx, WHO, a, opt_value(ctx, WHO, argc, argv, &i), 1,
						       GPT_MAX_LAYERS);
		else if (!strcmp(a, "--dim"))
			o->cfg.dim = (int)opt_count(ctx, WHO, a, opt_value(ctx, WHO, argc, argv, &i), 1, 4096);
		else if (!strcmp(a, "--heads"))
			o->cfg.heads = (int)opt_count(ctx, WHO, a, opt_value(ctx, WHO, argc, argv, &i), 1, 256);
		else if (!strcmp(a, "--ctx"))
			o->cfg.ctx = (int)opt_count(ctx, WHO, a, opt_value(ctx, WHO, argc, argv, &i), 2, 4096);
		else if (!strcmp(a, "--val-fraction"))
			o->val_fraction = opt_real(ctx, WHO, a, opt_value(ctx, WHO, argc, argv, &i), 0.001, 1);
		else if (!strcmp(a, "--temperature"))
			o->temperature = opt_real(ctx, WHO, a, opt_value(ctx, WHO, argc, argv, &i), 0.01, 100);
		else if (!strcmp(a, "--embed-lr-scale"))
			o->embed_lr_scale = opt_real(ctx, WHO, a, opt_value(ctx, WHO, argc, argv, &i), 0, 1e6);
		else if (!strcmp(a, "--eval"))
			o->eval = opt_count(ctx, WHO, a, opt_value(ctx, WHO, argc, argv, &i), 0, INT32_MAX);
		else if (!strcmp(a, "--sample"))
			o->sample = opt_count(ctx, WHO, a, opt_value(ctx, WHO, argc, argv, &i), 0, INT32_MAX);
		else if (!strcmp(a, "--sample-seed"))
			o->sample_seed = opt_count(ctx, WHO, a, opt_value(ctx, WHO, argc, argv, &i), 0, INT64_MAX);
		else
			lt_fatal(ctx, WHO ": unknown option '%s'; options: --data PATH --layers N "
				 "--dim N --heads N --ctx N --val-fraction F --eval N --sample N "
				 "--prompt TEXT --temperature X --sample-seed N --embed-lr-scale X "
				 "--dump PATH", a);
	}
	if (o->cfg.dim % o->cfg.heads)
		lt_fatal(ctx, WHO ": --dim %d is not a multiple of --heads %d", o->cfg.dim,
			 o->cfg.heads);
}

/* Reads the whole text, makes its vocabulary and splits it. */
static void load_text(lt_ctx *ctx, const struct options *o, struct text *x, struct text_id *id)
{
	char def[4096];
	const char *path = o->data ? o->data : default_data(def, sizeof(def));
	FILE *f = fopen(path, "rb");
	long size;
	int64_t need = 2 * ((int64_t)o->cfg.ctx + 1);

	if (!f)
		lt_fatal(ctx, WHO ": cannot open the text '%s': %s; hint: `make` unpacks "
			 "examples/data/devil.txt.gz there, or give -- --data PATH", path,
			 strerror(errno));
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		lt_fatal(ctx, WHO ": cannot size '%s': %s", path, strerror(errno));
	x->n = size;
	x->bytes = malloc((size_t)size + 1);
	x->tok = malloc(((size_t)size + 1) * sizeof(int));
	if (!x->bytes || !x->tok)
		lt_fatal(ctx, WHO ": out of memory for '%s' (%ld bytes)", path, size);
	if (fread(x->bytes, 1, (size_t)size, f) != (size_t)size)
		lt_fatal(ctx, WHO ": cannot read '%s'", path);
	fclose(f);
	x->n_val = (int64_t)(o->val_fraction * (double)x->n);
	x->n_train = x->n - x->n_val;
	if (x->n_train < need || x->n_val < need)
		lt_fatal(ctx, WHO ": '%s' has %lld bytes: too short for a train and a validation "
			 "sample of --ctx %d (each split needs %lld)", path, (long long)x->n,
			 o->cfg.ctx, (long long)need);
	int seen[256] = { 0 };
	id->hash = 0xcbf29ce484222325ull; /* FNV-1a */
	for (int64_t i = 0; i < x->n; i++) {
		seen[x->bytes[i]] = 1;
		id->hash = (id->hash ^ x->bytes[i]) * 0x100000001b3ull;
	}
	id->bytes = (uint64_t)x->n;
	for (int b = 0; b < 256; b++) {
		x->stoi[b] = seen[b] ? x->vocab : -1;
		if (seen[b])
			x->itos[x->vocab++] = (unsigned char)b;
	}
	for (int64_t i = 0; i < x->n; i++)
		x->tok[i] = x->stoi[x->bytes[i]];
}

/* Samples in a split: ctx + 1 tokens each, at multiples of ctx. */
static int64_t samples(const struct gpt *s, enum lt_split split)
{
	int64_t n = split == LT_TRAIN ? s->text.n_train : s->text.n_val;
	return (n - 1) / s->opt.cfg.ctx;
}

/* Inputs and targets of samples index[0..size) of split. */
static void gather(struct gpt *s, enum lt_split split, const int64_t *index, int size)
{
	const int T = s->opt.cfg.ctx;
	const int *tok = s->text.tok + (split == LT_TRAIN ? 0 : s->text.n_train);

	for (int k = 0; k < size; k++)
		for (int t = 0; t < T; t++) {
			s->inputs[k * T + t] = tok[index[k] * T + t];
			s->targets[k * T + t] = tok[index[k] * T + t + 1];
		}
}

/* ------------------------------------------------------------ parameters */

/* Tensor i's initial values: GPT-2's init, N(0, 0.02), the projections
 * into the residual stream scaled by 1/sqrt(2 layers); layernorms 1 and
 * 0, biases 0. */
static struct lt_init init_of(const struct gpt_config *c, enum gpt_param p)
{
	if (p == GPT_ATTPROJW || p == GPT_FCPROJW)
		return LT_NORMAL(0, 0.02 / sqrt(2.0 * c->layers));
	if (p == GPT_LN1W || p == GPT_LN2W || p == GPT_LNFW)
		return LT_CONSTANT(1);
	if (gpt_param_is_vector(p))
		return LT_ZEROS;
	return LT_NORMAL(0, 0.02);
}

/* Every tensor in gpt_tensor()'s order (wte, wpe, block 0's 12, block
 * 1's ..., lnfw, lnfb), a unit per block, the vocabulary buffer. */
static void register_params(lt_ctx *ctx, struct gpt *s)
{
	const struct gpt_config *c = &s->opt.cfg;

	s->nparams = gpt_num_tensors(c);
	for (int i = 0; i < s->nparams; i++) {
		struct lt_shape shape = { 0 };
		char name[64];
		int l;
		enum gpt_param p = gpt_tensor_kind(c, i, &l);

		shape.ndim = gpt_param_shape(c, p, shape.dim);
		gpt_tensor_name(c, i, name, sizeof(name));
		s->param[i] = lt_param(ctx, name, shape, init_of(c, p));
		if (gpt_param_is_vector(p))
			lt_param_weight_decay(ctx, s->param[i], 0);
		if ((p == GPT_WTE || p == GPT_WPE) && s->opt.embed_lr_scale != 1)
			lt_param_lr_scale(ctx, s->param[i], s->opt.embed_lr_scale);
		s->m.w[i] = lt_data_f32(ctx, s->param[i]);
		s->m.g[i] = lt_grad_f32(ctx, s->param[i]);
	}
	for (int l = 0; l < c->layers; l++) {
		char name[32];
		snprintf(name, sizeof(name), "block%d", l);
		s->block[l] = lt_unit_new(ctx, name, s->param[gpt_tensor(c, GPT_LN1W, l)],
					  s->param[gpt_tensor(c, GPT_FCPROJB, l)]);
	}
	/* the tokenizer travels with the checkpoints */
	s->vocab_buf = lt_buffer(ctx, "vocab", LT_SHAPE(c->vocab), LT_I32, LT_ZEROS,
				 LT_BUFFER_BROADCAST);
	for (int i = 0; i < c->vocab; i++)
		((int32_t *)lt_data(s->vocab_buf))[i] = s->text.itos[i];
}

/* After a --resume, the checkpoint's vocabulary must be this text's. */
static void check_vocab(lt_ctx *ctx, const struct gpt *s)
{
	const int32_t *v = lt_data(s->vocab_buf);
	for (int i = 0; i < s->opt.cfg.vocab; i++)
		if (v[i] != s->text.itos[i])
			lt_fatal(ctx, WHO ": the checkpoint's token %d is byte %d, --data's is byte "
				 "%d: it was trained on another vocabulary", i, (int)v[i],
				 (int)s->text.itos[i]);
}

/* The hooks of model.h: block l's unit begun and ended in each pass,
 * tensor i's gradient marked ready. */
static void on_block(void *arg, int l, int backward, int begin)
{
	struct gpt *s = arg;

	if (begin)
		lt_unit_begin(s->ctx, s->block[l], backward ? LT_BACKWARD : LT_FORWARD);
	else
		lt_unit_end(s->ctx, s->block[l], backward ? LT_BACKWARD : LT_FORWARD);
}

static void on_ready(void *arg, int i)
{
	struct gpt *s = arg;
	lt_grad_ready(s->ctx, s->param[i]);
}

/* Every block's unit begun (or ended) for a forward, on every rank:
 * around what rank 0 alone computes (gathering is collective). */
static void all_blocks(struct gpt *s, int begin)
{
	for (int l = 0; l < s->opt.cfg.layers; l++)
		on_block(s, l, 0, begin);
}

/* ------------------------------------------------------------ evaluation and sampling */

/* The mean loss on the first n validation samples. */
static double eval_loss(struct gpt *s, int64_t n)
{
	int64_t index[s->batch];
	double total = 0;

	n = n < samples(s, LT_VAL) ? n : samples(s, LT_VAL);
	for (int64_t i = 0; i < n; i += s->batch) {
		int b = n - i < s->batch ? (int)(n - i) : s->batch;
		for (int k = 0; k < b; k++)
			index[k] = i + k;
		gather(s, LT_VAL, index, b);
		total += gpt_forward(&s->opt.cfg, &s->m, &s->acts, s->inputs, s->targets, b,
				     NULL) * b;
	}
	return total / (double)n;
}

static void print_eval(lt_ctx *ctx, struct gpt *s, const char *when)
{
	if (s->opt.eval && lt_rank(ctx) == 0) {
		printf("eval_loss %s %.6f\n", when, eval_loss(s, s->opt.eval));
		fflush(stdout);
	}
}

/* A token drawn from softmax(logits / temperature), V of them. */
static int pick(const float *logits, int V, double temperature, uint64_t *rng)
{
	float maxval = logits[0];
	double sum = 0, r, acc = 0;

	for (int i = 1; i < V; i++)
		maxval = fmaxf(maxval, logits[i]);
	for (int i = 0; i < V; i++)
		sum += exp((logits[i] - maxval) / temperature);
	r = (double)(mix64((*rng)++) >> 11) * 0x1p-53 * sum;
	for (int i = 0; i < V; i++)
		if ((acc += exp((logits[i] - maxval) / temperature)) > r)
			return i;
	return V - 1;
}

/* Rank 0 prints --prompt and --sample generated characters, each drawn
 * from the logits at the last of the (up to ctx) tokens before it. */
static void sample(lt_ctx *ctx, struct gpt *s)
{
	const struct gpt_config *c = &s->opt.cfg;
	const char *prompt = s->opt.prompt;
	size_t np = strlen(prompt), n = 0, cap = np + (size_t)s->opt.sample;
	int *seq = malloc((cap + 1) * sizeof(int));
	uint64_t rng = (uint64_t)s->opt.sample_seed;

	if (!seq)
		lt_fatal(ctx, WHO ": out of memory for --sample");
	if (!np)
		lt_fatal(ctx, WHO ": --prompt is empty; hint: --prompt '\\n' starts a new line");
	for (; n < np; n++)
		if ((seq[n] = s->text.stoi[(unsigned char)prompt[n]]) < 0)
			lt_fatal(ctx, WHO ": --prompt's character '%c' is not in the text", prompt[n]);
	printf("%s", prompt);
	for (; n < cap; n++) {
		size_t start = n > (size_t)c->ctx ? n - (size_t)c->ctx : 0, len = n - start;
		for (int t = 0; t < c->ctx; t++) /* causal: what follows len is not seen */
			s->inputs[t] = (size_t)t < len ? seq[start + (size_t)t] : 0;
		gpt_forward(c, &s->m, &s->acts, s->inputs, NULL, 1, NULL);
		seq[n] = pick(s->acts.a[A_LOGITS] + (len - 1) * (size_t)c->vocab, c->vocab,
			      s->opt.temperature, &rng);
		putchar(s->text.itos[seq[n]]);
	}
	putchar('\n');
	fflush(stdout);
	free(seq);
}

/* ------------------------------------------------------------ the module */

static int gpt_init(lt_ctx *ctx, int argc, char **argv, void **self)
{
	struct gpt *s = calloc(1, sizeof(*s));
	struct gpt_config *c;

	if (!s)
		lt_fatal(ctx, WHO ": out of memory");
	if (lt_device(ctx).kind != LT_DEVICE_CPU)
		lt_fatal(ctx, WHO ": runs on the cpu only; hint: run with --accelerator cpu");
	s->ctx = ctx;
	parse(ctx, argc, argv, &s->opt);
	load_text(ctx, &s->opt, &s->text, &s->id);
	c = &s->opt.cfg;
	c->vocab = s->text.vocab;
	register_params(ctx, s);
	s->hooks = (struct gpt_hooks){ .block = on_block, .ready = on_ready, .arg = s };
	s->batch = lt_micro_batch_size(ctx);
	s->inputs = malloc((size_t)s->batch * (size_t)c->ctx * sizeof(int));
	s->targets = malloc((size_t)s->batch * (size_t)c->ctx * sizeof(int));
	if (!s->inputs || !s->targets || gpt_acts_alloc(&s->acts, c, s->batch) ||
	    gpt_acts_alloc(&s->grads, c, s->batch))
		lt_fatal(ctx, WHO ": out of memory for the activations of --batch-size %d",
			 s->batch);
	*self = s; /* num_samples() needs it from here on */
	if (lt_rank(ctx) == 0) {
		int64_t params = 0, steps = lt_total_steps(ctx);
		for (int i = 0; i < s->nparams; i++)
			params += lt_numel(s->param[i]);
		printf("gpt: %d layers, dim %d, %d heads, ctx %d, vocab %d: %lld parameters; "
		       "%lld training samples (%lld a rank), %lld validation; ",
		       c->layers, c->dim, c->heads, c->ctx, c->vocab, (long long)params,
		       (long long)samples(s, LT_TRAIN),
		       (long long)lt_samples_per_rank(ctx, LT_TRAIN), (long long)samples(s, LT_VAL));
		if (steps < 0)
			printf("no step limit\n");
		else
			printf("%lld optimizer steps\n", (long long)steps);
		fflush(stdout);
	}
	return 0;
}

static int64_t gpt_num_samples(lt_ctx *ctx, void *self, enum lt_split split)
{
	(void)ctx;
	return samples(self, split);
}

static int gpt_train_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct gpt *s = self;
	const struct gpt_config *c = &s->opt.cfg;

	if (!s->started) { /* the weights are final now: given, resumed or drawn */
		s->started = 1;
		check_vocab(ctx, s);
		if (s->opt.eval) {
			all_blocks(s, 1);
			print_eval(ctx, s, "start");
			all_blocks(s, 0);
		}
	}
	gather(s, LT_TRAIN, batch->index, batch->size);
	*loss = gpt_forward(c, &s->m, &s->acts, s->inputs, s->targets, batch->size, &s->hooks);
	gpt_backward(c, &s->m, &s->acts, &s->grads, s->inputs, s->targets, batch->size,
		     lt_loss_scale(ctx), &s->hooks);
	return 0;
}

static int gpt_val_step(lt_ctx *ctx, void *self, const struct lt_batch *batch, double *loss)
{
	struct gpt *s = self;

	gather(s, LT_VAL, batch->index, batch->size);
	*loss = gpt_forward(&s->opt.cfg, &s->m, &s->acts, s->inputs, s->targets, batch->size,
			    &s->hooks);
	lt_log(ctx, "val_bpc", *loss / M_LN2);
	return 0;
}

static int gpt_on_save(lt_ctx *ctx, void *self, lt_state *state)
{
	(void)ctx;
	struct gpt *s = self;
	lt_state_put(state, "gpt.text", &s->id, sizeof(s->id));
	return 0;
}

static int gpt_on_load(lt_ctx *ctx, void *self, lt_state *state)
{
	struct gpt *s = self;
	size_t size;
	const void *blob = lt_state_get(state, "gpt.text", &size);
	struct text_id id = { 0 };

	if (blob && size == sizeof(id))
		memcpy(&id, blob, sizeof(id)); /* the bytes may be unaligned */
	if (blob && (id.bytes != s->id.bytes || id.hash != s->id.hash))
		lt_fatal(ctx, WHO ": --resume: the checkpoint was trained on another text than "
			 "--data's (%llu bytes); hint: to start from its weights on this text, "
			 "`ltrun ckpt export` it and pass --init-weights",
			 (unsigned long long)s->id.bytes);
	return 0;
}

static void gpt_fini(lt_ctx *ctx, void *self)
{
	struct gpt *s = self;

	int use = s->opt.eval || s->opt.sample || s->opt.dump;

	if (use)
		all_blocks(s, 1);
	print_eval(ctx, s, "end");
	if (s->opt.sample && lt_rank(ctx) == 0)
		sample(ctx, s);
	if (s->opt.dump)
		dump_params(ctx, WHO, s->opt.dump, s->param, s->nparams);
	if (use)
		all_blocks(s, 0);
	gpt_acts_free(&s->acts);
	gpt_acts_free(&s->grads);
	free(s->inputs);
	free(s->targets);
	free(s->text.bytes);
	free(s->text.tok);
	free(s);
}

static const struct lt_module gpt_module = {
	.size = sizeof(struct lt_module),
	.name = WHO,
	.init = gpt_init,
	.num_samples = gpt_num_samples,
	.train_step = gpt_train_step,
	.val_step = gpt_val_step,
	.on_save = gpt_on_save,
	.on_load = gpt_on_load,
	.fini = gpt_fini,
};

__attribute__((visibility("default"))) const struct lt_module *lt_module_v1(void)
{
	return &gpt_module;
}
