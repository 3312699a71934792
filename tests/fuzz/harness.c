/* What the fuzz targets share: a per-process scratch folder for inputs
 * (the loaders and parsers read paths, not memory) and loader options. */
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blotquant/image.h"

static char dir[256]; /* "" until made */

/* Removes the scratch folder and the files and folders in it (one level of
 * subfolders is all bq_fuzz_write makes). */
static void
remove_tree(const char *path, int depth)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char sub[512];

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode) && depth < 2)
            remove_tree(sub, depth + 1);
        else
            unlink(sub);
    }
    closedir(d);
    rmdir(path);
}

static void
cleanup(void)
{
    if (dir[0])
        remove_tree(dir, 0);
}

const char *
bq_fuzz_dir(void)
{
    if (!dir[0]) {
        /* /dev/shm keeps the millions of small writes off the disk */
        struct stat st;
        const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
                                   access("/dev/shm", W_OK) == 0
                               ? "/dev/shm"
                               : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        snprintf(dir, sizeof dir, "%s/bqfuzz.XXXXXX", base);
        if (!mkdtemp(dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(cleanup);
    }
    return dir;
}

const char *
bq_fuzz_write(const char *name, const uint8_t *data, size_t size)
{
    static char path[512];
    const char *slash = strchr(name, '/');
    FILE *f;

    if (slash) {
        snprintf(path, sizeof path, "%s/%.*s", bq_fuzz_dir(),
                 (int)(slash - name), name);
        mkdir(path, 0700);
    }
    snprintf(path, sizeof path, "%s/%s", bq_fuzz_dir(), name);
    f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

void
bq_fuzz_check_error(enum bq_status st, const struct bq_error *err,
                    const char *path)
{
    if (st == BQ_OK)
        return;
    if (err->status != st || !err->msg[0] ||
        (path && !strstr(err->msg, path))) {
        fprintf(stderr, "fuzz: status %d but error %d '%s' (must name %s)\n",
                (int)st, (int)err->status, err->msg, path ? path : "-");
        abort();
    }
}

void
bq_fuzz_load_opts(struct bq_load_opts *o, uint64_t max_pixels)
{
    bq_load_opts_init(o);
    o->max_pixels = max_pixels;
    o->max_bytes = (uint64_t)64 << 20;
}

/* One load of PATH, checked against the error contract: 1 if it loaded. */
static int
load_one(const char *path, const struct bq_load_opts *o,
         struct bq_load_info *info)
{
    struct bq_image *img = NULL;
    struct bq_error err = {0};
    enum bq_status st = bq_image_load(path, o, &img, info, &err);

    bq_fuzz_check_error(st, &err, path);
    bq_image_destroy(img);
    return st == BQ_OK;
}

int
bq_fuzz_load_all(const uint8_t *data, size_t size,
                 const struct bq_load_opts *opts)
{
    const char *path = bq_fuzz_write("in.img", data, size);
    struct bq_load_opts o = *opts;
    struct bq_load_info info;
    int ok = load_one(path, &o, &info);

    if (!ok)
        return 0;
    if (info.pages > 1) {
        o.page = 1;
        ok += load_one(path, &o, NULL);
        o.page = opts->page;
    }
    if (info.samples >= 3) {
        o.channel = BQ_CHANNEL_B;
        ok += load_one(path, &o, NULL);
    }
    return ok;
}
