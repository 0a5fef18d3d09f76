/*
 * Parsing of info->args (format in args.h). The string is scanned afresh on
 * every lookup: images read a handful of keys once at start, and 256 bytes
 * are cheaper to rescan than a parsed table is to keep. The scan is bounded
 * by FS_ARGS_MAX + 1 even if the hypervisor forgot the terminator.
 */
#include "args.h"

#include "printf.h"
#include "string.h"

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Finds the last token whose key equals key; sets *val and *val_len to its
 * value. Returns 0 if found, -1 if not. */
static int arg_find(const struct fs_domain_info *info, const char *key,
                    const char **val, size_t *val_len)
{
	const char *s = info->args;
	const char *end = s + strnlen(s, sizeof(info->args));
	size_t key_len = strlen(key);
	int found = -1;

	while (s < end) {
		const char *tok, *eq;

		while (s < end && is_space(*s))
			s++;
		tok = s;
		while (s < end && !is_space(*s))
			s++;
		if (tok == s)
			break;
		eq = tok;
		while (eq < s && *eq != '=')
			eq++;
		if ((size_t)(eq - tok) != key_len ||
		    memcmp(tok, key, key_len) != 0)
			continue;
		*val = eq < s ? eq + 1 : s;
		*val_len = (size_t)(s - *val);
		found = 0;
	}
	return found;
}

uint64_t fs_arg_u64(const struct fs_domain_info *info, const char *key,
                    uint64_t dflt)
{
	const char *v;
	size_t n;
	uint64_t x = 0;

	if (arg_find(info, key, &v, &n) < 0)
		return dflt;
	if (n == 0)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(v[i] - '0');

		if (d > 9 || x > (UINT64_MAX - d) / 10)
			goto bad;
		x = x * 10 + d;
	}
	return x;
bad:
	fs_printf("args: %s='%.*s' is not a decimal number, using %llu\n", key,
	          (int)n, v, (unsigned long long)dflt);
	return dflt;
}

uint64_t fs_arg_ns(const struct fs_domain_info *info, const char *key,
                   uint64_t dflt, uint64_t unit_ns)
{
	uint64_t v = fs_arg_u64(info, key, dflt);

	if (unit_ns != 0 && v > UINT64_MAX / unit_ns) {
		fs_printf("args: %s=%llu is too large, using %llu\n", key,
		          (unsigned long long)v, (unsigned long long)dflt);
		v = dflt;
	}
	return v * unit_ns;
}

const char *fs_arg_str(const struct fs_domain_info *info, const char *key,
                       const char *dflt, char *buf, size_t buf_len)
{
	const char *v;
	size_t n;

	if (buf_len == 0)
		return dflt;
	if (arg_find(info, key, &v, &n) < 0) {
		v = dflt;
		n = strlen(dflt);
	}
	if (n > buf_len - 1)
		n = buf_len - 1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}
