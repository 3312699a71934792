/* A minimal parallel-for over pthreads for the memory-bound image passes. */
#define _GNU_SOURCE /* sched_getaffinity */
#include "parallel.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

unsigned
bq_cpu_count(void)
{
    const char *env = getenv("BLOTQUANT_THREADS");
    cpu_set_t set;
    long c;

    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (!*end && v >= 1 && v <= 64)
            return (unsigned)v;
    }
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (unsigned)c : 1;
}

struct part {
    void (*fn)(void *ctx, size_t lo, size_t hi); /* the work */
    void *ctx;                                   /* its argument */
    size_t lo, hi;                               /* items [lo, hi) */
};

static void *
run_part(void *arg)
{
    struct part *p = arg;
    p->fn(p->ctx, p->lo, p->hi);
    return NULL;
}

void
bq_parallel_for(size_t n, unsigned nthreads,
                void (*fn)(void *ctx, size_t lo, size_t hi), void *ctx)
{
    struct part parts[8];
    pthread_t tid[8];
    int started[8] = {0};
    unsigned k;

    if (nthreads == 0)
        nthreads = bq_cpu_count();
    if (nthreads > 8)
        nthreads = 8;
    if (nthreads > n)
        nthreads = n ? (unsigned)n : 1;
    if (nthreads <= 1) {
        fn(ctx, 0, n);
        return;
    }
    for (k = 0; k < nthreads; k++) {
        parts[k].fn = fn;
        parts[k].ctx = ctx;
        parts[k].lo = n * k / nthreads;
        parts[k].hi = n * (k + 1) / nthreads;
    }
    for (k = 1; k < nthreads; k++)
        started[k] = pthread_create(&tid[k], NULL, run_part, &parts[k]) == 0;
    fn(ctx, parts[0].lo, parts[0].hi);
    for (k = 1; k < nthreads; k++) {
        if (started[k])
            pthread_join(tid[k], NULL);
        else
            fn(ctx, parts[k].lo, parts[k].hi); /* could not start: do it here */
    }
}
