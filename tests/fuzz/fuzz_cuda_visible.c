/*
 * fuzz_cuda_visible.c - libFuzzer target for CUDA_VISIBLE_DEVICES
 * (src/accel/cuda_visible.c): the first byte is the local world (1 to
 * 16) and the device count (0 to 15), the rest the variable's text.
 * Every input must give either a one-line usage error naming the
 * variable, or a list of distinct, non-empty entries; then the device a
 * rank takes is inside the count, or a one-line refusal.  Seed corpus:
 * corpus/cuda_visible/.
 */
#include "accel/cuda_visible.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lt_cuda_visible v;
	struct lt_err err = { 0 };
	int world, count, ordinal;
	char *text;

	if (size < 1)
		return 0;
	world = 1 + (data[0] & 15);
	count = data[0] >> 4;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (lt_cuda_visible_parse(text, &v, &err)) {
		if (err.status != LT_EXIT_USAGE || strchr(err.msg, '\n') ||
		    strncmp(err.msg, "CUDA_VISIBLE_DEVICES='", 22))
			abort();
		free(text);
		return 0;
	}
	for (int i = 0; i < v.n; i++) {
		if (!v.entry[i][0])
			abort();
		for (int j = 0; j < i; j++)
			if (!strcmp(v.entry[i], v.entry[j]))
				abort();
	}
	for (int r = 0; r < world; r++) {
		memset(&err, 0, sizeof(err));
		if (lt_cuda_pick_device(r, world, count, &v, &ordinal, &err)) {
			if (strchr(err.msg, '\n') || !err.msg[0])
				abort();
		} else if (ordinal < 0 || ordinal >= count) {
			abort();
		}
	}
	free(text);
	return 0;
}
