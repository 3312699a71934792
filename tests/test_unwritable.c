/* An output folder that cannot be written: `quantify SCAN -o DIR` and
 * `batch ROOT -o DIR` give one clear error naming the folder (or the file
 * they could not write in it) and exit 1, the README's code for "could not
 * be analysed or written"; nothing crashes and no temporary file is left.
 * Root writes through any mode bits, so as root the runs drop to the user
 * nobody (setpriv); the tests skip when that cannot make the folder
 * unwritable or nobody cannot reach the binary and the scans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define BQ BQ_BINARY_DIR "/blotquant"

static char base[1024];   /* the test's folder */
static char as_user[128]; /* command prefix that drops root, or "" */

static int
setup(void **state)
{
    char cmd[4096];
    (void)state;
    snprintf(base, sizeof base, "%s", bq_test_tmpdir("unwritable"));
    if (geteuid() == 0)
        snprintf(as_user, sizeof as_user,
                 "setpriv --reuid=65534 --regid=65534 --clear-groups ");
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/ro' '%s/root' && chmod 755 '%s' && "
             "cp '%s/samples/blot.tif' '%s/' && "
             "cp -r '%s/samples/experiment' '%s/root/e' && chmod 555 '%s/ro'",
             base, base, base, BQ_SOURCE_DIR, base, BQ_SOURCE_DIR, base, base);
    return bq_test_run(cmd) == 0 ? 0 : -1;
}

/* Skips unless the runs can read the scans and not write in BASE/ro. */
static void
require_unwritable(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s" BQ " info '%s/blot.tif' >/dev/null 2>&1 && "
             "test -r '%s/root/e/blotquant.ini' && "
             "! %stouch '%s/ro/probe' 2>/dev/null",
             as_user, base, base, as_user, base);
    if (bq_test_run(cmd) != 0) {
        printf("skipped: cannot make an output folder unwritable here\n");
        skip();
    }
}

/* Runs `blotquant COMMAND INPUT -o OUT -q` (as the unprivileged user), OUT
 * being BASE/ro and then BASE/ro/sub, and checks the outcome: exit 1, one
 * line on stderr holding MSG (then "cannot create the output folder") and
 * the folder, nothing left in BASE/ro. */
static void
expect_one_error(const char *command, const char *input, const char *msg)
{
    static const char *const sub[2] = {"", "/sub"};
    char cmd[4096], path[2048], folder[1100], *err;
    const char *nl;

    snprintf(folder, sizeof folder, "%s/ro", base);
    for (int k = 0; k < 2; k++) {
        const char *want = k ? "cannot create the output folder" : msg;
        snprintf(cmd, sizeof cmd, "%s" BQ " %s '%s/%s' -o '%s%s' -q", as_user,
                 command, base, input, folder, sub[k]);
        assert_int_equal(bq_test_run_in(base, cmd), 1);
        snprintf(path, sizeof path, "%s/err.txt", base);
        err = bq_test_slurp(path);
        assert_non_null(err);
        nl = strchr(err, '\n');
        if (!strstr(err, want) || !strstr(err, folder) || !nl || nl[1])
            fail_msg("expected one line with '%s' and '%s', got:\n%s", want,
                     folder, err);
        free(err);
        snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", folder);
        assert_int_equal(bq_test_run(cmd), 0);
    }
}

static void
test_quantify(void **state)
{
    (void)state;
    require_unwritable();
    expect_one_error("quantify", "blot.tif", "cannot write");
}

static void
test_batch(void **state)
{
    (void)state;
    require_unwritable();
    expect_one_error("batch", "root", "cannot write in the output folder");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantify),
        cmocka_unit_test(test_batch),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
