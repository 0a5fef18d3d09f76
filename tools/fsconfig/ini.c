/*
 * INI reader for the Fairshare configuration file (format: ini.h).
 *
 * One pass, line by line. Keys are applied to a struct domain_settings (or
 * the hv_settings) as they are read, through domcfg_set/hvcfg_set, so the
 * ranges and messages are the hypervisor's own. A [domain] section is
 * finished -- image required, cross-field check, the duplicate-name check
 * over the names `count` will produce -- when the next section starts or
 * the file ends; those errors name the section's header line.
 *
 * `count` is not expanded here: the hypervisor expands one module line
 * into NAME-001.. itself (one image in memory, one short -initrd entry), so
 * this file only mirrors its naming rule to find clashes early.
 *
 * Invariants while loading:
 *   1. cfg->doms[0..n) are complete, checked sections, and the names they
 *      expand to are distinct and exactly those in `names`.
 *   2. `seen` lists the keys applied in the current section, so a key given
 *      twice is an error instead of "last one wins".
 */
#include "ini.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs_errors.h"
#include "tools/common/err_at.h"

/* Distinct keys a section can hold; domcfg has 9, hvcfg 4. */
#define SEEN_MAX 32
#define SEEN_KEY_MAX 31

struct seen_key {
	char key[SEEN_KEY_MAX + 1];
	unsigned line;
};

struct name_entry {
	char name[FS_NAME_MAX + 1];
	unsigned line; /* of the [domain] header that made it */
};

/* Open-addressing set of domain names: slot holds index + 1 into ent. */
struct nameset {
	struct name_entry *ent;
	size_t n, ent_cap;
	size_t *slot;
	size_t cap; /* slots: power of two, or 0 */
};

enum section { SEC_NONE, SEC_HV, SEC_DOM };

struct loader {
	struct fs_config *cfg;
	const char *path;
	const char *images;
	unsigned line; /* current line, 1-based */
	char *err;
	size_t errlen;
	struct nameset names;
	enum section sec;
	unsigned hv_line; /* line of [hypervisor], 0 if not seen yet */
	/* the [domain] section being read (sec == SEC_DOM) */
	struct domain_settings dom;
	unsigned dom_line;
	struct seen_key seen[SEEN_MAX];
	size_t nseen;
};

static int fail(struct loader *l, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct loader *l, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr_at(l->err, l->errlen, l->path, line, fmt, ap);
	va_end(ap);
	return FS_EINVAL;
}

static int keyis(const char *k, size_t kl, const char *lit)
{
	return strlen(lit) == kl && memcmp(k, lit, kl) == 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- the name set ---- */

static size_t name_hash(const char *s)
{
	size_t h = 1469598103934665603u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

/* The entry holding `name`, or NULL. */
static const struct name_entry *nameset_find(const struct nameset *ns,
                                             const char *name)
{
	if (!ns->cap)
		return NULL;
	size_t mask = ns->cap - 1;
	for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
		if (!ns->slot[i])
			return NULL;
		if (!strcmp(ns->ent[ns->slot[i] - 1].name, name))
			return &ns->ent[ns->slot[i] - 1];
	}
}

static void nameset_link(struct nameset *ns, size_t idx)
{
	size_t mask = ns->cap - 1;
	size_t i = name_hash(ns->ent[idx].name) & mask;
	while (ns->slot[i])
		i = (i + 1) & mask;
	ns->slot[i] = idx + 1;
}

/* Add a name known not to be in the set. The load factor stays at most
 * 1/2, so a probe always ends at an empty slot. */
static int nameset_add(struct nameset *ns, const char *name, unsigned line)
{
	if (ns->n == ns->ent_cap) {
		size_t cap = ns->ent_cap ? ns->ent_cap * 2 : 64;
		struct name_entry *e = realloc(ns->ent, cap * sizeof(*e));
		if (!e)
			return FS_ENOMEM;
		ns->ent = e;
		ns->ent_cap = cap;
	}
	if ((ns->n + 1) * 2 > ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 128;
		size_t *slot = calloc(cap, sizeof(*slot));
		if (!slot)
			return FS_ENOMEM;
		free(ns->slot);
		ns->slot = slot;
		ns->cap = cap;
		for (size_t i = 0; i < ns->n; i++)
			nameset_link(ns, i);
	}
	size_t len = strlen(name);
	if (len > FS_NAME_MAX)
		return FS_ERANGE; /* domcfg_check keeps NAME-N within it */
	memcpy(ns->ent[ns->n].name, name, len + 1);
	ns->ent[ns->n].line = line;
	nameset_link(ns, ns->n++);
	return FS_OK;
}

static void nameset_free(struct nameset *ns)
{
	free(ns->ent);
	free(ns->slot);
}

/* ---- sections ---- */

/* Claim the names the section's domain will get (domcfg_instance_name:
 * the hypervisor's own rule). */
static int claim_names(struct loader *l, const struct domain_settings *d)
{
	char name[FS_NAME_MAX + 16];
	for (uint32_t i = 1; i <= d->count; i++) {
		if (domcfg_instance_name(d, i, name, sizeof(name)) < 0)
			return fail(l, l->dom_line, "name too long for count");
		const struct name_entry *first = nameset_find(&l->names, name);
		if (first)
			return fail(l, l->dom_line,
			            "duplicate domain name '%s' (first defined "
			            "on line %u)",
			            name, first->line);
		if (nameset_add(&l->names, name, l->dom_line))
			return fail(l, l->dom_line, "cannot record name '%s'",
			            name);
	}
	return FS_OK;
}

static int check_disk_image(struct loader *l);

/* The [domain] section has ended: check it and add it. */
static int finish_domain(struct loader *l)
{
	struct fs_config *c = l->cfg;
	const struct domain_settings *d = &l->dom;
	const char *why;
	char cmd[DOMCFG_CMDLINE_MAX];
	if (!d->image[0])
		return fail(l, l->dom_line, "[domain %s] needs image = IMAGE",
		            d->name);
	if (domcfg_check(d, &why))
		return fail(l, l->dom_line, "[domain %s]: %s", d->name, why);
	int err = check_disk_image(l);
	if (err)
		return err;
	if (domcfg_format_cmdline(d, cmd, sizeof(cmd)) < 0)
		return fail(
		    l, l->dom_line,
		    "[domain %s]: command line longer than %u characters",
		    d->name, DOMCFG_CMDLINE_MAX - 1);
	int rc = claim_names(l, d);
	if (rc)
		return rc;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct domain_settings *doms =
		    realloc(c->doms, cap * sizeof(*doms));
		if (!doms)
			return fail(l, l->dom_line, "out of memory");
		c->doms = doms;
		unsigned *lines = realloc(c->lines, cap * sizeof(*lines));
		if (!lines)
			return fail(l, l->dom_line, "out of memory");
		c->lines = lines;
		c->cap = cap;
	}
	c->doms[c->n] = *d;
	c->lines[c->n] = l->dom_line;
	c->n++;
	c->n_domains += d->count;
	return FS_OK;
}

static int finish_section(struct loader *l)
{
	int rc = l->sec == SEC_DOM ? finish_domain(l) : FS_OK;
	l->sec = SEC_NONE;
	l->nseen = 0;
	return rc;
}

/* `[ ... ]`: s is the trimmed line. */
static int section_header(struct loader *l, char *s, size_t len)
{
	int rc = finish_section(l);
	if (rc)
		return rc;
	if (s[len - 1] != ']')
		return fail(l, l->line, "section header '%s' must end with ']'",
		            s);
	char *in = s + 1, *end = s + len - 1;
	while (in < end && is_space(*in))
		in++;
	while (end > in && is_space(end[-1]))
		end--;
	*end = 0;
	if (!strcmp(in, "hypervisor")) {
		if (l->hv_line)
			return fail(
			    l, l->line,
			    "section [hypervisor] given twice (first on "
			    "line %u)",
			    l->hv_line);
		l->hv_line = l->line;
		l->sec = SEC_HV;
		return FS_OK;
	}
	if (strncmp(in, "domain", 6) != 0 || (in[6] && !is_space(in[6])))
		return fail(l, l->line,
		            "unknown section '[%s]' (known: [hypervisor], "
		            "[domain NAME])",
		            in);
	const char *name = in + 6, *why;
	while (is_space(*name))
		name++;
	if (!*name)
		return fail(l, l->line, "[domain] needs a name: [domain NAME]");
	domcfg_default(&l->dom);
	if (domcfg_set(&l->dom, "name", 4, name, strlen(name), &why))
		return fail(l, l->line, "[domain %s]: %s", name, why);
	l->sec = SEC_DOM;
	l->dom_line = l->line;
	return FS_OK;
}

/* ---- keys ---- */

/* Whether args ("k=v k=v") already has key k. */
static int args_has(const char *args, const char *k, size_t kl)
{
	for (const char *p = args; *p;) {
		if (!strncmp(p, k, kl) && p[kl] == '=')
			return 1;
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
	return 0;
}

/* args = k=v k=v: each token becomes the domcfg key arg.k. */
static int set_args(struct loader *l, const char *v, size_t vl)
{
	char key[4 + FS_ARGS_MAX + 1] = "arg.";
	size_t i = 0;
	while (i < vl) {
		while (i < vl && is_space(v[i]))
			i++;
		if (i == vl)
			break;
		size_t start = i, eq = 0;
		for (; i < vl && !is_space(v[i]); i++)
			if (v[i] == '=' && !eq)
				eq = i;
		size_t tl = i - start;
		if (!eq || eq == start)
			return fail(l, l->line, "args: '%.*s' is not key=value",
			            (int)tl, v + start);
		size_t kl = eq - start;
		if (tl > FS_ARGS_MAX)
			return fail(l, l->line,
			            "args: guest arguments longer than %u "
			            "characters",
			            FS_ARGS_MAX);
		if (args_has(l->dom.args, v + start, kl))
			return fail(l, l->line,
			            "args: argument '%.*s' given twice",
			            (int)kl, v + start);
		memcpy(key + 4, v + start, kl);
		const char *why;
		if (domcfg_set(&l->dom, key, 4 + kl, v + eq + 1, i - eq - 1,
		               &why))
			return fail(l, l->line, "args: '%.*s': %s", (int)tl,
			            v + start, why);
	}
	return FS_OK;
}

static int check_image(struct loader *l)
{
	if (!l->images)
		return FS_OK;
	char path[4096];
	struct stat st;
	int n =
	    snprintf(path, sizeof(path), "%s/%s.elf", l->images, l->dom.image);
	if (n < 0 || (size_t)n >= sizeof(path))
		return fail(l, l->line, "image directory path too long");
	if (stat(path, &st))
		return fail(l, l->line, "image '%s': %s: %s", l->dom.image,
		            path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(l, l->line, "image '%s': %s is not a file",
		            l->dom.image, path);
	return FS_OK;
}

/* The disk blob IMAGES/NAME.img must exist and fit the disk. */
static int check_disk_image(struct loader *l)
{
	char path[4096];
	struct stat st;
	if (!l->images)
		return FS_OK;
	if (!l->dom.disk_image[0])
		return FS_OK;
	int n = snprintf(path, sizeof(path), "%s/%s.img", l->images,
	             l->dom.disk_image);
	if (n < 0 || (size_t)n >= sizeof(path))
		return fail(l, l->dom_line, "image directory path too long");
	if (stat(path, &st))
		return fail(l, l->dom_line, "disk_image '%s': %s: %s",
		            l->dom.disk_image, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(l, l->dom_line, "disk_image '%s': %s is not a file",
		            l->dom.disk_image, path);
	if ((uint64_t)st.st_size > ((uint64_t)l->dom.disk_mb << 20))
		return fail(l, l->dom_line,
		            "disk_image '%s' (%lld bytes) is larger than "
		            "disk_mb = %u",
		            l->dom.disk_image, (long long)st.st_size,
		            l->dom.disk_mb);
	return FS_OK;
}

static int dom_key(struct loader *l, const char *k, size_t kl, const char *v,
                   size_t vl)
{
	const char *why;
	if (keyis(k, kl, "name"))
		return fail(l, l->line,
		            "the name is the section's ([domain NAME]), not a "
		            "key");
	if (kl >= 4 && !memcmp(k, "arg.", 4))
		return fail(l, l->line,
		            "guest arguments go in one key: args = k=v k=v");
	if (keyis(k, kl, "args"))
		return set_args(l, v, vl);
	int rc = domcfg_set(&l->dom, k, kl, v, vl, &why);
	if (rc == FS_ENOENT)
		return fail(l, l->line,
		            "unknown key '%.*s' in [domain %s] (known: image "
		            "memory_mb count cpu_weight cpu_cap_pct warp_us "
		            "warp_limit_us unwarp_us disk_mb disk_image io_bps "
		            "io_iops io_burst_bytes io_burst_ops memory_max_mb "
		            "mem_growth_pages_per_s mem_growth_burst_pages args)",
		            (int)kl, k, l->dom.name);
	if (rc)
		return fail(l, l->line, "%.*s = %.*s: %s", (int)kl, k, (int)vl,
		            v, why);
	return keyis(k, kl, "image") ? check_image(l) : FS_OK;
}

static int hv_key(struct loader *l, const char *k, size_t kl, const char *v,
                  size_t vl)
{
	const char *why;
	int rc = hvcfg_set(&l->cfg->hv, k, kl, v, vl, &why);
	if (rc == FS_ENOENT)
		return fail(l, l->line,
		            "unknown key '%.*s' in [hypervisor]: %s", (int)kl,
		            k, why);
	if (rc)
		return fail(l, l->line, "%.*s = %.*s: %s", (int)kl, k, (int)vl,
		            v, why);
	return FS_OK;
}

/* `key = value`: s is the trimmed line. */
static int key_line(struct loader *l, char *s)
{
	char *eq = strchr(s, '=');
	if (!eq || eq == s)
		return fail(l, l->line,
		            "expected 'key = value', '[section]' or a comment, "
		            "got '%s'",
		            s);
	char *v = eq + 1;
	size_t kl = (size_t)(eq - s);
	while (kl && is_space(s[kl - 1]))
		kl--;
	for (size_t i = 0; i < kl; i++)
		if (is_space(s[i]))
			return fail(
			    l, l->line,
			    "expected 'key = value', got '%s' (a key is "
			    "one word)",
			    s);
	while (is_space(*v))
		v++;
	size_t vl = strlen(v);
	if (l->sec == SEC_NONE)
		return fail(l, l->line,
		            "'%.*s' before any [hypervisor] or [domain NAME] "
		            "section",
		            (int)kl, s);
	for (size_t i = 0; i < l->nseen; i++)
		if (keyis(s, kl, l->seen[i].key))
			return fail(l, l->line,
			            "key '%.*s' given twice (first on line %u)",
			            (int)kl, s, l->seen[i].line);
	int rc = l->sec == SEC_HV ? hv_key(l, s, kl, v, vl)
	                          : dom_key(l, s, kl, v, vl);
	if (rc)
		return rc;
	/* only known keys get here, and they are short */
	if (l->nseen == SEEN_MAX || kl > SEEN_KEY_MAX)
		return fail(l, l->line, "too many keys in one section");
	memcpy(l->seen[l->nseen].key, s, kl);
	l->seen[l->nseen].key[kl] = 0;
	l->seen[l->nseen].line = l->line;
	l->nseen++;
	return FS_OK;
}

/* Cut a comment: '#' or ';' at the start or after blank space (values never
 * hold either, so "a#b" stays and is refused as a value). Then trim. */
static char *strip(char *s)
{
	for (size_t i = 0; s[i]; i++)
		if ((s[i] == '#' || s[i] == ';') &&
		    (i == 0 || is_space(s[i - 1]))) {
			s[i] = 0;
			break;
		}
	while (is_space(*s))
		s++;
	size_t n = strlen(s);
	while (n &&
	       (is_space(s[n - 1]) || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = 0;
	return s;
}

static int load_lines(struct loader *l, FILE *f)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t got;
	int rc = FS_OK;
	while (!rc && (got = getline(&buf, &cap, f)) >= 0) {
		l->line++;
		if (memchr(buf, 0, (size_t)got)) {
			rc = fail(l, l->line, "line holds a NUL byte");
			break;
		}
		char *s = strip(buf);
		if (!*s)
			continue;
		if (*s == '[')
			rc = section_header(l, s, strlen(s));
		else
			rc = key_line(l, s);
	}
	if (!rc && ferror(f))
		rc = fail(l, l->line, "read error: %s", strerror(errno));
	free(buf);
	if (!rc)
		rc = finish_section(l);
	if (!rc && l->cfg->n == 0)
		rc = fail(l, l->line ? l->line : 1,
		          "no [domain NAME] section: nothing to boot");
	return rc;
}

int fs_config_load(struct fs_config *cfg, const char *path,
                   const char *images_dir, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	hvcfg_default(&cfg->hv);
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return FS_ENOENT;
	}
	struct loader l = {
	    .cfg = cfg,
	    .path = path,
	    .images = images_dir,
	    .err = err,
	    .errlen = errlen,
	};
	int rc = load_lines(&l, f);
	fclose(f);
	nameset_free(&l.names);
	if (rc)
		fs_config_free(cfg);
	return rc;
}

void fs_config_free(struct fs_config *cfg)
{
	free(cfg->doms);
	free(cfg->lines);
	cfg->doms = NULL;
	cfg->lines = NULL;
	cfg->n = cfg->n_domains = cfg->cap = 0;
}
