/* Table-driven Criterion tests: parameters cross into each test's worker
 * process by value, where a table's pointers would dangle (the worker is a
 * fresh exec with its own address layout). Tests therefore take an index
 * into their static table:
 *
 *	ParameterizedTestParameters(suite, name) { return LT_TABLE_PARAMS(cases); }
 *	ParameterizedTest(size_t *i, suite, name) { const struct c *c = &cases[*i]; }
 */
#ifndef LT_TESTS_PARAMS_H
#define LT_TESTS_PARAMS_H

#include <stddef.h>

#define LT_TABLE_LEN(t) (sizeof(t) / sizeof((t)[0]))

static inline size_t *lt_table_indices(size_t *idx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	return idx;
}

#define LT_TABLE_PARAMS(t)                                                              \
	({                                                                              \
		static size_t lt_idx_[LT_TABLE_LEN(t)];                                 \
		cr_make_param_array(size_t, lt_table_indices(lt_idx_, LT_TABLE_LEN(t)), \
				    LT_TABLE_LEN(t));                                   \
	})

#endif
