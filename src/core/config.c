/*
 * config.c - the option table and the three ways to set an option: the
 * command line (cmd/ltrun.c calls lt_config_set), LTRUN_* variables and a
 * JSON config file.  Every value is validated here, once, whatever its
 * source, and every message names the source it came from.
 */
#include "core/config.h"
#include "core/built.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/registry.h"
#include "core/signals.h"
#include "core/url.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_BYTES (1 << 20)
#define MAX_PLUGINS 64

#define OFF(field) offsetof(struct lt_config, field)

const struct lt_option lt_options[LT_OPT_COUNT] = {
	[LT_OPT_STRATEGY] = { .id = LT_OPT_STRATEGY, .name = "strategy", .env = "LTRUN_STRATEGY",
		.arg = "NAME", .type = LT_OPT_NAME, .kind = LT_KIND_STRATEGY, .auto_ok = true,
		.offset = OFF(strategy), .def = "auto",
		.doc = "how the model is distributed: auto (single_device for one rank, ddp otherwise) or a name from --list strategy" },
	[LT_OPT_ACCELERATOR] = { .id = LT_OPT_ACCELERATOR, .name = "accelerator", .env = "LTRUN_ACCELERATOR",
		.arg = "NAME", .type = LT_OPT_NAME, .kind = LT_KIND_ACCELERATOR, .auto_ok = true,
		.offset = OFF(accelerator), .def = "auto",
		.doc = "where tensors live: auto, or a name from --list accelerator" },
	[LT_OPT_DEVICES] = { .id = LT_OPT_DEVICES, .name = "devices", .env = "LTRUN_DEVICES",
		.arg = "N|auto", .type = LT_OPT_COUNT_AUTO, .min = 1, .max = 1 << 20,
		.offset = OFF(devices), .def = "auto",
		.doc = "ranks per node; auto: what the launcher started, else the accelerator's default (1 on cpu)" },
	[LT_OPT_NUM_NODES] = { .id = LT_OPT_NUM_NODES, .name = "num-nodes", .env = "LTRUN_NUM_NODES",
		.arg = "N|MIN:MAX|auto", .type = LT_OPT_COUNT_AUTO, .min = 1, .max = 1 << 20,
		.offset = OFF(num_nodes), .def = "auto",
		.doc = "nodes in the job; MIN:MAX: elastic, from MIN to MAX nodes, admitted at each rendezvous round (see --rdzv-last-call); auto: what the cluster says, else 1" },
	[LT_OPT_NODE_RANK] = { .id = LT_OPT_NODE_RANK, .name = "node-rank", .env = "LTRUN_NODE_RANK",
		.arg = "K", .type = LT_OPT_INT, .min = 0, .max = (1 << 20) - 1,
		.offset = OFF(node_rank), .def = "auto",
		.doc = "this node's index, 0 to nodes-1; default: what the cluster says, else 0" },
	[LT_OPT_MAIN_ADDR] = { .id = LT_OPT_MAIN_ADDR, .name = "main-addr", .env = "LTRUN_MAIN_ADDR",
		.arg = "HOST", .type = LT_OPT_HOST, .offset = OFF(main_addr),
		.doc = "address of node 0, where the rendezvous store runs; default: from the cluster, MASTER_ADDR or this host" },
	[LT_OPT_MAIN_PORT] = { .id = LT_OPT_MAIN_PORT, .name = "main-port", .env = "LTRUN_MAIN_PORT",
		.arg = "PORT", .type = LT_OPT_INT, .min = 1, .max = 65535, .offset = OFF(main_port),
		.doc = "port of the rendezvous store on node 0; default: MASTER_PORT, derived from the job id, or a free port" },
	[LT_OPT_PRECISION] = { .id = LT_OPT_PRECISION, .name = "precision", .env = "LTRUN_PRECISION",
		.arg = "NAME", .type = LT_OPT_NAME, .kind = LT_KIND_PRECISION,
		.offset = OFF(precision), .def = "32-true",
		.doc = "compute dtype, master weights and loss scaling: a name from --list precision" },
	[LT_OPT_CLUSTER] = { .id = LT_OPT_CLUSTER, .name = "cluster", .env = "LTRUN_CLUSTER",
		.arg = "NAME", .type = LT_OPT_NAME, .kind = LT_KIND_CLUSTER, .auto_ok = true,
		.offset = OFF(cluster), .def = "auto",
		.doc = "cluster environment: auto (detect) or a name from --list cluster" },
	[LT_OPT_COMM] = { .id = LT_OPT_COMM, .name = "comm", .env = "LTRUN_COMM",
		.arg = "NAME", .type = LT_OPT_NAME, .kind = LT_KIND_COMM,
		.offset = OFF(comm), .def = "auto",
		.doc = "communicator for collectives: a name from --list comm" },
	[LT_OPT_CKPT_IO] = { .id = LT_OPT_CKPT_IO, .name = "ckpt-io", .env = "LTRUN_CKPT_IO",
		.arg = "NAME", .type = LT_OPT_NAME, .kind = LT_KIND_CKPT_IO,
		.offset = OFF(ckpt_io), .def = "file",
		.doc = "how checkpoints are written and read: a name from --list ckpt-io" },
	[LT_OPT_PLUGIN] = { .id = LT_OPT_PLUGIN, .name = "plugin", .env = "LTRUN_PLUGIN",
		.arg = "PATH.so", .type = LT_OPT_LIST, .offset = OFF(plugins),
		.doc = "load a plugin shared object (repeatable; ':'-separated in LTRUN_PLUGIN)" },
	[LT_OPT_MAX_RESTARTS] = { .id = LT_OPT_MAX_RESTARTS, .name = "max-restarts", .env = "LTRUN_MAX_RESTARTS",
		.arg = "N", .type = LT_OPT_INT, .min = 0, .max = 10000,
		.offset = OFF(max_restarts), .def = "0",
		.doc = "restart every rank up to N times after a failure" },
	[LT_OPT_LOG_DIR] = { .id = LT_OPT_LOG_DIR, .name = "log-dir", .env = "LTRUN_LOG_DIR",
		.arg = "DIR", .type = LT_OPT_PATH, .offset = OFF(log_dir),
		.doc = "write each rank's output to DIR/rank-N.{out,err}" },
	[LT_OPT_TEE] = { .id = LT_OPT_TEE, .name = "tee", .env = "LTRUN_TEE",
		.type = LT_OPT_BOOL, .offset = OFF(tee), .def = "false",
		.doc = "with --log-dir, also print the ranks' output on the terminal" },
	[LT_OPT_CONFIG] = { .id = LT_OPT_CONFIG, .name = "config", .env = "LTRUN_CONFIG",
		.arg = "FILE.json", .type = LT_OPT_PATH, .offset = OFF(config_path),
		.doc = "read settings from a JSON object whose keys are these long option names" },
	[LT_OPT_DRY_RUN] = { .id = LT_OPT_DRY_RUN, .name = "dry-run", .env = "LTRUN_DRY_RUN",
		.type = LT_OPT_BOOL, .offset = OFF(dry_run), .def = "false",
		.doc = "print the resolved plan and exit without starting anything" },
	[LT_OPT_JSON] = { .id = LT_OPT_JSON, .name = "json", .env = "LTRUN_JSON",
		.type = LT_OPT_BOOL, .offset = OFF(json), .def = "false",
		.doc = "with --list or --dry-run, print JSON" },
	[LT_OPT_VERBOSE] = { .id = LT_OPT_VERBOSE, .name = "verbose", .env = "LTRUN_VERBOSE",
		.type = LT_OPT_BOOL, .offset = OFF(verbose), .def = "false",
		.doc = "say which cluster environments were probed and why each was taken or skipped" },
	[LT_OPT_TERM_TIMEOUT] = { .id = LT_OPT_TERM_TIMEOUT, .name = "term-timeout", .env = "LTRUN_TERM_TIMEOUT",
		.arg = "SECONDS", .type = LT_OPT_INT, .min = 0, .max = 86400,
		.offset = OFF(term_timeout), .def = "30",
		.doc = "after forwarding a stop signal, wait this long for the ranks (to checkpoint) before SIGKILL" },
	[LT_OPT_SIGNALS] = { .id = LT_OPT_SIGNALS, .name = "signals", .env = "LTRUN_SIGNALS",
		.arg = "LIST", .type = LT_OPT_PATH,
		.offset = OFF(signals), .def = "INT,TERM,HUP,QUIT,USR1,USR2",
		.doc = "signals forwarded to every rank, ','-separated names or numbers" },
	[LT_OPT_NO_SRUN] = { .id = LT_OPT_NO_SRUN, .name = "no-srun", .env = "LTRUN_NO_SRUN",
		.type = LT_OPT_BOOL, .offset = OFF(no_srun), .def = "false",
		.doc = "in a multi-node sbatch script, fail instead of starting one ltrun per node with srun" },
	[LT_OPT_RDZV] = { .id = LT_OPT_RDZV, .name = "rdzv", .env = "LTRUN_RDZV",
		.arg = "NAME", .type = LT_OPT_NAME, .kind = LT_KIND_RDZV,
		.offset = OFF(rdzv), .def = "auto",
		.doc = "how ranks meet: tcp (a store hosted by node 0's agent, or by rank 0 of adopted ranks), file (a shared directory, LTRUN_RDZV_DIR), pmix (the launcher's PMIx server); auto: pmix for ranks a PMIx launcher made, else tcp" },
	[LT_OPT_RDZV_TIMEOUT] = { .id = LT_OPT_RDZV_TIMEOUT, .name = "rdzv-timeout", .env = "LTRUN_RDZV_TIMEOUT",
		.arg = "SECONDS", .type = LT_OPT_INT, .min = 1, .max = 86400,
		.offset = OFF(rdzv_timeout), .def = "300",
		.doc = "how long a rank waits for the others at the rendezvous and at barriers" },
	[LT_OPT_RDZV_LAST_CALL] = { .id = LT_OPT_RDZV_LAST_CALL, .name = "rdzv-last-call", .env = "LTRUN_RDZV_LAST_CALL",
		.arg = "SECONDS", .type = LT_OPT_INT, .min = 0, .max = 86400,
		.offset = OFF(rdzv_last_call), .def = "30",
		.doc = "with --num-nodes MIN:MAX, once MIN nodes joined a rendezvous round, close it when no other node joined for this long (MAX nodes close it at once, and so does the return of every node still alive after a failure)" },
	[LT_OPT_RDZV_ENDPOINT] = { .id = LT_OPT_RDZV_ENDPOINT, .name = "rdzv-endpoint", .env = "LTRUN_RDZV_ENDPOINT",
		.arg = "HOST:PORT", .type = LT_OPT_PATH, .offset = OFF(rdzv_endpoint),
		.doc = "with --rdzv etcd: the etcd server (its client URL's host and port)" },
	/* training */
	[LT_OPT_MAX_EPOCHS] = { .id = LT_OPT_MAX_EPOCHS, .name = "max-epochs", .env = "LTRUN_MAX_EPOCHS",
		.arg = "N", .type = LT_OPT_INT, .min = 1, .max = 1000000,
		.offset = OFF(max_epochs), .def = "1",
		.doc = "stop after N passes over the training data (or at --max-steps, if sooner); default 1, or unlimited when --max-steps is given" },
	[LT_OPT_MAX_STEPS] = { .id = LT_OPT_MAX_STEPS, .name = "max-steps", .env = "LTRUN_MAX_STEPS",
		.arg = "N|none", .type = LT_OPT_LONG, .min = 1, .max = LONG_MAX,
		.offset = OFF(max_steps), .def = "none",
		.doc = "stop after N optimizer steps (or at --max-epochs, if sooner); none or -1: no limit",
		.none_ok = true },
	[LT_OPT_BATCH_SIZE] = { .id = LT_OPT_BATCH_SIZE, .name = "batch-size", .env = "LTRUN_BATCH_SIZE",
		.arg = "N", .type = LT_OPT_INT, .min = 1, .max = 1 << 24,
		.offset = OFF(batch_size), .def = "32",
		.doc = "samples per micro-batch on each rank; a step sees N x ranks x --accumulate-grad-batches" },
	[LT_OPT_ACCUMULATE] = { .id = LT_OPT_ACCUMULATE, .name = "accumulate-grad-batches", .env = "LTRUN_ACCUMULATE_GRAD_BATCHES",
		.arg = "N", .type = LT_OPT_INT, .min = 1, .max = 1 << 16,
		.offset = OFF(accumulate), .def = "1",
		.doc = "micro-batches summed into each optimizer step; gradients are synchronised on the last only" },
	[LT_OPT_SEED] = { .id = LT_OPT_SEED, .name = "seed", .env = "LTRUN_SEED",
		.arg = "N", .type = LT_OPT_LONG, .min = 0, .max = LONG_MAX,
		.offset = OFF(seed), .def = "0",
		.doc = "seed of the parameters' first values and of every epoch's shuffle (the same on every rank)" },
	[LT_OPT_VAL_EVERY] = { .id = LT_OPT_VAL_EVERY, .name = "val-every-n-steps", .env = "LTRUN_VAL_EVERY_N_STEPS",
		.arg = "N", .type = LT_OPT_INT, .min = 0, .max = 1 << 30,
		.offset = OFF(val_every), .def = "0",
		.doc = "validate every N optimizer steps; 0: at the end of every epoch" },
	[LT_OPT_LOG_EVERY] = { .id = LT_OPT_LOG_EVERY, .name = "log-every-n-steps", .env = "LTRUN_LOG_EVERY_N_STEPS",
		.arg = "N", .type = LT_OPT_INT, .min = 1, .max = 1 << 30,
		.offset = OFF(log_every), .def = "50",
		.doc = "average the training metrics over N steps for metrics.csv and the progress lines" },
	[LT_OPT_OPTIMIZER] = { .id = LT_OPT_OPTIMIZER, .name = "optimizer", .env = "LTRUN_OPTIMIZER",
		.arg = "sgd|adamw|adamw_gpt", .type = LT_OPT_CHOICE, .offset = OFF(optimizer), .def = "sgd",
		.doc = "sgd (with --momentum, as torch.optim.SGD), adamw (as torch.optim.AdamW, with --adam-betas and --adam-eps), or adamw_gpt: adamw with GPT-2's and llm.c's --adam-betas 0.9,0.95 and --weight-decay-on matrices, where those options are not given",
		.choices = "sgd|adamw|adamw_gpt" },
	[LT_OPT_LR] = { .id = LT_OPT_LR, .name = "lr", .env = "LTRUN_LR",
		.arg = "X", .type = LT_OPT_FLOAT, .offset = OFF(lr), .def = "0.01",
		.doc = "learning rate (after the warmup, before the schedule's decay)",
		.fmin = 0, .fmax = INFINITY, .fmin_open = true, .fmax_open = true },
	[LT_OPT_MOMENTUM] = { .id = LT_OPT_MOMENTUM, .name = "momentum", .env = "LTRUN_MOMENTUM",
		.arg = "X", .type = LT_OPT_FLOAT, .offset = OFF(momentum), .def = "0.9",
		.doc = "sgd's momentum, from 0 (plain SGD) to below 1",
		.fmin = 0, .fmax = 1, .fmax_open = true },
	[LT_OPT_WEIGHT_DECAY] = { .id = LT_OPT_WEIGHT_DECAY, .name = "weight-decay", .env = "LTRUN_WEIGHT_DECAY",
		.arg = "X", .type = LT_OPT_FLOAT, .offset = OFF(weight_decay), .def = "0",
		.doc = "sgd: X x param added to the gradient; adamw: decoupled, param *= 1 - lr x X",
		.fmin = 0, .fmax = INFINITY, .fmax_open = true },
	[LT_OPT_LR_SCHEDULE] = { .id = LT_OPT_LR_SCHEDULE, .name = "lr-schedule", .env = "LTRUN_LR_SCHEDULE",
		.arg = "constant|cosine", .type = LT_OPT_CHOICE,
		.offset = OFF(lr_schedule), .def = "constant",
		.doc = "after the warmup: constant, or cosine decay to --min-lr at the last step",
		.choices = "constant|cosine" },
	[LT_OPT_WARMUP_STEPS] = { .id = LT_OPT_WARMUP_STEPS, .name = "warmup-steps", .env = "LTRUN_WARMUP_STEPS",
		.arg = "N", .type = LT_OPT_INT, .min = 0, .max = 1 << 30,
		.offset = OFF(warmup_steps), .def = "0",
		.doc = "raise the learning rate linearly to --lr over the first N optimizer steps" },
	[LT_OPT_CLIP_VAL] = { .id = LT_OPT_CLIP_VAL, .name = "gradient-clip-val", .env = "LTRUN_GRADIENT_CLIP_VAL",
		.arg = "X", .type = LT_OPT_FLOAT, .offset = OFF(clip_val), .def = "0",
		.doc = "clip the gradients at X before each step (see --gradient-clip-algorithm); 0: no clipping",
		.fmin = 0, .fmax = INFINITY, .fmax_open = true },
	[LT_OPT_CLIP_ALGORITHM] = { .id = LT_OPT_CLIP_ALGORITHM, .name = "gradient-clip-algorithm", .env = "LTRUN_GRADIENT_CLIP_ALGORITHM",
		.arg = "norm|value", .type = LT_OPT_CHOICE,
		.offset = OFF(clip_algorithm), .def = "norm",
		.doc = "norm: scale every gradient so that their global L2 norm is at most X; value: clamp each element to [-X, X]",
		.choices = "norm|value" },
	[LT_OPT_BUCKET_MB] = { .id = LT_OPT_BUCKET_MB, .name = "bucket-mb", .env = "LTRUN_BUCKET_MB",
		.arg = "X", .type = LT_OPT_FLOAT, .offset = OFF(bucket_mb), .def = "25",
		.doc = "size in MiB of the gradient buckets that ddp all-reduces while backward runs",
		.fmin = 0, .fmax = 4096, .fmin_open = true },
	[LT_OPT_CKPT_DIR] = { .id = LT_OPT_CKPT_DIR, .name = "ckpt-dir", .env = "LTRUN_CKPT_DIR",
		.arg = "DIR|URL", .type = LT_OPT_PATH, .offset = OFF(ckpt_dir),
		.doc = "save checkpoints under DIR (or an http(s) URL with --ckpt-io http): DIR/step-N/, DIR/last names the newest complete one; rank 0 saves at the end of every epoch and of the run; one run at a time per DIR (DIR/.lock)" },
	[LT_OPT_CKPT_EVERY] = { .id = LT_OPT_CKPT_EVERY, .name = "ckpt-every-n-steps", .env = "LTRUN_CKPT_EVERY_N_STEPS",
		.arg = "N", .type = LT_OPT_INT, .min = 0, .max = 1 << 30,
		.offset = OFF(ckpt_every), .def = "0",
		.doc = "with --ckpt-dir, also save every N optimizer steps; default 0: only at the end of each epoch and of the run (and when stopped by SIGTERM or SIGUSR1)" },
	[LT_OPT_CKPT_KEEP] = { .id = LT_OPT_CKPT_KEEP, .name = "ckpt-keep", .env = "LTRUN_CKPT_KEEP",
		.arg = "K", .type = LT_OPT_INT, .min = 0, .max = 1 << 20,
		.offset = OFF(ckpt_keep), .def = "1",
		.doc = "keep the newest K complete checkpoints, deleting older ones only once a newer one is complete; default 1: the last one (as Lightning's ModelCheckpoint); 0: keep all" },
	[LT_OPT_RESUME] = { .id = LT_OPT_RESUME, .name = "resume", .env = "LTRUN_RESUME",
		.arg = "last|auto|PATH|URL", .type = LT_OPT_PATH, .offset = OFF(resume),
		.doc = "resume from a checkpoint: last (the newest under --ckpt-dir), auto (last when --ckpt-dir holds one, else start fresh), a step directory or model.safetensors, or a URL" },
	[LT_OPT_INIT_WEIGHTS] = { .id = LT_OPT_INIT_WEIGHTS, .name = "init-weights", .env = "LTRUN_INIT_WEIGHTS",
		.arg = "FILE|DIR", .type = LT_OPT_PATH, .offset = OFF(init_weights),
		.doc = "start from the weights of a safetensors file (or a directory's model.safetensors, or a checkpoint), matched to the parameters by name, under any precision and rank count" },
	[LT_OPT_INIT_WEIGHTS_STRICT] = { .id = LT_OPT_INIT_WEIGHTS_STRICT, .name = "init-weights-strict", .env = "LTRUN_INIT_WEIGHTS_STRICT",
		.type = LT_OPT_BOOL, .offset = OFF(init_weights_strict), .def = "false",
		.doc = "refuse an --init-weights file that holds tensors the model has not (they are listed and skipped otherwise)" },
	[LT_OPT_ADAM_BETAS] = { .id = LT_OPT_ADAM_BETAS, .name = "adam-betas", .env = "LTRUN_ADAM_BETAS",
		.arg = "B1,B2", .type = LT_OPT_PATH, .offset = OFF(adam_betas), .def = "0.9,0.999",
		.doc = "adamw's beta1 and beta2, each in [0, 1) (GPT-2 and llm.c use 0.9,0.95)" },
	[LT_OPT_ADAM_EPS] = { .id = LT_OPT_ADAM_EPS, .name = "adam-eps", .env = "LTRUN_ADAM_EPS",
		.arg = "X", .type = LT_OPT_FLOAT, .offset = OFF(adam_eps), .def = "1e-08",
		.doc = "adamw's epsilon, added to the root of the second moment",
		.fmin = 0, .fmax = 1, .fmin_open = true },
	[LT_OPT_MIN_LR] = { .id = LT_OPT_MIN_LR, .name = "min-lr", .env = "LTRUN_MIN_LR",
		.arg = "X", .type = LT_OPT_FLOAT, .offset = OFF(min_lr), .def = "0",
		.doc = "where --lr-schedule cosine ends, at the last step (at most --lr)",
		.fmin = 0, .fmax = INFINITY, .fmax_open = true },
	[LT_OPT_WEIGHT_DECAY_ON] = { .id = LT_OPT_WEIGHT_DECAY_ON, .name = "weight-decay-on", .env = "LTRUN_WEIGHT_DECAY_ON",
		.arg = "all|matrices", .type = LT_OPT_CHOICE, .offset = OFF(weight_decay_on), .def = "all",
		.doc = "which parameters --weight-decay applies to: all, or matrices (tensors of 2 or more dimensions: not biases nor norms, as GPT-2 and llm.c); lt_param_weight_decay() overrides it per parameter",
		.choices = "all|matrices" },
	[LT_OPT_CHECK_REPLICAS] = { .id = LT_OPT_CHECK_REPLICAS, .name = "check-replicas", .env = "LTRUN_CHECK_REPLICAS",
		.arg = "N", .type = LT_OPT_INT, .min = 0, .max = 1 << 30, .offset = OFF(check_replicas), .def = "0",
		.doc = "every N optimizer steps, compare a hash of every rank's parameters and buffers, and stop naming the first tensor that differs; 0: never (--debug: every step)" },
	[LT_OPT_DEBUG] = { .id = LT_OPT_DEBUG, .name = "debug", .env = "LTRUN_DEBUG",
		.type = LT_OPT_BOOL, .offset = OFF(debug), .def = "false",
		.doc = "check the model's use of the ABI as it runs, at some cost: gradients changed after lt_grad_ready(), gradients overwritten instead of accumulated, replicas that diverge (see --check-replicas)" },
	[LT_OPT_INSECURE_STORE] = { .id = LT_OPT_INSECURE_STORE, .name = "insecure-store", .env = "LTRUN_INSECURE_STORE",
		.type = LT_OPT_BOOL, .offset = OFF(insecure_store), .def = "false",
		.doc = "on several nodes without LTRUN_STORE_TOKEN, PMIx or a usable secret file, run anyway with a store token that anyone who sees the job can compute (see SECURITY in ltrun(1))" },
	[LT_OPT_PREEMPT_SIGNALS] = { .id = LT_OPT_PREEMPT_SIGNALS, .name = "preempt-signals", .env = "LTRUN_PREEMPT_SIGNALS",
		.arg = "LIST", .type = LT_OPT_PATH, .offset = OFF(preempt_signals), .def = "USR1,TERM",
		.doc = "signals that make every rank finish the step, save a checkpoint and stop (ltrun then exits 75, preempted); ','-separated names or numbers, forwarded to the ranks" },
	[LT_OPT_REQUEUE] = { .id = LT_OPT_REQUEUE, .name = "requeue", .env = "LTRUN_REQUEUE",
		.arg = "auto|on|off", .type = LT_OPT_CHOICE, .offset = OFF(requeue), .def = "auto",
		.doc = "when preempted under Slurm, node 0's agent requeues the job (libslurm's slurm_requeue) once the checkpoint is saved; auto: when the job can be requeued",
		.choices = "auto|on|off" },
	[LT_OPT_HEARTBEAT_INTERVAL] = { .id = LT_OPT_HEARTBEAT_INTERVAL, .name = "heartbeat-interval", .env = "LTRUN_HEARTBEAT_INTERVAL",
		.arg = "SECONDS", .type = LT_OPT_FLOAT, .offset = OFF(heartbeat_interval), .def = "5",
		.doc = "on several nodes, each agent tells the others through the store that its node is alive this often",
		.fmin = 0.05, .fmax = 3600 },
	[LT_OPT_HEARTBEAT_TIMEOUT] = { .id = LT_OPT_HEARTBEAT_TIMEOUT, .name = "heartbeat-timeout", .env = "LTRUN_HEARTBEAT_TIMEOUT",
		.arg = "SECONDS", .type = LT_OPT_FLOAT, .offset = OFF(heartbeat_timeout), .def = "30",
		.doc = "a node (or the store) not heard from this long is lost: every other node stops its ranks; above twice --heartbeat-interval",
		.fmin = 0.1, .fmax = 86400 },
	[LT_OPT_TIMEOUT] = { .id = LT_OPT_TIMEOUT, .name = "timeout", .env = "LTRUN_TIMEOUT",
		.arg = "SECONDS", .type = LT_OPT_INT, .min = 1, .max = 7 * 86400,
		.offset = OFF(timeout), .def = "1800",
		.doc = "a rank that waits this long in one collective ends the job, naming the collective and the ranks that never arrived (DDPStrategy(timeout=))" },
	[LT_OPT_DEBUG_COLLECTIVES] = { .id = LT_OPT_DEBUG_COLLECTIVES, .name = "debug-collectives", .env = "LTRUN_DEBUG_COLLECTIVES",
		.type = LT_OPT_BOOL, .offset = OFF(debug_collectives), .def = "false",
		.doc = "before each collective, check that every rank calls the same one with the same count and dtype (TORCH_DISTRIBUTED_DEBUG=DETAIL), at the cost of a small all-gather each" },
	[LT_OPT_HOSTFILE] = { .id = LT_OPT_HOSTFILE, .name = "hostfile", .env = "LTRUN_HOSTFILE",
		.arg = "FILE", .type = LT_OPT_PATH, .offset = OFF(hostfile),
		.doc = "start the job on every host of FILE from this one command, over ssh: one 'HOST slots=N' per line (DeepSpeed's and Open MPI's format); the first host runs node 0" },
	[LT_OPT_INCLUDE] = { .id = LT_OPT_INCLUDE, .name = "include", .env = "LTRUN_INCLUDE",
		.arg = "HOST[:SLOTS]@...", .type = LT_OPT_PATH, .offset = OFF(include),
		.doc = "with --hostfile, use only these hosts (and slots): 'host1:0,1@host2' (DeepSpeed's syntax)" },
	[LT_OPT_EXCLUDE] = { .id = LT_OPT_EXCLUDE, .name = "exclude", .env = "LTRUN_EXCLUDE",
		.arg = "HOST[:SLOTS]@...", .type = LT_OPT_PATH, .offset = OFF(exclude),
		.doc = "with --hostfile, leave out these hosts (or their slots), in --include's syntax" },
	[LT_OPT_LAUNCHER_CMD] = { .id = LT_OPT_LAUNCHER_CMD, .name = "launcher-cmd", .env = "LTRUN_LAUNCHER_CMD",
		.arg = "CMD", .type = LT_OPT_PATH, .offset = OFF(launcher_cmd), .def = "ssh",
		.doc = "with --hostfile, the command that runs a command on a host, with its options ('ssh -p 2222 -i key'); ssh gets -o BatchMode=yes (Open MPI's plm_rsh_agent)" },
	[LT_OPT_EXPORT] = { .id = LT_OPT_EXPORT, .name = "export", .env = "LTRUN_EXPORT",
		.arg = "NAME[=VALUE],...", .type = LT_OPT_PATH, .offset = OFF(export_vars),
		.doc = "with --hostfile, the environment variables the other hosts' ranks get, with this shell's value or the one given (mpirun -x); ltrun's own LTRUN_* travel always" },
	[LT_OPT_CPU_BIND] = { .id = LT_OPT_CPU_BIND, .name = "cpu-bind", .env = "LTRUN_CPU_BIND",
		.arg = "none|cores|numa|list:SET:...", .type = LT_OPT_PATH, .offset = OFF(cpu_bind), .def = "none",
		.doc = "bind the ranks ltrun starts: cores (a disjoint set of cores each), numa (a NUMA node each), list:0-3:4-7 (local rank i gets the i-th CPU list); OMP_NUM_THREADS follows; under srun and mpirun their own binding stays" },
	[LT_OPT_LOGGER] = { .id = LT_OPT_LOGGER, .name = "logger", .env = "LTRUN_LOGGER",
		.arg = "NAME[,NAME...]", .type = LT_OPT_PATH, .offset = OFF(logger), .def = "csv",
		.doc = "where rank 0 writes the metrics, in --log-dir: csv (metrics.csv), tensorboard (event files), several (csv,tensorboard), a plugin's, or none; parameters inline (tensorboard:flush_secs=2); ltrun --list logger" },
};

const struct lt_option *lt_option_find(const char *name)
{
	int i;

	for (i = 0; i < LT_OPT_COUNT; i++)
		if (!strcmp(lt_options[i].name, name))
			return &lt_options[i];
	return NULL;
}

const char *lt_option_suggest(const char *name)
{
	const char *best = NULL;
	int i, best_d = 4;

	for (i = 0; i < LT_OPT_COUNT; i++) {
		int d = lt_edit_distance(name, lt_options[i].name);
		if (d < best_d) {
			best_d = d;
			best = lt_options[i].name;
		}
	}
	return best;
}

const char *lt_source_name(enum lt_source src)
{
	switch (src) {
	case LT_SRC_DEFAULT: return "default";
	case LT_SRC_CONFIG: return "config file";
	case LT_SRC_ENV: return "environment";
	case LT_SRC_FLAG: return "command line";
	}
	return "?";
}

static void *field(struct lt_config *cfg, const struct lt_option *o)
{
	return (char *)cfg + o->offset;
}

static const void *cfield(const struct lt_config *cfg, const struct lt_option *o)
{
	return (const char *)cfg + o->offset;
}

static void free_plugins(struct lt_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->num_plugins; i++)
		free(cfg->plugins[i]);
	free(cfg->plugins);
	cfg->plugins = NULL;
	cfg->num_plugins = 0;
}

/* Appends each ':'-separated path of text (a single path when split is
 * false) to cfg->plugins.  On failure cfg->plugins is unchanged. */
static int add_plugins(struct lt_config *cfg, const char *text, bool split,
		       const char *where, struct lt_err *err)
{
	size_t old = cfg->num_plugins, n = old;
	const char *p = text;
	bool too_many = false;
	char **grown;

	grown = realloc(cfg->plugins, MAX_PLUGINS * sizeof(*grown));
	if (!grown)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	cfg->plugins = grown;
	for (;;) {
		size_t len = split ? strcspn(p, ":") : strlen(p);

		too_many = n == MAX_PLUGINS;
		if (len == 0 || too_many)
			goto out_undo;
		grown[n] = strndup(p, len);
		if (!grown[n])
			goto out_undo;
		n++;
		p += len;
		if (!*p)
			break;
		p++; /* the ':' */
	}
	cfg->num_plugins = n;
	return 0;
out_undo:
	while (n > old)
		free(grown[--n]);
	if (too_many)
		return lt_err_set(err, LT_EXIT_USAGE, "too many plugins in %s: at most %d",
				  where, MAX_PLUGINS);
	return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: an empty plugin path; give PATH.so%s",
			  where, split ? " (several separated by ':')" : "");
}

static bool is_string_type(enum lt_opt_type t)
{
	return t == LT_OPT_NAME || t == LT_OPT_HOST || t == LT_OPT_PATH || t == LT_OPT_CHOICE;
}

/* A parsed option value: l for integers and booleans, d for floats. */
struct opt_value {
	long l;
	double d;
	long min; /* --num-nodes MIN:MAX: MIN (l is MAX) */
};

/* Parses a finite decimal number, wholly: no blanks, no "inf", no hex.
 * Returns 0 and sets *out, or -1. */
static int parse_double(const char *text, double *out)
{
	char *end;
	double d;

	if (!*text || strspn(text, "0123456789+-.eE") != strlen(text))
		return -1;
	errno = 0;
	d = strtod(text, &end);
	if (*end || errno == ERANGE || !isfinite(d))
		return -1;
	*out = d;
	return 0;
}

/* "a number > 0", "a number >= 0 and < 1": o's range in words, into buf. */
static const char *float_range(const struct lt_option *o, char *buf, size_t len)
{
	int n = snprintf(buf, len, "a number");

	if (isfinite(o->fmin))
		n += snprintf(buf + n, len - (size_t)n, " %s %g", o->fmin_open ? ">" : ">=", o->fmin);
	if (isfinite(o->fmax))
		snprintf(buf + n, len - (size_t)n, "%s %s %g", isfinite(o->fmin) ? " and" : "",
			 o->fmax_open ? "<" : "<=", o->fmax);
	return buf;
}

static int check_float(const struct lt_option *o, const char *text, const char *where,
		       const char *q, double *out, struct lt_err *err)
{
	char range[96];
	double d;

	if (parse_double(text, &d) || d < o->fmin || (o->fmin_open && d == o->fmin) ||
	    d > o->fmax || (o->fmax_open && d == o->fmax))
		return lt_err_set(err, LT_EXIT_USAGE, "invalid %s '%s': expected %s", where, q,
				  float_range(o, range, sizeof(range)));
	*out = d;
	return 0;
}

/* The choices of o as "sgd or adamw" ("a, b or c"), into buf. */
static const char *choice_list(const struct lt_option *o, char *buf, size_t len)
{
	const char *p = o->choices, *bar;
	size_t n = 0;

	buf[0] = '\0';
	while (n < len) {
		size_t w = strcspn(p, "|");
		bar = p[w] ? p + w : NULL;
		n += (size_t)snprintf(buf + n, len - n, "%s%.*s", p == o->choices ? "" :
				      bar ? ", " : " or ", (int)w, p);
		if (!bar)
			break;
		p = bar + 1;
	}
	return buf;
}

/* Checks text against o's '|'-separated choices; a near miss ("adam",
 * "SGD") gets a did-you-mean. */
static int check_choice(const struct lt_option *o, const char *text, const char *where,
			const char *q, struct lt_err *err)
{
	const char *p = o->choices, *best = NULL;
	char word[64], list[256];
	int best_d = 3;

	for (;;) {
		size_t w = strcspn(p, "|");
		int d;

		snprintf(word, sizeof(word), "%.*s", (int)w, p);
		if (!strcmp(word, text))
			return 0;
		d = strcasecmp(word, text) ? lt_edit_distance(word, text) : 0;
		if (d < best_d && (size_t)d < w) {
			best_d = d;
			best = p;
		}
		if (!p[w])
			break;
		p += w + 1;
	}
	choice_list(o, list, sizeof(list));
	if (best)
		return lt_err_set(err, LT_EXIT_USAGE, "invalid %s '%s': expected %s; did you mean '%.*s'?",
				  where, q, list, (int)strcspn(best, "|"), best);
	return lt_err_set(err, LT_EXIT_USAGE, "invalid %s '%s': expected %s", where, q, list);
}

static int check_long(const struct lt_option *o, const char *text, const char *where,
		      const char *q, long *out, struct lt_err *err)
{
	if (o->none_ok && (!strcmp(text, "none") || !strcmp(text, "-1"))) {
		*out = -1;
		return 0;
	}
	if (lt_parse_long(text, o->min, o->max, out))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid %s '%s': expected a whole number from %ld to %ld%s",
				  where, q, o->min, o->max, o->none_ok ? ", or none (-1) for no limit" : "");
	return 0;
}

/* The form of a plugin choice: NAME or NAME:KEY=VALUE,... (the inline
 * form); lt_config_check_names() checks the name and the parameters
 * against the registry once the plugins are loaded. */
static int check_name_form(const struct lt_option *o, const char *text, const char *where,
			   const char *q, struct lt_err *err)
{
	size_t n = strcspn(text, ":");

	if (n == 0 || strspn(text, "abcdefghijklmnopqrstuvwxyz0123456789._-") != n)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid %s '%s': a %s name has only a-z 0-9 . _ -, optionally followed by :KEY=VALUE,... (see 'ltrun --list %s')",
				  where, q, lt_kind_name(o->kind), lt_kind_name(o->kind));
	if (text[n] == ':' && !strchr(text + n, '='))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid %s '%s': after ':' come KEY=VALUE parameters separated by ',' (see 'ltrun --list %s')",
				  where, q, lt_kind_name(o->kind));
	return 0;
}

/* Checks a string option's text (not empty, not huge, the right characters). */
static int check_string(const struct lt_option *o, const char *text, const char *where,
			const char *q, struct lt_err *err)
{
	if (!*text)
		return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: the value is empty", where);
	if (strlen(text) > 4096)
		return lt_err_set(err, LT_EXIT_USAGE, "invalid %s '%s': longer than 4096 bytes",
				  where, q);
	if (o->type == LT_OPT_NAME && check_name_form(o, text, where, q, err))
		return -1;
	if (o->type == LT_OPT_HOST && !lt_valid_host(text))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid %s '%s': expected a host name or IP address", where, q);
	if (o->type == LT_OPT_CHOICE)
		return check_choice(o, text, where, q, err);
	return 0;
}

/* --num-nodes N or MIN:MAX; "3:2" is named as such. */
static int parse_nodes(const struct lt_option *o, const char *text, const char *where,
		       const char *q, struct opt_value *val, struct lt_err *err)
{
	const char *colon = strchr(text, ':');
	char lo_text[24];
	long lo, hi;

	if (lt_parse_nodes(text, o->max, &val->min, &val->l) == 0)
		return 0;
	if (colon && (size_t)(colon - text) < sizeof(lo_text)) {
		memcpy(lo_text, text, (size_t)(colon - text));
		lo_text[colon - text] = '\0';
		if (!lt_parse_long(lo_text, o->min, o->max, &lo) &&
		    !lt_parse_long(colon + 1, o->min, o->max, &hi))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': MIN %ld is above MAX %ld: write MIN:MAX with MIN <= MAX",
					  where, q, lo, hi);
	}
	return lt_err_set(err, LT_EXIT_USAGE,
			  "invalid %s '%s': expected a whole number from %ld to %ld, MIN:MAX of such, or 'auto'",
			  where, q, o->min, o->max);
}

/* Parses text for option o into *val (numbers, booleans) or checks it
 * (strings).  Returns 0, or -1 with err naming where. */
static int parse_value(const struct lt_option *o, const char *text,
		       const char *where, struct opt_value *val, struct lt_err *err)
{
	char q[LT_QUOTE_MAX];
	bool b;

	lt_quote(q, sizeof(q), text);
	switch (o->type) {
	case LT_OPT_COUNT_AUTO:
		if (!strcmp(text, "auto")) {
			val->l = val->min = LT_AUTO;
			return 0;
		}
		if (o->id == LT_OPT_NUM_NODES)
			return parse_nodes(o, text, where, q, val, err);
		if (lt_parse_long(text, o->min, o->max, &val->l))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': expected a whole number from %ld to %ld, or 'auto'",
					  where, q, o->min, o->max);
		return 0;
	case LT_OPT_INT:
		if (lt_parse_long(text, o->min, o->max, &val->l))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': expected a whole number from %ld to %ld",
					  where, q, o->min, o->max);
		return 0;
	case LT_OPT_LONG:
		return check_long(o, text, where, q, &val->l, err);
	case LT_OPT_FLOAT:
		return check_float(o, text, where, q, &val->d, err);
	case LT_OPT_BOOL:
		if (lt_parse_bool(text, &b))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s '%s': expected 1, 0, true, false, yes, no, on or off",
					  where, q);
		val->l = b;
		return 0;
	case LT_OPT_NAME:
	case LT_OPT_HOST:
	case LT_OPT_PATH:
	case LT_OPT_LIST:
	case LT_OPT_CHOICE:
		return check_string(o, text, where, q, err);
	}
	return 0;
}

/* --adam-betas "B1,B2": two numbers in [0, 1), kept in adam_beta1/2. */
static int parse_betas(struct lt_config *cfg, const char *text, const char *where,
		       struct lt_err *err)
{
	char q[LT_QUOTE_MAX], *end;
	double b1, b2;

	errno = 0;
	b1 = strtod(text, &end);
	if (end != text && *end == ',') {
		const char *second = end + 1;
		b2 = strtod(second, &end);
		if (end != second && !*end && !errno && b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1) {
			cfg->adam_beta1 = b1;
			cfg->adam_beta2 = b2;
			return 0;
		}
	}
	return lt_err_set(err, LT_EXIT_USAGE,
			  "%s '%s': give two numbers in [0, 1) separated by a comma, as 0.9,0.95",
			  where, lt_quote(q, sizeof(q), text));
}

/* --optimizer adamw_gpt is adamw with these values, for each option whose
 * value is still its default (cfg->source[]): given values win. */
static const struct {
	enum lt_opt_id id;
	const char *value;
} adamw_gpt[] = {
	{ LT_OPT_ADAM_BETAS, "0.9,0.95" },
	{ LT_OPT_WEIGHT_DECAY_ON, "matrices" },
};

/* Keeps the options of adamw_gpt[] that have their default following
 * --optimizer: the preset's value under adamw_gpt, the table's default
 * otherwise.  Called after every change, so that the sources can be read
 * in any order; each process (the agent, every rank) derives the same
 * values, the preset's ones staying defaults that are not exported. */
static int follow_optimizer_preset(struct lt_config *cfg, struct lt_err *err)
{
	bool gpt = cfg->optimizer && !strcmp(cfg->optimizer, "adamw_gpt");

	for (size_t i = 0; i < sizeof(adamw_gpt) / sizeof(adamw_gpt[0]); i++) {
		const struct lt_option *o = &lt_options[adamw_gpt[i].id];
		const char *want = gpt ? adamw_gpt[i].value : o->def;
		const char *have = *(char **)field(cfg, o);

		if (cfg->source[o->id] != LT_SRC_DEFAULT || (have && !strcmp(have, want)))
			continue;
		if (lt_config_set(cfg, o, want, LT_SRC_DEFAULT,
				  gpt ? "--optimizer adamw_gpt" : "default", err))
			return -1;
	}
	return 0;
}

/* Replaces the plugin list with, or (same source) appends to it, text's paths. */
static int set_list(struct lt_config *cfg, const struct lt_option *o, const char *text,
		    enum lt_source src, const char *where, struct lt_err *err)
{
	/* Lists accumulate within one source; a stronger source replaces.
	 * Only an LTRUN_* variable packs several, with ':'. */
	size_t kept = cfg->num_plugins, i;

	if (add_plugins(cfg, text, src == LT_SRC_ENV, where, err))
		return -1;
	if (src > cfg->source[o->id] && kept) {
		for (i = 0; i < kept; i++)
			free(cfg->plugins[i]);
		cfg->num_plugins -= kept;
		memmove(cfg->plugins, cfg->plugins + kept,
			cfg->num_plugins * sizeof(*cfg->plugins));
	}
	return 0;
}

int lt_config_set(struct lt_config *cfg, const struct lt_option *o,
		  const char *text, enum lt_source src, const char *where,
		  struct lt_err *err)
{
	struct opt_value val = { 0 };
	char *copy;

	if (!text)
		text = "";
	if (src < cfg->source[o->id])
		return 0;
	if (parse_value(o, text, where, &val, err))
		return -1;
	if (o->type == LT_OPT_LIST) {
		if (set_list(cfg, o, text, src, where, err))
			return -1;
	} else if (o->type == LT_OPT_BOOL) {
		*(bool *)field(cfg, o) = val.l;
	} else if (o->type == LT_OPT_INT || o->type == LT_OPT_COUNT_AUTO) {
		*(int *)field(cfg, o) = (int)val.l;
		if (o->id == LT_OPT_NUM_NODES)
			cfg->min_nodes = (int)val.min;
	} else if (o->type == LT_OPT_LONG) {
		*(long *)field(cfg, o) = val.l;
	} else if (o->type == LT_OPT_FLOAT) {
		*(double *)field(cfg, o) = val.d;
	} else {
		if (o->id == LT_OPT_ADAM_BETAS && parse_betas(cfg, text, where, err))
			return -1;
		copy = strdup(text);
		if (!copy)
			return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
		free(*(char **)field(cfg, o));
		*(char **)field(cfg, o) = copy;
	}
	cfg->source[o->id] = src;
	snprintf(cfg->source_name[o->id], sizeof(cfg->source_name[o->id]), "%s", where);
	return follow_optimizer_preset(cfg, err);
}

int lt_config_init(struct lt_config *cfg, struct lt_err *err)
{
	int i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->devices = cfg->num_nodes = cfg->min_nodes = cfg->node_rank = LT_AUTO;
	cfg->main_port = 0;
	for (i = 0; i < LT_OPT_COUNT; i++) {
		const struct lt_option *o = &lt_options[i];
		bool numeric_default = o->type == LT_OPT_COUNT_AUTO ||
				       (o->type == LT_OPT_INT && o->def && !strcmp(o->def, "auto"));
		if (o->def && !numeric_default &&
		    lt_config_set(cfg, o, o->def, LT_SRC_DEFAULT, "default", err))
			goto out_free;
		snprintf(cfg->source_name[i], sizeof(cfg->source_name[i]), "default");
	}
	return 0;
out_free:
	lt_config_free(cfg);
	return -1;
}

void lt_config_free(struct lt_config *cfg)
{
	int i;

	for (i = 0; i < LT_OPT_COUNT; i++) {
		const struct lt_option *o = &lt_options[i];
		if (is_string_type(o->type)) {
			free(*(char **)field(cfg, o));
			*(char **)field(cfg, o) = NULL;
		}
	}
	free_plugins(cfg);
	free(cfg->presets);
	cfg->presets = NULL;
}

/* ------------------------------------------------------------ presets */

/* Keeps a "presets" section (JSON text) from src, unless a stronger source
 * set it already; the registry checks it (lt_registry_add_presets_json). */
static int set_presets(struct lt_config *cfg, const char *json, enum lt_source src,
		       const char *origin, struct lt_err *err)
{
	char *copy;

	if (cfg->presets && src < cfg->presets_source)
		return 0;
	copy = strdup(json);
	if (!copy)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	free(cfg->presets);
	cfg->presets = copy;
	cfg->presets_source = src;
	snprintf(cfg->presets_origin, sizeof(cfg->presets_origin), "%s", origin);
	return 0;
}

/* LTRUN_PRESETS: the presets of the launcher's config file, as the ranks
 * get them (lt_config_export). */
static int load_presets_env(struct lt_config *cfg, const struct lt_envsrc *env,
			    struct lt_err *err)
{
	const char *v = lt_env_get(env, LT_PRESETS_ENV);

	return v ? set_presets(cfg, v, LT_SRC_ENV, LT_PRESETS_ENV, err) : 0;
}

static const char *json_type_name(const cJSON *v);

/* The "presets" key of a config file: an object of objects, kept as text. */
static int load_presets(struct lt_config *cfg, const char *path, const cJSON *item,
			struct lt_err *err)
{
	char pq[LT_QUOTE_MAX], *text;
	int rc;

	lt_quote(pq, sizeof(pq), path);
	if (!cJSON_IsObject(item))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "invalid 'presets' in config file '%s': expected an object such as {\"strategy\": {\"ddp_big\": {\"base\": \"ddp\", \"bucket_mb\": 100}}}, got %s",
				  pq, json_type_name(item));
	text = cJSON_PrintUnformatted(item);
	if (!text)
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	rc = set_presets(cfg, text, LT_SRC_CONFIG, path, err);
	free(text);
	return rc;
}

int lt_config_load_env(struct lt_config *cfg, const struct lt_envsrc *env,
		       struct lt_err *err)
{
	int i;

	for (i = 0; i < LT_OPT_COUNT; i++) {
		const struct lt_option *o = &lt_options[i];
		const char *v = lt_env_get(env, o->env);
		char where[80];

		if (!v)
			continue;
		snprintf(where, sizeof(where), "%s", o->env);
		if (lt_config_set(cfg, o, v, LT_SRC_ENV, where, err))
			return -1;
	}
	return load_presets_env(cfg, env, err);
}

/* ---------------------------------------------------------- config file */

/* Line number of position pos in text (1-based). */
static int line_of(const char *text, size_t len, size_t pos)
{
	int line = 1;
	size_t i;

	for (i = 0; i < pos && i < len; i++)
		line += text[i] == '\n';
	return line;
}

/* True when the JSON text up to and including pos opens more than
 * CJSON_NESTING_LIMIT arrays or objects at once (outside strings): cJSON
 * stops there and reports only where. */
static bool nested_too_deep(const char *text, size_t len, size_t pos)
{
	size_t i, depth = 0;
	bool in_string = false;

	for (i = 0; i <= pos && i < len; i++) {
		char c = text[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > CJSON_NESTING_LIMIT)
				return true;
		} else if ((c == ']' || c == '}') && depth) {
			depth--;
		}
	}
	return false;
}

static const char *json_type_name(const cJSON *v)
{
	if (cJSON_IsString(v)) return "a string";
	if (cJSON_IsNumber(v)) return "a number";
	if (cJSON_IsBool(v)) return "a boolean";
	if (cJSON_IsNull(v)) return "null";
	if (cJSON_IsArray(v)) return "an array";
	if (cJSON_IsObject(v)) return "an object";
	return "something else";
}

static const char *expected_json(const struct lt_option *o)
{
	switch (o->type) {
	case LT_OPT_COUNT_AUTO: return "a whole number or \"auto\"";
	case LT_OPT_INT: return "a whole number";
	case LT_OPT_LONG: return o->none_ok ? "a whole number or \"none\"" : "a whole number";
	case LT_OPT_FLOAT: return "a number";
	case LT_OPT_BOOL: return "true or false";
	case LT_OPT_LIST: return "an array of paths";
	default: return "a string";
	}
}

static bool is_numeric(enum lt_opt_type t)
{
	return t == LT_OPT_COUNT_AUTO || t == LT_OPT_INT || t == LT_OPT_LONG || t == LT_OPT_FLOAT;
}

/* A JSON number as option text: whole numbers for integer options (up to
 * 2^53 for longs: a double holds no more exactly), any for floats. */
static int json_number_text(const struct lt_option *o, double d, const char *where,
			    char *buf, size_t len, struct lt_err *err)
{
	double lim = o->type == LT_OPT_LONG ? 9007199254740992.0 : 1e9;

	if (o->type == LT_OPT_FLOAT) {
		snprintf(buf, len, "%.17g", d);
		return 0;
	}
	if (!(d >= -lim && d <= lim) || d != (double)(long)d)
		return lt_err_set(err, LT_EXIT_USAGE, "invalid %s %g: expected %s%s", where, d,
				  expected_json(o), o->type == LT_OPT_LONG ?
				  " (a string such as \"9223372036854775807\" beyond 2^53)" : "");
	snprintf(buf, len, "%ld", (long)d);
	return 0;
}

/* Whether a JSON string is acceptable text for o: strings for string
 * options, "auto" for counts, any string for longs (seeds beyond 2^53,
 * "none"), parsed later like a flag's text. */
static bool json_string_ok(const struct lt_option *o, const char *s)
{
	if (o->type == LT_OPT_COUNT_AUTO)
		return !strcmp(s, "auto") || (o->id == LT_OPT_NUM_NODES && strchr(s, ':'));
	if (o->type == LT_OPT_LONG)
		return true;
	return !is_numeric(o->type) && o->type != LT_OPT_BOOL;
}

/* Converts one JSON value to option text in buf, or fails with a message
 * saying which type was expected. */
static int json_to_text(const struct lt_option *o, const cJSON *v,
			const char *where, char *buf, size_t len,
			struct lt_err *err)
{
	if (is_numeric(o->type) && cJSON_IsNumber(v))
		return json_number_text(o, v->valuedouble, where, buf, len, err);
	if (o->type == LT_OPT_BOOL && cJSON_IsBool(v)) {
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
		return 0;
	}
	if (cJSON_IsString(v) && json_string_ok(o, v->valuestring)) {
		snprintf(buf, len, "%s", v->valuestring);
		if (strlen(v->valuestring) >= len)
			return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: longer than %zu bytes",
					  where, len - 1);
		return 0;
	}
	return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: expected %s, got %s", where,
			  expected_json(o), json_type_name(v));
}

static int load_key(struct lt_config *cfg, const char *path, const cJSON *item,
		    struct lt_err *err)
{
	const struct lt_option *o = lt_option_find(item->string);
	char where[160], q[LT_QUOTE_MAX], pq[LT_QUOTE_MAX], text[4097];
	const cJSON *el;

	lt_quote(pq, sizeof(pq), path);
	if (!o || o->id == LT_OPT_CONFIG) {
		const char *hint = o ? NULL : lt_option_suggest(item->string);
		lt_quote(q, sizeof(q), item->string);
		if (hint)
			return lt_err_set(err, LT_EXIT_USAGE,
					  "unknown key '%s' in config file '%s'; did you mean '%s'?",
					  q, pq, hint);
		return lt_err_set(err, LT_EXIT_USAGE,
				  "unknown key '%s' in config file '%s' (keys are the long option names: see ltrun --help)",
				  q, pq);
	}
	snprintf(where, sizeof(where), "'%s' in config file '%s'", o->name, pq);
	if (o->type != LT_OPT_LIST || !cJSON_IsArray(item)) {
		if (o->type == LT_OPT_LIST && !cJSON_IsString(item))
			return lt_err_set(err, LT_EXIT_USAGE, "invalid %s: expected %s, got %s",
					  where, expected_json(o), json_type_name(item));
		if (json_to_text(o, item, where, text, sizeof(text), err))
			return -1;
		return lt_config_set(cfg, o, text, LT_SRC_CONFIG, where, err);
	}
	cJSON_ArrayForEach(el, item) {
		/* One element at a time: a ':' inside a JSON path is not a separator. */
		if (!cJSON_IsString(el))
			return lt_err_set(err, LT_EXIT_USAGE,
					  "invalid %s: every element must be a path string, got %s",
					  where, json_type_name(el));
		if (lt_config_set(cfg, o, el->valuestring, LT_SRC_CONFIG, where, err))
			return -1;
	}
	return 0;
}

int lt_config_load_text(struct lt_config *cfg, const char *path,
			const char *text, size_t len, struct lt_err *err)
{
	const char *end = NULL;
	char pq[LT_QUOTE_MAX];
	cJSON *root, *item;
	int rc = 0;

	lt_quote(pq, sizeof(pq), path);
	root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!root) {
		const char *ep = cJSON_GetErrorPtr();
		end = ep && ep >= text && ep <= text + len ? ep : end;
	} else {
		/* Text after the object ("{...} x") is a mistake, not a comment. */
		while (end && end < text + len && *end && strchr(" \t\r\n", *end))
			end++;
		if (end && end < text + len) {
			cJSON_Delete(root);
			root = NULL;
		}
	}
	if (!root && end && nested_too_deep(text, len, (size_t)(end - text)))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "config file '%s' is nested deeper than %d levels (line %d): a config file is one object of settings",
				  pq, CJSON_NESTING_LIMIT, line_of(text, len, (size_t)(end - text)));
	if (!root)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "config file '%s' is not valid JSON (line %d): fix the syntax there",
				  pq, line_of(text, len, end ? (size_t)(end - text) : 0));
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return lt_err_set(err, LT_EXIT_USAGE,
				  "config file '%s' must hold a JSON object such as {\"devices\": 4}, not %s",
				  pq, json_type_name(root));
	}
	cJSON_ArrayForEach(item, root) {
		rc = !strcmp(item->string, "presets") ? load_presets(cfg, path, item, err)
						       : load_key(cfg, path, item, err);
		if (rc)
			break;
	}
	cJSON_Delete(root);
	return rc;
}

int lt_config_load_file(struct lt_config *cfg, const char *path,
			struct lt_err *err)
{
	char pq[LT_QUOTE_MAX], *buf;
	size_t len;
	FILE *f;
	int rc;

	lt_quote(pq, sizeof(pq), path);
	f = fopen(path, "rb");
	if (!f)
		return lt_err_set(err, LT_EXIT_FAILURE, "cannot read config file '%s': %s",
				  pq, strerror(errno));
	buf = malloc(CONFIG_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		return lt_err_set(err, LT_EXIT_FAILURE, "out of memory");
	}
	len = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
	if (ferror(f)) {
		rc = lt_err_set(err, LT_EXIT_FAILURE, "cannot read config file '%s': %s",
				pq, strerror(errno));
	} else if (len > CONFIG_MAX_BYTES) {
		rc = lt_err_set(err, LT_EXIT_USAGE,
				"config file '%s' is larger than 1 MiB: is it the right file?", pq);
	} else {
		rc = lt_config_load_text(cfg, path, buf, len, err);
	}
	free(buf);
	fclose(f);
	return rc;
}

/* ------------------------------------------------------------ checking */

int lt_config_check_names(const struct lt_config *cfg,
			  const struct lt_registry *reg, struct lt_err *err)
{
	int i;

	for (i = 0; i < LT_OPT_COUNT; i++) {
		const struct lt_option *o = &lt_options[i];
		const char *name;
		struct lt_choice c;

		if (o->type != LT_OPT_NAME)
			continue;
		name = *(char *const *)cfield(cfg, o);
		if (o->auto_ok && !strcmp(name, "auto"))
			continue;
		/* the name and its inline parameters, as the ranks will resolve them */
		if (!lt_registry_resolve(reg, (enum lt_kind)o->kind, name, &c, err)) {
			lt_choice_free(&c);
		} else {
			if (cfg->source[i] != LT_SRC_FLAG) {
				size_t n = strlen(err->msg);
				snprintf(err->msg + n, sizeof(err->msg) - n, " (from %s)",
					 cfg->source_name[i]);
			}
			return -1;
		}
	}
	return 0;
}

int lt_config_check(const struct lt_config *c, struct lt_err *err)
{
	int sigs[LT_MAX_SIGNALS];
	char q[LT_QUOTE_MAX];

	if (lt_signals_parse(c->signals, c->source_name[LT_OPT_SIGNALS], sigs, err) < 0 ||
	    lt_signals_parse(c->preempt_signals, c->source_name[LT_OPT_PREEMPT_SIGNALS], sigs,
			     err) < 0)
		return -1;
	if (c->resume && (!strcmp(c->resume, "last") || !strcmp(c->resume, "auto")) && !c->ckpt_dir)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "%s is '%s', which needs --ckpt-dir: say where the checkpoints are",
				  c->source_name[LT_OPT_RESUME], c->resume);
	if (c->ckpt_dir && !strcmp(c->ckpt_io, "file") && lt_is_url(c->ckpt_dir))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "--ckpt-dir '%s' is a URL: add --ckpt-io http (or async)",
				  lt_quote(q, sizeof(q), c->ckpt_dir));
	if (c->resume && !strcmp(c->ckpt_io, "file") && lt_is_url(c->resume))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "--resume '%s' is a URL: add --ckpt-io http (or async)",
				  lt_quote(q, sizeof(q), c->resume));
	if (c->min_lr > c->lr)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "%s %g is above --lr %g: the cosine schedule decays from --lr down to --min-lr",
				  c->source_name[LT_OPT_MIN_LR], c->min_lr, c->lr);
	if (c->min_nodes != LT_AUTO && c->min_nodes < c->num_nodes &&
	    (!strcmp(c->rdzv, "file") || !strcmp(c->rdzv, "pmix")))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "--num-nodes %d:%d (elastic) meets in rounds kept in ltrun's store or etcd: use --rdzv tcp or etcd, not %s (%s)",
				  c->min_nodes, c->num_nodes, c->rdzv, c->source_name[LT_OPT_RDZV]);
	if (!strcmp(c->rdzv, "etcd") && !c->rdzv_endpoint)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "rendezvous 'etcd' (%s) needs --rdzv-endpoint HOST:PORT: the address of the etcd server",
				  c->source_name[LT_OPT_RDZV]);
	if (!LT_HAVE_SLURM && !strcmp(c->requeue, "on"))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "%s is 'on', but requeueing needs " LT_LEFT_OUT(LT_DEP_SLURM) "; or use --requeue auto or off",
				  c->source_name[LT_OPT_REQUEUE]);
	if (!strcmp(c->rdzv, "file") && !getenv("LTRUN_RDZV_DIR"))
		return lt_err_set(err, LT_EXIT_USAGE,
				  "rendezvous 'file' (%s) needs LTRUN_RDZV_DIR: set it to a directory every node can reach",
				  c->source_name[LT_OPT_RDZV]);
	if (c->heartbeat_timeout <= 2 * c->heartbeat_interval)
		return lt_err_set(err, LT_EXIT_USAGE,
				  "--heartbeat-timeout %g (%s) is not above twice --heartbeat-interval %g (%s): a node must miss more than two keep-alives before it counts as lost; raise the timeout or shorten the interval",
				  c->heartbeat_timeout, c->source_name[LT_OPT_HEARTBEAT_TIMEOUT],
				  c->heartbeat_interval, c->source_name[LT_OPT_HEARTBEAT_INTERVAL]);
	return 0;
}

/* The shortest text of d that reads back as d ("0.01", not 0.01000...02). */
static void format_double(double d, char *buf, size_t len)
{
	int prec;

	for (prec = 6; prec < 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
	snprintf(buf, len, "%.17g", d);
}

const char *lt_config_value(const struct lt_config *cfg,
			    const struct lt_option *o, char *buf, size_t len)
{
	const void *f = cfield(cfg, o);
	size_t i, n = 0;

	buf[0] = '\0';
	switch (o->type) {
	case LT_OPT_COUNT_AUTO:
	case LT_OPT_INT:
		if (*(const int *)f == LT_AUTO || (o->id == LT_OPT_MAIN_PORT && !*(const int *)f))
			snprintf(buf, len, "%s", o->def ? o->def : "");
		else if (o->id == LT_OPT_NUM_NODES && cfg->min_nodes != cfg->num_nodes)
			snprintf(buf, len, "%d:%d", cfg->min_nodes, cfg->num_nodes);
		else
			snprintf(buf, len, "%d", *(const int *)f);
		break;
	case LT_OPT_LONG:
		if (o->none_ok && *(const long *)f == -1)
			snprintf(buf, len, "none");
		else
			snprintf(buf, len, "%ld", *(const long *)f);
		break;
	case LT_OPT_FLOAT:
		format_double(*(const double *)f, buf, len);
		break;
	case LT_OPT_BOOL:
		snprintf(buf, len, "%s", *(const bool *)f ? "true" : "false");
		break;
	case LT_OPT_LIST:
		for (i = 0; i < cfg->num_plugins && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ":" : "",
					      cfg->plugins[i]);
		break;
	default:
		snprintf(buf, len, "%s", *(char *const *)f ? *(char *const *)f : "");
	}
	return buf;
}

/* Room for the text of o's value: the plugin list can be long. */
static size_t value_room(const struct lt_config *cfg, const struct lt_option *o)
{
	size_t i, n = 64;

	if (o->type == LT_OPT_LIST)
		for (i = 0; i < cfg->num_plugins; i++)
			n += strlen(cfg->plugins[i]) + 1;
	else if (is_string_type(o->type) && *(char *const *)cfield(cfg, o))
		n += strlen(*(char *const *)cfield(cfg, o));
	return n;
}

int lt_config_export(const struct lt_config *cfg,
		     int (*setvar)(const char *name, const char *value, void *arg),
		     void *arg)
{
	int i, rc = 0;

	for (i = 0; i < LT_OPT_COUNT && !rc; i++) {
		const struct lt_option *o = &lt_options[i];
		size_t room;
		char *buf;

		if (cfg->source[i] == LT_SRC_DEFAULT || o->id == LT_OPT_CONFIG)
			continue;
		room = value_room(cfg, o);
		buf = malloc(room);
		if (!buf)
			return -1;
		rc = setvar(o->env, lt_config_value(cfg, o, buf, room), arg);
		free(buf);
	}
	if (!rc && cfg->presets)
		rc = setvar(LT_PRESETS_ENV, cfg->presets, arg);
	return rc;
}
