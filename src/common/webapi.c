/* webapi.c - libcurl and libcrypto through dlopen(3): see webapi.h. */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdio.h>

#include "dl.h"
#include "webapi.h"

#define LIBCURL		"libcurl.so.4"
#define LIBCRYPTO	"libcrypto.so.3"

struct curl_api cu;
struct crypto_api cr;

#define SYM(t, f, name)	DL_SYM(t, f, name)
static const struct dl_sym curl_syms[] = {
	SYM(cu, global_init, "curl_global_init"),
	SYM(cu, multi_init, "curl_multi_init"),
	SYM(cu, multi_setopt, "curl_multi_setopt"),
	SYM(cu, multi_socket_action, "curl_multi_socket_action"),
	SYM(cu, multi_info_read, "curl_multi_info_read"),
	SYM(cu, multi_perform, "curl_multi_perform"),
	SYM(cu, multi_poll, "curl_multi_poll"),
	SYM(cu, multi_cleanup, "curl_multi_cleanup"),
	SYM(cu, multi_add_handle, "curl_multi_add_handle"),
	SYM(cu, multi_remove_handle, "curl_multi_remove_handle"),
	SYM(cu, easy_init, "curl_easy_init"),
	SYM(cu, easy_setopt, "curl_easy_setopt"),
	SYM(cu, easy_getinfo, "curl_easy_getinfo"),
	SYM(cu, easy_cleanup, "curl_easy_cleanup"),
	SYM(cu, easy_strerror, "curl_easy_strerror"),
	SYM(cu, easy_header, "curl_easy_header"),
	SYM(cu, slist_append, "curl_slist_append"),
	SYM(cu, slist_free_all, "curl_slist_free_all"),
	SYM(cu, url, "curl_url"),
	SYM(cu, url_set, "curl_url_set"),
	SYM(cu, url_get, "curl_url_get"),
	SYM(cu, url_strerror, "curl_url_strerror"),
	SYM(cu, url_cleanup, "curl_url_cleanup"),
	SYM(cu, free, "curl_free"),
};
static const struct dl_sym crypto_syms[] = {
	SYM(cr, hmac, "HMAC"),
	SYM(cr, sha256, "EVP_sha256"),
	SYM(cr, encode_block, "EVP_EncodeBlock"),
	SYM(cr, decode_block, "EVP_DecodeBlock"),
};

static void *crypto;

int
webapi_crypto(char *why, size_t len)
{
	if (crypto == NULL && (crypto = dl_load(LIBCRYPTO, crypto_syms,
	    sizeof(crypto_syms) / sizeof(crypto_syms[0]), why, len)) == NULL)
		return -1;
	return 0;
}

int
webapi_load(char *why, size_t len)
{
	static void *curl;

	if (curl != NULL && crypto != NULL)
		return 0;
	if (webapi_crypto(why, len) == -1)
		return -1;
	if ((curl = dl_load(LIBCURL, curl_syms,
	    sizeof(curl_syms) / sizeof(curl_syms[0]), why, len)) == NULL)
		return -1;
	if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(why, len, "curl_global_init failed");
		dlclose(curl);
		curl = NULL;
		return -1;
	}
	return 0;
}
