/* SHA-256 through OpenSSL's libcrypto EVP interface. */
#include "core.h"

#include <openssl/evp.h>

void sha256_init(struct sha256_ctx *ctx)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		die("libcrypto: cannot initialise SHA-256");
	ctx->md = md;
}

void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len)
{
	if (len && EVP_DigestUpdate(ctx->md, data, len) != 1)
		die("libcrypto: SHA-256 update failed");
}

void sha256_final(struct sha256_ctx *ctx, uint8_t out[SHA256_LEN])
{
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(ctx->md, out, &len) != 1 || len != SHA256_LEN)
		die("libcrypto: SHA-256 final failed");
	EVP_MD_CTX_free(ctx->md);
	ctx->md = NULL;
}

void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, data, len);
	sha256_final(&ctx, out);
}

void hex_encode(const uint8_t *bytes, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * len] = '\0';
}
