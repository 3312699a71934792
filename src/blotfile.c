/* Blot results on disk (blotquant/blotfile.h): a small binary record, read
 * back bit for bit, so that the experiment stage of a workflow gives the
 * tables one `batch` process gives. The wall time (ms) is left out: the same
 * inputs give the same file. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "blotquant/blotfile.h"
#include "blotquant/report.h"

#define MAGIC "BQBLOT\n" /* 8 bytes with its NUL */
#define VERSION 1u
#define BOM 0x01020304u        /* byte order mark */
#define TRAILER 0x444e45u      /* "END" */
#define MAX_BYTES (256u << 20) /* no saved blot comes near */
#define MAX_ROWS 65536u
#define MAX_SIDE 65536u

/* ---- file names ---- */

/* NAME with every character but letters, digits, '.', '-' and '_' made
 * '_' (and a leading '.' too: no hidden files), into OUT of N bytes. */
static void
file_safe(const char *name, char *out, size_t n)
{
    size_t k = 0;

    for (; *name && k + 1 < n; name++, k++) {
        unsigned char ch = (unsigned char)*name;
        out[k] = (char)((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                                (ch >= '0' && ch <= '9') || ch == '-' ||
                                ch == '_' || (ch == '.' && k > 0)
                            ? ch
                            : '_');
    }
    out[k] = '\0';
}

void
bq_blot_file_name(const struct bq_manifest *m, size_t bi, const char *suffix,
                  char *out, size_t n)
{
    char mine[64], other[64];
    int clash = 0;

    file_safe(m->blots[bi].name, mine, sizeof mine);
    for (size_t j = 0; j < bi && !clash; j++) {
        file_safe(m->blots[j].name, other, sizeof other);
        clash = strcmp(mine, other) == 0;
    }
    if (clash)
        snprintf(out, n, "%s+%zu%s", mine, bi + 1, suffix);
    else
        snprintf(out, n, "%s%s", mine, suffix);
}

/* ---- writing ---- */

static void
put(FILE *f, const void *p, size_t n)
{
    if (n)
        fwrite(p, 1, n, f);
}

static void
put_u32(FILE *f, uint32_t v)
{
    put(f, &v, sizeof v);
}

static void
put_u64(FILE *f, uint64_t v)
{
    put(f, &v, sizeof v);
}

static void
put_i32(FILE *f, int v)
{
    int32_t w = (int32_t)v;
    put(f, &w, sizeof w);
}

static void
put_f64(FILE *f, double v)
{
    put(f, &v, sizeof v);
}

static void
put_str(FILE *f, const char *s)
{
    size_t n = strlen(s);
    put_u32(f, (uint32_t)n);
    put(f, s, n);
}

static const struct bq_scanref *
scan_of(const struct bq_mblot *b, int role)
{
    return role == BQ_ROLE_PHOSPHO ? &b->phospho
           : role == BQ_ROLE_TOTAL ? &b->total
                                   : &b->loading;
}

/* What a result was measured from, beyond the blot's and scans' names:
 * the manifest's SHA-256 ("" without one) and each scan's size (0 if it
 * cannot be read). An edited manifest or a replaced scan makes a saved
 * result stale. */
struct source {
    char manifest[65];
    uint64_t size[BQ_NROLES];
};

static void
source_of(const struct bq_manifest *m, const struct bq_mblot *b,
          struct source *src)
{
    memset(src, 0, sizeof *src);
    if (m->path[0] && bq_file_sha256(m->path, src->manifest, NULL) != BQ_OK)
        snprintf(src->manifest, sizeof src->manifest, "unreadable");
    for (int k = 0; k < BQ_NROLES; k++) {
        struct stat st;
        const char *p = scan_of(b, k)->path;
        src->size[k] = p[0] && stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
    }
}

/* The doubles of a lane row, in file order. */
#define ROW_NUMS 14
static void
row_nums(struct bq_lane_ratio *r, double **v)
{
    double *p[ROW_NUMS] = {&r->phospho,
                           &r->total,
                           &r->loading,
                           &r->phospho_se,
                           &r->total_se,
                           &r->loading_se,
                           &r->phospho_snr,
                           &r->total_snr,
                           &r->loading_snr,
                           &r->ratio,
                           &r->ratio_se,
                           &r->fold_change,
                           &r->phospho_per_loading,
                           &r->total_per_loading};
    memcpy(v, p, sizeof p);
}

enum bq_status
bq_blot_result_write(FILE *f, const struct bq_manifest *m, size_t bi,
                     const struct bq_blot_result *res, const char *options)
{
    const struct bq_mblot *b = &m->blots[bi];
    const struct bq_reg_result *g = &res->reg_total;
    struct source src;
    FILE *out = f;
    char *buf = NULL;
    size_t len = 0;
    uint32_t crc;
    enum bq_status st;

    /* the record in memory first: it ends with its CRC-32 */
    if (!(f = open_memstream(&buf, &len)))
        return BQ_ERR_IO;
    source_of(m, b, &src);
    put(f, MAGIC, sizeof MAGIC);
    put_u32(f, VERSION);
    put_u32(f, BOM);
    /* what it is the result of */
    put_str(f, b->name);
    for (int k = 0; k < BQ_NROLES; k++) {
        put_str(f, scan_of(b, k)->name);
        put_u32(f, scan_of(b, k)->page);
        put_u64(f, src.size[k]);
    }
    put_str(f, src.manifest);
    put_str(f, options ? options : "");
    /* the result */
    put_i32(f, (int)res->status);
    put_str(f, res->error);
    put_f64(f, g->dx);
    put_f64(f, g->dy);
    put_f64(f, g->angle);
    put_f64(f, g->score);
    put_f64(f, g->psr);
    put_i32(f, g->matched);
    put_i32(f, res->has_loading);
    put_u64(f, res->nlanes);
    put_u64(f, res->lanes_found);
    put_i32(f, res->hinted);
    put_f64(f, res->band_y);
    put_f64(f, res->band_kda);
    put_i32(f, res->doublet);
    put_u64(f, res->nrows);
    for (size_t i = 0; i < res->nrows; i++) {
        struct bq_lane_ratio r = res->rows[i];
        double *v[ROW_NUMS];
        row_nums(&r, v);
        put_u64(f, r.lane);
        put_i32(f, (int)r.part);
        for (int k = 0; k < ROW_NUMS; k++)
            put_f64(f, *v[k]);
        put_u32(f, r.flags);
    }
    for (int k = 0; k < BQ_NROLES; k++) {
        const struct bq_blot_strip *s = &res->strip[k];
        put_i32(f, s->img != NULL);
        if (s->img) {
            put_u64(f, s->img->width);
            put_u64(f, s->img->height);
            put_i32(f, s->img->bit_depth);
            put(f, &s->img->max_code, sizeof s->img->max_code);
            for (size_t y = 0; y < s->img->height; y++)
                put(f, bq_row(s->img, y), s->img->width * sizeof(float));
        }
        put_u64(f, s->box ? s->nbox : 0);
        for (size_t i = 0; s->box && i < s->nbox; i++) {
            put_i32(f, s->box[i].lane);
            put_f64(f, s->box[i].x);
            put_f64(f, s->box[i].y);
            put_f64(f, s->box[i].w);
            put_f64(f, s->box[i].h);
            put_i32(f, s->box[i].saturated);
        }
        put_str(f, res->overlay[k]);
    }
    put_str(f, res->note);
    put_u32(f, TRAILER);
    st = ferror(f) ? BQ_ERR_IO : BQ_OK;
    if (fclose(f) != 0)
        st = BQ_ERR_IO;
    if (st == BQ_OK) {
        crc = (uint32_t)crc32(0L, (const Bytef *)buf, (uInt)len);
        put(out, buf, len);
        put_u32(out, crc);
        st = ferror(out) ? BQ_ERR_IO : BQ_OK;
    }
    free(buf);
    return st;
}

/* ---- reading ---- */

struct cursor {
    const unsigned char *p;
    size_t n, at;
    int bad; /* ran past the end, or a value out of range */
};

static void
get(struct cursor *c, void *dst, size_t n)
{
    if (c->bad || n > c->n - c->at) {
        c->bad = 1;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, c->p + c->at, n);
    c->at += n;
}

static uint32_t
get_u32(struct cursor *c)
{
    uint32_t v;
    get(c, &v, sizeof v);
    return v;
}

static uint64_t
get_u64(struct cursor *c)
{
    uint64_t v;
    get(c, &v, sizeof v);
    return v;
}

static int
get_i32(struct cursor *c)
{
    int32_t v;
    get(c, &v, sizeof v);
    return v;
}

static double
get_f64(struct cursor *c)
{
    double v;
    get(c, &v, sizeof v);
    return v;
}

/* A string into DST of N bytes (too long for it: bad). */
static void
get_str(struct cursor *c, char *dst, size_t n)
{
    uint32_t len = get_u32(c);
    if (c->bad || len >= n) {
        c->bad = 1;
        dst[0] = '\0';
        return;
    }
    get(c, dst, len);
    dst[c->bad ? 0 : len] = '\0';
}

/* A count at most MAX (else bad, 0). */
static size_t
get_count(struct cursor *c, uint64_t max)
{
    uint64_t v = get_u64(c);
    if (v > max) {
        c->bad = 1;
        return 0;
    }
    return (size_t)v;
}

static enum bq_status
read_strip(struct cursor *c, struct bq_blot_strip *s, struct bq_error *err)
{
    if (get_i32(c)) {
        size_t w = get_count(c, MAX_SIDE), h = get_count(c, MAX_SIDE);
        int depth = get_i32(c);
        float maxc;
        get(c, &maxc, sizeof maxc);
        if (c->bad || w == 0 || h == 0 ||
            (uint64_t)w * h * sizeof(float) > c->n - c->at) {
            c->bad = 1;
            return BQ_OK;
        }
        if (!(s->img = bq_image_create(w, h, err)))
            return BQ_ERR_NOMEM;
        s->img->bit_depth = depth;
        s->img->max_code = maxc;
        for (size_t y = 0; y < h; y++) {
            const float *r = bq_row(s->img, y);
            get(c, bq_row(s->img, y), w * sizeof(float));
            for (size_t x = 0; x < w; x++)
                if (!isfinite(r[x]))
                    c->bad = 1;
        }
    }
    s->nbox = get_count(c, MAX_ROWS);
    if (c->bad || !s->nbox)
        return BQ_OK;
    if (!(s->box = bq_calloc_array(s->nbox, sizeof *s->box)))
        return bq_error_set(err, BQ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->nbox; i++) {
        s->box[i].lane = get_i32(c);
        s->box[i].x = get_f64(c);
        s->box[i].y = get_f64(c);
        s->box[i].w = get_f64(c);
        s->box[i].h = get_f64(c);
        s->box[i].saturated = get_i32(c);
    }
    return BQ_OK;
}

/* Reads PATH whole into *BUF (caller frees), at most MAX_BYTES. */
static enum bq_status
slurp(const char *path, unsigned char **buf, size_t *n, struct bq_error *err)
{
    FILE *f = fopen(path, "rb");
    long len;

    *buf = NULL;
    if (!f)
        return bq_error_set(err, BQ_ERR_IO, "%s: %s (has the blot stage run?)",
                            path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return bq_error_set(err, BQ_ERR_IO, "%s: cannot be read", path);
    }
    if ((unsigned long)len > MAX_BYTES) {
        fclose(f);
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: %ld bytes, not a blot result", path, len);
    }
    *buf = malloc(len ? (size_t)len : 1);
    if (!*buf) {
        fclose(f);
        return bq_error_set(err, BQ_ERR_NOMEM, "%s: out of memory", path);
    }
    *n = fread(*buf, 1, (size_t)len, f);
    if (*n != (size_t)len || ferror(f)) {
        fclose(f);
        free(*buf);
        *buf = NULL;
        return bq_error_set(err, BQ_ERR_IO, "%s: cannot be read", path);
    }
    fclose(f);
    return BQ_OK;
}

enum bq_status
bq_blot_result_read(const char *path, const struct bq_manifest *m, size_t bi,
                    struct bq_blot_result *res, char *options, size_t n,
                    struct bq_error *err)
{
    const struct bq_mblot *b = &m->blots[bi];
    struct bq_reg_result *g = &res->reg_total;
    struct cursor c = {0};
    unsigned char *buf;
    char magic[sizeof MAGIC], name[256];
    struct source src;
    uint64_t size;
    uint32_t crc = 0;
    enum bq_status st;

    memset(res, 0, sizeof *res);
    if (n)
        options[0] = '\0';
    if ((st = slurp(path, &buf, &c.n, err)) != BQ_OK)
        goto out;
    c.p = buf;
    get(&c, magic, sizeof magic);
    if (c.bad || memcmp(magic, MAGIC, sizeof magic) != 0) {
        st = bq_error_set(err, BQ_ERR_FORMAT, "%s: not a blotquant blot result",
                          path);
        goto out;
    }
    if (get_u32(&c) != VERSION) {
        st = bq_error_set(err, BQ_ERR_FORMAT,
                          "%s: a blot result of another blotquant version; "
                          "run its blot stage again",
                          path);
        goto out;
    }
    if (get_u32(&c) != BOM) {
        st = bq_error_set(err, BQ_ERR_FORMAT,
                          "%s: written on a machine of another byte order; "
                          "run its blot stage again here",
                          path);
        goto out;
    }
    if (c.n >= c.at + 4)
        memcpy(&crc, c.p + c.n - 4, sizeof crc);
    if (c.n < c.at + 4 || crc32(0L, c.p, (uInt)(c.n - 4)) != crc) {
        st = bq_error_set(err, BQ_ERR_FORMAT,
                          "%s: damaged blot result (cut short or altered); "
                          "run its blot stage again",
                          path);
        goto out;
    }
    c.n -= 4; /* the CRC */
    source_of(m, b, &src);
    /* the same blot and scans as the manifest names now? */
    get_str(&c, name, sizeof name);
    if (!c.bad && strcmp(name, b->name) != 0) {
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "%s: the result of blot '%s', but the manifest's "
                          "blot %zu is '%s'; run its blot stage again",
                          path, name, bi + 1, b->name);
        goto out;
    }
    for (int k = 0; k < BQ_NROLES; k++) {
        const struct bq_scanref *s = scan_of(b, k);
        unsigned page;
        get_str(&c, name, sizeof name);
        page = get_u32(&c);
        size = get_u64(&c);
        if (!c.bad && (strcmp(name, s->name) != 0 || page != s->page)) {
            st = bq_error_set(err, BQ_ERR_INVALID,
                              "%s: measured on '%s', but blot '%s' now "
                              "names '%s'; run its blot stage again",
                              path, name, b->name, s->name);
            goto out;
        }
        if (!c.bad && size != src.size[k]) {
            st = bq_error_set(err, BQ_ERR_INVALID,
                              "%s: measured on another '%s' (%llu bytes, "
                              "now %llu); run its blot stage again",
                              path, s->name, (unsigned long long)size,
                              (unsigned long long)src.size[k]);
            goto out;
        }
    }
    get_str(&c, name, sizeof name);
    if (!c.bad && strcmp(name, src.manifest) != 0) {
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "%s: measured with another version of %s; run "
                          "its blot stage again",
                          path, m->path[0] ? m->path : "the manifest");
        goto out;
    }
    get_str(&c, options, n);
    res->status = (enum bq_status)get_i32(&c);
    get_str(&c, res->error, sizeof res->error);
    g->dx = get_f64(&c);
    g->dy = get_f64(&c);
    g->angle = get_f64(&c);
    g->score = get_f64(&c);
    g->psr = get_f64(&c);
    g->matched = get_i32(&c);
    res->has_loading = get_i32(&c);
    res->nlanes = get_count(&c, MAX_ROWS);
    res->lanes_found = get_count(&c, MAX_ROWS);
    res->hinted = get_i32(&c);
    res->band_y = get_f64(&c);
    res->band_kda = get_f64(&c);
    res->doublet = get_i32(&c);
    res->nrows = get_count(&c, MAX_ROWS);
    if (!c.bad && res->nrows &&
        !(res->rows = bq_calloc_array(res->nrows, sizeof *res->rows))) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    for (size_t i = 0; !c.bad && i < res->nrows; i++) {
        struct bq_lane_ratio *r = &res->rows[i];
        double *v[ROW_NUMS];
        int part;
        row_nums(r, v);
        r->lane = get_count(&c, MAX_ROWS);
        part = get_i32(&c);
        if (part < BQ_PART_ONE || part > BQ_PART_LOWER ||
            r->lane >= (m->nlanes ? m->nlanes : res->nlanes))
            c.bad = 1;
        r->part = (enum bq_part)part;
        for (int k = 0; k < ROW_NUMS; k++)
            *v[k] = get_f64(&c);
        r->flags = get_u32(&c);
    }
    for (int k = 0; k < BQ_NROLES && !c.bad; k++) {
        if ((st = read_strip(&c, &res->strip[k], err)) != BQ_OK)
            goto out;
        get_str(&c, res->overlay[k], sizeof res->overlay[k]);
    }
    get_str(&c, res->note, sizeof res->note);
    if (get_u32(&c) != TRAILER || c.at != c.n || res->status < BQ_OK ||
        res->status > BQ_ERR_RENDER)
        c.bad = 1;
    st = BQ_OK;
    if (c.bad)
        st = bq_error_set(err, BQ_ERR_FORMAT,
                          "%s: damaged blot result (cut short or altered); "
                          "run its blot stage again",
                          path);
out:
    free(buf);
    if (st != BQ_OK) {
        bq_blot_result_fini(res);
        res->status = st;
        snprintf(res->error, sizeof res->error, "%s", err ? err->msg : path);
    }
    return st;
}
