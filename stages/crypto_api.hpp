// OpenSSL's libcrypto, loaded on first use (io/shared_library) instead of at program start.
// Linked, it cost every start about 4 ms here (its mapping and relocations: a fifth of a
// whole run over one small file), and only SHA-256 digests and uploads (their MD5 and SHA-256
// checksums, S3 signatures) call it.
#pragma once

#include <expected>
#include <string>

#include <openssl/evp.h>

namespace piperun::stages {

// The libcrypto entry points pipe-run calls, resolved from libcrypto.so.3.
struct CryptoApi {
  decltype(&::EVP_MD_CTX_new) md_ctx_new;
  decltype(&::EVP_MD_CTX_free) md_ctx_free;
  decltype(&::EVP_DigestInit_ex) digest_init;
  decltype(&::EVP_DigestUpdate) digest_update;
  decltype(&::EVP_DigestFinal_ex) digest_final;
  decltype(&::EVP_Digest) digest;
  decltype(&::EVP_md5) md5;
  decltype(&::EVP_sha256) sha256;
  decltype(&::EVP_MD_fetch) md_fetch;
  decltype(&::EVP_MD_free) md_free;
  decltype(&::EVP_Q_mac) quick_mac;
  decltype(&::EVP_EncodeBlock) encode_base64;
};

// Loads libcrypto once per process (thread-safe); later calls return the same table, or the
// same error: which library or symbol is missing. Callers that can report an error call this
// before the work that needs the library (the stages, the stores).
std::expected<const CryptoApi*, std::string> load_crypto();

// The table, loading it if need be. Where it cannot load, which load_crypto() told the
// caller already, the process ends with that message.
const CryptoApi& crypto();

}  // namespace piperun::stages
