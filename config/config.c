/* SPDX-License-Identifier: ISC */
/*
 * config.c -- options from argv and an INI file, checked against one table.
 *
 * Every value is validated when it is set, whichever the source, so the
 * programs only ever see values their table allows.  Flags beat the file:
 * the caller parses argv first (to learn --config), then loads the file,
 * which leaves alone any option a flag has set.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "config.h"

#define CFG_LINE_MAX	4096		/* longest file line, bytes */
#define CFG_FILE_MAX	(1024 * 1024)	/* largest config file, bytes */
#define CFG_SHOW_MAX	64		/* value bytes quoted in errors */

/* Where a value comes from. */
enum cfg_source {
	CFG_SRC_FLAG,
	CFG_SRC_FILE,
};

/*
 * Quote a user-supplied value for an error message into buf: control
 * characters escaped, long values cut short with "...".
 */
static const char *
cfg_show(const char *s, char *buf, size_t size)
{
	size_t	o = 0, i;

	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == CFG_SHOW_MAX || o + 8 >= size) {
			o += snprintf(buf + o, size - o, "...");
			break;
		}
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			o += snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return (buf);
}

/* Find an option by its flag name (len bytes of name); -1 if none. */
static int
cfg_find_flag(const struct cfg *cfg, const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < cfg->n; i++) {
		if (strlen(cfg->table[i].name) == len &&
		    strncmp(cfg->table[i].name, name, len) == 0)
			return ((int)i);
	}
	return (-1);
}

/* Find an option by a file key, where '_' and '-' are the same; -1 if none. */
static int
cfg_find_key(const struct cfg *cfg, const char *key)
{
	const char	*name, *k;
	size_t		 i;

	for (i = 0; i < cfg->n; i++) {
		name = cfg->table[i].name;
		for (k = key; *name != '\0' && *k != '\0'; name++, k++) {
			if (*name == *k)
				continue;
			if ((*name == '-' || *name == '_') &&
			    (*k == '-' || *k == '_'))
				continue;
			break;
		}
		if (*name == '\0' && *k == '\0')
			return ((int)i);
	}
	return (-1);
}

/* Find an option by name or die: asking for an unknown one is a bug. */
static int
cfg_find_checked(const struct cfg *cfg, const char *name)
{
	int	i;

	if ((i = cfg_find_flag(cfg, name, strlen(name))) == -1)
		fatalx("config: no option named \"%s\"", name);
	return (i);
}

/* Edit distance between two short strings, '_' and '-' counted equal. */
static size_t
cfg_distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), i, j, d[65], prev, tmp;
	int	same;

	if (lb > 64)
		return ((size_t)-1);
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		prev = d[0];
		d[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = d[j];
			same = a[i - 1] == b[j - 1] ||
			    ((a[i - 1] == '-' || a[i - 1] == '_') &&
			    (b[j - 1] == '-' || b[j - 1] == '_'));
			d[j] = prev + (same ? 0 : 1);
			if (d[j - 1] + 1 < d[j])
				d[j] = d[j - 1] + 1;
			if (tmp + 1 < d[j])
				d[j] = tmp + 1;
			prev = tmp;
		}
	}
	return (d[lb]);
}

/* The option closest to an unknown name, or NULL if none is close. */
static const char *
cfg_suggest(const struct cfg *cfg, const char *name)
{
	const char	*best = NULL;
	size_t		 i, d, bestd = 3;

	if (strlen(name) > 64)
		return (NULL);
	for (i = 0; i < cfg->n; i++) {
		d = cfg_distance(name, cfg->table[i].name);
		if (d < bestd) {
			bestd = d;
			best = cfg->table[i].name;
		}
	}
	return (best);
}

/* Parse a flag value in a file or after "--name=": "true", "no", "1"... */
static int
cfg_parse_bool(const char *value)
{
	if (strcasecmp(value, "true") == 0 || strcasecmp(value, "yes") == 0 ||
	    strcmp(value, "1") == 0)
		return (1);
	if (strcasecmp(value, "false") == 0 || strcasecmp(value, "no") == 0 ||
	    strcmp(value, "0") == 0)
		return (0);
	return (-1);
}

/*
 * Check value against option o.  Returns the canonical value to store
 * (caller frees), or NULL with *cause saying what is wrong (no prefix).
 */
static char *
cfg_check(const struct cfg_option *o, const char *value, char **cause)
{
	const char	*p;
	char		 show[CFG_SHOW_MAX * 4 + 8], *list = NULL, *tmp;
	long long	 ll;
	size_t		 i;
	int		 b;

	switch (o->type) {
	case CFG_STRING:
	case CFG_LIST:
		if (*value == '\0') {
			xasprintf(cause, "empty value");
			return (NULL);
		}
		if (strlen(value) > PROTO_TEXT_MAX) {
			xasprintf(cause, "value is too long (%zu bytes, at "
			    "most %d)", strlen(value), PROTO_TEXT_MAX);
			return (NULL);
		}
		for (p = value; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				xasprintf(cause, "\"%s\" contains a control "
				    "character", cfg_show(value, show,
				    sizeof show));
				return (NULL);
			}
		}
		return (xstrdup(value));
	case CFG_INT:
		p = value;
		if (*p == '+' || *p == '-')
			p++;
		if (*p == '\0' || strspn(p, "0123456789") != strlen(p)) {
			xasprintf(cause, "\"%s\" is not a number (expected "
			    "%ld..%ld)", cfg_show(value, show, sizeof show),
			    o->min, o->max);
			return (NULL);
		}
		errno = 0;
		ll = strtoll(value, NULL, 10);
		if (errno == ERANGE || ll < o->min || ll > o->max) {
			xasprintf(cause, "%s is out of range %ld..%ld",
			    cfg_show(value, show, sizeof show), o->min, o->max);
			return (NULL);
		}
		xasprintf(&tmp, "%lld", ll);
		return (tmp);
	case CFG_CHOICE:
		for (i = 0; o->choices != NULL && o->choices[i] != NULL; i++) {
			if (strcmp(o->choices[i], value) == 0)
				return (xstrdup(value));
		}
		for (i = 0; o->choices != NULL && o->choices[i] != NULL; i++) {
			if (list == NULL)
				list = xstrdup(o->choices[i]);
			else {
				xasprintf(&tmp, "%s, %s", list, o->choices[i]);
				free(list);
				list = tmp;
			}
		}
		xasprintf(cause, "\"%s\" is not one of %s",
		    cfg_show(value, show, sizeof show),
		    list != NULL ? list : "(none)");
		free(list);
		return (NULL);
	case CFG_FLAG:
		if ((b = cfg_parse_bool(value)) == -1) {
			xasprintf(cause, "\"%s\" is not a boolean (expected "
			    "true, false, yes, no, 1 or 0)",
			    cfg_show(value, show, sizeof show));
			return (NULL);
		}
		return (xstrdup(b ? "true" : "false"));
	}
	xasprintf(cause, "bad option type");
	return (NULL);
}

/* Drop every entry of list option i. */
static void
cfg_clear_list(struct cfg *cfg, size_t i)
{
	size_t	j;

	for (j = 0; j < cfg->n_lists[i]; j++)
		free(cfg->lists[i][j]);
	free(cfg->lists[i]);
	cfg->lists[i] = NULL;
	cfg->n_lists[i] = 0;
}

/*
 * Validate and store value for option i.  A flag beats the file: a file
 * value for an option a flag has set is dropped.  The first flag for a list
 * replaces what the file or defaults gave; later flags append.  On error,
 * *cause is "where: what".
 */
static int
cfg_store(struct cfg *cfg, size_t i, const char *value, enum cfg_source src,
    const char *where, char **cause)
{
	const struct cfg_option	*o = &cfg->table[i];
	char			*canon, *why;

	if ((canon = cfg_check(o, value, &why)) == NULL) {
		xasprintf(cause, "%s: %s", where, why);
		free(why);
		return (-1);
	}
	if (src == CFG_SRC_FILE && cfg->from_flag[i]) {
		free(canon);
		return (0);
	}
	if (o->type == CFG_LIST) {
		if (src == CFG_SRC_FLAG && !cfg->from_flag[i])
			cfg_clear_list(cfg, i);
		if (cfg->n_lists[i] >= PROTO_LIST_MAX) {
			xasprintf(cause, "%s: too many values (at most %d)",
			    where, PROTO_LIST_MAX);
			free(canon);
			return (-1);
		}
		cfg->lists[i] = xreallocarray(cfg->lists[i],
		    cfg->n_lists[i] + 1, sizeof *cfg->lists[i]);
		cfg->lists[i][cfg->n_lists[i]++] = canon;
	} else {
		free(cfg->values[i]);
		cfg->values[i] = canon;
	}
	if (src == CFG_SRC_FLAG)
		cfg->from_flag[i] = 1;
	return (0);
}

/* Prepare cfg for table (n entries); values start at their defaults. */
void
cfg_init(struct cfg *cfg, const struct cfg_option *table, size_t n)
{
	char	*cause;
	size_t	 i;

	memset(cfg, 0, sizeof *cfg);
	cfg->table = table;
	cfg->n = n;
	if (n == 0)
		return;
	cfg->values = xcalloc(n, sizeof *cfg->values);
	cfg->lists = xcalloc(n, sizeof *cfg->lists);
	cfg->n_lists = xcalloc(n, sizeof *cfg->n_lists);
	cfg->from_flag = xcalloc(n, sizeof *cfg->from_flag);
	for (i = 0; i < n; i++) {
		if (table[i].def == NULL)
			continue;
		if (cfg_store(cfg, i, table[i].def, CFG_SRC_FILE,
		    table[i].name, &cause) != 0)
			fatalx("config: bad default: %s", cause);
	}
}

/* Free everything cfg holds; cfg may be initialized again afterwards. */
void
cfg_free(struct cfg *cfg)
{
	size_t	i;

	for (i = 0; i < cfg->n; i++) {
		free(cfg->values[i]);
		cfg_clear_list(cfg, i);
	}
	free(cfg->values);
	free(cfg->lists);
	free(cfg->n_lists);
	free(cfg->from_flag);
	memset(cfg, 0, sizeof *cfg);
}

/* Parse a short option cluster at argv[*ai] ("-h", "-hV", "-sVALUE"). */
static int
cfg_parse_short(struct cfg *cfg, int argc, char **argv, int *ai,
    char **cause)
{
	const char	*arg = argv[*ai], *value;
	char		 where[8];
	size_t		 i, j;

	for (j = 1; arg[j] != '\0'; j++) {
		for (i = 0; i < cfg->n; i++) {
			if (cfg->table[i].short_name != '\0' &&
			    cfg->table[i].short_name == arg[j])
				break;
		}
		if (i == cfg->n) {
			if (isprint((unsigned char)arg[j]))
				xasprintf(cause, "unknown option -%c (see "
				    "--help)", arg[j]);
			else
				xasprintf(cause, "unknown option in \"%s\" "
				    "(see --help)", arg);
			return (-1);
		}
		snprintf(where, sizeof where, "-%c", arg[j]);
		if (cfg->table[i].type == CFG_FLAG) {
			if (cfg_store(cfg, i, "true", CFG_SRC_FLAG, where,
			    cause) != 0)
				return (-1);
			continue;
		}
		if (arg[j + 1] != '\0')
			value = arg + j + 1;
		else if (*ai + 1 < argc)
			value = argv[++*ai];
		else {
			xasprintf(cause, "-%c needs a value (%s)", arg[j],
			    cfg->table[i].metavar != NULL ?
			    cfg->table[i].metavar : "VALUE");
			return (-1);
		}
		return (cfg_store(cfg, i, value, CFG_SRC_FLAG, where, cause));
	}
	return (0);
}

/* Parse a long option at argv[*ai] ("--name", "--name value", "--name=v"). */
static int
cfg_parse_long(struct cfg *cfg, int argc, char **argv, int *ai,
    char **cause)
{
	const char	*arg = argv[*ai] + 2, *eq, *value, *hint;
	char		*where, show[CFG_SHOW_MAX * 4 + 8];
	size_t		 len;
	int		 i, r;

	eq = strchr(arg, '=');
	len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
	if ((i = cfg_find_flag(cfg, arg, len)) == -1) {
		char	*name = xstrndup(arg, len);

		cfg_show(name, show, sizeof show);
		hint = cfg_suggest(cfg, name);
		if (hint != NULL)
			xasprintf(cause, "unknown option --%s (did you mean "
			    "--%s?)", show, hint);
		else
			xasprintf(cause, "unknown option --%s (see --help)",
			    show);
		free(name);
		return (-1);
	}
	xasprintf(&where, "--%s", cfg->table[i].name);
	if (eq != NULL)
		value = eq + 1;
	else if (cfg->table[i].type == CFG_FLAG)
		value = "true";
	else if (*ai + 1 < argc)
		value = argv[++*ai];
	else {
		xasprintf(cause, "%s needs a value (%s)", where,
		    cfg->table[i].metavar != NULL ? cfg->table[i].metavar :
		    "VALUE");
		free(where);
		return (-1);
	}
	r = cfg_store(cfg, i, value, CFG_SRC_FLAG, where, cause);
	free(where);
	return (r);
}

/*
 * Parse argv from argv[1].  Options end at "--" (skipped), at a lone "-"
 * or at the first operand; *first is then that operand's index.
 */
int
cfg_parse_args(struct cfg *cfg, int argc, char **argv, int *first,
    char **cause)
{
	int	ai;

	*cause = NULL;
	for (ai = 1; ai < argc; ai++) {
		if (argv[ai] == NULL)
			break;
		if (strcmp(argv[ai], "--") == 0) {
			ai++;
			break;
		}
		if (argv[ai][0] != '-' || argv[ai][1] == '\0')
			break;
		if (argv[ai][1] == '-') {
			if (cfg_parse_long(cfg, argc, argv, &ai, cause) != 0)
				goto fail;
		} else {
			if (cfg_parse_short(cfg, argc, argv, &ai, cause) != 0)
				goto fail;
		}
	}
	if (first != NULL)
		*first = ai;
	return (0);

fail:
	if (first != NULL)
		*first = ai;
	return (-1);
}

/* Strip leading and trailing blanks from s in place. */
static char *
cfg_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return (s);
}

/*
 * Turn the text after '=' into the value: a quoted value ("..." or '...')
 * loses its quotes and may hold '#'; an unquoted value ends at a '#' or
 * ';' that follows a blank.  Returns NULL with *why on a bad quote.
 */
static char *
cfg_unquote(char *v, const char **why)
{
	char	*p, *end;

	v = cfg_trim(v);
	if (*v == '"' || *v == '\'') {
		if ((end = strchr(v + 1, *v)) == NULL) {
			*why = "missing closing quote";
			return (NULL);
		}
		*end = '\0';
		p = cfg_trim(end + 1);
		if (*p != '\0' && *p != '#' && *p != ';') {
			*why = "unexpected text after the closing quote";
			return (NULL);
		}
		return (v + 1);
	}
	for (p = v; *p != '\0'; p++) {
		if ((*p == '#' || *p == ';') && p > v &&
		    (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	return (cfg_trim(v));
}

/* The file spelling of an option name: '_' for '-'.  Caller frees. */
static char *
cfg_file_key(const char *name)
{
	char	*key = xstrdup(name), *c;

	for (c = key; *c != '\0'; c++) {
		if (*c == '-')
			*c = '_';
	}
	return (key);
}

/* Handle one line (NUL-terminated, no LF) of file name at line lineno. */
static int
cfg_load_line(struct cfg *cfg, const char *name, unsigned lineno,
    char *line, char **cause)
{
	char		*s, *eq, *key, *value, *where, *sugg, *fkey;
	char		 show[CFG_SHOW_MAX * 4 + 8];
	const char	*why = NULL, *hint;
	int		 i, r;

	s = cfg_trim(line);
	if (*s == '\0' || *s == '#' || *s == ';')
		return (0);
	if (*s == '[') {
		if (s[strlen(s) - 1] != ']') {
			xasprintf(cause, "%s:%u: expected \"[section]\"",
			    name, lineno);
			return (-1);
		}
		return (0);
	}
	if ((eq = strchr(s, '=')) == NULL) {
		xasprintf(cause, "%s:%u: expected \"key = value\"", name,
		    lineno);
		return (-1);
	}
	*eq = '\0';
	key = cfg_trim(s);
	if (*key == '\0') {
		xasprintf(cause, "%s:%u: expected \"key = value\" (the key is "
		    "missing)", name, lineno);
		return (-1);
	}
	if ((i = cfg_find_key(cfg, key)) == -1) {
		cfg_show(key, show, sizeof show);
		hint = cfg_suggest(cfg, key);
		if (hint != NULL) {
			sugg = cfg_file_key(hint);
			xasprintf(cause, "%s:%u: unknown key \"%s\" (did you "
			    "mean \"%s\"?)", name, lineno, show, sugg);
			free(sugg);
		} else
			xasprintf(cause, "%s:%u: unknown key \"%s\"", name,
			    lineno, show);
		return (-1);
	}
	if ((value = cfg_unquote(eq + 1, &why)) == NULL) {
		xasprintf(cause, "%s:%u: %s", name, lineno, why);
		return (-1);
	}
	fkey = cfg_file_key(cfg->table[i].name);
	if (*value == '\0') {
		xasprintf(cause, "%s:%u: %s: missing value (remove the line "
		    "to use the default)", name, lineno, fkey);
		free(fkey);
		return (-1);
	}
	xasprintf(&where, "%s:%u: %s", name, lineno, fkey);
	r = cfg_store(cfg, i, value, CFG_SRC_FILE, where, cause);
	free(where);
	free(fkey);
	return (r);
}

/*
 * Load config text from buf (len bytes); name is used in messages.  Lines
 * may end in LF or CRLF; the last may lack its LF.  Returns 0, or -1 with
 * *cause naming name and line.  Options set before the error stay set.
 */
int
cfg_load_buffer(struct cfg *cfg, const char *name, const char *buf,
    size_t len, char **cause)
{
	char		 line[CFG_LINE_MAX + 1];
	const char	*p = buf, *end = buf + len, *nl;
	size_t		 n;
	unsigned	 lineno = 0;

	*cause = NULL;
	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', end - p);
		n = (nl != NULL ? nl : end) - p;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > CFG_LINE_MAX) {
			xasprintf(cause, "%s:%u: line is too long (more than "
			    "%d bytes)", name, lineno, CFG_LINE_MAX);
			return (-1);
		}
		if (memchr(p, '\0', n) != NULL) {
			xasprintf(cause, "%s:%u: line contains a NUL byte (is "
			    "this a text file?)", name, lineno);
			return (-1);
		}
		memcpy(line, p, n);
		line[n] = '\0';
		if (cfg_load_line(cfg, name, lineno, line, cause) != 0)
			return (-1);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return (0);
}

/* Load an INI file; see config.h. */
int
cfg_load_file(struct cfg *cfg, const char *path, char **cause)
{
	FILE	*f;
	char	*buf;
	size_t	 len = 0, got;
	int	 r;

	*cause = NULL;
	if ((f = fopen(path, "r")) == NULL) {
		xasprintf(cause, "%s: %s (check the --config path)", path,
		    strerror(errno));
		return (-1);
	}
	buf = xmalloc(CFG_FILE_MAX + 1);
	for (;;) {
		got = fread(buf + len, 1, CFG_FILE_MAX + 1 - len, f);
		len += got;
		if (got == 0 || len > CFG_FILE_MAX)
			break;
	}
	if (ferror(f)) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		r = -1;
	} else if (len > CFG_FILE_MAX) {
		xasprintf(cause, "%s: file is too large (more than %d bytes; "
		    "is this a config file?)", path, CFG_FILE_MAX);
		r = -1;
	} else
		r = cfg_load_buffer(cfg, path, buf, len, cause);
	free(buf);
	fclose(f);
	return (r);
}

/* Value of an option (NULL if unset); for a list, its last entry. */
const char *
cfg_get(const struct cfg *cfg, const char *name)
{
	int	i = cfg_find_checked(cfg, name);

	if (cfg->table[i].type == CFG_LIST) {
		if (cfg->n_lists[i] == 0)
			return (NULL);
		return (cfg->lists[i][cfg->n_lists[i] - 1]);
	}
	return (cfg->values[i]);
}

/* Value of a CFG_INT option; 0 if unset (check cfg_get() for NULL first). */
long
cfg_get_int(const struct cfg *cfg, const char *name)
{
	int	i = cfg_find_checked(cfg, name);

	if (cfg->table[i].type != CFG_INT)
		fatalx("config: option \"%s\" is not a number", name);
	if (cfg->values[i] == NULL)
		return (0);
	return (strtol(cfg->values[i], NULL, 10));
}

/* Value of a CFG_FLAG option: 1 if set to true, else 0. */
int
cfg_get_flag(const struct cfg *cfg, const char *name)
{
	int	i = cfg_find_checked(cfg, name);

	if (cfg->table[i].type != CFG_FLAG)
		fatalx("config: option \"%s\" is not a flag", name);
	return (cfg->values[i] != NULL && strcmp(cfg->values[i], "true") == 0);
}

/* Entries of a CFG_LIST option; *n is their count. */
char * const *
cfg_get_list(const struct cfg *cfg, const char *name, size_t *n)
{
	int	i = cfg_find_checked(cfg, name);

	if (cfg->table[i].type != CFG_LIST)
		fatalx("config: option \"%s\" is not a list", name);
	*n = cfg->n_lists[i];
	return (cfg->lists[i]);
}

/*
 * Set an option as if from the file: validated, ignored when a flag set it,
 * appended for a list.
 */
int
cfg_set(struct cfg *cfg, const char *name, const char *value, char **cause)
{
	int	i = cfg_find_checked(cfg, name);

	*cause = NULL;
	return (cfg_store(cfg, i, value, CFG_SRC_FILE, name, cause));
}

/* The metavar of option o as shown in help: "S", "auto|manual" or "". */
static char *
cfg_metavar(const struct cfg_option *o)
{
	char	*s, *tmp;
	size_t	 i;

	if (o->type == CFG_FLAG)
		return (xstrdup(""));
	if (o->metavar != NULL)
		return (xstrdup(o->metavar));
	if (o->type != CFG_CHOICE || o->choices == NULL ||
	    o->choices[0] == NULL)
		return (xstrdup("VALUE"));
	s = xstrdup(o->choices[0]);
	for (i = 1; o->choices[i] != NULL; i++) {
		xasprintf(&tmp, "%s|%s", s, o->choices[i]);
		free(s);
		s = tmp;
	}
	return (s);
}

/* The left column of option o's help line: "  -h, --help" etc. */
static char *
cfg_usage_left(const struct cfg_option *o)
{
	char	*meta, *s;

	meta = cfg_metavar(o);
	if (o->short_name != '\0')
		xasprintf(&s, "  -%c, --%s%s%s", o->short_name, o->name,
		    *meta != '\0' ? " " : "", meta);
	else
		xasprintf(&s, "      --%s%s%s", o->name,
		    *meta != '\0' ? " " : "", meta);
	free(meta);
	return (s);
}

/* Print "Usage: SYNOPSIS" then one aligned line per option. */
void
cfg_usage(FILE *f, const char *synopsis, const struct cfg *cfg)
{
	const struct cfg_option	*o;
	char			*left, *choices, *tmp;
	size_t			 i, j, w, width = 0;

	fprintf(f, "Usage: %s\n", synopsis);
	if (cfg->n > 0)
		fprintf(f, "\nOptions:\n");
	for (i = 0; i < cfg->n; i++) {
		left = cfg_usage_left(&cfg->table[i]);
		if ((w = strlen(left)) > width)
			width = w;
		free(left);
	}
	for (i = 0; i < cfg->n; i++) {
		o = &cfg->table[i];
		left = cfg_usage_left(o);
		fprintf(f, "%-*s  %s", (int)width, left,
		    o->help != NULL ? o->help : "");
		free(left);
		/* Without a metavar the choices are already shown. */
		if (o->type == CFG_CHOICE && o->choices != NULL &&
		    o->metavar != NULL) {
			choices = NULL;
			for (j = 0; o->choices[j] != NULL; j++) {
				if (choices == NULL)
					choices = xstrdup(o->choices[j]);
				else {
					xasprintf(&tmp, "%s, %s", choices,
					    o->choices[j]);
					free(choices);
					choices = tmp;
				}
			}
			if (choices != NULL)
				fprintf(f, " (one of: %s)", choices);
			free(choices);
		}
		if (o->type == CFG_LIST)
			fprintf(f, " (repeatable)");
		if (o->def != NULL && o->type != CFG_FLAG)
			fprintf(f, " (default: %s)", o->def);
		fputc('\n', f);
	}
}
