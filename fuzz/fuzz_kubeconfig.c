/*
 * Fuzz target for kubeconfig files: the input is written to a kubeconfig in a
 * temporary directory (made once, the same path every run) and loaded with its
 * current-context. Nothing may crash or leak, and a config that loads must
 * have a server, a context and a namespace.
 *
 * The directory also holds a few files that kubeconfigs may name by a relative
 * path (ca.crt, client.crt, client.key, token, token-lines), so that seeds can
 * reach the file-reading paths. kube_config_load reads the files a kubeconfig
 * names but never runs an exec plugin; kube_config_refresh would, so it is
 * never called here. Inputs that name something under /dev, /proc or /sys are
 * skipped: reading /dev/stdin, a terminal or a FIFO could block the fuzzer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "targets/kube/kube.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256];
static char config_path[300];

static const char *const side_files[][2] = {
	{"ca.crt", "-----BEGIN CERTIFICATE-----\nMIIBfuzzca\n-----END CERTIFICATE-----\n"},
	{"client.crt", "-----BEGIN CERTIFICATE-----\nMIIBfuzzcert\n-----END CERTIFICATE-----\n"},
	{"client.key",
	 "-----BEGIN EC PRIVATE KEY-----\nMHcfuzzkey\n-----END EC PRIVATE KEY-----\n"},
	{"token", "fuzz-token-from-file\n"},
	{"token-lines", "first\nsecond\n"},
};

static bool write_file(const char *path, const void *bytes, size_t len)
{
	FILE *f = fopen(path, "wb");
	bool ok;

	if (!f)
		return false;
	ok = fwrite(bytes, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

static void cleanup(void)
{
	char path[300];

	for (size_t i = 0; i < ARRAY_SIZE(side_files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, side_files[i][0]);
		unlink(path);
	}
	unlink(config_path);
	rmdir(dir);
}

/* Makes the directory and its side files once; aborts if it cannot. */
static void setup(void)
{
	const char *tmpdir = getenv("TMPDIR");
	char path[300];

	/* ':' would split the kubeconfig path into a KUBECONFIG list */
	if (!tmpdir || !*tmpdir || strchr(tmpdir, ':') || strlen(tmpdir) > 200)
		tmpdir = "/tmp";
	snprintf(dir, sizeof(dir), "%s/plumb-fuzz-kubeconfig.XXXXXX", tmpdir);
	if (!mkdtemp(dir))
		abort();
	snprintf(config_path, sizeof(config_path), "%s/config", dir);
	for (size_t i = 0; i < ARRAY_SIZE(side_files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, side_files[i][0]);
		if (!write_file(path, side_files[i][1], strlen(side_files[i][1])))
			abort();
	}
	atexit(cleanup);
}

static bool mentions(const uint8_t *data, size_t size, const char *what)
{
	return memmem(data, size, what, strlen(what)) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_config_opts opts = {0};
	struct kube_config *cfg = NULL;
	struct error err = ERROR_INIT;
	int rc;

	if (size > 65536 || mentions(data, size, "/dev") || mentions(data, size, "/proc") ||
	    mentions(data, size, "/sys"))
		return 0;
	if (!*dir)
		setup();
	if (!write_file(config_path, data, size))
		abort();
	opts.kubeconfig = config_path;
	opts.context = NULL;
	rc = kube_config_load(&opts, &cfg, &err);
	if (rc == 0) {
		if (!cfg || !cfg->server || !*cfg->server || !cfg->context || !cfg->namespace ||
		    !*cfg->namespace || !cfg->source)
			abort();
		if (!cfg->cert_pem != !cfg->key_pem)
			abort();
	} else if (rc > 0 || cfg || !err.msg[0]) {
		abort();
	}
	/* never kube_config_refresh(): it runs exec plugins */
	kube_config_free(cfg);
	return 0;
}
