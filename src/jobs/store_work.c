/* store_work.c - the job store's part for jobs of real work: see
 * store_work.h. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_conn.h"
#include "store_row.h"
#include "store_work.h"
#include "webapi.h"

#define TABLE	STORE_TABLE

/* libcrypto, loaded at start when there is work to keep (jobs.c), or
 * here, on the loop's thread, for what an earlier start kept. */
static int
crypto(void)
{
	char why[160];

	if (cr.encode_block != NULL)
		return 0;
	if (webapi_crypto(why, sizeof(why)) == -1) {
		errno = ENOSYS;
		return -1;
	}
	return 0;
}

char *
store_work_encode(const struct job_blob *b)
{
	char *s;

	if (crypto() == -1)
		return NULL;
	if (b->len > INT_MAX / 2) {
		errno = ENOMEM;
		return NULL;
	}
	if ((s = malloc((b->len + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	(void)cr.encode_block((unsigned char *)s, b->p, (int)b->len);
	return s;
}

/* Base64 text s back into b: EVP_DecodeBlock counts the padding as
 * bytes (RFC 4648 4: each "=" stands for one it did not carry). */
static int
decode(const char *s, struct job_blob *b)
{
	size_t n = strlen(s), pad;
	int got;

	b->p = NULL;
	b->len = 0;
	if (n == 0)
		return 0;
	if (n % 4 != 0 || n > INT_MAX || crypto() == -1) {
		errno = n % 4 != 0 || n > INT_MAX ? EBADMSG : errno;
		return -1;
	}
	pad = (s[n - 1] == '=') + (s[n - 2] == '=');
	if ((b->p = malloc(n / 4 * 3 + 1)) == NULL)
		return -1;
	if ((got = cr.decode_block(b->p, (const unsigned char *)s,
	    (int)n)) < 0 || (size_t)got < pad) {
		free(b->p);
		b->p = NULL;
		errno = EBADMSG;
		return -1;
	}
	b->len = (size_t)got - pad;
	return 0;
}

/* Rows of base64 text, each column into a blob of *arg's. */
struct blobs {
	struct job_blob	*b[2];
	int		 n, found, failed;
};

static int
blob_row(void *arg, int n, const char *const *v)
{
	struct blobs *bs = arg;
	int i;

	if (n < bs->n)
		return 1;
	bs->found = v[0] != NULL;
	for (i = 0; bs->found && i < bs->n; i++)
		if (v[i] != NULL && decode(v[i], bs->b[i]) == -1)
			bs->failed = errno;
	return 1;
}

static int
blobs(const char *sql, const char *id, struct blobs *bs)
{
	const char *v[] = { id };
	int i;

	for (i = 0; i < bs->n; i++)
		*bs->b[i] = (struct job_blob){ NULL, 0 };
	if (store_conn_run(sql, 1, v, blob_row, bs, NULL) == -1)
		return -1;
	if (bs->failed) {
		for (i = 0; i < bs->n; i++)
			free(bs->b[i]->p);
		errno = bs->failed;
		return -1;
	}
	return bs->found;
}

int
store_work_request(const char *id, struct job_blob *env,
    struct job_blob *in)
{
	struct blobs bs = { { env, in }, 2, 0, 0 };

	return blobs("SELECT request, body FROM " TABLE " WHERE id = $1 AND "
	    "kind = 'work'", id, &bs);
}

int
store_work_result(const char *id, struct job_blob *res)
{
	struct blobs bs = { { res, NULL }, 1, 0, 0 };

	return blobs("SELECT result FROM " TABLE " WHERE id = $1", id, &bs);
}

int
store_work_progress(const struct job *j)
{
	struct store_row_args a = { .n = 0 };
	long n = 0;

	store_row_owner(&a, j);
	store_row_f(&a, j->progress, 0);
	store_row_s(&a, j->progress_note);
	if (store_row_run("UPDATE " TABLE " SET progress = $5, "
	    "progress_note = $6 WHERE id = $1 AND status = 'running' AND "
	    STORE_ROW_OURS, &a, NULL, NULL, &n) == -1)
		return -1;
	return n == 1;
}

int
store_work_ask_cancel(const char *id)
{
	const char *v[] = { id };
	long n = 0;

	if (store_conn_run("UPDATE " TABLE " SET cancel_asked = 1 WHERE "
	    "id = $1 AND status = 'running' AND kind = 'work'", 1, v, NULL,
	    NULL, &n) == -1)
		return -1;
	return n == 1;
}

int
store_work_cancel_asked(const char *id)
{
	const char *v[] = { id };
	long asked = 0;

	if (store_conn_run("SELECT cancel_asked FROM " TABLE " WHERE id = $1",
	    1, v, store_row_count, &asked, NULL) == -1)
		return -1;
	return asked != 0;
}

long long
store_work_bytes(void)
{
	long n = 0;

	if (store_conn_run("SELECT COALESCE(SUM(body_size + result_size), 0) "
	    "FROM " TABLE, 0, NULL, store_row_count, &n, NULL) == -1)
		return -1;
	return n;
}
