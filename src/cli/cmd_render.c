/* plumb render: print the validated object set of a directory or a Git path. */
#include "cli.h"
#include "render/render.h"
#include "source/source.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char render_help[] =
	"usage: plumb render [<dir>] [options]\n"
	"   or: plumb render --repo <url> [--ref <ref>] [--path <path>] [options]\n"
	"\n"
	"Reads every *.yaml, *.yml and *.json manifest under a directory (or a path\n"
	"of a Git repository), checks that each document is an object with an\n"
	"apiVersion, a kind and a metadata.name, that no two objects share an identity,\n"
	"and prints the set. The same input always gives the same bytes. Files named in\n"
	".plumbignore files (gitignore syntax) are skipped.\n"
	"\n"
	"Source:\n"
	"  <dir>                      a local directory or manifest file\n"
	"      --repo <url>           a Git repository: a local path, file://, https://,\n"
	"                             ssh:// or user@host:path\n"
	"      --ref <ref>            a branch, tag or commit; or branch:<name>, tag:<name>,\n"
	"                             semver:<range>, commit:<sha> (default: the\n"
	"                             repository's default branch)\n"
	"      --branch <name>        the same as --ref branch:<name>\n"
	"      --tag <name>           the same as --ref tag:<name>\n"
	"      --semver <range>       the highest tag in a range, e.g. '>=1.2.0 <2.0.0'\n"
	"      --commit <sha>         a full or unique abbreviated commit\n"
	"      --path <path>          the directory inside the repository (default: its top)\n"
	"      --credentials-file <f> git-credentials lines for https (or\n"
	"                             $PLUMB_GIT_CREDENTIALS_FILE; also $PLUMB_GIT_TOKEN,\n"
	"                             $PLUMB_GIT_USERNAME and $PLUMB_GIT_PASSWORD)\n"
	"      --ssh-key <file>       private key for ssh (or $PLUMB_GIT_SSH_KEY; default:\n"
	"                             the ssh-agent)\n"
	"\n"
	"Output:\n"
	"  -o, --output yaml|json     a '---'-separated YAML stream (default), or JSON with\n"
	"                             each object's identity, source file:line and SHA-256\n"
	"  -q, --quiet                no summary on stderr\n"
	"\n" CLI_COMMON_HELP "\n"
	"Exit status: 0 when the set rendered, 2 on any error (each names file:line).\n"
	"\n"
	"Examples:\n"
	"  plumb render examples/host\n"
	"  plumb render --repo https://git.example.com/ops.git --ref v1.4.0 --path apps/web\n"
	"  plumb render --repo ./ops --semver '>=1.2.0 <2.0.0' -o json\n";

enum {
	OPT_REPO = OPT_COMMON_END,
	OPT_REF,
	OPT_BRANCH,
	OPT_TAG,
	OPT_SEMVER,
	OPT_COMMIT,
	OPT_PATH,
	OPT_CREDENTIALS,
	OPT_SSH_KEY,
};

struct render_args {
	const char *dir;
	const char *repo;
	const char *path;
	const char *credentials_file;
	const char *ssh_key;
	struct source_ref ref;
	bool ref_given;
	enum render_format format;
	bool quiet;
};

static int set_ref(struct render_args *args, enum ref_kind kind, const char *value)
{
	if (args->ref_given)
		return cli_usage_error("render", "give only one of --ref, --branch, --tag, "
						 "--semver and --commit");
	args->ref_given = true;
	args->ref.value = value;
	args->ref.kind = kind;
	if (kind == REF_AUTO) {
		struct error err = ERROR_INIT;

		if (source_parse_ref(value, &args->ref, &err) < 0) {
			cli_print_error(&err);
			return EXIT_ERROR;
		}
	} else if (!*value) {
		return cli_usage_error("render", "the ref must not be empty");
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct render_args *args)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{"repo", required_argument, NULL, OPT_REPO},
		{"ref", required_argument, NULL, OPT_REF},
		{"branch", required_argument, NULL, OPT_BRANCH},
		{"tag", required_argument, NULL, OPT_TAG},
		{"semver", required_argument, NULL, OPT_SEMVER},
		{"commit", required_argument, NULL, OPT_COMMIT},
		{"path", required_argument, NULL, OPT_PATH},
		{"credentials-file", required_argument, NULL, OPT_CREDENTIALS},
		{"ssh-key", required_argument, NULL, OPT_SSH_KEY},
		{"output", required_argument, NULL, 'o'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "o:qh", options, NULL)) != -1) {
		rc = 0;
		switch (opt) {
		case 'h':
			fputs(render_help, stdout);
			return -1;
		case 'o':
			if (strcmp(optarg, "yaml") == 0)
				args->format = RENDER_YAML;
			else if (strcmp(optarg, "json") == 0)
				args->format = RENDER_JSON;
			else
				return cli_usage_error(
					"render", "unknown output format '%s' (use yaml or json)",
					optarg);
			break;
		case 'q':
			args->quiet = true;
			break;
		case OPT_REPO:
			args->repo = optarg;
			break;
		case OPT_REF:
			rc = set_ref(args, REF_AUTO, optarg);
			break;
		case OPT_BRANCH:
			rc = set_ref(args, REF_BRANCH, optarg);
			break;
		case OPT_TAG:
			rc = set_ref(args, REF_TAG, optarg);
			break;
		case OPT_SEMVER:
			rc = set_ref(args, REF_SEMVER, optarg);
			break;
		case OPT_COMMIT:
			rc = set_ref(args, REF_COMMIT, optarg);
			break;
		case OPT_PATH:
			args->path = optarg;
			break;
		case OPT_CREDENTIALS:
			args->credentials_file = optarg;
			break;
		case OPT_SSH_KEY:
			args->ssh_key = optarg;
			break;
		case '?':
			return cli_usage_error("render", "bad option");
		default:
			rc = cli_common_option(opt, optarg);
		}
		if (rc)
			return rc;
	}
	if (optind < argc)
		args->dir = argv[optind++];
	if (optind < argc)
		return cli_usage_error("render", "unexpected argument '%s'", argv[optind]);
	if (args->dir && args->repo)
		return cli_usage_error("render", "give either a directory or --repo, not both");
	if (!args->dir && !args->repo)
		return cli_usage_error("render", "give a directory, or --repo with a Git URL");
	if (!args->repo && (args->ref_given || args->path))
		return cli_usage_error("render", "--ref, --branch, --tag, --semver, --commit and "
						 "--path need --repo");
	return 0;
}

/* One line on stderr about the commit being rendered. */
static void print_commit(const char *url, const struct source_commit *c)
{
	char when[32];
	time_t t = (time_t)c->time;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &tm);
	fprintf(stderr, "%s at %.12s%s%s%s: \"%s\" by %s <%s>, %s\n", url, c->sha,
		c->ref ? " (" : "", c->ref ? c->ref : "", c->ref ? ")" : "", c->summary,
		c->author_name, c->author_email, when);
}

int cmd_render(int argc, char **argv)
{
	struct render_args args = {.format = RENDER_YAML};
	struct source_opts sopts = {0};
	struct source_commit commit = {0};
	struct source *src = NULL;
	struct tree *tree = NULL;
	char *local_path = NULL;
	struct objset *set = NULL;
	struct error err = ERROR_INIT;
	struct buf out = BUF_INIT;
	struct buf revision = BUF_INIT;
	uint64_t started = time_monotonic_ms();
	int rc = parse_args(argc, argv, &args);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (args.repo) {
		sopts.url = args.repo;
		sopts.data_dir = cli_data_dir();
		sopts.credentials_file = args.credentials_file;
		sopts.ssh_key = args.ssh_key;
		sopts.progress = !args.quiet;
		if (source_open(&src, &sopts, &err) < 0 || source_fetch(src, NULL, &err) < 0)
			goto fail;
		if (source_resolve(src, &args.ref, &commit, &err) < 0 ||
		    source_tree(src, &commit, &tree, &err) < 0)
			goto fail;
		if (!args.quiet)
			print_commit(source_display_url(src), &commit);
		source_commit_json(&commit, &revision);
	} else if (render_open_local(args.dir, &tree, &local_path, &err) < 0) {
		goto fail;
	}
	if (render_tree(tree, local_path ? local_path : args.path, NULL, &set, &err) < 0)
		goto fail;
	if (objset_write(set, args.format, revision.len ? revision.data : NULL, &out) < 0) {
		error_set(&err, ERR_TOOBIG, "output too large");
		goto fail;
	}
	rc = cli_write_stdout(&out);
	if (rc == EXIT_OK && !args.quiet)
		fprintf(stderr, "rendered %zu objects in %llu ms\n", set->objs.len,
			(unsigned long long)(time_monotonic_ms() - started));
	goto out;
fail:
	cli_print_error(&err);
	rc = EXIT_ERROR;
out:
	buf_release(&out);
	buf_release(&revision);
	objset_free(set);
	tree_free(tree);
	free(local_path);
	source_commit_release(&commit);
	source_free(src);
	return rc;
}
