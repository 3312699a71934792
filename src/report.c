/* index.html: every experiment's report page, charts, tables and scan
 * overlays, linked from one page that works offline. */
#include "blotquant/report.h"
#include "blotquant/strip.h"

#include <glib.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Writes S with the HTML special characters escaped. */
static void
html(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
}

/* Writes a relative URL: path segments percent-encoded where needed. */
static void
url(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || strchr("/._-~", c))
            fputc(c, f);
        else
            fprintf(f, "%%%02X", c);
    }
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of DIR whose names end in EXT, sorted; *N of them
 * (caller frees each and the array). NULL with *N = 0 if none. */
static char **
list(const char *dir, const char *ext, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **v = NULL;
    size_t cap = 0;

    *n = 0;
    if (!d)
        return NULL;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name), le = strlen(ext);
        char path[4096];
        struct stat st;
        if (de->d_name[0] == '.' || l <= le ||
            strcmp(de->d_name + l - le, ext) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (*n == cap) {
            char **nv;
            cap = cap ? 2 * cap : 16;
            nv = realloc(v, cap * sizeof *nv);
            if (!nv)
                break;
            v = nv;
        }
        if (!(v[*n] = strdup(de->d_name)))
            break;
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof *v, cmp_name);
    return v;
}

static void
free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* PREFIX/NAME as a link path ("" prefix: NAME). */
static void
link_path(FILE *f, const char *prefix, const char *sub, const char *name)
{
    if (prefix[0]) {
        url(f, prefix);
        fputc('/', f);
    }
    if (sub[0]) {
        url(f, sub);
        fputc('/', f);
    }
    url(f, name);
}

/* A thumbnail of image PREFIX/SUB/NAME linking to it, captioned. */
static void
figure(FILE *f, const char *prefix, const char *sub, const char *name)
{
    fputs("<figure><a href=\"", f);
    link_path(f, prefix, sub, name);
    fputs("\"><img src=\"", f);
    link_path(f, prefix, sub, name);
    fputs("\" alt=\"", f);
    html(f, name);
    fputs("\"></a><figcaption>", f);
    html(f, name);
    fputs("</figcaption></figure>\n", f);
}

static const char style[] =
    "body{font-family:sans-serif;margin:2em;color:#222;max-width:1400px}"
    "h1{font-size:1.6em}h2{font-size:1.3em;border-bottom:1px solid #ccc;"
    "padding-bottom:.2em;margin-top:2em}h3{font-size:1.05em}"
    ".thumbs{display:flex;flex-wrap:wrap;gap:12px}"
    ".thumbs figure{margin:0;border:1px solid #ddd;padding:6px}"
    ".thumbs img{display:block;max-width:420px;max-height:300px}"
    ".thumbs figcaption{font-size:.85em;color:#555;margin-top:4px}"
    ".report img{max-width:100%;border:1px solid #ddd}"
    ".bad{color:#D55E00}ul.files{columns:3}";

/* Counts the images that loaded, for a headless browser to read. */
static const char script[] =
    "window.addEventListener('load',function(){var ok=0,bad=0;"
    "document.querySelectorAll('img').forEach(function(i){"
    "if(i.complete&&i.naturalWidth>0)ok++;else bad++;});"
    "document.body.setAttribute('data-images-ok',ok);"
    "document.body.setAttribute('data-images-failed',bad);});";

enum bq_status
bq_write_index_html(FILE *f, const char *outdir, const struct bq_index_exp *e,
                    size_t n, const char *title)
{
    size_t nt;
    char **tables;

    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
          "charset=\"utf-8\">\n<title>",
          f);
    html(f, title);
    fprintf(f,
            "</title>\n<style>%s</style>\n<script>%s</script>\n</head>\n"
            "<body>\n<h1>",
            style, script);
    html(f, title);
    fputs("</h1>\n", f);
    /* the combined tables at the top */
    tables = list(outdir, ".csv", &nt);
    if (nt) {
        fputs("<p>All experiments: ", f);
        for (size_t i = 0; i < nt; i++) {
            fputs(i ? ", <a href=\"" : "<a href=\"", f);
            url(f, tables[i]);
            fputs("\">", f);
            html(f, tables[i]);
            fputs("</a>", f);
        }
        fputs("</p>\n", f);
    }
    free_list(tables, nt);

    for (size_t k = 0; k < n; k++) {
        const struct bq_index_exp *x = &e[k];
        char dir[4096], scans[4200];
        char **pngs, **csvs, **ovs;
        size_t np, nc, no;

        snprintf(dir, sizeof dir, "%s%s%s", outdir, x->rel[0] ? "/" : "",
                 x->rel);
        snprintf(scans, sizeof scans, "%s/scans", dir);
        fputs("<h2>", f);
        html(f, x->name);
        if (x->rel[0]) {
            fputs(" <small>(", f);
            html(f, x->rel);
            fputs(")</small>", f);
        }
        fputs("</h2>\n", f);
        if (x->error) {
            fputs("<p class=\"bad\">Not analysed: ", f);
            html(f, x->error);
            fputs("</p>\n", f);
            continue;
        }
        fprintf(f, "<p>%zu blot%s measured", x->blots - x->failed,
                x->blots - x->failed == 1 ? "" : "s");
        if (x->failed)
            fprintf(f,
                    ", <span class=\"bad\">%zu failed (see "
                    "errors.csv)</span>",
                    x->failed);
        fputs(".</p>\n", f);
        pngs = list(dir, ".png", &np);
        csvs = list(dir, ".csv", &nc);
        ovs = list(scans, ".png", &no);
        for (size_t i = 0; i < np; i++)
            if (!strcmp(pngs[i], "report.png")) {
                fputs("<div class=\"report\"><a href=\"", f);
                link_path(f, x->rel, "", pngs[i]);
                fputs("\"><img src=\"", f);
                link_path(f, x->rel, "", pngs[i]);
                fputs("\" alt=\"report page\"></a></div>\n", f);
            }
        if (np) {
            int any = 0;
            for (size_t i = 0; i < np; i++) {
                if (!strcmp(pngs[i], "report.png"))
                    continue;
                if (!any)
                    fputs("<h3>Charts</h3>\n<div class=\"thumbs\">\n", f);
                any = 1;
                figure(f, x->rel, "", pngs[i]);
            }
            if (any)
                fputs("</div>\n", f);
        }
        if (nc) {
            fputs("<h3>Tables</h3>\n<ul>\n", f);
            for (size_t i = 0; i < nc; i++) {
                fputs("<li><a href=\"", f);
                link_path(f, x->rel, "", csvs[i]);
                fputs("\">", f);
                html(f, csvs[i]);
                fputs("</a></li>\n", f);
            }
            fputs("</ul>\n", f);
        }
        if (no) {
            fputs("<h3>Scans as measured</h3>\n<div class=\"thumbs\">\n", f);
            for (size_t i = 0; i < no; i++) {
                figure(f, x->rel, "scans", ovs[i]);
            }
            fputs("</div>\n", f);
        }
        free_list(pngs, np);
        free_list(csvs, nc);
        free_list(ovs, no);
    }
    fputs("</body>\n</html>\n", f);
    return ferror(f) ? BQ_ERR_IO : BQ_OK;
}

/* ---- blot strips ---- */

void
bq_blot_strip_fini(struct bq_blot_strip *s)
{
    if (!s)
        return;
    bq_image_destroy(s->img);
    free(s->box);
    memset(s, 0, sizeof *s);
}

/* The measured band of box lane LANE and band BAND in M, or NULL. */
static const struct bq_band *
measured(const struct bq_analysis *m, int lane, int band)
{
    if (!m)
        return NULL;
    for (size_t k = 0; k < m->bands.n; k++) {
        const struct bq_band *b = &m->bands.b[k];
        if ((int)m->layout.lanes[b->lane].index + 1 == lane &&
            (int)b->index + 1 == band)
            return b;
    }
    return NULL;
}

enum bq_status
bq_blot_strip_make(const struct bq_image *protein, const struct bq_box *bx,
                   size_t n, const struct bq_analysis *m, size_t max_width,
                   struct bq_blot_strip *out, struct bq_error *err)
{
    double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300, hmax = 0;
    size_t ix0, ix1, iy0, iy1, f, w, h;

    memset(out, 0, sizeof *out);
    if (!protein || !bx || n == 0 || max_width < 16)
        return bq_error_set(err, BQ_ERR_INVALID, "strip: nothing to show");
    for (size_t i = 0; i < n; i++) {
        x0 = bx[i].x < x0 ? bx[i].x : x0;
        x1 = bx[i].x + bx[i].w > x1 ? bx[i].x + bx[i].w : x1;
        y0 = bx[i].y < y0 ? bx[i].y : y0;
        y1 = bx[i].y + bx[i].h > y1 ? bx[i].y + bx[i].h : y1;
        hmax = bx[i].h > hmax ? bx[i].h : hmax;
    }
    /* a margin of half a box sideways and two box heights up and down */
    x0 -= 0.5 * (x1 - x0) / (double)n;
    x1 += 0.5 * (x1 - x0) / (double)n;
    y0 -= 2 * hmax;
    y1 += 2 * hmax;
    ix0 = x0 < 0 ? 0 : (size_t)x0;
    iy0 = y0 < 0 ? 0 : (size_t)y0;
    ix1 = x1 > (double)protein->width ? protein->width : (size_t)x1;
    iy1 = y1 > (double)protein->height ? protein->height : (size_t)y1;
    if (ix1 <= ix0 + 1 || iy1 <= iy0 + 1)
        return bq_error_set(err, BQ_ERR_INVALID, "strip: boxes off the scan");
    f = (ix1 - ix0 + max_width - 1) / max_width;
    f = f < 1 ? 1 : f;
    w = (ix1 - ix0) / f;
    h = (iy1 - iy0) / f;
    if (w < 1 || h < 1)
        return bq_error_set(err, BQ_ERR_INVALID, "strip: too small");
    out->img = bq_image_create(w, h, err);
    out->box = bq_calloc_array(n, sizeof *out->box);
    if (!out->img || !out->box) {
        bq_blot_strip_fini(out);
        return bq_error_set(err, BQ_ERR_NOMEM, "strip: out of memory");
    }
    for (size_t y = 0; y < h; y++) {
        float *o = bq_row(out->img, y);
        for (size_t x = 0; x < w; x++) {
            double s = 0;
            for (size_t v = 0; v < f; v++) {
                const float *r = bq_row(protein, iy0 + y * f + v);
                for (size_t u = 0; u < f; u++)
                    s += r[ix0 + x * f + u];
            }
            o[x] = (float)(s / (double)(f * f));
        }
    }
    out->img->max_code = protein->max_code;
    out->img->bit_depth = protein->bit_depth;
    out->nbox = n;
    for (size_t i = 0; i < n; i++) {
        const struct bq_band *b = measured(m, bx[i].lane, bx[i].band);
        out->box[i].lane = bx[i].lane;
        out->box[i].x = (bx[i].x - (double)ix0) / (double)f;
        out->box[i].y = (bx[i].y - (double)iy0) / (double)f;
        out->box[i].w = bx[i].w / (double)f;
        out->box[i].h = bx[i].h / (double)f;
        out->box[i].saturated = b && b->sat_px > 0;
    }
    return BQ_OK;
}

/* ---- checksums ---- */

enum bq_status
bq_file_sha256(const char *path, char hex[65], struct bq_error *err)
{
    FILE *f = fopen(path, "rb");
    GChecksum *ck;
    unsigned char buf[65536];
    size_t n;

    hex[0] = '\0';
    if (!f)
        return bq_error_set(err, BQ_ERR_IO, "%s: cannot read", path);
    ck = g_checksum_new(G_CHECKSUM_SHA256);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        g_checksum_update(ck, buf, (gssize)n);
    if (ferror(f)) {
        fclose(f);
        g_checksum_free(ck);
        return bq_error_set(err, BQ_ERR_IO, "%s: read error", path);
    }
    fclose(f);
    snprintf(hex, 65, "%s", g_checksum_get_string(ck));
    g_checksum_free(ck);
    return BQ_OK;
}
