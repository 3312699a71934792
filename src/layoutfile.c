/* The --layout file: explicit lane and band boxes. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blotquant/analysis.h"

/* Splits LINE at commas into at most MAX trimmed fields; returns count. */
static int
split_csv(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;

    while (n < max) {
        char *e = strchr(p, ',');
        char *s = p, *t;
        if (e)
            *e = '\0';
        while (isspace((unsigned char)*s))
            s++;
        t = s + strlen(s);
        while (t > s && isspace((unsigned char)t[-1]))
            *--t = '\0';
        f[n++] = s;
        if (!e)
            break;
        p = e + 1;
    }
    return n;
}

static int
parse_num(const char *s, double *out)
{
    char *end;
    double v;

    if (!*s)
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (*end || errno || v != v)
        return -1;
    *out = v;
    return 0;
}

enum bq_status
bq_layout_file_read(const char *path, struct bq_box **out, size_t *n,
                    struct bq_error *err)
{
    static const char *names[6] = {"lane", "band", "x", "y", "width",
                                   "height"};
    FILE *f = fopen(path, "r");
    char line[1024];
    struct bq_box *boxes = NULL;
    size_t nb = 0, cap = 0, lineno = 0;
    int seen = 0; /* a non-comment line was read: no header after it */
    enum bq_status st = BQ_OK;

    if (!f)
        return bq_error_set(err, BQ_ERR_IO, "%s: cannot open the layout "
                            "file: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char *fld[8];
        double v[6];
        int nf;
        lineno++;
        if (!strchr(line, '\n') && !feof(f) && line[0] == '#') {
            int ch; /* a long comment: the rest of it goes unread */
            while ((ch = fgetc(f)) != EOF && ch != '\n')
                ;
            continue;
        }
        if (!strchr(line, '\n') && !feof(f)) {
            /* a box is six numbers: a line this long is not one (read in
             * pieces it would be reported under the wrong line numbers) */
            st = bq_error_set(err, BQ_ERR_FORMAT,
                              "%s line %zu: longer than %zu characters; a "
                              "layout line is six numbers",
                              path, lineno, sizeof line - 2);
            goto out;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[strspn(line, " \t")] == '\0')
            continue;
        nf = split_csv(line, fld, 8);
        if (!seen++ && !strcmp(fld[0], "lane"))
            continue; /* the header: the first line that is not a comment */
        if (nf != 6) {
            st = bq_error_set(err, BQ_ERR_FORMAT,
                              "%s line %zu: expected 6 fields "
                              "(lane,band,x,y,width,height), found %d",
                              path, lineno, nf);
            goto out;
        }
        for (int i = 0; i < 6; i++) {
            if (i == 1 && fld[1][0] == '\0') {
                v[1] = 0; /* blank band: a lane box */
                continue;
            }
            if (parse_num(fld[i], &v[i]) != 0) {
                st = bq_error_set(err, BQ_ERR_FORMAT,
                                  "%s line %zu: %s '%s' is not a number",
                                  path, lineno, names[i], fld[i]);
                goto out;
            }
        }
        if (v[0] < 1 || v[0] > 10000 || v[0] != (int)v[0] || v[1] < 0 ||
            v[1] > 10000 || v[1] != (int)v[1]) {
            st = bq_error_set(err, BQ_ERR_FORMAT,
                              "%s line %zu: lane must be a whole number from "
                              "1, band a whole number from 1 (or empty for a "
                              "lane box)", path, lineno);
            goto out;
        }
        if (v[4] <= 0 || v[5] <= 0 || v[2] < 0 || v[3] < 0 || v[2] > 1e6 ||
            v[3] > 1e6 || v[4] > 1e6 || v[5] > 1e6) {
            st = bq_error_set(err, BQ_ERR_FORMAT,
                              "%s line %zu: the box needs x, y >= 0 and a "
                              "positive width and height", path, lineno);
            goto out;
        }
        if (nb == cap) {
            struct bq_box *nbx;
            cap = cap ? 2 * cap : 32;
            nbx = realloc(boxes, cap * sizeof *nbx);
            if (!nbx) {
                st = bq_error_set(err, BQ_ERR_NOMEM, "layout: out of memory");
                goto out;
            }
            boxes = nbx;
        }
        boxes[nb].lane = (int)v[0];
        boxes[nb].band = (int)v[1];
        boxes[nb].x = v[2];
        boxes[nb].y = v[3];
        boxes[nb].w = v[4];
        boxes[nb].h = v[5];
        nb++;
    }
    if (ferror(f))
        st = bq_error_set(err, BQ_ERR_IO, "%s: read error", path);
    else if (nb == 0)
        st = bq_error_set(err, BQ_ERR_FORMAT, "%s: the layout file holds no "
                          "boxes", path);
out:
    fclose(f);
    if (st != BQ_OK) {
        free(boxes);
        return st;
    }
    *out = boxes;
    *n = nb;
    return BQ_OK;
}
