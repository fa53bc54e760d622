/* SPDX-License-Identifier: ISC */
/*
 * cli-spec.c -- what submit's --array and --after... values mean: pure
 * parsers with no I/O (fuzzed by tests/fuzz/fuzz-cli-spec.c).
 *
 * --array SPEC: N (indexes 0..N-1), A-B (inclusive) or A-B:STEP, then
 * optionally %K (at most K elements running at once); no signs, no
 * spaces, at most PROTO_ARRAY_MAX elements with indexes up to
 * PROTO_ARRAY_INDEX_MAX.  --after ID[,ID...]: task ids ("17", or "17.3"
 * for an element), each its own entry of the wire's list.  --input
 * PATH[:NAME]: split at the last ':' (README, "Files in, files out"), NAME
 * a relative path that stays in the task's working directory.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/*
 * Take a decimal number of 1 to 10 digits at *p, at most max; *p moves
 * past it.  Returns 0, or -1 if there is none or it is too big.
 */
static int
cli_array_num(const char **p, int64_t max, int64_t *out)
{
	int64_t	v = 0;
	size_t	n = 0;

	while (**p >= '0' && **p <= '9') {
		if (++n > 10)
			return (-1);
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	if (n == 0 || v > max)
		return (-1);
	*out = v;
	return (0);
}

/* Parse an --array SPEC into t's array fields. */
int
cli_array_parse(const char *spec, struct proto_task *t, char **cause)
{
	const char	*p = spec;
	int64_t		 a, b, step = 1, limit = 0, n;

	if (cli_array_num(&p, PROTO_ARRAY_INDEX_MAX, &a) != 0)
		goto bad;
	if (*p == '-') {
		p++;
		if (cli_array_num(&p, PROTO_ARRAY_INDEX_MAX, &b) != 0)
			goto bad;
		if (*p == ':') {
			p++;
			if (cli_array_num(&p, PROTO_ARRAY_INDEX_MAX,
			    &step) != 0 || step < 1)
				goto bad;
		}
		if (a > b) {
			xasprintf(cause, "--array '%.40s': the first index %lld "
			    "is after the last %lld; write A-B with A <= B",
			    spec, (long long)a, (long long)b);
			return (-1);
		}
	} else {
		if (a < 1 || a > PROTO_ARRAY_MAX) {
			xasprintf(cause, "--array '%.40s': N elements must be 1 "
			    "to %d", spec, PROTO_ARRAY_MAX);
			return (-1);
		}
		b = a - 1;
		a = 0;
	}
	if (*p == '%') {
		p++;
		if (cli_array_num(&p, PROTO_ARRAY_MAX, &limit) != 0 ||
		    limit < 1) {
			xasprintf(cause, "--array '%.40s': %%K must be 1 to %d "
			    "(at most K elements running at once)", spec,
			    PROTO_ARRAY_MAX);
			return (-1);
		}
	}
	if (*p != '\0')
		goto bad;
	n = (b - a) / step + 1;
	if (n > PROTO_ARRAY_MAX) {
		xasprintf(cause, "--array '%.40s': %lld elements; at most %d in "
		    "one array (split it into several)", spec, (long long)n,
		    PROTO_ARRAY_MAX);
		return (-1);
	}
	t->array_start = a;
	t->array_end = b;
	t->array_step = step;
	t->array_limit = (int)limit;
	return (0);

bad:
	xasprintf(cause, "--array '%.40s': expected N, A-B or A-B:STEP, "
	    "optionally followed by %%K (at most K running), e.g. 100, 1-50 "
	    "or 0-98:2%%4; indexes 0 to %d", spec, PROTO_ARRAY_INDEX_MAX);
	return (-1);
}

/* Append the comma-separated ids of an --after... value to a list. */
int
cli_deps_parse(const char *opt, const char *value, char ***list, size_t *n,
    char **cause)
{
	const char	*p = value, *end;
	size_t		 len;

	for (;;) {
		p += strspn(p, " \t");
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0) {
			xasprintf(cause, "--%s '%.80s': an empty id; expected "
			    "task ids like 17 or 17.3, comma separated", opt,
			    value);
			return (-1);
		}
		if (len > PROTO_ID_MAX || strspn(p, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") < len) {
			xasprintf(cause, "--%s '%.80s': '%.*s' is not a task "
			    "id (17, or 17.3 for an array's element)", opt,
			    value, len > 40 ? 40 : (int)len, p);
			return (-1);
		}
		if (*n >= PROTO_LIST_MAX) {
			xasprintf(cause, "--%s: at most %d ids", opt,
			    PROTO_LIST_MAX);
			return (-1);
		}
		*list = xreallocarray(*list, *n + 1, sizeof **list);
		(*list)[(*n)++] = xstrndup(p, len);
		if (*end == '\0')
			return (0);
		p = end + 1;
	}
}

/* Split an --input value into PATH and NAME. */
int
cli_input_split(const char *spec, char **path, char **name, char **cause)
{
	const char	*colon, *why;
	size_t		 len;

	*path = *name = NULL;
	if (*spec == '\0') {
		xasprintf(cause, "--input needs PATH[:NAME], e.g. --input "
		    "data.csv or --input photos/:in");
		return (-1);
	}
	if ((colon = strrchr(spec, ':')) == NULL) {
		*path = xstrdup(spec);
		return (0);
	}
	if (colon == spec) {
		xasprintf(cause, "--input '%.80s': the PATH before ':' is "
		    "empty; expected PATH[:NAME]", spec);
		return (-1);
	}
	/* NAME may end in '/' (a directory's name); empty keeps the
	 * default. */
	len = strlen(colon + 1);
	while (len > 0 && colon[len] == '/')
		len--;
	if (len > 0) {
		*name = xstrndup(colon + 1, len);
		if (!proto_file_name_ok(*name, &why)) {
			xasprintf(cause, "--input '%.80s': the NAME '%.80s' %s; "
			    "NAME is where the task finds it, relative to its "
			    "working directory (e.g. in/data.csv)", spec,
			    *name, why);
			free(*name);
			*name = NULL;
			return (-1);
		}
	}
	*path = xstrndup(spec, (size_t)(colon - spec));
	return (0);
}

/* The default NAME of an input: PATH's last component. */
char *
cli_input_default_name(const char *path)
{
	const char	*end, *start;
	char		*name;

	end = path + strlen(path);
	while (end > path && end[-1] == '/')
		end--;
	start = end;
	while (start > path && start[-1] != '/')
		start--;
	if (start == end)
		return (NULL);
	name = xstrndup(start, (size_t)(end - start));
	if (!proto_file_name_ok(name, NULL)) {
		free(name);
		return (NULL);
	}
	return (name);
}
