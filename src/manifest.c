/* The experiment manifest (an INI file read with inih), and pairing scans
 * by file name when a folder has no manifest. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "blotquant/manifest.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_LINE 1024 /* bytes of one manifest line */

/* One section header seen by the reader. */
struct section {
    char name[128]; /* as written, trimmed */
    int line;
    long blot; /* index into blots, or -1 */
};

/* Parser state shared by the line reader and the key handler. */
struct parse {
    struct bq_manifest *m;
    FILE *f;
    int line;            /* current line, 1-based */
    int too_long;        /* line number of an over-long line, or 0 */
    int max_len;         /* longest line inih accepts, bytes */
    struct section *sec; /* owned */
    size_t nsec, capsec;
    size_t capblots, caplanes;
    char control[96];     /* control = value, resolved after parsing */
    struct bq_error *err; /* first error wins */
};

static char *
trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Copies SRC into DST of SIZE bytes; returns 0 if it had to be cut. */
static int
copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size) {
        memcpy(dst, src, size - 1);
        dst[size - 1] = '\0';
        return 0;
    }
    memcpy(dst, src, n + 1);
    return 1;
}

static int fail(struct parse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records "MANIFEST line LINE: message" unless an error is already set;
 * returns 0 so that handlers can "return fail(...)". */
static int
fail(struct parse *p, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (p->err && p->err->status != BQ_OK)
        return 0;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bq_error_set(p->err, BQ_ERR_INVALID, "%s line %d: %s", p->m->path, line,
                 msg);
    return 0;
}

/* Whole-string number parse: returns 1 and stores *V if S is a finite
 * number and nothing else. */
static int
parse_number(const char *s, double *v)
{
    char *end;
    double d;
    if (!*s)
        return 0;
    errno = 0;
    d = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(d))
        return 0;
    *v = d;
    return 1;
}

static int
parse_int(const char *s, long lo, long hi, long *v)
{
    char *end;
    long d;
    if (!*s)
        return 0;
    errno = 0;
    d = strtol(s, &end, 10);
    if (end == s || *end || errno || d < lo || d > hi)
        return 0;
    *v = d;
    return 1;
}

/* Dose units: molar ones are converted to nM, mass ones kept. */
static const struct unit {
    const char *name;
    double to_nm;   /* factor to nM, 0 = not molar */
    const char *as; /* how it is written in outputs */
} units[] = {
    {"pM", 1e-3, "nM"},
    {"nM", 1, "nM"},
    {"uM", 1e3, "nM"},
    {"\xc2\xb5M", 1e3, "nM"},
    {"\xce\xbcM", 1e3, "nM"},
    {"mM", 1e6, "nM"},
    {"M", 1e9, "nM"},
    {"pg/mL", 0, "pg/mL"},
    {"ng/mL", 0, "ng/mL"},
    {"ug/mL", 0, "ug/mL"},
    {"\xc2\xb5g/mL", 0, "ug/mL"},
    {"mg/mL", 0, "mg/mL"},
    {"U/mL", 0, "U/mL"},
};

static const struct unit *
find_unit(const char *s)
{
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        const char *u = units[i].name;
        /* exact for molar units (mM vs M), "mL" in any case */
        size_t n = strlen(u);
        if (strlen(s) != n)
            continue;
        if (units[i].to_nm > 0
                ? strcmp(s, u) == 0
                : strncmp(s, u, n - 2) == 0 && strcasecmp(s + n - 2, "mL") == 0)
            return &units[i];
    }
    return NULL;
}

enum bq_status
bq_lane_parse(const char *label, struct bq_mlane *m, struct bq_error *err)
{
    char buf[sizeof m->label], *tok[16], *dose_s = NULL, *unit_s = NULL;
    size_t nt = 0;
    const struct unit *u = NULL;
    double dose;

    memset(m, 0, sizeof *m);
    if (!copy(m->label, sizeof m->label, label))
        return bq_error_set(err, BQ_ERR_INVALID,
                            "lane label is longer than %zu characters",
                            sizeof m->label - 1);
    if (!*label)
        return bq_error_set(err, BQ_ERR_INVALID, "lane label is empty");
    if (strcasecmp(label, "ladder") == 0 || strcasecmp(label, "marker") == 0 ||
        strncasecmp(label, "ladder ", 7) == 0 ||
        strncasecmp(label, "marker ", 7) == 0) {
        m->kind = BQ_LANE_LADDER;
        return BQ_OK;
    }
    if (strcasecmp(label, "empty") == 0 || strcmp(label, "-") == 0 ||
        strcasecmp(label, "blank") == 0) {
        m->kind = BQ_LANE_EMPTY;
        return BQ_OK;
    }
    copy(buf, sizeof buf, label);
    for (char *s = strtok(buf, " \t"); s && nt < 16; s = strtok(NULL, " \t"))
        tok[nt++] = s;
    if (nt >= 2) {
        char *last = tok[nt - 1];
        if ((u = find_unit(last)) != NULL && nt >= 3) {
            dose_s = tok[nt - 2];
            unit_s = last;
            nt -= 2;
        } else if (isdigit((unsigned char)last[0]) || last[0] == '.') {
            /* "10nM" written together, or a bare number */
            char *e = last;
            while (*e && (isdigit((unsigned char)*e) || *e == '.' ||
                          *e == 'e' || *e == 'E' || *e == '-' || *e == '+'))
                e++;
            if (*e && (u = find_unit(e)) != NULL) {
                unit_s = e;
                dose_s = last;
                nt -= 1;
            } else if (!*e) {
                return bq_error_set(err, BQ_ERR_INVALID,
                                    "lane '%s': the dose %s has no unit "
                                    "(nM, uM, ng/mL, ...)",
                                    label, last);
            }
        }
    }
    if (!dose_s)
        return BQ_OK; /* a plain condition label */
    {
        char num[32];
        size_t len = (size_t)(unit_s - dose_s);
        if (unit_s > dose_s && unit_s < dose_s + strlen(dose_s)) {
            /* number and unit written together */
            if (len >= sizeof num)
                len = sizeof num - 1;
            memcpy(num, dose_s, len);
            num[len] = '\0';
        } else {
            copy(num, sizeof num, dose_s);
        }
        if (!parse_number(num, &dose) || dose < 0)
            return bq_error_set(err, BQ_ERR_INVALID,
                                "lane '%s': the dose '%s' is not a number "
                                "(write 1.5, with a point)",
                                label, num);
    }
    m->agent[0] = '\0';
    for (size_t i = 0; i < nt; i++) {
        if (i)
            strncat(m->agent, " ", sizeof m->agent - strlen(m->agent) - 1);
        strncat(m->agent, tok[i], sizeof m->agent - strlen(m->agent) - 1);
    }
    m->dose = u->to_nm > 0 ? dose * u->to_nm : dose;
    copy(m->unit, sizeof m->unit, u->as);
    return BQ_OK;
}

/* Reader for ini_parse_stream: counts lines and notices section headers
 * (inih does not report empty sections, nor line numbers, to handlers). */
static char *
reader(char *str, int num, void *stream)
{
    struct parse *p = stream;
    char buf[MAX_LINE + 2], *s;
    size_t n;

    if (!fgets(buf, sizeof buf, p->f))
        return NULL;
    p->line++;
    n = strlen(buf);
    if ((n == sizeof buf - 1 && buf[n - 1] != '\n') || n >= (size_t)num) {
        p->too_long = p->line;
        p->max_len = num - 2;
        return NULL;
    }
    memcpy(str, buf, n + 1);
    s = trim(buf);
    if (*s == '[') {
        char *e = strchr(s, ']');
        struct section *sec;
        if (p->nsec == p->capsec) {
            size_t cap = p->capsec ? 2 * p->capsec : 8;
            struct section *ns = realloc(p->sec, cap * sizeof *ns);
            if (!ns) {
                bq_error_set(p->err, BQ_ERR_NOMEM, "manifest: out of memory");
                return NULL;
            }
            p->sec = ns;
            p->capsec = cap;
        }
        sec = &p->sec[p->nsec++];
        if (e)
            *e = '\0';
        copy(sec->name, sizeof sec->name, trim(s + 1));
        sec->line = p->line;
        sec->blot = -1;
    }
    return str;
}

/* Resolves NAME (relative to the experiment folder, optionally followed
 * by "page N") into REF, refusing paths that leave the folder. */
static int
scan_ref(struct parse *p, const char *key, const char *value,
         struct bq_scanref *ref)
{
    char name[256], dirreal[PATH_MAX], fileal[PATH_MAX], *sp;
    struct stat st;
    size_t dl;

    memset(ref, 0, sizeof *ref);
    ref->line = p->line;
    if (!copy(name, sizeof name, value))
        return fail(p, p->line, "%s: the file name is too long", key);
    /* trailing "page N" */
    sp = strrchr(name, ' ');
    if (sp) {
        char *q = sp;
        long pg;
        while (q > name && q[-1] == ' ')
            q--;
        if (q - name >= 5 && strncasecmp(q - 4, "page", 4) == 0 &&
            (q - name == 4 || q[-5] == ' ')) {
            if (!parse_int(sp + 1, 1, 1000, &pg))
                return fail(p, p->line,
                            "%s: page '%s' is not a page number (1, 2, ...)",
                            key, sp + 1);
            ref->page = (unsigned)(pg - 1);
            q -= 4;
            while (q > name && q[-1] == ' ')
                q--;
            *q = '\0';
        }
    }
    copy(ref->name, sizeof ref->name, name);
    if (!*name)
        return fail(p, p->line, "%s: no file named", key);
    if (name[0] == '/' || strcmp(name, "..") == 0 ||
        strncmp(name, "../", 3) == 0 || strstr(name, "/../") ||
        (strlen(name) >= 3 && strcmp(name + strlen(name) - 3, "/..") == 0))
        return fail(p, p->line,
                    "%s: '%s' is outside the experiment folder (write a path "
                    "relative to the manifest, without '..')",
                    key, name);
    if (snprintf(ref->path, sizeof ref->path, "%s/%s", p->m->dir, name) >=
        (int)sizeof ref->path)
        return fail(p, p->line, "%s: the path is too long", key);
    if (stat(ref->path, &st) != 0)
        return fail(p, p->line,
                    "%s: scan '%s' not found in the experiment "
                    "folder",
                    key, name);
    if (!S_ISREG(st.st_mode))
        return fail(p, p->line, "%s: '%s' is not a file", key, name);
    /* a symbolic link may still lead outside */
    if (!realpath(p->m->dir, dirreal) || !realpath(ref->path, fileal))
        return fail(p, p->line, "%s: cannot resolve '%s'", key, name);
    dl = strlen(dirreal);
    if (strncmp(fileal, dirreal, dl) != 0 || fileal[dl] != '/')
        return fail(p, p->line, "%s: '%s' leads outside the experiment folder",
                    key, name);
    return 1;
}

static struct bq_mblot *
new_blot(struct parse *p, struct section *sec)
{
    struct bq_manifest *m = p->m;
    struct bq_mblot *b;
    const char *name = sec->name + 4;

    while (*name == ' ')
        name++;
    if (!*name) {
        fail(p, sec->line, "[blot] needs a name: [blot pSTAT3 rep1]");
        return NULL;
    }
    for (size_t i = 0; i < m->nblots; i++)
        if (strcmp(m->blots[i].name, name) == 0) {
            char l[32];
            snprintf(l, sizeof l, "%d", m->blots[i].line);
            fail(p, sec->line, "duplicate blot '%s' (also on line %s)", name,
                 l);
            return NULL;
        }
    if (m->nblots == p->capblots) {
        size_t cap = p->capblots ? 2 * p->capblots : 8;
        struct bq_mblot *nb = realloc(m->blots, cap * sizeof *nb);
        if (!nb) {
            bq_error_set(p->err, BQ_ERR_NOMEM, "manifest: out of memory");
            return NULL;
        }
        m->blots = nb;
        p->capblots = cap;
    }
    b = &m->blots[m->nblots];
    memset(b, 0, sizeof *b);
    if (!copy(b->name, sizeof b->name, name)) {
        fail(p, sec->line, "blot name '%s' is too long", name);
        return NULL;
    }
    b->line = sec->line;
    b->replicate = 0;
    copy(b->loading_name, sizeof b->loading_name, "loading");
    sec->blot = (long)m->nblots++;
    return b;
}

static int
blot_key(struct parse *p, struct bq_mblot *b, const char *k, const char *v)
{
    long n;
    double d;

    if (strcmp(k, "target") == 0) {
        if (!*v || !copy(b->target, sizeof b->target, v))
            return fail(p, p->line, "target: give the protein, e.g. STAT3");
    } else if (strcmp(k, "replicate") == 0) {
        if (!parse_int(v, 1, 100000, &n))
            return fail(p, p->line, "replicate '%s' is not a whole number >= 1",
                        v);
        b->replicate = (int)n;
    } else if (strcmp(k, "phospho") == 0) {
        return scan_ref(p, k, v, &b->phospho);
    } else if (strcmp(k, "total") == 0) {
        return scan_ref(p, k, v, &b->total);
    } else if (strcmp(k, "loading") == 0) {
        return scan_ref(p, k, v, &b->loading);
    } else if (strcmp(k, "loading_name") == 0) {
        if (!*v || !copy(b->loading_name, sizeof b->loading_name, v))
            return fail(p, p->line, "loading_name '%s' is empty or too long",
                        v);
    } else if (strcmp(k, "band") == 0) {
        char w[16] = "", arg[64] = "";
        b->pick_line = p->line;
        if (sscanf(v, "%15s %63s", w, arg) < 1)
            return fail(p, p->line,
                        "band: say strongest, row N, y PX or "
                        "kda N");
        if (strcasecmp(w, "strongest") == 0 && !arg[0]) {
            b->pick = BQ_PICK_STRONGEST;
            return 1;
        }
        if (strcasecmp(w, "row") == 0)
            b->pick = BQ_PICK_ROW;
        else if (strcasecmp(w, "y") == 0)
            b->pick = BQ_PICK_Y;
        else if (strcasecmp(w, "kda") == 0)
            b->pick = BQ_PICK_KDA;
        else
            return fail(p, p->line,
                        "band '%s': say strongest, row N, y PX "
                        "or kda N",
                        v);
        if (!parse_number(arg, &d) || d <= 0 ||
            (b->pick == BQ_PICK_ROW && d != floor(d)))
            return fail(p, p->line, "band: '%s' is not a %s", arg,
                        b->pick == BQ_PICK_ROW ? "row number (1, 2, ...)"
                                               : "positive number");
        b->pick_value = d;
    } else if (strcmp(k, "doublet") == 0) {
        if (strcasecmp(v, "sum") == 0)
            b->doublet_each = 0;
        else if (strcasecmp(v, "each") == 0)
            b->doublet_each = 1;
        else
            return fail(p, p->line, "doublet '%s': say sum or each", v);
    } else {
        return fail(p, p->line,
                    "unknown key '%s' in a [blot] section (known: target, "
                    "replicate, phospho, total, loading, loading_name, band, "
                    "doublet)",
                    k);
    }
    return 1;
}

static int
handler(void *user, const char *section, const char *key, const char *value)
{
    struct parse *p = user;
    struct bq_manifest *m = p->m;
    struct section *sec = p->nsec ? &p->sec[p->nsec - 1] : NULL;
    char v[MAX_LINE];

    if (p->err && p->err->status != BQ_OK)
        return 0;
    copy(v, sizeof v, value);
    if (!sec || strcmp(sec->name, section) != 0)
        return fail(p, p->line,
                    "key '%s' outside a section: start with "
                    "[experiment]",
                    key);
    if (strcmp(section, "experiment") == 0) {
        if (strcmp(key, "name") == 0) {
            if (!copy(m->name, sizeof m->name, v))
                return fail(p, p->line, "name is too long");
        } else if (strcmp(key, "control") == 0) {
            copy(p->control, sizeof p->control, v);
            m->control_line = p->line;
        } else if (strcmp(key, "ladder_kda") == 0) {
            char buf[MAX_LINE];
            copy(buf, sizeof buf, v);
            m->nladder = 0;
            for (char *s = strtok(buf, " ,\t"); s; s = strtok(NULL, " ,\t")) {
                double d;
                if (!parse_number(s, &d) || d <= 0)
                    return fail(p, p->line,
                                "ladder_kda: '%s' is not a size in kDa", s);
                if (m->nladder == BQ_MAX_LADDER)
                    return fail(p, p->line, "ladder_kda: more than 32 sizes");
                if (m->nladder && d >= m->ladder_kda[m->nladder - 1])
                    return fail(p, p->line,
                                "ladder_kda: list the sizes from the largest "
                                "(top) to the smallest; '%s' is out of order",
                                s);
                m->ladder_kda[m->nladder++] = d;
            }
        } else {
            return fail(p, p->line,
                        "unknown key '%s' in [experiment] (known: name, "
                        "control, ladder_kda)",
                        key);
        }
        return 1;
    }
    if (strcmp(section, "lanes") == 0) {
        long n;
        struct bq_mlane *l;
        struct bq_error e = {0};
        if (!parse_int(key, 1, 200, &n))
            return fail(p, p->line,
                        "'%s' is not a lane number (1, 2, ... up to 200)", key);
        if ((size_t)n > p->caplanes) {
            size_t cap =
                (size_t)n > 2 * p->caplanes ? (size_t)n : 2 * p->caplanes;
            struct bq_mlane *nl = realloc(m->lanes, cap * sizeof *nl);
            if (!nl) {
                bq_error_set(p->err, BQ_ERR_NOMEM, "manifest: out of memory");
                return 0;
            }
            for (size_t i = p->caplanes; i < cap; i++)
                memset(&nl[i], 0, sizeof *nl);
            m->lanes = nl;
            p->caplanes = cap;
        }
        l = &m->lanes[n - 1];
        if (l->line) {
            char o[32];
            snprintf(o, sizeof o, "%d", l->line);
            return fail(p, p->line,
                        "lane %s is listed twice (also on line "
                        "%s)",
                        key, o);
        }
        if (bq_lane_parse(v, l, &e) != BQ_OK)
            return fail(p, p->line, "%s", e.msg);
        l->line = p->line;
        if ((size_t)n > m->nlanes)
            m->nlanes = (size_t)n;
        return 1;
    }
    if (strncmp(section, "blot", 4) == 0 &&
        (section[4] == ' ' || section[4] == '\0')) {
        if (sec->blot < 0 && !new_blot(p, sec))
            return 0;
        return blot_key(p, &m->blots[sec->blot], key, v);
    }
    return fail(p, sec->line,
                "unknown section [%s] (known: [experiment], [lanes], "
                "[blot NAME])",
                section);
}

/* Checks what only the whole file can tell. */
static int
validate(struct parse *p)
{
    struct bq_manifest *m = p->m;
    int have_exp = 0, have_lanes = 0;

    for (size_t i = 0; i < p->nsec; i++) {
        struct section *s = &p->sec[i];
        if (strcmp(s->name, "experiment") == 0)
            have_exp = 1;
        else if (strcmp(s->name, "lanes") == 0) {
            have_lanes = 1;
            m->lanes_line = s->line;
        } else if (strncmp(s->name, "blot", 4) == 0 &&
                   (s->name[4] == ' ' || s->name[4] == '\0')) {
            if (s->blot < 0 && !new_blot(p, s))
                return 0;
        } else
            return fail(p, s->line,
                        "unknown section [%s] (known: [experiment], [lanes], "
                        "[blot NAME])",
                        s->name);
    }
    (void)have_exp;
    if (!have_lanes || m->nlanes == 0)
        return fail(p, p->line ? p->line : 1,
                    "no [lanes] section: list the lanes left to right, "
                    "'1 = ladder', '2 = vehicle', ...");
    for (size_t i = 0; i < m->nlanes; i++)
        if (!m->lanes[i].line) {
            char n[32];
            snprintf(n, sizeof n, "%zu", i + 1);
            return fail(p, m->lanes_line,
                        "lane %s is missing: number the lanes 1, 2, ... "
                        "without gaps",
                        n);
        }
    /* control lane: a label or a lane number */
    if (!p->control[0])
        return fail(p, m->lanes_line,
                    "no control lane: add 'control = LABEL' (e.g. vehicle) "
                    "to [experiment]");
    {
        long n;
        size_t found = 0, idx = 0;
        if (parse_int(p->control, 1, 200, &n)) {
            if ((size_t)n > m->nlanes)
                return fail(p, m->control_line,
                            "control lane %s does not exist", p->control);
            idx = (size_t)n - 1;
            found = 1;
        } else {
            for (size_t i = 0; i < m->nlanes; i++)
                if (strcasecmp(m->lanes[i].label, p->control) == 0) {
                    if (!found)
                        idx = i;
                    found++;
                }
        }
        if (!found)
            return fail(p, m->control_line,
                        "control '%s' is not one of the lane labels in "
                        "[lanes]",
                        p->control);
        if (found > 1)
            return fail(p, m->control_line,
                        "control '%s' names several lanes; give its lane "
                        "number instead",
                        p->control);
        if (m->lanes[idx].kind != BQ_LANE_SAMPLE)
            return fail(p, m->control_line,
                        "control '%s' is a ladder or empty lane", p->control);
        m->control = idx;
    }
    if (m->nblots == 0)
        return fail(p, p->line ? p->line : 1,
                    "no [blot NAME] section: nothing to quantify");
    for (size_t i = 0; i < m->nblots; i++) {
        struct bq_mblot *b = &m->blots[i];
        int has_ladder = 0;
        if (!b->target[0])
            return fail(p, b->line, "blot '%s' has no 'target ='", b->name);
        if (!b->phospho.path[0])
            return fail(p, b->line, "blot '%s' has no 'phospho =' scan",
                        b->name);
        if (!b->total.path[0])
            return fail(p, b->line, "blot '%s' has no 'total =' scan", b->name);
        if (b->replicate == 0)
            b->replicate = 1;
        for (size_t j = 0; j < i; j++) {
            const struct bq_mblot *o = &m->blots[j];
            if (o->replicate == b->replicate &&
                strcasecmp(o->target, b->target) == 0) {
                return fail(p, b->line,
                            "duplicate blot: same target and replicate as "
                            "'%s' (line %d)",
                            o->name, o->line);
            }
        }
        for (size_t j = 0; j < m->nlanes; j++)
            has_ladder |= m->lanes[j].kind == BQ_LANE_LADDER;
        if (b->pick == BQ_PICK_KDA && (!m->nladder || !has_ladder))
            return fail(p, b->pick_line,
                        "band = kda needs a ladder lane in [lanes] and "
                        "ladder_kda in [experiment]");
    }
    return 1;
}

static void
default_name(struct bq_manifest *m)
{
    const char *s = strrchr(m->dir, '/');
    if (!m->name[0])
        copy(m->name, sizeof m->name, s && s[1] ? s + 1 : m->dir);
}

static enum bq_status
set_dir(struct bq_manifest *m, const char *dir, struct bq_error *err)
{
    size_t n;
    memset(m, 0, sizeof *m);
    if (!copy(m->dir, sizeof m->dir, dir))
        return bq_error_set(err, BQ_ERR_INVALID, "%s: path too long", dir);
    n = strlen(m->dir);
    while (n > 1 && m->dir[n - 1] == '/')
        m->dir[--n] = '\0';
    return BQ_OK;
}

enum bq_status
bq_manifest_read(const char *dir, struct bq_manifest *m, struct bq_error *err)
{
    struct parse p = {0};
    struct bq_error local = {0};
    int rc;

    if (!err)
        err = &local;
    if (set_dir(m, dir, err) != BQ_OK)
        return err->status;
    if (snprintf(m->path, sizeof m->path, "%s/%s", m->dir, BQ_MANIFEST_NAME) >=
        (int)sizeof m->path)
        return bq_error_set(err, BQ_ERR_INVALID, "%s: path too long", dir);
    p.m = m;
    p.err = err;
    p.f = fopen(m->path, "r");
    if (!p.f)
        return bq_error_set(err, errno == ENOENT ? BQ_ERR_NOT_FOUND : BQ_ERR_IO,
                            "%s: cannot open: %s", m->path, strerror(errno));
    rc = ini_parse_stream(reader, &p, handler, &p);
    if (ferror(p.f) && err->status == BQ_OK)
        bq_error_set(err, BQ_ERR_IO, "%s: read error", m->path);
    fclose(p.f);
    if (err->status == BQ_OK && p.too_long) {
        char n[32];
        snprintf(n, sizeof n, "%d", p.max_len);
        fail(&p, p.too_long, "the line is longer than %s characters", n);
    }
    if (err->status == BQ_OK && rc > 0)
        fail(&p, rc, "not 'key = value', '[section]' or a comment");
    if (err->status == BQ_OK)
        validate(&p);
    if (err->status == BQ_OK)
        default_name(m);
    free(p.sec);
    return err->status;
}

/* ---- pairing by file names ---- */

static int
is_scan_name(const char *n)
{
    const char *e = strrchr(n, '.');
    return e && n[0] != '.' &&
           (strcasecmp(e, ".tif") == 0 || strcasecmp(e, ".tiff") == 0 ||
            strcasecmp(e, ".png") == 0);
}

/* DST = DIR/NAME; returns 0 if it does not fit. */
static int
join(char *dst, size_t size, const char *dir, const char *name)
{
    int n = snprintf(dst, size, "%s/%s", dir, name);
    return n >= 0 && (size_t)n < size;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits STEM into target and replicate: the token repN / rN /
 * replicateN (separated by _ - space) is the replicate, the rest the
 * target. Returns the replicate, 1 if none is written. */
static int
split_rep(const char *stem, char *target, size_t size)
{
    char buf[256];
    int rep = 0;
    target[0] = '\0';
    copy(buf, sizeof buf, stem);
    for (char *t = strtok(buf, "_- "); t; t = strtok(NULL, "_- ")) {
        const char *d = NULL;
        if (strncasecmp(t, "replicate", 9) == 0)
            d = t + 9;
        else if (strncasecmp(t, "rep", 3) == 0)
            d = t + 3;
        else if (tolower((unsigned char)t[0]) == 'r')
            d = t + 1;
        if (d && *d && strspn(d, "0123456789") == strlen(d) && !rep) {
            rep = atoi(d);
            continue;
        }
        if (target[0])
            strncat(target, "_", size - strlen(target) - 1);
        strncat(target, t, size - strlen(target) - 1);
    }
    return rep > 0 ? rep : 1;
}

static int
cmp_blot(const void *a, const void *b)
{
    const struct bq_mblot *x = a, *y = b;
    int c = strcasecmp(x->target, y->target);
    if (c)
        return c;
    if (x->replicate != y->replicate)
        return x->replicate < y->replicate ? -1 : 1;
    return strcmp(x->name, y->name);
}

enum bq_status
bq_manifest_from_names(const char *dir, struct bq_manifest *m,
                       struct bq_error *err)
{
    static const char *loading_names[] = {"GAPDH",      "actin",   "b-actin",
                                          "beta-actin", "tubulin", "vinculin",
                                          "REVERT",     "Ponceau", "TPS"};
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    enum bq_status st = BQ_OK;

    if ((st = set_dir(m, dir, err)) != BQ_OK)
        return st;
    d = opendir(m->dir);
    if (!d)
        return bq_error_set(err, BQ_ERR_IO, "%s: cannot open folder: %s", dir,
                            strerror(errno));
    while ((de = readdir(d)) != NULL) {
        if (!is_scan_name(de->d_name))
            continue;
        if (n == cap) {
            char **nn;
            cap = cap ? 2 * cap : 32;
            nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                st = bq_error_set(err, BQ_ERR_NOMEM, "out of memory");
                goto out;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            st = bq_error_set(err, BQ_ERR_NOMEM, "out of memory");
            goto out;
        }
        n++;
    }
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char ps[256], *dot;
        const char *rest;
        copy(ps, sizeof ps, names[i]);
        if ((dot = strrchr(ps, '.')))
            *dot = '\0';
        if (tolower((unsigned char)ps[0]) != 'p')
            continue;
        rest = ps + 1;
        if (*rest == '-' || *rest == '_')
            rest++;
        if (!*rest)
            continue;
        for (size_t j = 0; j < n; j++) {
            char ts[256];
            struct bq_mblot *b;
            copy(ts, sizeof ts, names[j]);
            if ((dot = strrchr(ts, '.')))
                *dot = '\0';
            if (j == i || strcasecmp(ts, rest) != 0)
                continue;
            if (m->nblots % 8 == 0) {
                struct bq_mblot *nb =
                    realloc(m->blots, (m->nblots + 8) * sizeof *nb);
                if (!nb) {
                    st = bq_error_set(err, BQ_ERR_NOMEM, "out of memory");
                    goto out;
                }
                m->blots = nb;
            }
            b = &m->blots[m->nblots++];
            memset(b, 0, sizeof *b);
            copy(b->name, sizeof b->name, ps);
            b->replicate = split_rep(ts, b->target, sizeof b->target);
            copy(b->loading_name, sizeof b->loading_name, "loading");
            if (!join(b->phospho.path, sizeof b->phospho.path, m->dir,
                      names[i]) ||
                !join(b->total.path, sizeof b->total.path, m->dir, names[j])) {
                st =
                    bq_error_set(err, BQ_ERR_INVALID, "%s: path too long", dir);
                goto out;
            }
            copy(b->phospho.name, sizeof b->phospho.name, names[i]);
            copy(b->total.name, sizeof b->total.name, names[j]);
            /* a loading control of the same membrane: GAPDH_<total stem> */
            for (size_t k = 0; k < n && !b->loading.path[0]; k++) {
                char ls[256];
                size_t ln;
                copy(ls, sizeof ls, names[k]);
                if ((dot = strrchr(ls, '.')))
                    *dot = '\0';
                for (size_t q = 0;
                     q < sizeof loading_names / sizeof *loading_names; q++) {
                    ln = strlen(loading_names[q]);
                    if (strncasecmp(ls, loading_names[q], ln) == 0 &&
                        (ls[ln] == '_' || ls[ln] == '-') &&
                        strcasecmp(ls + ln + 1, ts) == 0) {
                        if (!join(b->loading.path, sizeof b->loading.path,
                                  m->dir, names[k]))
                            b->loading.path[0] = '\0';
                        copy(b->loading.name, sizeof b->loading.name, names[k]);
                        copy(b->loading_name, sizeof b->loading_name,
                             loading_names[q]);
                        break;
                    }
                }
            }
            break;
        }
    }
    if (m->nblots == 0) {
        st = bq_error_set(err, BQ_ERR_NOT_FOUND,
                          "%s: no %s and no scans that pair by name "
                          "(pSTAT3_rep1.tif with STAT3_rep1.tif)",
                          dir, BQ_MANIFEST_NAME);
        goto out;
    }
    qsort(m->blots, m->nblots, sizeof *m->blots, cmp_blot);
    for (size_t i = 1; i < m->nblots; i++)
        if (cmp_blot(&m->blots[i - 1], &m->blots[i]) == 0 ||
            (m->blots[i - 1].replicate == m->blots[i].replicate &&
             strcasecmp(m->blots[i - 1].target, m->blots[i].target) == 0)) {
            st = bq_error_set(err, BQ_ERR_INVALID,
                              "%s: %s and %s are both %s replicate %d; "
                              "rename one or write a %s",
                              dir, m->blots[i - 1].phospho.name,
                              m->blots[i].phospho.name, m->blots[i].target,
                              m->blots[i].replicate, BQ_MANIFEST_NAME);
            goto out;
        }
    default_name(m);
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return st;
}

enum bq_status
bq_manifest_load(const char *dir, struct bq_manifest *m, struct bq_error *err)
{
    char path[BQ_PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", dir, BQ_MANIFEST_NAME) >=
        (int)sizeof path)
        return bq_error_set(err, BQ_ERR_INVALID, "%s: path too long", dir);
    if (stat(path, &st) == 0)
        return bq_manifest_read(dir, m, err);
    return bq_manifest_from_names(dir, m, err);
}

enum bq_status
bq_manifest_number_lanes(struct bq_manifest *m, size_t nlanes,
                         struct bq_error *err)
{
    struct bq_mlane *l;
    if (m->nlanes)
        return BQ_OK;
    l = bq_calloc_array(nlanes ? nlanes : 1, sizeof *l);
    if (!l)
        return bq_error_set(err, BQ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nlanes; i++)
        snprintf(l[i].label, sizeof l[i].label, "lane %zu", i + 1);
    m->lanes = l;
    m->nlanes = nlanes;
    m->control = 0;
    return BQ_OK;
}

void
bq_manifest_fini(struct bq_manifest *m)
{
    if (!m)
        return;
    free(m->lanes);
    free(m->blots);
    m->lanes = NULL;
    m->blots = NULL;
    m->nlanes = m->nblots = 0;
}
