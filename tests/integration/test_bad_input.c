/*
 * test_bad_input.c - every kind of bad input ltrun can be given, each run
 * through the real binary (built with ASan and UBSan): flags, LTRUN_*
 * variables, config files, the cluster's variables, host lists, plugins and
 * model files.  Each must give exactly one line on stderr, "ltrun: " first,
 * naming the input; exit status 2 for usage errors, 1 for the rest; nothing
 * on stdout; and no sanitizer report (which would add lines and change the
 * status).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "params.h"
#include "run.h"

#define NARGS 10
#define NENV 12
#define NWANT 3

struct bad_case {
	const char *args[NARGS];  /* "@CONFIG@" is replaced by the config file's path,
				   * "@B/x" by a path in the build under test */
	const char *env[NENV];
	const char *config;       /* contents of the config file, or NULL */
	int status;
	const char *want[NWANT];  /* substrings the message must contain */
};

#define SRUN_ENV "SLURM_JOB_ID=77", "SLURM_STEP_ID=0", "SLURM_PROCID=0", \
	"SLURM_LOCALID=0", "SLURM_NODEID=0", "SLURM_JOB_NUM_NODES=1"

static struct bad_case cases[] = {
	/* flags: usage errors */
	{ { "--dry-run", "--devices", "abc" }, {0}, NULL, 2, { "--devices", "'abc'" } },
	{ { "--dry-run", "--devices", "0" }, {0}, NULL, 2, { "--devices", "'0'" } },
	{ { "--dry-run", "--devices", "-3" }, {0}, NULL, 2, { "--devices", "'-3'" } },
	{ { "--dry-run", "--devices", "99999999999999999999" }, {0}, NULL, 2, { "--devices", "99999999999" } },
	{ { "--dry-run", "--num-nodes", "x" }, {0}, NULL, 2, { "--num-nodes", "'x'" } },
	{ { "--dry-run", "--num-nodes", "3:2" }, {0}, NULL, 2, { "--num-nodes '3:2'", "MIN 3 is above MAX 2" } },
	/* an elastic job whose etcd cannot be reached (port 1: nothing listens) */
	{ { "--num-nodes", "1:2", "--rdzv", "etcd", "--rdzv-endpoint", "127.0.0.1:1", "--devices", "1",
	    "@B/examples/models/hello.so" }, {0}, NULL, 1,
	  { "cannot reach etcd at 127.0.0.1:1", "--rdzv-endpoint" } },
	{ { "--dry-run", "--node-rank", "-1" }, {0}, NULL, 2, { "--node-rank", "'-1'" } },
	{ { "--dry-run", "--main-port", "70000" }, {0}, NULL, 2, { "--main-port", "'70000'" } },
	{ { "--dry-run", "--main-port", "0" }, {0}, NULL, 2, { "--main-port", "'0'" } },
	{ { "--dry-run", "--main-addr", "bad host!" }, {0}, NULL, 2, { "--main-addr", "'bad host!'" } },
	{ { "--dry-run", "--max-restarts", "lots" }, {0}, NULL, 2, { "--max-restarts", "'lots'" } },
	{ { "--dry-run", "--strategy", "fdsp" }, {0}, NULL, 2, { "unknown strategy 'fdsp'", "valid:" } },
	{ { "--dry-run", "--strategy", "horovod" }, {0}, NULL, 2, { "strategy 'horovod' is not built in this version" } },
	{ { "--dry-run", "--strategy", "DDP" }, {0}, NULL, 2, { "--strategy", "'DDP'" } },
	{ { "--dry-run", "--precision", "bf16-mix" }, {0}, NULL, 2, { "'bf16-mix'", "did you mean 'bf16-mixed'?" } },
	{ { "--dry-run", "--precision", "8" }, {0}, NULL, 2, { "unknown precision '8'", "32-true" } },
	{ { "--dry-run", "--cluster", "slrum" }, {0}, NULL, 2, { "'slrum'", "did you mean 'slurm'?" } },
	/* a forced environment without its variables fails plainly */
	{ { "--dry-run", "--cluster", "slurm" }, {0}, NULL, 1,
	  { "--cluster slurm: neither SLURM_JOB_ID nor SLURM_NTASKS is set", "srun", "drop --cluster" } },
	{ { "--dry-run", "--cluster", "torchelastic" }, {0}, NULL, 1,
	  { "--cluster torchelastic: TORCHELASTIC_RUN_ID is not set", "torchrun", "drop --cluster" } },
	{ { "--dry-run", "--cluster", "lsf" }, {0}, NULL, 1,
	  { "--cluster lsf: LSB_JOBID is not set", "bsub", "drop --cluster" } },
	{ { "--dry-run", "--cluster", "lsf", "--node-rank", "0" }, { "LSB_MCPU_HOSTS=b 1 h1 4 h2 4 h3 4 h4 4" },
	  NULL, 1, { "--cluster lsf: LSB_JOBID is not set", "bsub", "drop --cluster" } },
	{ { "--dry-run" }, { "LTRUN_CLUSTER=lsf", "LSB_HOSTS=h1 h2" }, NULL, 1,
	  { "--cluster lsf: LSB_JOBID is not set", "(from LTRUN_CLUSTER)" } },
	{ { "--dry-run", "--cluster", "kubeflow" }, { "MASTER_ADDR=m", "MASTER_PORT=23456", "WORLD_SIZE=2" },
	  NULL, 1, { "--cluster kubeflow: KUBERNETES_PORT, RANK not set", "PyTorchJob", "drop --cluster" } },
	{ { "--dry-run", "--cluster", "mpi" }, {0}, NULL, 1,
	  { "--cluster mpi: none of OMPI_COMM_WORLD_SIZE", "mpirun", "drop --cluster" } },
	{ { "--dry-run", "--term-timeout", "-1" }, {0}, NULL, 2, { "--term-timeout", "'-1'" } },
	{ { "--dry-run", "--rdzv-timeout", "0" }, {0}, NULL, 2, { "--rdzv-timeout", "'0'" } },
	{ { "--dry-run", "--signals", "TERM,KILL" }, {0}, NULL, 2, { "--signals", "SIGKILL cannot be forwarded" } },
	{ { "--dry-run", "--signals", "" }, {0}, NULL, 2, { "--signals" } },
	{ { "--dry-run", "--rdzv", "etcd" }, {0}, NULL, 2, { "rendezvous 'etcd'", "--rdzv-endpoint" } },
	{ { "--dry-run", "--rdzv", "zookeeper" }, {0}, NULL, 2, { "unknown rdzv 'zookeeper'", "auto, tcp, etcd, file, pmix" } },
	{ { "--dry-run" }, { "LTRUN_SIGNALS=USR9" }, NULL, 2, { "LTRUN_SIGNALS", "'USR9'" } },
	{ { "--dry-run", "--rdzv", "file" }, {0}, NULL, 2, { "rendezvous 'file'", "LTRUN_RDZV_DIR" } },
	{ { "--no-srun", "--devices", "2", "@B/examples/models/hello.so" },
	  { "SLURM_JOB_ID=42", "SLURM_JOB_NUM_NODES=2", "SLURM_JOB_NODELIST=n[1-2]", "SLURM_NODEID=0" },
	  NULL, 1, { "batch script of a 2-node Slurm job", "srun --ntasks-per-node=1" } },
	{ { "@B/examples/models/hello.so" },
	  { "OMPI_COMM_WORLD_SIZE=1", "OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_LOCAL_RANK=0",
	    "OMPI_COMM_WORLD_LOCAL_SIZE=1", "SLURM_JOB_ID=7", "SLURM_NTASKS=4" },
	  NULL, 1, { "world size 1", "SLURM_NTASKS=4 promised 4 ranks", "--mpi=pmix" } },
	{ { "--resume", "last", "@B/examples/models/hello.so" }, {0}, NULL, 2,
	  { "--resume is 'last'", "needs --ckpt-dir" } },
	/* --resume is checked once, before any rank starts: one line, status 2 */
	{ { "--resume", "/proc/ltrun-no-ckpt/step-3", "--devices", "2", "--max-steps", "1",
	    "@B/examples/mlp/mlp.so" }, {0}, NULL, 2,
	  { "--resume '/proc/ltrun-no-ckpt/step-3'", "No such file or directory", "step-N" } },
	{ { "--resume", "/proc/ltrun-no-ckpt", "--devices", "2", "@B/examples/models/hello.so" },
	  {0}, NULL, 2, { "--resume '/proc/ltrun-no-ckpt'", "No such file or directory" } },
	{ { "--resume", "/", "--devices", "2", "--max-steps", "1", "@B/examples/mlp/mlp.so" }, {0},
	  NULL, 2, { "checkpoint '", "give last, step-<N>" } },
	{ { "--devices", "2", "--max-steps", "1", "@B/examples/mlp/mlp.so" },
	  { "LTRUN_RESUME=/etc" }, NULL, 2, { "checkpoint '", "etc'", "give last, step-<N>" } },
	{ { "--resume", "http://127.0.0.1:9/ckpt/step-1", "--devices", "2",
	    "@B/examples/models/hello.so" }, {0}, NULL, 2, { "is a URL", "--ckpt-io http" } },
	{ { "--dry-run", "--resume", "model.safetensors" }, {0}, NULL, 2,
	  { "--resume 'model.safetensors'", "give 'last'" } },
	{ { "--ckpt-dir", "http://127.0.0.1:9/x", "@B/examples/models/hello.so" }, {0}, NULL, 2,
	  { "is a URL", "--ckpt-io http" } },
#if LT_HAVE_CUDA
	{ { "--dry-run", "--comm", "nccl" }, {0}, NULL, 2, { "--comm nccl moves GPU memory", "--accelerator cuda" } },
#else
	{ { "--dry-run", "--comm", "nccl" }, {0}, NULL, 2, { "comm 'nccl' is not built in this version" } },
#endif
	{ { "--dry-run", "--ckpt-io", "s3" }, {0}, NULL, 2, { "unknown ckpt-io 's3'" } },
#if LT_HAVE_CUDA
	{ { "--dry-run", "--accelerator", "cuda", "--comm", "gloo" }, {0}, NULL, 2, { "--comm gloo moves host memory", "use --comm auto (nccl)" } },
#else
	{ { "--dry-run", "--accelerator", "cuda" }, {0}, NULL, 2, { "accelerator 'cuda' is not built" } },
#endif
	{ { "--dry-run", "--accelerator", "tpu" }, {0}, NULL, 2, { "unknown accelerator 'tpu'" } },
	{ { "--bogus" }, {0}, NULL, 2, { "unknown option '--bogus'" } },
	{ { "--devics", "4" }, {0}, NULL, 2, { "'--devics'", "did you mean '--devices'?" } },
	{ { "--dry-run", "--devices" }, {0}, NULL, 2, { "'--devices' needs a value" } },
	{ { "--dry-run=yes" }, {0}, NULL, 2, { "'--dry-run' takes no value" } },
	{ { "-x" }, {0}, NULL, 2, { "unknown option '-x'" } },
	{ { "--list", "kinds" }, {0}, NULL, 2, { "unknown plugin kind 'kinds'" } },
	{ { "--list", "strategi" }, {0}, NULL, 2, { "'strategi'", "did you mean 'strategy'?" } },
	{ { "--devices", "2" }, {0}, NULL, 2, { "no model given" } },
	{ { "--dry-run", "--strategy", "single_device", "--devices", "4" }, {0}, NULL, 2,
	  { "'single_device' runs one rank", "4" } },
	/* training options */
	{ { "--dry-run", "--lr", "0" }, {0}, NULL, 2, { "--lr", "'0'", "a number > 0" } },
	{ { "--dry-run", "--optimizer", "adam" }, {0}, NULL, 2, { "--optimizer", "did you mean 'adamw'?" } },
	{ { "--dry-run", "--max-steps", "0" }, {0}, NULL, 2, { "--max-steps", "none (-1)" } },
	{ { "--dry-run", "--momentum", "1" }, {0}, NULL, 2, { "--momentum", ">= 0 and < 1" } },
	{ { "--dry-run", "--batch-size" }, {0}, NULL, 2, { "'--batch-size' needs a value" } },
	{ { "--dry-run" }, { "LTRUN_GRADIENT_CLIP_ALGORITHM=l2" }, NULL, 2,
	  { "LTRUN_GRADIENT_CLIP_ALGORITHM", "'l2'", "norm or value" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0}, "{\"lr\": \"0.1\"}", 2,
	  { "'lr' in config file", "expected a number, got a string" } },
	/* LTRUN_* variables: usage errors naming the variable */
	{ { "--dry-run" }, { "LTRUN_DEVICES=four" }, NULL, 2, { "LTRUN_DEVICES", "'four'" } },
	{ { "--devices", "1" }, { "LTRUN_DRY_RUN=maybe" }, NULL, 2, { "LTRUN_DRY_RUN", "'maybe'" } },
	{ { "--dry-run" }, { "LTRUN_PRECISION=fp8" }, NULL, 2, { "unknown precision 'fp8'", "LTRUN_PRECISION" } },
	{ { "--dry-run" }, { "LTRUN_MAIN_PORT=-5" }, NULL, 2, { "LTRUN_MAIN_PORT", "'-5'" } },
	{ { "--dry-run" }, { "LTRUN_PLUGIN=./a.so::./b.so" }, NULL, 2, { "LTRUN_PLUGIN", "empty plugin path" } },
	{ { "--dry-run" }, { "LTRUN_NUM_NODES=" }, NULL, 2, { "LTRUN_NUM_NODES", "''" } },
	/* config files */
	{ { "--dry-run", "--config", "/nonexistent/ltrun.json" }, {0}, NULL, 1,
	  { "cannot read config file '/nonexistent/ltrun.json'", "No such file" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0}, "{\n\"devices\": 4,\n\"strategy\" \"ddp\"\n}", 2,
	  { "is not valid JSON", "line 3" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0}, "{\"devices\": \"four\"}", 2,
	  { "'devices' in config file", "a string" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0}, "{\"devices\": true}", 2,
	  { "'devices' in config file", "got a boolean" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0}, "{\"devics\": 4}", 2,
	  { "unknown key 'devics'", "did you mean 'devices'?" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0}, "[1, 2]", 2, { "must hold a JSON object" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0}, "{\"plugin\": [1]}", 2,
	  { "'plugin' in config file", "path string" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0}, "{\"tee\": \"yes\"}", 2,
	  { "'tee' in config file", "true or false" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0}, "{\"devices\": 2.5}", 2,
	  { "'devices' in config file", "2.5" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0}, "{\"precision\": \"bf17\"}", 2,
	  { "unknown precision 'bf17'", "config file" } },
	/* the cluster's variables: failures naming the variable and value */
	{ { "--dry-run" }, { SRUN_ENV, "SLURM_NTASKS=abc", "SLURM_JOB_NODELIST=n1" }, NULL, 1,
	  { "SLURM_NTASKS", "abc" } },
	{ { "--dry-run" }, { SRUN_ENV, "SLURM_NTASKS=1", "SLURM_JOB_NODELIST=node[3-1]" }, NULL, 1,
	  { "node[3-1]" } },
	{ { "--dry-run" }, { SRUN_ENV, "SLURM_NTASKS=1", "SLURM_JOB_NODELIST=node[01-" }, NULL, 1,
	  { "node[01-" } },
	{ { "--dry-run" }, { SRUN_ENV, "SLURM_NTASKS=2", "SLURM_NTASKS_PER_NODE=4", "SLURM_JOB_NODELIST=n1" }, NULL, 1,
	  { "SLURM_NTASKS", "2", "4" } },
	{ { "--dry-run", "--devices", "2" }, { SRUN_ENV, "SLURM_NTASKS=4", "SLURM_NTASKS_PER_NODE=4", "SLURM_JOB_NODELIST=n1" }, NULL, 1,
	  { "--devices 2", "4" } },
	{ { "--dry-run" }, { "TORCHELASTIC_RUN_ID=r", "RANK=abc", "LOCAL_RANK=0", "WORLD_SIZE=2",
			     "LOCAL_WORLD_SIZE=2", "GROUP_RANK=0", "MASTER_ADDR=h", "MASTER_PORT=29500" }, NULL, 1,
	  { "RANK", "abc" } },
	{ { "--dry-run" }, { "OMPI_COMM_WORLD_SIZE=4", "OMPI_COMM_WORLD_RANK=9", "OMPI_COMM_WORLD_LOCAL_RANK=1",
			     "OMPI_COMM_WORLD_LOCAL_SIZE=4" }, NULL, 1, { "9" } },
	{ { "--dry-run" }, { "MASTER_PORT=99999" }, NULL, 1, { "MASTER_PORT", "99999" } },
	{ { "--dry-run", "--num-nodes", "2", "--node-rank", "1" }, { "MASTER_ADDR=a b" }, NULL, 1,
	  { "MASTER_ADDR", "a b" } },
	{ { "--dry-run" }, { "NODE_RANK=-1" }, NULL, 1, { "NODE_RANK", "-1" } },
	{ { "--dry-run", "--num-nodes", "2", "--node-rank", "1" }, {0}, NULL, 1, { "--main-addr" } },
	{ { "--dry-run" }, { "KUBERNETES_PORT=tcp://10.0.0.1:443", "MASTER_ADDR=m", "MASTER_PORT=23456",
			     "WORLD_SIZE=0", "RANK=0" }, NULL, 1, { "WORLD_SIZE", "0" } },
	/* plugins */
	{ { "--dry-run", "--plugin", "./nonexistent.so" }, {0}, NULL, 1,
	  { "cannot load plugin './nonexistent.so'" } },
	{ { "--dry-run", "--plugin", "bare.so" }, {0}, NULL, 1,
	  { "cannot load plugin 'bare.so'", "No such file" } },
	{ { "--dry-run", "no-such-model.so" }, {0}, NULL, 1,
	  { "cannot open model './no-such-model.so'", "No such file" } },
	{ { "--dry-run", "--plugin", "/etc/hostname" }, {0}, NULL, 1, { "cannot load plugin '/etc/hostname'" } },
	{ { "--dry-run", "--plugin", "@B/ltrun" }, {0}, NULL, 1, { "plugin" } },
	{ { "--dry-run", "--plugin", "@B/tests/plugins/bad_abi.so" }, {0}, NULL, 1,
	  { "bad_abi.so", "ABI 45", "ABI 4" } },
	{ { "--dry-run", "--plugin", "@B/tests/plugins/no_register.so" }, {0}, NULL, 1,
	  { "no_register.so", "ltrun_plugin_register" } },
	{ { "--dry-run", "--plugin", "@B/tests/plugins/dup_name.so" }, {0}, NULL, 1,
	  { "cluster 'slurm' from ", "dup_name.so is already registered by ltrun (built-in)" } },
	{ { "--dry-run", "--plugin", "@B/tests/plugins/twin_a.so", "--plugin", "@B/tests/plugins/twin_b.so" },
	  {0}, NULL, 1, { "strategy 'twin' from ", "twin_b.so is already registered by ", "twin_a.so" } },
	/* presets: checked against their base's schema when registered */
	{ { "--list", "--plugin", "@B/tests/plugins/preset_bad_key.so" }, {0}, NULL, 1,
	  { "strategy preset 'ddp_typo' from ", "preset_bad_key.so", "did you mean 'bucket_mb'?" } },
	{ { "--list", "--plugin", "@B/tests/plugins/preset_bad_value.so" }, {0}, NULL, 1,
	  { "strategy preset 'ddp_negative' from ", "bucket_mb=-5", "[0.001, 65536]" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0},
	  "{\"presets\": {\"strategy\": {\"ddp_big\": {\"base\": \"ddp\", \"bucket_mb\": 0}}}}", 2,
	  { "strategy preset 'ddp_big' from ", "bucket_mb=0", "[0.001, 65536]" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0},
	  "{\"presets\": {\"strategy\": {\"ddp_big\": {\"bucket_mb\": 10}}}}", 2,
	  { "strategy preset 'ddp_big'", "has no \"base\"" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0},
	  "{\"presets\": {\"strategi\": {\"x\": {\"base\": \"ddp\"}}}}", 2,
	  { "unknown plugin kind 'strategi'", "did you mean 'strategy'?" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0},
	  "{\"presets\": {\"strategy\": {\"ddp\": {\"base\": \"ddp\"}}}}", 2,
	  { "strategy 'ddp' from ", "already registered by ltrun (built-in)" } },
	/* the inline form NAME:KEY=VALUE,... */
	{ { "--dry-run", "--strategy", "ddp:bucket=100" }, {0}, NULL, 2,
	  { "strategy 'ddp' has no parameter 'bucket'", "did you mean 'bucket_mb'?", "launcher, bucket_mb" } },
	{ { "--dry-run" }, { "LTRUN_STRATEGY=ddp:launcher=spawn" }, NULL, 2,
	  { "launcher=spawn", "exec|fork", "(from LTRUN_STRATEGY)" } },
	{ { "--dry-run", "--config", "@CONFIG@" }, {0}, "{\"strategy\": \"ddp:bucket_mb=big\"}", 2,
	  { "bucket_mb=big", "config file" } },
	{ { "--dry-run", "--precision", "32-true:scale=2" }, {0}, NULL, 2,
	  { "precision '32-true' has no parameter 'scale'", "parameters: none" } },
	{ { "--dry-run", "--strategy", "ddp:" }, {0}, NULL, 2, { "--strategy", "KEY=VALUE" } },
	/* model files */
	{ { "--dry-run", "/nonexistent/model.so" }, {0}, NULL, 1, { "cannot open model '/nonexistent/model.so'" } },
	{ { "--dry-run", "/etc/hostname" }, {0}, NULL, 1, { "model '/etc/hostname'", "not an ELF shared object" } },
};

ParameterizedTestParameters(bad_input, one_line_and_status)
{
	return LT_TABLE_PARAMS(cases);
}

/* Expands "@CONFIG@" and "@B/..." in a case's arguments. */
static void expand_args(const struct bad_case *c, const char *config_path,
			const char **out)
{
	int i;

	for (i = 0; i < NARGS && c->args[i]; i++) {
		if (!strcmp(c->args[i], "@CONFIG@"))
			out[i] = config_path;
		else if (!strncmp(c->args[i], "@B/", 3))
			out[i] = build_path(c->args[i] + 3);
		else
			out[i] = c->args[i];
	}
	out[i] = NULL;
}

ParameterizedTest(size_t *idx, bad_input, one_line_and_status)
{
	const struct bad_case *c = &cases[*idx];
	char config_path[] = "/tmp/ltrun-bad-XXXXXX";
	const char *args[NARGS + 1];
	struct run_result r;
	int i;

	if (c->config) {
		int fd = mkstemp(config_path);
		cr_assert(fd >= 0, "cannot create a temporary config file");
		cr_assert_eq(write(fd, c->config, strlen(c->config)), (ssize_t)strlen(c->config));
		close(fd);
	}
	expand_args(c, config_path, args);
	cr_assert_eq(run_ltrun(args, c->env, &r), 0, "cannot start %s", build_path("ltrun"));
	if (c->config)
		unlink(config_path);

	cr_expect_eq(r.status, c->status, "%s: exit status %d, expected %d; stderr: %s",
		     args[0], r.status, c->status, r.err);
	cr_expect_eq(count_lines(r.err), 1, "%s: expected one line on stderr, got:\n%s",
		     args[0], r.err);
	cr_expect(!strncmp(r.err, "ltrun: ", 7), "message does not start with 'ltrun: ': %s", r.err);
	cr_expect_str_empty(r.out, "nothing belongs on stdout, got: %s", r.out);
	for (i = 0; i < NWANT && c->want[i]; i++)
		cr_expect(strstr(r.err, c->want[i]) != NULL, "message lacks '%s': %s",
			  c->want[i], r.err);
	run_result_free(&r);
}

Test(bad_input, has_forty_cases)
{
	cr_assert_geq(sizeof(cases) / sizeof(cases[0]), 40);
}

/* Runs `cd DIR && exec ltrun ARGS` (args: a shell word list, already
 * quoted) and returns the result. */
static void run_in(const char *dir, const char *args, struct run_result *r)
{
	char script[2 * PATH_MAX + 128], ltrun[PATH_MAX];

	cr_assert_not_null(realpath(build_path("ltrun"), ltrun), "%s", build_path("ltrun"));
	snprintf(script, sizeof(script), "cd '%s' && exec '%s' %s", dir, ltrun, args);
	cr_assert_eq(run_command((const char *[]){ "sh", "-c", script, NULL }, NULL, 60, r), 0,
		     "cannot start sh");
}

/* `ltrun model.so` in the model's own directory: a name without '/' is the
 * file there, for the agent and for every rank it execs (dlopen() alone
 * would search the library path and fail), and so is `--plugin x.so`. */
Test(bad_input, bare_names_are_files_in_the_current_directory)
{
	char dir[512];
	struct run_result r;

	snprintf(dir, sizeof(dir), "%s", build_path("examples/models"));
	run_in(dir, "--devices 2 hello.so", &r);
	cr_expect_eq(r.status, 0, "ltrun --devices 2 hello.so in %s: status %d: %s", dir,
		     r.status, r.err);
	cr_expect(strstr(r.out, "bye rank=0") && strstr(r.out, "bye rank=1"), "%s", r.out);
	cr_expect_null(strstr(r.err, "cannot open shared object"), "%s", r.err);
	run_result_free(&r);

	snprintf(dir, sizeof(dir), "%s", build_path("examples/plugins"));
	run_in(dir, "--plugin hostfile_env.so --list cluster", &r);
	cr_expect_eq(r.status, 0, "ltrun --plugin hostfile_env.so in %s: status %d: %s", dir,
		     r.status, r.err);
	cr_expect_not_null(strstr(r.out, "hostfile"), "%s", r.out);
	run_result_free(&r);
}
