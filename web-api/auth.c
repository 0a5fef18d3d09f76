/*
 * API keys (docs/api.md "Authentication"). A key is "KEYID.SECRET": KEYID
 * (16 hex digits) is public and finds the row; SECRET is 256 random bits.
 * Only the SHA-256 of the whole key is stored (table api_keys, migration
 * 3), so a stolen database yields no usable key; the comparison is in
 * constant time (CRYPTO_memcmp) so response timing does not leak how much
 * of a hash matched. A key is printed once, at creation.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "internal.h"

#define KEYID_BYTES 8
#define SECRET_BYTES 32

static void hex(const unsigned char *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int sha256(const char *s, unsigned char out[32])
{
	unsigned int n = 0;
	return EVP_Digest(s, strlen(s), out, &n, EVP_sha256(), NULL) == 1 &&
	               n == 32
	           ? 0
	           : -1;
}

bool auth_check(struct store *st, const char *header, struct principal *p)
{
	memset(p, 0, sizeof(*p));
	if (!header || strncasecmp(header, "Bearer ", 7))
		return false;
	const char *key = header + 7;
	while (*key == ' ')
		key++;
	const char *dot = strchr(key, '.');
	if (!dot || dot == key || (size_t)(dot - key) >= sizeof(p->key_id) ||
	    strlen(key) > 256)
		return false;
	char key_id[sizeof(p->key_id)];
	memcpy(key_id, key, (size_t)(dot - key));
	key_id[dot - key] = '\0';
	unsigned char h[32];
	if (sha256(key, h))
		return false;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(store_db(st),
	                       "SELECT hash, role, customer FROM api_keys "
	                       "WHERE key_id=? AND revoked_unix_ns IS NULL",
	                       -1, &q, NULL))
		return false;
	sqlite3_bind_text(q, 1, key_id, -1, SQLITE_STATIC);
	bool ok = false;
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_bytes(q, 0) == 32 &&
	    CRYPTO_memcmp(sqlite3_column_blob(q, 0), h, 32) == 0) {
		const char *role = (const char *)sqlite3_column_text(q, 1);
		const char *cust = (const char *)sqlite3_column_text(q, 2);
		p->admin = role && !strcmp(role, "admin");
		snprintf(p->customer, sizeof(p->customer), "%s",
		         cust ? cust : "");
		snprintf(p->key_id, sizeof(p->key_id), "%s", key_id);
		ok = p->admin || p->customer[0];
	}
	sqlite3_finalize(q);
	return ok;
}

int api_create_key(struct store *st, const char *role, const char *customer,
                   char *key, size_t keylen, char *err, size_t errlen)
{
	bool tenant = role && !strcmp(role, "tenant");
	if (!role || (!tenant && strcmp(role, "admin"))) {
		snprintf(err, errlen, "--role must be admin or tenant");
		return -1;
	}
	if (tenant != (customer != NULL)) {
		snprintf(err, errlen,
		         tenant ? "a tenant key needs --customer ID"
		                : "an admin key takes no --customer");
		return -1;
	}
	unsigned char raw[KEYID_BYTES + SECRET_BYTES];
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		snprintf(err, errlen, "no randomness");
		return -1;
	}
	char id[2 * KEYID_BYTES + 1], secret[2 * SECRET_BYTES + 1];
	hex(raw, KEYID_BYTES, id);
	hex(raw + KEYID_BYTES, SECRET_BYTES, secret);
	if (keylen < sizeof(id) + sizeof(secret)) {
		snprintf(err, errlen, "key buffer too small");
		return -1;
	}
	snprintf(key, keylen, "%s.%s", id, secret);
	unsigned char h[32];
	if (sha256(key, h)) {
		snprintf(err, errlen, "SHA-256 failed");
		return -1;
	}
	sqlite3 *db = store_db(st);
	sqlite3_stmt *q;
	if (tenant) {
		if (sqlite3_prepare_v2(db, "SELECT 1 FROM customers WHERE id=?",
		                       -1, &q, NULL))
			goto sqlerr;
		sqlite3_bind_text(q, 1, customer, -1, SQLITE_STATIC);
		int found = sqlite3_step(q) == SQLITE_ROW;
		sqlite3_finalize(q);
		if (!found) {
			snprintf(err, errlen,
			         "no customer '%s' (create it first: POST "
			         "/v1/customers)",
			         customer);
			return -1;
		}
	}
	if (sqlite3_prepare_v2(db,
	                       "INSERT INTO api_keys(key_id, hash, role, "
	                       "customer, created_unix_ns) VALUES(?,?,?,?,?)",
	                       -1, &q, NULL))
		goto sqlerr;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, h, 32, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, role, -1, SQLITE_STATIC);
	if (tenant)
		sqlite3_bind_text(q, 4, customer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, store_wall_ns());
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		goto sqlerr;
	return 0;
sqlerr:
	snprintf(err, errlen, "api_keys: %s", sqlite3_errmsg(db));
	return -1;
}

int api_revoke_key(struct store *st, const char *key_id, char *err,
                   size_t errlen)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
	                       "UPDATE api_keys SET revoked_unix_ns=? WHERE "
	                       "key_id=? AND revoked_unix_ns IS NULL",
	                       -1, &q, NULL)) {
		snprintf(err, errlen, "api_keys: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_int64(q, 1, store_wall_ns());
	sqlite3_bind_text(q, 2, key_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "api_keys: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (!sqlite3_changes(db)) {
		snprintf(err, errlen, "no active key '%s'", key_id);
		return -1;
	}
	return 0;
}
