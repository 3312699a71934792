/* Internal: split a loop over N items across threads. */
#ifndef BQ_PARALLEL_H
#define BQ_PARALLEL_H

#include <stddef.h>

/* The processors this process may use: $BLOTQUANT_THREADS if set (1-64;
 * a workflow engine passes what it granted the job), else those of its
 * CPU affinity (taskset, a cluster's cpuset), else all online. */
unsigned bq_cpu_count(void);

/* Calls FN(CTX, lo, hi) on consecutive, disjoint ranges covering [0, N),
 * on up to NTHREADS threads (0 = bq_cpu_count(), at most 8); the calling thread
 * takes the first range. Ranges never depend on timing, so results are the same
 * for any thread count as long as FN's output for an item depends only on that
 * item. Falls back to one call if threads cannot be started. */
void bq_parallel_for(size_t n, unsigned nthreads,
                     void (*fn)(void *ctx, size_t lo, size_t hi), void *ctx);

#endif
