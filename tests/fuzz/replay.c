/* Replays saved fuzz inputs through a target's LLVMFuzzerTestOneInput
 * without libFuzzer, so every normal and sanitizer build runs them:
 *   fuzz_replay_TARGET DIR...
 * feeds every file of each DIR (in name order; a missing DIR counts as
 * empty) and prints how many inputs it ran. A crash or sanitizer report
 * fails the test by itself; the exit code is 1 if no input ran at all (a
 * corpus that went missing), 2 on usage or read errors, else 0. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The contents of PATH in *DATA (caller frees) and *SIZE; 0 or -1. */
static int
slurp(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;

    if (!f)
        return -1;
    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap = cap ? 2 * cap : 65536);
            if (!nb) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    *data = buf;
    *size = n;
    return 0;
}

/* Runs every regular file of DIR; returns how many, or -1 on error. */
static long
replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    long ran = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **nn =
                realloc(names, (cap = cap ? 2 * cap : 256) * sizeof *nn);
            if (!nn)
                abort();
            names = nn;
        }
        if (!(names[n++] = strdup(e->d_name)))
            abort();
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 0; i < n && ran >= 0; i++) {
        char path[4096];
        struct stat st;
        uint8_t *data;
        size_t size;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (slurp(path, &data, &size) != 0) {
            perror(path);
            ran = -1;
            break;
        }
        LLVMFuzzerTestOneInput(data, size);
        free(data);
        ran++;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return ran;
}

int
main(int argc, char **argv)
{
    long total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        long ran = replay_dir(argv[i]);
        if (ran < 0)
            return 2;
        printf("%s: %ld inputs\n", argv[i], ran);
        total += ran;
    }
    printf("replayed %ld inputs, no crash\n", total);
    return total > 0 ? 0 : 1;
}
