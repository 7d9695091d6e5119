/*
 * offload_rss.c - what offload_optimizer=nvme saves: the peak resident
 * memory (VmHWM) of a process that holds P f32 parameters and their
 * gradients and runs AdamW steps over them, tensor by tensor as the
 * runtime's lt_update does, with the optimizer state in memory
 * (lt_optim_new) and in files (lt_optim_new_files), each in a process of
 * its own, and the time of a step.  Prints one line a mode:
 *
 *   offload_rss: mode=memory|files params=P state_bytes=S resident_state_bytes=R
 *                vmhwm_kb=K step_ms=T
 *
 * state_bytes is AdamW's two f32 moments (8 bytes a parameter);
 * resident_state_bytes what lt_optim_resident_bytes() says of them;
 * step_ms the median step.  The parameters and gradients (8 bytes a
 * parameter) are in both modes' VmHWM.
 *
 *   offload_rss [--params 50000000] [--steps 3] [--tensor 1048576] [--dir DIR]
 *
 * --dir: where the files go (default: a new directory under /tmp, removed
 * after); LTRUN_OFFLOAD_CHUNK sets the chunk (default 4 MiB a slot).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "runtime/optim.h"

struct opts {
	size_t params, tensor;
	int steps;
	const char *dir;
};

static long vmhwm_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One mode, in this process: prints its line.  Returns the exit status. */
static int measure(const struct opts *o, bool files)
{
	struct lt_optim_cfg cfg = { .kind = LT_OPTIM_ADAMW, .weight_decay = 0.1 };
	float *p = malloc(o->params * sizeof(float)), *g = malloc(o->params * sizeof(float));
	double ms[64];
	struct lt_err err = { 0 };
	struct lt_optim *opt;
	int steps = o->steps < 64 ? o->steps : 64;

	if (!p || !g) {
		fprintf(stderr, "offload_rss: out of memory for %zu parameters\n", o->params);
		return 1;
	}
	for (size_t i = 0; i < o->params; i++) {
		p[i] = (float)(i % 1000) / 1000.0f;
		g[i] = (float)((i * 7) % 1000) / 1000.0f - 0.5f;
	}
	opt = files ? lt_optim_new_files(&cfg, o->params, LT_F32, o->dir, 0, &err)
		    : lt_optim_new(&cfg, o->params, &err);
	if (!opt) {
		fprintf(stderr, "offload_rss: %s\n", err.msg);
		return 1;
	}
	for (int s = 0; s < steps; s++) {
		double t0 = lt_now_s();

		for (size_t at = 0; at < o->params; at += o->tensor) {
			size_t n = o->params - at < o->tensor ? o->params - at : o->tensor;
			lt_optim_step(opt, p + at, g + at, at, n, 1e-3, s + 1);
		}
		if (lt_optim_finish(opt, &err)) {
			fprintf(stderr, "offload_rss: %s\n", err.msg);
			return 1;
		}
		ms[s] = (lt_now_s() - t0) * 1e3;
	}
	qsort(ms, (size_t)steps, sizeof(double), cmp_double);
	printf("offload_rss: mode=%s params=%zu state_bytes=%zu resident_state_bytes=%zu vmhwm_kb=%ld step_ms=%.1f\n",
	       files ? "files" : "memory", o->params, 2 * o->params * sizeof(float),
	       lt_optim_resident_bytes(opt), vmhwm_kb(), ms[steps / 2]);
	lt_optim_free(opt);
	free(p);
	free(g);
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return -1;
		if (!strcmp(argv[i], "--params"))
			o->params = strtoull(v, NULL, 10);
		else if (!strcmp(argv[i], "--steps"))
			o->steps = atoi(v);
		else if (!strcmp(argv[i], "--tensor"))
			o->tensor = strtoull(v, NULL, 10);
		else if (!strcmp(argv[i], "--dir"))
			o->dir = v;
		else
			return -1;
	}
	return o->params && o->tensor && o->steps > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct opts o = { .params = 50000000, .tensor = 1 << 20, .steps = 3 };
	char tmp[] = "/tmp/ltrun-offload-rss-XXXXXX";
	int rc = 0;

	if (parse(argc, argv, &o)) {
		fprintf(stderr, "usage: offload_rss [--params N] [--steps N] [--tensor N] [--dir DIR]\n");
		return 2;
	}
	if (!o.dir && !(o.dir = mkdtemp(tmp))) {
		fprintf(stderr, "offload_rss: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	fflush(stdout);
	for (int files = 0; files < 2; files++) {
		int status;
		pid_t pid = fork();

		if (pid == 0) {
			int r = measure(&o, files);

			fflush(stdout);
			_exit(r);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			rc = 1;
	}
	if (o.dir == tmp)
		rmdir(tmp);
	return rc;
}
