#include "stages/crypto_api.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "io/shared_library.hpp"

namespace piperun::stages {
namespace {

std::expected<CryptoApi, std::string> load() {
  auto library = io::open_shared_library({"libcrypto.so.3"});
  if (!library) {
    return std::unexpected(
        "cannot load OpenSSL's libcrypto, which SHA-256, MD5 and S3 signatures need (install "
        "Debian's libssl3): " +
        library.error());
  }
  CryptoApi api{};
  io::SymbolResolver resolve(*library);
  resolve("EVP_MD_CTX_new", api.md_ctx_new);
  resolve("EVP_MD_CTX_free", api.md_ctx_free);
  resolve("EVP_DigestInit_ex", api.digest_init);
  resolve("EVP_DigestUpdate", api.digest_update);
  resolve("EVP_DigestFinal_ex", api.digest_final);
  resolve("EVP_Digest", api.digest);
  resolve("EVP_md5", api.md5);
  resolve("EVP_sha256", api.sha256);
  resolve("EVP_MD_fetch", api.md_fetch);
  resolve("EVP_MD_free", api.md_free);
  resolve("EVP_Q_mac", api.quick_mac);
  resolve("EVP_EncodeBlock", api.encode_base64);
  if (!resolve.missing().empty()) {
    return std::unexpected("libcrypto lacks " + resolve.missing() + ": too old an OpenSSL");
  }
  return api;
}

}  // namespace

std::expected<const CryptoApi*, std::string> load_crypto() {
  static std::once_flag once;
  static std::expected<CryptoApi, std::string> loaded;
  std::call_once(once, [] { loaded = load(); });
  if (!loaded) return std::unexpected(loaded.error());
  return &*loaded;
}

const CryptoApi& crypto() {
  auto loaded = load_crypto();
  if (!loaded) {
    std::fprintf(stderr, "pipe-run: %s\n", loaded.error().c_str());
    std::abort();
  }
  return **loaded;
}

}  // namespace piperun::stages
