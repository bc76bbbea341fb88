/* The config schema: every kind of bad file gives its file:line error, all at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"

static char dir[] = "/tmp/dx-config-test.XXXXXX";
static char file[256];
static char exportdir[256];

static void write_file(const char *text)
{
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Load TEXT, where "%s" stands for the export dir; return the errors (caller frees). */
static char *load(const char *text, int *ret, struct dx_config **cfg)
{
	struct dxbuf errs = DXBUF_INIT, buf = DXBUF_INIT;
	const char *hole = strstr(text, "%s");

	if (hole) {
		dxbuf_add(&buf, text, (size_t)(hole - text));
		dxbuf_puts(&buf, exportdir);
		dxbuf_puts(&buf, hole + 2);
	} else {
		dxbuf_puts(&buf, text);
	}
	write_file(dxbuf_str(&buf));
	dxbuf_release(&buf);
	*ret = dx_config_load(file, cfg, &errs);
	return dxbuf_detach(&errs);
}

static void expect_error(const char *text, const char *want)
{
	struct dx_config *cfg;
	char line[512];
	int ret;
	char *errs = load(text, &ret, &cfg);

	snprintf(line, sizeof(line), "%s:%s\n", file, want);
	if (!strstr(errs, line))
		fail_msg("wanted \"%s\" in:\n%s", line, errs);
	assert_int_equal(ret, -EINVAL);
	assert_null(cfg);
	free(errs);
}

#define EXPORT "exports = ( { name = \"pmem\"; path = \"%s\"; acl = [ \"10.0.0.0/8\" ]; } );\n"

static void load__minimal_file__gets_defaults(void **state)
{
	struct dx_config *cfg;
	int ret;
	char *errs = load(EXPORT, &ret, &cfg);

	assert_string_equal(errs, "");
	assert_int_equal(ret, 0);
	assert_string_equal(cfg->listen_address, "0.0.0.0");
	assert_int_equal(cfg->listen_port, 20049);
	assert_int_equal(cfg->recall_timeout_ms, 2000);
	assert_int_equal(cfg->max_layout_size, 1 << 30);
	assert_int_equal(cfg->n_exports, 1);
	assert_string_equal(cfg->exports[0].path, exportdir);
	assert_int_equal(cfg->exports[0].mr_mode, DX_MR_AUTO);
	assert_string_equal(cfg->exports[0].device_file, "device");
	assert_false(cfg->exports[0].read_only);
	assert_int_equal(cfg->exports[0].n_acl, 1);
	assert_int_equal(cfg->exports[0].acl_cidr[0].prefix, 8);
	assert_int_equal(cfg->exports[0].line, 1);
	dx_config_free(&cfg);
	assert_null(cfg);
	free(errs);
}

static void load__wrong_types__say_what_is_wanted(void **state)
{
	expect_error("listen = { port = \"20049\"; };\n" EXPORT,
		     "1: listen.port: must be an integer, not a string");
	expect_error("recall_timeout_ms = 2.5;\n" EXPORT,
		     "1: recall_timeout_ms: must be an integer, not a number with a fraction");
	expect_error("listen = 5;\n" EXPORT, "1: listen: must be a group { ... }, not an integer");
	expect_error("exports = ( { name = \"a\"; path = \"%s\";\n acl = \"10.0.0.1\";\n read_only = 1; } );\n",
		     "2: exports[0].acl: must be an array of strings [ \"...\", ... ], not a string");
	expect_error("exports = ( { name = \"a\"; path = \"%s\";\n acl = [\"10.0.0.1\"];\n read_only = 1; } );\n",
		     "3: exports[0].read_only: must be a boolean (true or false), not an integer");
	expect_error("exports = ( 5 );\n", "1: exports[0]: must be a group { ... }, not an integer");
}

static void load__out_of_range__gives_the_range(void **state)
{
	expect_error("listen = { port = 0; };\n" EXPORT, "1: listen.port: 0 is out of range [1, 65535]");
	expect_error("\nrecall_timeout_ms = 99;\n" EXPORT,
		     "2: recall_timeout_ms: 99 is out of range [100, 60000] milliseconds");
	expect_error("limits = {\n max_layout_size = 2199023255552L; };\n" EXPORT,
		     "2: limits.max_layout_size: 2199023255552 is out of range [4096, 1099511627776] bytes");
	expect_error("log_level = \"loud\";\n" EXPORT,
		     "1: log_level: \"loud\" is not one of: error, warning, notice, info, debug");
	expect_error("exports = ( { name = \"a\"; path = \"%s\"; acl = [];\n mr_mode = \"magic\"; } );\n",
		     "1: exports[0].acl: has 0 entries; it takes 1 to 64");
	expect_error("exports = ( { name = \"a\"; path = \"%s\"; acl = [\"1.2.3.4\"];\n mr_mode = \"magic\"; } );\n",
		     "2: exports[0].mr_mode: \"magic\" is not one of: auto, pinned, odp, bounce");
	expect_error("exports = ();\n", "1: exports: has 0 entries; it takes 1 to 256");
}

static void load__unknown_keys__are_errors(void **state)
{
	expect_error("lisen = { port = 1; };\n" EXPORT, "1: unknown setting 'lisen'");
	expect_error("listen = {\n prot = 1; };\n" EXPORT, "2: unknown setting 'listen.prot'");
	expect_error("exports = ( { name = \"a\"; path = \"%s\"; acl = [\"1.2.3.4\"];\n readonly = true; } );\n",
		     "2: unknown setting 'exports[0].readonly'");
}

static void load__bad_export_path__is_reported(void **state)
{
	expect_error("exports = ( { name = \"a\";\n path = \"/nonexistent/dx\"; acl = [\"1.2.3.4\"]; } );\n",
		     "2: exports[0].path: \"/nonexistent/dx\": No such file or directory");
	expect_error("exports = ( { name = \"a\";\n path = \"relative\"; acl = [\"1.2.3.4\"]; } );\n",
		     "2: exports[0].path: \"relative\" is not an absolute path");
	expect_error("exports = ( { name = \"a\";\n path = \"/etc/passwd\"; acl = [\"1.2.3.4\"]; } );\n",
		     "2: exports[0].path: \"/etc/passwd\" is neither a directory nor a device-DAX character device");
	expect_error("exports = (\n { name = \"a\"; acl = [\"1.2.3.4\"]; } );\n",
		     "2: exports[0]: missing required setting 'path'");
}

static void load__bad_values__are_reported(void **state)
{
	expect_error("listen = { address = \"rdma.example\"; };\n" EXPORT,
		     "1: listen.address: \"rdma.example\" is not a numeric IPv4 or IPv6 address");
	expect_error("exports = ( { name = \"a b\"; path = \"%s\"; acl = [\"1.2.3.4\"]; } );\n",
		     "1: exports[0].name: \"a b\" is not a valid name (1 to 64 of A-Z a-z 0-9 . _ -)");
	expect_error("exports = ( { name = \"a\"; path = \"%s\"; acl = [\"1.2.3.4\"];\n device_file = \"../pool\"; } );\n",
		     "2: exports[0].device_file: \"../pool\" is not a valid name (1 to 64 of A-Z a-z 0-9 . _ -)");
	expect_error("exports = ( { name = \"a\"; path = \"%s\";\n acl = [\"1.2.3.4\", \"10.0.0.0/40\"]; } );\n",
		     "2: exports[0].acl[1]: \"10.0.0.0/40\" is not an address or CIDR prefix (like 192.168.100.0/24)");
	expect_error("exports = ( { name = \"a\"; path = \"%s\"; acl = [\"1.2.3.4\"]; },\n"
		     " { name = \"a\"; path = \"/tmp\"; acl = [\"1.2.3.4\"]; } );\n",
		     "2: exports[1]: name \"a\" is already used by the export on line 1");
	expect_error("ctl = { socket = \"ctl.sock\"; };\n" EXPORT,
		     "1: ctl.socket: \"ctl.sock\" is not an absolute path");
}

static void load__syntax_error__has_its_line(void **state)
{
	expect_error("listen = {\n port = = 1;\n};\n" EXPORT, "2: syntax error");
}

static void load__missing_file__says_so(void **state)
{
	struct dxbuf errs = DXBUF_INIT;
	struct dx_config *cfg;

	assert_int_equal(dx_config_load("/nonexistent/daxrdmad.conf", &cfg, &errs), -EINVAL);
	assert_string_equal(dxbuf_str(&errs), "/nonexistent/daxrdmad.conf: cannot read: No such file or directory\n");
	dxbuf_release(&errs);
}

/* Found by fuzz_config: libconfig 1.5 leaked its string buffer on a NUL
 * byte inside a string; the text is refused before libconfig sees it. */
static void load__nul_byte__is_refused_with_its_line(void **state)
{
	static const char text[] = "recall_timeout_ms = 2000;\nlog_level = \"in\0fo\";\n";
	char path[] = "/tmp/dxcfg.XXXXXX";
	struct dxbuf errs = DXBUF_INIT;
	struct dx_config *cfg;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	assert_int_equal(dx_config_load(path, &cfg, &errs), -EINVAL);
	assert_null(cfg);
	assert_non_null(strstr(dxbuf_str(&errs), ":2: a NUL byte: not a text file"));
	unlink(path);
	dxbuf_release(&errs);
}

static void load__many_errors__are_all_reported(void **state)
{
	struct dx_config *cfg;
	int ret, lines = 0;
	char *errs = load("listen = { port = 0; bogus = 1; };\nrecall_timeout_ms = \"x\";\n"
			  "exports = ( { name = \"\"; path = \"/nonexistent\"; acl = [\"x\"]; } );\n",
			  &ret, &cfg);

	for (char *p = errs; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(ret, -EINVAL);
	assert_int_equal(lines, 6);
	free(errs);
}

static void dump__reloads_to_the_same_config(void **state)
{
	struct dxbuf d1 = DXBUF_INIT, d2 = DXBUF_INIT, errs = DXBUF_INIT;
	struct dx_config *cfg, *again;
	int ret;
	char *e = load("listen = { address = \"fe80::1\"; port = 4791; };\nlimits = { max_layout_size = 4294967296L; };\n"
		       "exports = ( { name = \"x\"; path = \"%s\"; acl = [\"1.2.3.4\", \"::/0\"]; read_only = true;"
		       " mr_mode = \"bounce\"; } );\n", &ret, &cfg);

	assert_int_equal(ret, 0);
	dx_config_dump(cfg, &d1);
	write_file(strchr(dxbuf_str(&d1), '\n') + 1); /* skip the comment naming the file */
	assert_int_equal(dx_config_load(file, &again, &errs), 0);
	dx_config_dump(again, &d2);
	assert_string_equal(dxbuf_str(&d1), dxbuf_str(&d2));
	assert_non_null(strstr(dxbuf_str(&d1), "max_layout_size = 4294967296L;"));
	assert_non_null(strstr(dxbuf_str(&d1), "mr_mode = \"bounce\";"));
	dx_config_free(&cfg);
	dx_config_free(&again);
	dxbuf_release(&d1);
	dxbuf_release(&d2);
	dxbuf_release(&errs);
	free(e);
}

static void reference__documents_every_setting(void **state)
{
	struct dxbuf ref = DXBUF_INIT;

	dx_config_reference(&ref);
	assert_non_null(strstr(dxbuf_str(&ref), "*listen.port* (integer, 1 to 65535, default 20049)"));
	assert_non_null(strstr(dxbuf_str(&ref), "*exports[].mr_mode* (one of \"auto\", \"pinned\", \"odp\", \"bounce\"; default \"auto\")"));
	assert_non_null(strstr(dxbuf_str(&ref), "*exports[].acl* (array of 1 to 64 strings, required)"));
	dxbuf_release(&ref);
}

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(file, sizeof(file), "%s/daxrdmad.conf", dir);
	snprintf(exportdir, sizeof(exportdir), "%s", dir);
	return 0;
}

static int teardown(void **state)
{
	unlink(file);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(load__minimal_file__gets_defaults),
		cmocka_unit_test(load__wrong_types__say_what_is_wanted),
		cmocka_unit_test(load__out_of_range__gives_the_range),
		cmocka_unit_test(load__unknown_keys__are_errors),
		cmocka_unit_test(load__bad_export_path__is_reported),
		cmocka_unit_test(load__bad_values__are_reported),
		cmocka_unit_test(load__syntax_error__has_its_line),
		cmocka_unit_test(load__nul_byte__is_refused_with_its_line),
		cmocka_unit_test(load__missing_file__says_so),
		cmocka_unit_test(load__many_errors__are_all_reported),
		cmocka_unit_test(dump__reloads_to_the_same_config),
		cmocka_unit_test(reference__documents_every_setting),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
