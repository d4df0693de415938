#ifndef SLIPWAY_CCRYPTO_SHIM_H
#define SLIPWAY_CCRYPTO_SHIM_H
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#endif
