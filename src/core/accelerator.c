/*
 * accelerator.c - the accelerators this build has: cpu.  The cuda
 * accelerator (dlopen of the CUDA runtime) is known but not built.
 */
#include "accel/accel.h"
#include "core/registry.h"

/* On the cpu accelerator `--devices auto` means one rank, as in Lightning:
 * more CPU ranks than that is a choice the user makes. */
static int cpu_auto_devices(void)
{
	return 1;
}

static const struct lt_accelerator_ops cpu_ops = { .auto_devices = cpu_auto_devices };

static const struct lt_plugin cpu = {
	.kind = LT_KIND_ACCELERATOR,
	.name = "cpu",
	.description = "Tensors in host memory; each rank is one process.",
	.recommended_when = "no GPU, or for tests and small models",
	.ops = &cpu_ops,
};

static const char *const absent[] = { "cuda", NULL };

int lt_accelerator_catalog(struct lt_registry *reg, struct lt_err *err)
{
	return lt_registry_add_all(reg, &cpu, 1, absent, err);
}
