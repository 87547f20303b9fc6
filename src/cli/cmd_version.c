/* plumb version: the version of plumb and of the libraries it was built with. */
#include "cli.h"

#include <getopt.h>
#include <git2.h>
#include <curl/curl.h>
#include <libfyaml.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

int cmd_version(int argc, char **argv)
{
	static const struct option options[] = {
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *output = "text";
	int major, minor, rev, opt;
	struct buf out = BUF_INIT;
	int rc;

	while ((opt = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
		switch (opt) {
		case 'o':
			output = optarg;
			break;
		case 'h':
			fputs("usage: plumb version [-o text|json]\n\n"
			      "Prints plumb's version and the versions of the libraries it uses.\n",
			      stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("version", "bad option");
		}
	}
	git_libgit2_version(&major, &minor, &rev);
	if (strcmp(output, "json") == 0) {
		buf_addf(&out,
			 "{\"version\":\"%s\",\"libgit2\":\"%d.%d.%d\",\"libfyaml\":\"%s\","
			 "\"openssl\":\"%s\",\"sqlite\":\"%s\",\"libmicrohttpd\":\"%s\","
			 "\"libcurl\":\"%s\"}\n",
			 PLUMB_VERSION, major, minor, rev, fy_library_version(),
			 OpenSSL_version(OPENSSL_VERSION_STRING), sqlite3_libversion(),
			 MHD_get_version(), curl_version_info(CURLVERSION_NOW)->version);
	} else if (strcmp(output, "text") == 0) {
		buf_addf(&out,
			 "plumb %s (libgit2 %d.%d.%d, libfyaml %s, OpenSSL %s, SQLite %s, "
			 "libmicrohttpd %s, libcurl %s)\n",
			 PLUMB_VERSION, major, minor, rev, fy_library_version(),
			 OpenSSL_version(OPENSSL_VERSION_STRING), sqlite3_libversion(),
			 MHD_get_version(), curl_version_info(CURLVERSION_NOW)->version);
	} else {
		return cli_usage_error("version", "unknown output format '%s' (use text or json)",
				       output);
	}
	rc = cli_write_stdout(&out);
	buf_release(&out);
	return rc;
}
