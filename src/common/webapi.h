/*
 * webapi.h - libcurl and libcrypto, loaded only when a callback is
 * used, for the same reason as libpq (pq.h): linked in, libcurl maps
 * some twenty libraries (TLS, HTTP/2, IDN, SSH, LDAP ...) into every
 * responder and costs each of them memory, though most deployments
 * never send a callback. Their functions are reached through these
 * tables; the types come from their own headers as usual.
 */
#ifndef SERIALCGI_WEBAPI_H
#define SERIALCGI_WEBAPI_H

#include <stddef.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

struct curl_api {
	CURLcode	 (*global_init)(long);
	CURLM		*(*multi_init)(void);
	CURLMcode	 (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode	 (*multi_socket_action)(CURLM *, curl_socket_t, int,
			    int *);
	CURLMsg		*(*multi_info_read)(CURLM *, int *);
	CURLMcode	 (*multi_perform)(CURLM *, int *);
	CURLMcode	 (*multi_poll)(CURLM *, struct curl_waitfd *,
			    unsigned int, int, int *);
	CURLMcode	 (*multi_cleanup)(CURLM *);
	CURLMcode	 (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode	 (*multi_remove_handle)(CURLM *, CURL *);
	CURL		*(*easy_init)(void);
	CURLcode	 (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	 (*easy_getinfo)(CURL *, CURLINFO, ...);
	void		 (*easy_cleanup)(CURL *);
	const char	*(*easy_strerror)(CURLcode);
	CURLHcode	 (*easy_header)(CURL *, const char *, size_t,
			    unsigned int, int, struct curl_header **);
	struct curl_slist *(*slist_append)(struct curl_slist *,
			    const char *);
	void		 (*slist_free_all)(struct curl_slist *);
	CURLU		*(*url)(void);
	CURLUcode	 (*url_set)(CURLU *, CURLUPart, const char *,
			    unsigned int);
	CURLUcode	 (*url_get)(const CURLU *, CURLUPart, char **,
			    unsigned int);
	const char	*(*url_strerror)(CURLUcode);
	void		 (*url_cleanup)(CURLU *);
	void		 (*free)(void *);
};

struct crypto_api {
	unsigned char	*(*hmac)(const EVP_MD *, const void *, int,
			    const unsigned char *, size_t, unsigned char *,
			    unsigned int *);
	const EVP_MD	*(*sha256)(void);
	int		 (*encode_block)(unsigned char *,
			    const unsigned char *, int);
	int		 (*decode_block)(unsigned char *,
			    const unsigned char *, int);
};

extern struct curl_api cu;
extern struct crypto_api cr;

/*
 * webapi_load: dlopen(3) libcurl.so.4 and libcrypto.so.3 (Debian's
 * libcurl4 and libssl3), fill cu and cr, and curl_global_init(3) once.
 * Safe to call again. Returns 0, or -1 with the loader's message
 * (dlerror(3)) written to why (at most len bytes).
 */
int webapi_load(char *why, size_t len);

/* webapi_crypto: libcrypto alone into cr (base64 for the job store,
 * store_work.h). Returns as webapi_load. */
int webapi_crypto(char *why, size_t len);

#endif
