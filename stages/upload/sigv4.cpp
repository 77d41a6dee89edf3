#include "stages/upload/sigv4.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "stages/crypto_api.hpp"
#include "stages/hex.hpp"
#include "stages/upload/uri_encode.hpp"

namespace piperun::stages::upload {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// SHA-256 and HMAC-SHA256 fail only when libcrypto cannot allocate or has no SHA-256 at all.
// Going on would send a request the server refuses with a misleading SignatureDoesNotMatch.
[[noreturn]] void libcrypto_failed(const char* what) {
  std::fprintf(stderr, "pipe-run: OpenSSL %s failed\n", what);
  std::abort();
}

SigningKey hmac_sha256(std::span<const unsigned char> key, std::string_view data) {
  SigningKey out;
  std::size_t length = 0;
  if (crypto().quick_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                         reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                         out.data(), out.size(), &length) == nullptr ||
      length != out.size()) {
    libcrypto_failed("HMAC-SHA256");
  }
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_space(text.back()))
    text.remove_suffix(1);
  return text;
}

std::string lower_trimmed(std::string_view name) {
  std::string lower(trim(name));
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

// SigV4's "Trimall": no leading or trailing blanks, each inner run of them one space.
std::string trim_all(std::string_view value) {
  value = trim(value);
  std::string out;
  out.reserve(value.size());
  bool in_blanks = false;
  for (char c : value) {
    if (is_space(c)) {
      in_blanks = true;
      continue;
    }
    if (in_blanks) out += ' ';
    in_blanks = false;
    out += c;
  }
  return out;
}

// Headers whose value only the signer knows; a caller's copy would be signed twice or wrongly.
bool is_signers_header(std::string_view lower_name) {
  return lower_name == "host" || lower_name == "x-amz-date" ||
         lower_name == "x-amz-content-sha256" || lower_name == "x-amz-security-token" ||
         lower_name == "authorization";
}

std::string canonical_query_of(const RequestToSign& request) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(request.query.size());
  for (const auto& [name, value] : request.query) {
    encoded.emplace_back(uri_encode(name, true), uri_encode(value, true));
  }
  // Sorted by the encoded bytes, name first, then value for repeated names.
  std::sort(encoded.begin(), encoded.end());
  std::string query;
  for (const auto& [name, value] : encoded) {
    if (!query.empty()) query += '&';
    query += name;
    query += '=';
    query += value;
  }
  return query;
}

// Everything the signature covers, computed once and shared by sign_v4 and canonical_request.
struct Canonical {
  std::string date_time;  // x-amz-date
  std::string query;
  std::string signed_headers;  // "host;range;x-amz-content-sha256;x-amz-date"
  std::string request;
};

Canonical canonicalize(const RequestToSign& request, const Credentials& credentials) {
  Canonical canonical;
  canonical.date_time = amz_date(request.now);
  canonical.query = canonical_query_of(request);

  std::vector<Header> headers;
  headers.reserve(request.headers.size() + 4);
  for (const Header& header : request.headers) {
    std::string name = lower_trimmed(header.name);
    if (is_signers_header(name)) continue;
    headers.push_back({std::move(name), trim_all(header.value)});
  }
  headers.push_back({"host", trim_all(request.host)});
  headers.push_back({"x-amz-content-sha256", std::string(request.payload_hash)});
  headers.push_back({"x-amz-date", canonical.date_time});
  if (!credentials.session_token.empty()) {
    headers.push_back({"x-amz-security-token", trim_all(credentials.session_token)});
  }
  // Stable: a name given twice keeps its values in the order sent, joined by commas.
  std::stable_sort(headers.begin(), headers.end(),
                   [](const Header& a, const Header& b) { return a.name < b.name; });

  std::string lines;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const bool repeat = i > 0 && headers[i].name == headers[i - 1].name;
    if (repeat) {
      lines += ',';
    } else {
      if (i > 0) lines += '\n';
      lines += headers[i].name;
      lines += ':';
      if (!canonical.signed_headers.empty()) canonical.signed_headers += ';';
      canonical.signed_headers += headers[i].name;
    }
    lines += headers[i].value;
  }

  canonical.request =
      fmt::format("{}\n{}\n{}\n{}\n\n{}\n{}", request.method, request.encoded_path, canonical.query,
                  lines, canonical.signed_headers, request.payload_hash);
  return canonical;
}

SignedRequest sign_with(const RequestToSign& request, const Credentials& credentials,
                        Canonical canonical, const SigningKey& key) {
  const std::string_view date = std::string_view(canonical.date_time).substr(0, 8);
  const std::string scope =
      fmt::format("{}/{}/{}/aws4_request", date, request.region, request.service);
  const std::string request_hash = sha256_hex(std::as_bytes(std::span(canonical.request)));
  const std::string string_to_sign =
      fmt::format("{}\n{}\n{}\n{}", kAlgorithm, canonical.date_time, scope, request_hash);
  const SigningKey mac = hmac_sha256(key, string_to_sign);
  const std::string signature = to_hex(std::as_bytes(std::span(mac)));

  SignedRequest signed_request;
  signed_request.canonical_query = std::move(canonical.query);
  std::vector<Header>& headers = signed_request.headers;
  headers.reserve(request.headers.size() + 4);
  for (const Header& header : request.headers) {
    if (!is_signers_header(lower_trimmed(header.name))) headers.push_back(header);
  }
  headers.push_back({"x-amz-date", std::move(canonical.date_time)});
  headers.push_back({"x-amz-content-sha256", std::string(request.payload_hash)});
  if (!credentials.session_token.empty()) {
    headers.push_back({"x-amz-security-token", credentials.session_token});
  }
  headers.push_back(
      {"Authorization",
       fmt::format("{} Credential={}/{},SignedHeaders={},Signature={}", kAlgorithm,
                   credentials.access_key, scope, canonical.signed_headers, signature)});
  return signed_request;
}

std::span<const unsigned char> as_uchars(std::string_view text) {
  return {reinterpret_cast<const unsigned char*>(text.data()), text.size()};
}

}  // namespace

SigningKey derive_signing_key(std::string_view secret_key, std::string_view yyyymmdd,
                              std::string_view region, std::string_view service) {
  const std::string first_key = fmt::format("AWS4{}", secret_key);
  const SigningKey date_key = hmac_sha256(as_uchars(first_key), yyyymmdd);
  const SigningKey region_key = hmac_sha256(date_key, region);
  const SigningKey service_key = hmac_sha256(region_key, service);
  return hmac_sha256(service_key, "aws4_request");
}

const SigningKey& SigningKeyCache::get(std::string_view secret_key, std::string_view yyyymmdd,
                                       std::string_view region, std::string_view service) {
  if (!filled_ || yyyymmdd != yyyymmdd_ || region != region_ || service != service_ ||
      secret_key != secret_key_) {
    key_ = derive_signing_key(secret_key, yyyymmdd, region, service);
    secret_key_ = secret_key;
    yyyymmdd_ = yyyymmdd;
    region_ = region;
    service_ = service;
    filled_ = true;
  }
  return key_;
}

SignedRequest sign_v4(const RequestToSign& request, const Credentials& credentials) {
  Canonical canonical = canonicalize(request, credentials);
  const SigningKey key =
      derive_signing_key(credentials.secret_key, std::string_view(canonical.date_time).substr(0, 8),
                         request.region, request.service);
  return sign_with(request, credentials, std::move(canonical), key);
}

SignedRequest sign_v4(const RequestToSign& request, const Credentials& credentials,
                      SigningKeyCache& keys) {
  Canonical canonical = canonicalize(request, credentials);
  const SigningKey& key =
      keys.get(credentials.secret_key, std::string_view(canonical.date_time).substr(0, 8),
               request.region, request.service);
  return sign_with(request, credentials, std::move(canonical), key);
}

std::string canonical_request(const RequestToSign& request, const Credentials& credentials) {
  return canonicalize(request, credentials).request;
}

std::string amz_date(std::chrono::system_clock::time_point time) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(time);
  const auto days = std::chrono::floor<std::chrono::days>(seconds);
  const std::chrono::year_month_day date{days};
  const std::chrono::hh_mm_ss clock{seconds - days};
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     clock.hours().count(), clock.minutes().count(), clock.seconds().count());
}

std::string sha256_hex(std::span<const std::byte> bytes) {
  std::array<unsigned char, 32> digest;
  unsigned int length = 0;
  if (crypto().digest(bytes.data(), bytes.size(), digest.data(), &length, crypto().sha256(),
                      nullptr) != 1 ||
      length != digest.size()) {
    libcrypto_failed("SHA-256");
  }
  return to_hex(std::as_bytes(std::span(digest)));
}

}  // namespace piperun::stages::upload
