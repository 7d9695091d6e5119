/*
 * fuzz_ckpt_header.c - libFuzzer target for the checkpoint header parser:
 * the first 8 input bytes are the file's size (little-endian; a size below
 * the header's is a truncated file), the rest the header.  Any bytes must
 * either parse into tensors that fit the file without overlapping, or fail
 * with a one-line message naming the file, never crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lt_err err = { 0, "" };
	struct lt_ckpt_reader *r;
	uint64_t file_size = 0;
	size_t n;

	if (size < 8)
		return 0;
	for (int i = 7; i >= 0; i--)
		file_size = file_size << 8 | data[i];
	file_size %= 1ull << 40;
	r = lt_ckpt_parse_header("fuzz.safetensors", data + 8, size - 8, file_size, &err);
	if (!r) {
		if (!err.msg[0] || strchr(err.msg, '\n') || err.status != 1 ||
		    !strstr(err.msg, "fuzz.safetensors"))
			abort(); /* a failure says something, on one line, naming the file */
		return 0;
	}
	{
		const struct lt_ckpt_tensor *t = lt_ckpt_tensors(r, &n);
		uint64_t data_size = file_size - 8 - (size - 8);

		for (size_t i = 0; i < n; i++)
			if (t[i].bytes > data_size || !t[i].name || strlen(t[i].name) > 255)
				abort();
		if (!lt_ckpt_meta(r))
			abort();
		if (lt_ckpt_read(r, n ? t[0].name : "x", LT_F32, 0, NULL, NULL, &err) != -1)
			abort(); /* no IO: nothing can be read */
	}
	lt_ckpt_close(r);
	return 0;
}
