/* SPDX-License-Identifier: ISC */
/*
 * config.h -- options from the command line and an INI file, driven by one
 * table per program (config-table.c).  The table gives each option's name
 * (the flag without "--"; the file key is the same with '_' for '-'), its
 * type and range, its default and its help text; it drives parsing,
 * validation and --help alike.  Flags override the file; the file overrides
 * defaults.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdio.h>

enum cfg_type {
	CFG_STRING,	/* any string (max length PROTO_TEXT_MAX) */
	CFG_INT,	/* integer in [min, max] */
	CFG_CHOICE,	/* one of choices[] */
	CFG_LIST,	/* repeatable string (flag given several times; in the
			   file, several lines with the same key) */
	CFG_FLAG,	/* no argument: "--profile"; "true"/"false" in file */
};

struct cfg_option {
	const char	 *name;		/* "heartbeat-interval" */
	char		  short_name;	/* 'h' or 0 */
	enum cfg_type	  type;
	long		  min, max;	/* CFG_INT range */
	const char	**choices;	/* CFG_CHOICE: NULL-terminated */
	const char	 *def;		/* default as text, NULL = unset */
	const char	 *metavar;	/* "S" in "--heartbeat-interval S" */
	const char	 *help;		/* one line */
};

/*
 * Parsed options.  values[i] holds option i's string (NULL when unset);
 * lists[i]/n_lists[i] hold CFG_LIST entries.  Everything is owned by the
 * struct and freed by cfg_free().
 */
struct cfg {
	const struct cfg_option	 *table;
	size_t			  n;
	char			**values;
	char			***lists;
	size_t			 *n_lists;
	int			 *from_flag;	/* set by a flag (beats file) */
};

/* Prepare cfg for table (n entries); values start at their defaults. */
void	 cfg_init(struct cfg *, const struct cfg_option *table, size_t n);
void	 cfg_free(struct cfg *);

/*
 * Parse argv (GNU style: "--name value", "--name=value", "-x value",
 * "--" ends options).  --help and --version are not handled here: they are
 * table entries like any other (CFG_FLAG).  On return *optind is the index
 * of the first operand.  Returns 0, or -1 with *cause (caller frees), e.g.
 * "unknown option --foo" or "--slots: 0 is out of range 1..1024".
 */
int	 cfg_parse_args(struct cfg *, int argc, char **argv, int *optind,
	    char **cause);

/*
 * Load an INI file: "key = value" lines, '#' or ';' comments, blank lines,
 * optional [section] headers (ignored).  Keys use '_' or '-'.  Values set by
 * a flag are kept.  Returns 0, or -1 with *cause naming file and line.
 */
int	 cfg_load_file(struct cfg *, const char *path, char **cause);
/* The same from a buffer of len bytes (need not be NUL-terminated); name
 * stands for the file in messages.  Used by cfg_load_file and the fuzzer. */
int	 cfg_load_buffer(struct cfg *, const char *name, const char *buf,
	    size_t len, char **cause);

/* Value of an option by name (NULL if unset).  Aborts on an unknown name
 * (a programming error). */
const char	*cfg_get(const struct cfg *, const char *name);
long		 cfg_get_int(const struct cfg *, const char *name);
int		 cfg_get_flag(const struct cfg *, const char *name);
/* List entries of a CFG_LIST option. */
char * const	*cfg_get_list(const struct cfg *, const char *name,
		    size_t *n);
/* Set an option as if from the file (used for computed defaults). */
int		 cfg_set(struct cfg *, const char *name, const char *value,
		    char **cause);

/* Print "Usage: SYNOPSIS" then one line per option with its help and
 * default. */
void	 cfg_usage(FILE *, const char *synopsis, const struct cfg *);

/* The programs' option tables (config-table.c). */
extern const struct cfg_option	cfg_main_options[];
extern const size_t		cfg_main_options_n;
extern const struct cfg_option	cfg_worker_options[];
extern const size_t		cfg_worker_options_n;

#endif /* CONFIG_H */
