/* version.h - the version both programs print (--version), and the
 * callbacks' User-Agent carries. */
#ifndef SERIALCGI_VERSION_H
#define SERIALCGI_VERSION_H

#define SERIALCGI_VERSION	"0.6.0"

#endif
